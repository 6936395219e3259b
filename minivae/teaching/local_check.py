"""The check cell of a notebook assignment: ``check("linear_backward")`` runs that exercise's checks on the function
the student defined in the notebook, and prints pass or fail with the hint.

    from minivae.teaching.local_check import check
    check("relu_backward")      # the function relu_backward defined anywhere in the notebook
    check()                     # every exercise, one line each

The checks are the grader's own (``minivae.teaching.checks``): the same inputs' corner cases, the same comparison
with minivae's implementation and finite differences, the same hints. Each call draws fresh inputs (the seed is
printed on a failure, so that a failing case can be repeated with ``check(name, seed=S)``).

This is feedback while working, not marks: the grade comes from ``python -m minivae grade``. The student's function
is found in the caller's globals (the notebook's names), or in the namespace given as the second argument; the
functions are run on a copy of that namespace, so a check never changes the notebook's variables.
"""
import sys
import textwrap
import types
from dataclasses import dataclass

import numpy as np

from minivae.teaching.checks import EXERCISES
from minivae.teaching.compare import StudentError

BY_NAME = {e.name: e for e in EXERCISES}


@dataclass
class LocalResult:
    """One exercise checked locally: status "pass", "fail", "todo" (still raises NotImplementedError) or "missing"
    (no function of that name); the largest relative error (None when it could not be computed); the message."""

    name: str
    status: str
    rel_error: float | None
    message: str
    seed: int

    def line(self):
        """The result as the check cell prints it: a first line, the message indented below."""
        label = {"pass": "pass", "fail": "FAIL", "todo": "not done yet", "missing": "not defined"}[self.status]
        err = "" if self.rel_error is None else f" (rel. error {self.rel_error:.1e})"
        head = f"{self.name}: {label}{err}"
        message = self.message
        if self.status == "fail":
            message += f"\n(inputs from seed {self.seed}: check({self.name!r}, seed={self.seed}) repeats them)"
        body = textwrap.indent(message.strip(), "    ")
        return head + ("\n" + body if body else "")


def namespace_module(namespace):
    """A module holding a copy of namespace, whose functions look their globals up in the copy.

    So the VAE check can put the reference building blocks in place of the student's without touching the
    notebook, and a function that changes a global changes the copy's.
    """
    module = types.ModuleType("notebook")
    module.__dict__.update(namespace)
    for name, value in namespace.items():
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            copy = types.FunctionType(value.__code__, module.__dict__, value.__name__, value.__defaults__,
                                      value.__closure__)
            copy.__kwdefaults__, copy.__doc__ = value.__kwdefaults__, value.__doc__
            module.__dict__[name] = copy
    return module


def run_check(name, namespace, seed=None):
    """Check one exercise on the functions of namespace (a dict of names); return a LocalResult."""
    seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else int(seed)
    exercise = BY_NAME[name]
    if not callable(namespace.get(name)):
        return LocalResult(name, "missing", None, f"no function called {name} yet: run the cell that defines it "
                                                  "(keep the name of the template)", seed)
    module = namespace_module(namespace)
    try:
        checks = exercise.check(module, np.random.default_rng(seed))
    except NotImplementedError as err:
        return LocalResult(name, "todo", None, str(err), seed)
    except StudentError as err:
        advice = f"\n{exercise.on_error}" if err.raised and exercise.on_error else ""
        return LocalResult(name, "fail", None, f"{name}: {err}{advice}", seed)
    errors = [c.rel_error for c in checks]
    rel = None if None in errors else max(errors)
    hints = list(dict.fromkeys(c.hint for c in checks if not c.ok and c.hint))  # each hint once, in order
    if hints or not all(c.ok for c in checks):
        return LocalResult(name, "fail", rel, "\n".join(hints[:3]), seed)
    note = "" if exercise.note is None else exercise.note(module, np.random.default_rng(seed), [])
    return LocalResult(name, "pass", rel, note, seed)


def check(name=None, namespace=None, seed=None):
    """Print the local check of one exercise (or of every exercise when name is None).

    name : the exercise, e.g. "linear_backward";  namespace : where the functions are (default: the caller's
    globals, the notebook's names);  seed : repeat the inputs of an earlier run (default: fresh ones).

    >>> check("relu_backward")                   # doctest: +SKIP
    relu_backward: pass (rel. error 0.0e+00)
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals  # the notebook's (or the calling module's) names
    if name is not None and name not in BY_NAME:
        print(f"no exercise called {name!r}; the exercises are: {', '.join(BY_NAME)}")
        return
    names = list(BY_NAME) if name is None else [name]
    for n in names:
        print(run_check(n, namespace, seed).line())
