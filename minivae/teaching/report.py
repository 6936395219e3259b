"""The grader's report: what one exercise and one file earned, and the text a student reads.

    ExerciseResult   one exercise: status, points, relative error, hint, the output and frames of the student's code
    GradeReport      one file: its results, the seed of the run, an import error, the start-up costs
    format_report    the report as printed by ``python -m minivae grade FILE``, "Score: X / Y" on its last line

Everything a submission produced (its output, its traceback) is shown behind "| " with control characters escaped
(``quoted``), so that no line of it can pass for one of the grader's, such as a "Score" line.
"""
import textwrap
from dataclasses import dataclass, field

import numpy as np

from minivae.teaching.compare import TOLERANCE

REPORT_LINES = 20  # lines of a submission's output the printed report shows (the feedback file has all that was kept)

# ======================================================================================================================
# The report
# ======================================================================================================================


@dataclass
class ExerciseResult:
    """How one exercise went.

    name : the function graded;  status : "pass", "fail" or "todo" (still raises NotImplementedError)
    points / max_points : points earned / possible (all or nothing, or in proportion to the right outputs)
    rel_error : the largest relative error over the outputs (None when it could not be computed: a crash, a wrong
    shape, NaN);  message : what went wrong and the likely mistake, or a note on a pass ("" if none)
    checked_against : what the outputs were compared with
    output : what the student's code printed while this exercise ran (truncated);  traceback : the frames of the
    student's own file when their code raised ("" otherwise)
    """

    name: str
    status: str
    points: float
    max_points: int
    rel_error: float | None
    message: str
    checked_against: str = ""
    output: str = ""
    traceback: str = ""

    @property
    def passed(self):
        return self.status == "pass"


@dataclass
class GradeReport:
    """The results of grading one file: ``results`` in the order of the exercises, ``import_error`` if the file
    could not be imported (then every exercise has 0 points).

    seed : the inputs' seed (the same seed repeats the run exactly: values and array sizes)
    import_output / import_traceback : what the file printed while it was loaded, and its frames if it raised
    startup_seconds : per exercise, the seconds its process took to start (a fresh interpreter importing NumPy);
    startup_cpu : the CPU seconds that start-up cost, per exercise
    seconds : the wall time of the whole grading of this file
    flags : what the static check found (``static_checks.solution_imports``): (line, what) pairs, for a teacher
    """

    path: str
    results: list = field(default_factory=list)
    import_error: str | None = None
    seed: int | None = None
    import_output: str = ""
    import_traceback: str = ""
    startup_seconds: list = field(default_factory=list)
    startup_cpu: list = field(default_factory=list)
    seconds: float = 0.0
    flags: list = field(default_factory=list)

    @property
    def score(self):
        return round(sum(r.points for r in self.results), 2)

    @property
    def max_score(self):
        return sum(r.max_points for r in self.results)

    @property
    def all_passed(self):
        return self.import_error is None and all(r.passed for r in self.results)

    def result(self, name):
        """The ExerciseResult of the exercise called name."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no exercise called {name!r}; the exercises are {[r.name for r in self.results]}")


def points_text(points):
    """18 -> "18", 1.3333 -> "1.33"."""
    return f"{points:.0f}" if float(points).is_integer() else f"{points:.2f}"


def quoted(text, prefix="    | ", max_lines=None):
    """Text the student's code produced, shown so it cannot pass for the grader's own lines: every line behind
    ``prefix``, control characters (a carriage return, a terminal escape) written out as escapes; at most
    ``max_lines`` lines (None: all), then a line saying how many more there are."""
    def clean(line):
        return "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in line)
    lines = text.rstrip("\n").split("\n")
    shown = lines if max_lines is None or len(lines) <= max_lines + 1 else lines[:max_lines]
    more = [f"{prefix}[... {len(lines) - len(shown)} more lines]"] if len(shown) < len(lines) else []
    return "\n".join([prefix + clean(line) for line in shown] + more)


def _seed_line(report):
    return f"Inputs: seed {report.seed} (repeat this run with --seed {report.seed})"


def format_report(report, width=100):
    """The report as a student reads it: one row per exercise (result, relative error, points), the hint
    indented below a failing row, what their code printed and where it raised (behind "| "), and the score on the
    last line, "Score: X / Y".

    >>> print(format_report(grade("exercises.py")))          # doctest: +SKIP
    """
    lines = [f"Grading {report.path}"]
    if report.seed is not None:
        lines.append(_seed_line(report))
    lines.append("")
    if report.import_error is not None:
        lines += ["The file could not be imported, so no exercise could be run:",
                  quoted(report.import_error)]
        if report.import_traceback:
            lines += [quoted(report.import_traceback)]
        lines += ["Fix this first (run `python <file>` to see the full error).", ""]
    if report.import_output:
        lines += ["Your file printed while it was loaded:", quoted(report.import_output, max_lines=REPORT_LINES), ""]
    name_w = max([len("exercise")] + [len(r.name) for r in report.results])
    lines.append(f"{'exercise':<{name_w}}  result  rel. error  points")
    lines.append(f"{'-' * name_w}  ------  ----------  ------")
    for r in report.results:
        err = "-" if r.rel_error is None else f"{r.rel_error:.1e}"
        status = {"pass": "pass", "fail": "FAIL", "todo": "todo"}[r.status]
        lines.append(f"{r.name:<{name_w}}  {status:<6}  {err:>10}  {points_text(r.points):>2} / {r.max_points}")
        if r.message and report.import_error is None:
            for paragraph in r.message.splitlines():
                lines.append(textwrap.fill(paragraph, width, initial_indent="    ", subsequent_indent="      "))
        if r.traceback:
            lines += ["    where your code raised:", quoted(r.traceback, "      | ")]
        if r.output:
            lines += ["    what your code printed:", quoted(r.output, "      | ", max_lines=REPORT_LINES)]
    lines.append("")
    if report.flags:
        lines.append("Flagged for the teacher: the file reaches into minivae's own implementations:")
        lines += [f"    line {line}: {what}" for line, what in report.flags] + [""]
    lines.append(f"A correct function agrees to about 1e-8 or better; an exercise passes below "
                 f"1e{round(np.log10(TOLERANCE))}.")
    lines.append(f"Score: {points_text(report.score)} / {report.max_score}")
    return "\n".join(lines)
