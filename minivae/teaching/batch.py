"""Grading a folder of submissions: one .py file or notebook per student, the grades as CSV and JSON, and a
feedback file per student.

    python -m minivae grade submissions/ --out grades.csv [--jobs 4] [--seed S]

writes, all atomically (``minivae.fileio.atomic_write``):

    grades.csv              one row per student: student, total, max, each exercise's points, seed, flagged, hints
    grades.json             the same and more: per exercise the status, relative error, message; the seed
    feedback/<student>.md   beside grades.csv: each exercise, pass/fail, the hint, what the code printed and
                            the frames of the student's own file where it raised

What runs where
---------------
The grader's process holds a pool of ``jobs`` threads; each grades one submission at a time with
``minivae.teaching.grader.grade_submission``, which starts a fresh child process per exercise (nothing of one
submission's processes is reused for another, so a patch in one cannot reach the next). The threads only wait for
their children and compare small arrays, so ``jobs`` near the number of CPUs keeps them busy. Every submission of a
run gets the same seed (fair, and repeatable with --seed); a new run draws new ones.
"""
import csv
import io
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from minivae.fileio import atomic_write
from minivae.teaching.checks import EXERCISES
from minivae.teaching.grader import grade_submission
from minivae.teaching.report import format_report, points_text, quoted
from minivae.teaching.submission import SUFFIXES


def find_submissions(folder):
    """The submissions in a folder, sorted: its .py and .ipynb files (not hidden ones, not __init__.py).

    Returns [(student, path)]; the student is the file's stem, or its whole name when two files share a stem.
    Raises FileNotFoundError when there is none.
    """
    folder = Path(folder)
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in SUFFIXES
                   and not p.name.startswith(".") and p.name != "__init__.py")
    if not paths:
        raise FileNotFoundError(f"{folder} holds no submissions (.py or .ipynb files)")
    stems = [p.stem for p in paths]
    return [(p.stem if stems.count(p.stem) == 1 else p.name, p) for p in paths]


def grade_folder(folder, options, jobs=None, progress=None):
    """Grade every submission of ``folder``; return [(student, GradeReport)] in the order of the files.

    options : a GradingOptions with its seed set (the inputs and array sizes of every check follow from it)
    jobs : submissions graded at once (default: the number of CPUs);  progress : called as progress(done, total,
    student) after each submission
    """
    found = find_submissions(folder)
    jobs = max(1, jobs or os.cpu_count() or 1)
    done = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [(student, pool.submit(grade_submission, path, options)) for student, path in found]
        for student, future in futures:
            done.append((student, future.result()))
            if progress is not None:
                progress(len(done), len(futures), student)
    return done


# ======================================================================================================================
# The files a teacher gets
# ======================================================================================================================


def _hints(report):
    if report.import_error is not None:
        return f"does not import: {report.import_error}"
    def first_line(r):
        line = r.message.splitlines()[0]
        return line[len(r.name) + 2:] if line.startswith(f"{r.name}: ") else line
    return " | ".join(f"{r.name}: {first_line(r)}" for r in report.results if not r.passed and r.message)


def grades_table(graded):
    """The rows of grades.csv as dicts: student, total, max, one column per exercise, seed, flagged (the static
    check's findings: imports of minivae's implementations), hints."""
    rows = []
    for student, report in graded:
        row = {"student": student, "total": points_text(report.score), "max": report.max_score}
        row.update({r.name: points_text(r.points) for r in report.results})
        row.update({"seed": report.seed, "flagged": "; ".join(f"line {line}: {what}" for line, what in report.flags),
                    "hints": _hints(report)})
        rows.append(row)
    return rows


def grades_json(graded, seconds=None):
    """grades.json as a dict: the run (seed, exercises and their points) and per student every result."""
    first = graded[0][1] if graded else None
    return {
        "seed": None if first is None else first.seed,
        "exercises": {e.name: e.points for e in EXERCISES},
        "seconds": seconds,
        "students": [{
            "student": student, "file": report.path, "total": report.score, "max": report.max_score,
            "import_error": report.import_error, "flagged": [{"line": line, "what": what} for line, what in report.flags],
            "exercises": [{"name": r.name, "status": r.status, "points": r.points, "max_points": r.max_points,
                           "rel_error": r.rel_error, "message": r.message} for r in report.results],
        } for student, report in graded],
    }


def feedback_markdown(student, report):
    """One student's feedback file: the score, then per exercise the result, the hint, the captured output and
    the frames of their own file where their code raised."""
    lines = [f"# Feedback for {student}", "",
             f"Score: **{points_text(report.score)} / {report.max_score}**  ",
             f"Inputs: seed {report.seed} (python -m minivae grade FILE --seed {report.seed} repeats them)", ""]

    def block(title, text):  # the student's text, escaped and indented, so it cannot end the code block
        return [title, "", quoted(text, "    "), ""]

    if report.import_error is not None:
        lines += block("Your file could not be run, so no exercise was graded:",
                       report.import_error + ("\n" + report.import_traceback if report.import_traceback else ""))
    if report.import_output:
        lines += block("What your file printed while it was loaded:", report.import_output)
    for r in report.results:
        mark = {"pass": "pass", "fail": "FAIL", "todo": "not done yet"}[r.status]
        err = "" if r.rel_error is None else f", relative error {r.rel_error:.1e}"
        lines += [f"## {r.name}: {mark} ({points_text(r.points)} / {r.max_points}{err})", ""]
        if r.message and report.import_error is None:
            lines += [r.message, ""]
        if r.traceback:
            lines += block("Where your code raised:", r.traceback)
        if r.output:
            lines += block("What your code printed:", r.output)
    lines += ["A correct function agrees with the reference to about 1e-8 or better; an exercise passes below 1e-6."]
    return "\n".join(lines) + "\n"


def _feedback_name(student):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in student) + ".md"


def write_grades(graded, out_csv, seconds=None):
    """Write grades.csv (out_csv), grades.json beside it and feedback/<student>.md; return the paths written."""
    out_csv = Path(out_csv)
    rows = grades_table(graded)
    fields = ["student", "total", "max", *(e.name for e in EXERCISES), "seed", "flagged", "hints"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    written = [out_csv, out_csv.with_suffix(".json")]
    with atomic_write(out_csv, "w", encoding="utf-8", newline="") as f:
        f.write(text.getvalue())
    with atomic_write(written[1], "w", encoding="utf-8") as f:
        json.dump(grades_json(graded, seconds), f, indent=1)
    for student, report in graded:
        path = out_csv.parent / "feedback" / _feedback_name(student)
        with atomic_write(path, "w", encoding="utf-8") as f:
            f.write(feedback_markdown(student, report))
        written.append(path)
    return written


def main_batch(folder, options, out=None, jobs=None):
    """The folder mode of ``python -m minivae grade``: grade, write the files, print a summary; return 0 if
    every submission got full marks, 1 otherwise (the grades are written either way)."""
    out = Path(out or "grades.csv")
    started = time.perf_counter()

    def progress(done, total, student):
        print(f"[{done}/{total}] {student}", file=sys.stderr, flush=True)

    graded = grade_folder(folder, options, jobs, progress)
    seconds = time.perf_counter() - started
    write_grades(graded, out, seconds)
    full = sum(report.all_passed for _, report in graded)
    print(f"Graded {len(graded)} submissions in {seconds:.1f} s (seed {options.seed}; repeat with --seed "
          f"{options.seed}): {full} with full marks.")
    print(f"Wrote {out}, {out.with_suffix('.json')} and {out.parent / 'feedback'}/<student>.md")
    if len(graded) == 1:
        print(format_report(graded[0][1]))
    return 0 if full == len(graded) else 1
