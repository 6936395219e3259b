"""The grader of the teaching assignments: loads a student's copy of ``minivae.teaching.exercises``, runs every
exercise's check on it, and reports a score with hints.

    python -m minivae grade exercises.py        grade a student's file, print a report and a score

``grade`` exits with code 0 when every exercise passes and 1 otherwise (also when the file does not import).
The student version itself is written by ``minivae.teaching.assignments``.

Grading
-------
``grade(path)`` imports the student's file by its path and runs each exercise on random float64 inputs from a fixed
seed. Each output is compared with minivae's own implementation (``minivae.nn.layers``, ``minivae.nn.kernels``,
``minivae.nn.losses``, ``minivae.nn.reparam``, ``minivae.models.vae``) and, for gradients, with central finite
differences (``minivae.nn.gradcheck``). An exercise passes when every output has ``rel_error < 1e-6``. When it fails,
the grader tests hypotheses on the wrong output (is it minus the truth? twice it? N times it? what ``logvar`` read as
log sigma would give?) and reports the first that fits as a hint. Each exercise runs on its own: a crash or a
``NotImplementedError`` in one only zeroes that one.

The last exercise, the VAE's negative ELBO, is run with the reference building blocks put in place of the
student's, so that one mistake costs points once; the report adds whether it also works with the student's own.

Where things are: this module loads the file, runs the exercise table (``minivae.teaching.checks``) one exercise at a
time, and writes the report. How one output is compared and a mistake named is in ``minivae.teaching.compare``; the
check of each exercise, with its planted-mistake hypotheses and hints, is in ``minivae.teaching.checks_layers`` and
``minivae.teaching.checks_vae``.
"""
import argparse
import importlib.machinery
import importlib.util
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minivae.teaching.checks import EXERCISES
from minivae.teaching.compare import TOLERANCE, StudentError

SEED = 20131220  # the inputs of every exercise come from np.random.default_rng([SEED, exercise index])

# ======================================================================================================================
# The report
# ======================================================================================================================


@dataclass
class ExerciseResult:
    """How one exercise went.

    name : the function graded;  status : "pass", "fail" or "todo" (still raises NotImplementedError)
    points / max_points : points earned / possible (all or nothing)
    rel_error : the largest relative error over the outputs (None when it could not be computed: a crash, a wrong
    shape, NaN);  message : what went wrong and the likely mistake, or a note on a pass ("" if none)
    checked_against : what the outputs were compared with
    """

    name: str
    status: str
    points: int
    max_points: int
    rel_error: float | None
    message: str
    checked_against: str = ""

    @property
    def passed(self):
        return self.status == "pass"


@dataclass
class GradeReport:
    """The results of grading one file: ``results`` in the order of the exercises, ``import_error`` if the file
    could not be imported (then every exercise has 0 points)."""

    path: str
    results: list = field(default_factory=list)
    import_error: str | None = None

    @property
    def score(self):
        return sum(r.points for r in self.results)

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


def format_report(report, width=100):
    """The report as a student reads it: one row per exercise (result, relative error, points), the hint
    indented below a failing row, and the score on the last line, "Score: X / Y".

    >>> print(format_report(grade("exercises.py")))          # doctest: +SKIP
    """
    lines = [f"Grading {report.path}", ""]
    if report.import_error is not None:
        lines += ["The file could not be imported, so no exercise could be run:",
                  textwrap.indent(report.import_error, "    "),
                  "Fix this first (run `python <file>` to see the full error).", ""]
    name_w = max([len("exercise")] + [len(r.name) for r in report.results])
    lines.append(f"{'exercise':<{name_w}}  result  rel. error  points")
    lines.append(f"{'-' * name_w}  ------  ----------  ------")
    for r in report.results:
        err = "-" if r.rel_error is None else f"{r.rel_error:.1e}"
        status = {"pass": "pass", "fail": "FAIL", "todo": "todo"}[r.status]
        lines.append(f"{r.name:<{name_w}}  {status:<6}  {err:>10}  {r.points:>2} / {r.max_points}")
        if r.message and report.import_error is None:
            for paragraph in r.message.splitlines():
                lines.append(textwrap.fill(paragraph, width, initial_indent="    ", subsequent_indent="      "))
    lines.append("")
    lines.append(f"A correct function agrees to about 1e-8 or better; an exercise passes below "
                 f"1e{round(np.log10(TOLERANCE))}.")
    lines.append(f"Score: {report.score} / {report.max_score}")
    return "\n".join(lines)


# ======================================================================================================================
# Running the exercises
# ======================================================================================================================


def load_module(path):
    """Import a Python file by its path, as a new module each time (no cache, no bytecode file written).

    Raises whatever the file raises while it is imported (SyntaxError, ImportError, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    name = f"_graded_{uuid.uuid4().hex}"
    loader = importlib.machinery.SourceFileLoader(name, str(path))  # explicit, so any file name works
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")  # fresh source, never a stale .pyc
    sys.modules[name] = module  # for the duration of the import (dataclasses and pickling look it up)
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def _rng(index):
    return np.random.default_rng([SEED, index])


def _grade_one(exercise, index, module, failed_before=()):
    """Run one exercise; whatever happens in the student's code only affects this exercise.

    failed_before : the names of the exercises that failed so far (an exercise's note after a pass may name them).
    """
    def result(status, rel_error, message):
        points = exercise.points if status == "pass" else 0
        return ExerciseResult(exercise.name, status, points, exercise.points, rel_error, message,
                              exercise.checked_against)

    if not callable(getattr(module, exercise.name, None)):
        return result("fail", None, f"the file has no function called {exercise.name}; keep the names of the "
                                    "template")
    try:
        checks = exercise.check(module, _rng(index))
    except NotImplementedError as err:
        return result("todo", None, f"not implemented yet ({err})" if str(err) else "not implemented yet")
    except StudentError as err:
        advice = f"\n{exercise.on_error}" if err.raised and exercise.on_error else ""
        return result("fail", None, f"{exercise.name}: {err}{advice}")
    except Exception as err:  # a return value so odd that comparing it failed
        return result("fail", None, f"could not check the output of {exercise.name} ({type(err).__name__}: {err})")
    errors = [c.rel_error for c in checks]
    rel = None if None in errors else max(errors)  # "-" in the report when an output could not be compared
    hints = []
    for c in checks:  # at most three different hints (the same mistake shows in several test cases)
        if not c.ok and c.hint and c.hint.split(": ", 1)[-1] not in [h.split(": ", 1)[-1] for h in hints]:
            hints.append(c.hint)
    if not all(c.ok for c in checks):
        return result("fail", rel, "\n".join(hints[:3]))
    note = "" if exercise.note is None else exercise.note(module, _rng(index), failed_before)
    return result("pass", rel, note)


def grade(path):
    """Grade a student's exercise file; return a GradeReport (print it with ``format_report``).

    path : the student's copy of the exercises (a .py file). It is imported as a fresh module; if that fails (a
    SyntaxError, a missing file, an error at import time), every exercise gets 0 and ``import_error`` says why.

    Example
    -------
    >>> from minivae.teaching.assignments import PACKAGED_EXERCISES
    >>> from minivae.teaching.grader import grade, format_report
    >>> report = grade(PACKAGED_EXERCISES)                      # the reference solutions
    >>> report.score == report.max_score
    True
    """
    report = GradeReport(path=str(path))
    try:
        module = load_module(path)
    except (Exception, SystemExit) as err:
        report.import_error = f"{type(err).__name__}: {err}"
        report.results = [ExerciseResult(e.name, "fail", 0, e.points, None, "not run: the file does not import",
                                         e.checked_against) for e in EXERCISES]
        return report
    for i, exercise in enumerate(EXERCISES):
        failed = [r.name for r in report.results if not r.passed]
        report.results.append(_grade_one(exercise, i, module, failed))
    return report


# ======================================================================================================================
# Command line
# ======================================================================================================================


def main_grade(argv=None):
    """``python -m minivae grade PATH``: grade a file, print the report; return 0 if every exercise passes, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m minivae grade",
        description="Grade your exercise file: each function is compared with minivae's own implementation and with "
                    "finite differences. Exit code 0 when every exercise passes, 1 otherwise.")
    parser.add_argument("path", help="your copy of the exercises, e.g. exercises.py")
    args = parser.parse_args(argv)
    report = grade(args.path)
    print(format_report(report))
    return 0 if report.all_passed else 1
