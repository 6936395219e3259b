"""The grader of the teaching assignments: runs every exercise's check on a student's file, each exercise in a
process of its own, and reports a score with hints.

    python -m minivae grade exercises.py                 grade one file (or notebook), print the report
    python -m minivae grade submissions/ --out grades.csv   grade a folder (see ``minivae.teaching.batch``)

``grade`` exits with code 0 when every exercise passes and 1 otherwise (also when the file does not import).
The student version itself is written by ``minivae.teaching.assignments``.

What runs where
---------------
The grader's process reads the submission (``minivae.teaching.submission``: a .py file, or a notebook's code
cells), compiles it to report a syntax error, draws the inputs, and for each exercise starts a fresh interpreter
(``minivae.teaching.sandbox``: ``python -I``, a temporary folder, a time and a memory limit, output captured). The
child executes the file and runs the student's functions on the inputs the grader sends; the grader compares what
comes back. So the reference, the tolerance, the hint and the score never exist where the student's code runs, and
nothing it does (patching minivae, ``sys.exit``, ``os._exit``, an endless loop, a segfault, a flood of prints)
changes the report or ends grading: it fails that exercise with a message. ``isolated=False`` runs the same checks
in the grader's own process instead (quick, for the student's own ``check()`` while working; not for marks).

Inputs
------
Every run draws a fresh seed (``minivae.teaching.seeds``; ``seed=`` or ``--seed`` repeats a run exactly, and the
report prints it); exercise i takes its inputs from ``np.random.default_rng([seed, i])``, its array sizes too
(``checks_layers.draw_sizes``), so a table of one run's inputs is useless in the next.

Grading
-------
Each output is compared with minivae's own implementation (``minivae.nn.layers``, ``minivae.nn.kernels``,
``minivae.nn.losses``, ``minivae.nn.reparam``, ``minivae.models.vae``) and, for gradients, with central finite
differences (``minivae.nn.gradcheck``). An exercise passes when every output has ``rel_error < 1e-6``. When it fails,
the grader tests hypotheses on the wrong output (is it minus the truth? twice it? N times it? what ``logvar`` read as
log sigma would give?) and reports the first that fits as a hint. With ``partial_credit`` an exercise earns its
points in proportion to the outputs that are right (the loss right and a gradient wrong earns the loss's share);
without, all or nothing. When the student's code raised, the report shows the frames of their own file.

The last exercise, the VAE's negative ELBO, is run with the reference building blocks put in place of the
student's, so that one mistake costs points once; the report adds whether it also works with the student's own.

Where things are: this module runs the exercise table (``minivae.teaching.checks``) one exercise at a time and
writes the report. How one output is compared and a mistake named is in ``minivae.teaching.compare``; the check of
each exercise, with its planted-mistake hypotheses and hints, is in ``minivae.teaching.checks_layers`` and
``minivae.teaching.checks_vae``.
"""
import argparse
import sys
import time
import traceback
import types
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minivae.teaching.checks import EXERCISES
from minivae.teaching.compare import StudentError
from minivae.teaching.report import ExerciseResult, GradeReport, format_report, points_text, quoted  # noqa: F401
from minivae.teaching.sandbox import (
    DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, RemoteModule, Sandbox, SandboxStopped, StudentCodeError,
)
from minivae.teaching.seeds import fresh_seed
from minivae.teaching.static_checks import solution_imports
from minivae.teaching.submission import read_submission

SEED = 20131220  # the seed of the in-process check (``isolated=False`` without a seed); a graded run draws its own

# ======================================================================================================================
# One exercise, on a module (the real one, or the child's as a RemoteModule)
# ======================================================================================================================


def load_module(path):
    """Import a Python file by its path, as a new module each time (no cache, no bytecode file written), in the
    grader's own process: for ``isolated=False`` only.

    Raises whatever the file raises while it is imported (SyntaxError, ImportError, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return load_source(path.read_text(encoding="utf-8"), str(path))


def load_source(source, filename):
    """Execute ``source`` as a new module (see ``load_module``); filename is what tracebacks show."""
    name = f"_graded_{uuid.uuid4().hex}"
    module = types.ModuleType(name)
    module.__file__ = filename
    code = compile(source, filename, "exec")  # fresh source, never a stale .pyc
    sys.modules[name] = module  # for the duration of the import (dataclasses and pickling look it up)
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def _rng(index, seed=SEED):
    return np.random.default_rng([seed, index])


def _student_frames(err, module):
    """The frames of the student's own file in the exception their code raised, formatted ("" if none)."""
    if isinstance(err, StudentCodeError) or hasattr(err, "student_traceback"):
        return err.student_traceback
    filename = getattr(module, "__file__", None)
    frames = [f for f in traceback.extract_tb(getattr(err, "__traceback__", None)) if f.filename == filename]
    return "".join(traceback.format_list(frames))


def _graded_outputs(checks):
    """The checks that count for partial credit: all but a summary (a check labelled "grads" stands for the checks
    labelled "grads[...]")."""
    labels = [c.label for c in checks]
    return [c for c in checks if not any(other.startswith(c.label + "[") for other in labels)]


def _points(exercise, checks, partial_credit):
    if all(c.ok for c in checks):
        return exercise.points
    if not partial_credit:
        return 0
    counted = _graded_outputs(checks)
    return round(exercise.points * sum(c.ok for c in counted) / len(counted), 2)


def run_exercise(exercise, module, rng, failed_before=(), partial_credit=False):
    """Run one exercise's check on ``module``; whatever happens in the student's code only affects this exercise.

    module : the student's module, or a RemoteModule standing for it;  rng : the exercise's inputs
    failed_before : the names of the exercises that failed so far (an exercise's note after a pass may name them)
    """
    def result(status, rel_error, message, points=0, tb=""):
        return ExerciseResult(exercise.name, status, points, exercise.points, rel_error, message,
                              exercise.checked_against, traceback=tb)

    if not callable(getattr(module, exercise.name, None)):
        return result("fail", None, f"the file has no function called {exercise.name}; keep the names of the "
                                    "template")
    note_rng = np.random.default_rng(rng.bit_generator.seed_seq)  # the note sees the check's inputs again
    try:
        checks = exercise.check(module, rng)
    except NotImplementedError as err:
        return result("todo", None, f"not implemented yet ({err})" if str(err) else "not implemented yet")
    except StudentError as err:
        advice = f"\n{exercise.on_error}" if err.raised and exercise.on_error else ""
        tb = _student_frames(err.__cause__, module) if err.raised else ""
        return result("fail", None, f"{exercise.name}: {err}{advice}", tb=tb)
    except SandboxStopped as err:
        return result("fail", None, f"{exercise.name}: {err}")
    except Exception as err:  # a return value so odd that comparing it failed
        return result("fail", None, f"could not check the output of {exercise.name} ({type(err).__name__}: {err})")
    errors = [c.rel_error for c in checks]
    rel = None if None in errors else max(errors)  # "-" in the report when an output could not be compared
    hints = []
    for c in checks:  # at most three different hints (the same mistake shows in several test cases)
        if not c.ok and c.hint and c.hint.split(": ", 1)[-1] not in [h.split(": ", 1)[-1] for h in hints]:
            hints.append(c.hint)
    if not all(c.ok for c in checks):
        return result("fail", rel, "\n".join(hints[:3]), _points(exercise, checks, partial_credit))
    try:
        note = "" if exercise.note is None else exercise.note(module, note_rng, failed_before)
    except SandboxStopped as err:
        note = f"Graded with the reference building blocks. With your own it did not finish: {err}"
    return result("pass", rel, note, exercise.points)


def _grade_one(exercise, index, module, failed_before=()):
    """One exercise on a module in the grader's own process, with the fixed seed (as ``check()`` runs it)."""
    return run_exercise(exercise, module, _rng(index), failed_before)


# ======================================================================================================================
# A whole submission
# ======================================================================================================================


@dataclass(frozen=True)
class GradingOptions:
    """How a run grades: the seed (None: a fresh one), the limits per exercise, the credit.

    timeout : seconds per exercise;  memory_mb : the address space of each child;  partial_credit : points in
    proportion to the right outputs;  isolated : each exercise in its own process (False: in the grader's, for a
    quick local check only)
    """

    seed: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    partial_credit: bool = False
    isolated: bool = True


def _not_imported(report, err, tb=""):
    report.import_error = f"{type(err).__name__}: {err}"
    report.import_traceback = tb
    report.results = [ExerciseResult(e.name, "fail", 0, e.points, None, "not run: the file does not import",
                                     e.checked_against) for e in EXERCISES]
    return report


def _sandboxes(options):
    """One started Sandbox per exercise, the next one already starting while the current one is graded (its
    interpreter imports NumPy meanwhile). Nothing is shared between two of them."""
    pending = Sandbox(options.timeout, options.memory_mb).start()
    try:
        for i in range(len(EXERCISES)):
            current = pending
            pending = Sandbox(options.timeout, options.memory_mb).start() if i + 1 < len(EXERCISES) else None
            yield current
    finally:
        if pending is not None:
            pending.close()


def _grade_in_children(report, submission, options):
    """Each exercise in a fresh child: load the file there, run the check on a RemoteModule."""
    boxes = _sandboxes(options)
    try:
        for i, exercise in enumerate(EXERCISES):
            with next(boxes) as box:
                try:
                    names = box.load(submission.source, submission.filename)
                except (Exception, SandboxStopped) as err:
                    if i == 0:  # the file does not load: no exercise can run
                        box.close()
                        report.import_output = box.output("calls")
                        return _not_imported(report, err, submission.locate(_student_frames(err, None)))
                    report.results.append(ExerciseResult(exercise.name, "fail", 0, exercise.points, None,
                                                         f"the file did not load this time: {err}",
                                                         exercise.checked_against))
                    continue
                failed = [r.name for r in report.results if not r.passed]
                result = run_exercise(exercise, RemoteModule(box, names), _rng(i, report.seed), failed,
                                      options.partial_credit)
            result.output = box.output("calls")
            result.traceback = submission.locate(result.traceback)
            if i == 0:
                report.import_output = box.output("import")
            report.startup_seconds.append(box.startup_seconds)
            report.startup_cpu.append(box.startup_cpu or 0.0)
            report.results.append(result)
    finally:
        boxes.close()
    return report


def _grade_in_process(report, submission, options):
    try:
        module = load_source(submission.source, submission.filename)
    except (Exception, SystemExit) as err:
        return _not_imported(report, err)
    for i, exercise in enumerate(EXERCISES):
        failed = [r.name for r in report.results if not r.passed]
        report.results.append(run_exercise(exercise, module, _rng(i, report.seed), failed, options.partial_credit))
    return report


def grade_submission(path, options):
    """Grade one file with ``options`` (the seed must be set); return a GradeReport. Several may run at once in
    threads."""
    started = time.perf_counter()
    report = GradeReport(path=str(path), seed=options.seed)
    try:
        submission = read_submission(path)
        compile(submission.source, submission.filename, "exec")  # a syntax error needs no process
    except (OSError, ValueError, SyntaxError) as err:
        return _not_imported(report, err)
    report.flags = [(f.line, f.what) for f in solution_imports(submission.source)]
    run = _grade_in_children if options.isolated else _grade_in_process
    run(report, submission, options)
    report.seconds = time.perf_counter() - started
    return report


def grade(path, seed=None, timeout=DEFAULT_TIMEOUT, memory_mb=DEFAULT_MEMORY_MB, partial_credit=False,
          isolated=True):
    """Grade a student's exercise file; return a GradeReport (print it with ``format_report``).

    path : the student's copy of the exercises (a .py file or a notebook). If it cannot be read, compiled or
    executed, every exercise gets 0 and ``import_error`` says why.
    seed : the inputs' seed (None: a fresh one, in ``report.seed``): the values and the array sizes of every check
    timeout, memory_mb : the limits of each exercise's process;  partial_credit : see the module's docstring
    isolated : run the student's code in child processes (True, for marks) or in this process (False)

    Example
    -------
    >>> from minivae.teaching.assignments import PACKAGED_EXERCISES
    >>> from minivae.teaching.grader import grade, format_report
    >>> report = grade(PACKAGED_EXERCISES)                      # the reference solutions
    >>> report.score == report.max_score
    True
    """
    seed = fresh_seed() if seed is None else int(seed)
    return grade_submission(path, GradingOptions(seed, timeout, memory_mb, partial_credit, isolated))


# ======================================================================================================================
# Command line
# ======================================================================================================================


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m minivae grade",
        description="Grade an exercise file or notebook, or a folder of them (one per student): each function runs "
                    "in a separate process on fresh random inputs and is compared with minivae's own implementation "
                    "and with finite differences. Exit code 0 when every exercise passes, 1 otherwise.")
    parser.add_argument("path", help="your copy of the exercises (exercises.py or .ipynb), or a folder of them")
    parser.add_argument("--seed", type=int, default=None,
                        help="the inputs' seed (default: a fresh one, printed in the report, to repeat a run)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds each exercise may run (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                        help=f"memory limit of each exercise's process in MiB (default {DEFAULT_MEMORY_MB})")
    parser.add_argument("--all-or-nothing", action="store_true",
                        help="an exercise earns its points only when every output is right (default: in proportion "
                             "to the right outputs)")
    parser.add_argument("--out", default=None, help="for a folder: the CSV to write (default grades.csv); "
                                                    "grades.json and feedback/<student>.md go beside it")
    parser.add_argument("--jobs", type=int, default=None,
                        help="for a folder: submissions graded at once (default: the number of CPUs)")
    return parser


def main_grade(argv=None):
    """``python -m minivae grade PATH``: grade a file and print the report, or grade a folder and write the grades
    (``minivae.teaching.batch``); return 0 if every exercise of every file passes, else 1."""
    args = make_parser().parse_args(argv)
    seed = fresh_seed() if args.seed is None else args.seed
    options = GradingOptions(seed, args.timeout, args.memory_mb, partial_credit=not args.all_or_nothing)
    if Path(args.path).is_dir():
        from minivae.teaching.batch import main_batch  # the folder mode, its files and its summary
        return main_batch(args.path, options, args.out, args.jobs)
    report = grade_submission(args.path, options)
    print(format_report(report))
    return 0 if report.all_passed else 1
