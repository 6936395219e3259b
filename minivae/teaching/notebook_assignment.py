"""The notebook form of the assignment (CS231n-style): ``make-assignment --format notebook --out assignment/``.

The notebook is built from the student template (``minivae/teaching/exercises.py``, no solutions in it), top to
bottom in the order of the template:

    the goal and the rules                                  markdown
    import numpy; from minivae.teaching.local_check ...     code: the setup
    the given helpers (relu_forward, sigmoid, ...)          code, to run as they are
    for each exercise, under its section's heading:
        its explanation and formulas (the docstring)        markdown
        def name(...): docstring; raise NotImplementedError("TODO: ...")        code: the cell to fill in
        check("name")                                       code: the local check, pass or fail with the hint
    a summary: check() of every exercise, and how to grade  markdown and code

Each code cell carries its role in its metadata, ``{"minivae": {"role": "exercise", "exercise": "relu_backward"}}``
(roles: "setup", "given", "exercise", "check"), so a grader can tell the student's cells from the check cells.
Untouched, the notebook runs top to bottom and every check says "not done yet"; with the solutions filled in,
every check passes. Writing it needs only the standard library (the notebook format is JSON, nbformat 4).
"""
import ast
import inspect
import json
import re
from pathlib import Path

from minivae.fileio import atomic_write
from minivae.teaching.assignments import student_source
from minivae.teaching.checks import EXERCISES

NOTEBOOK_NAME = "exercises.ipynb"
SECTION = re.compile(r"^# (Given helpers|Exercise [^\n]*)$", re.MULTILINE)

INTRO = """# Backpropagation by hand: the loss and gradients of a VAE in NumPy

**Goal.** Write, with NumPy alone, the forward and backward passes of every piece of a small variational
autoencoder (the affine layer, the activations, the two terms of the loss, the reparameterization trick, the Adam
step) and then put them together into the negative ELBO of a whole VAE and all its gradients (Kingma & Welling 2013).

**How.** Each exercise is a function: read its explanation, fill in the cell below it (replace the line
`raise NotImplementedError("TODO: ...")`), run it, then run the `check("...")` cell after it. The check runs the
grader's own tests on your function, on fresh random inputs each time: it compares your outputs with minivae's
implementation and with finite differences, and prints *pass* or *FAIL* with a hint on the likely mistake.

**Rules.**
- NumPy only, whole arrays at a time (no Python loops over entries). Importing minivae's own implementations is
  reported to your teacher by the grader.
- Keep the names and the arguments of the functions; do not change the input arrays in place (`x += 1`).
- minivae's convention everywhere: **sum over data or latent dimensions, mean over the batch, in nats**.
- A correct function agrees to about 1e-8 or better; a check passes below 1e-6.
"""

SUMMARY = """## Summary

Run the cell below to check every exercise at once. The marks come from the grader, which runs the same checks on
the notebook you hand in:

    python -m minivae grade exercises.ipynb
"""


def _markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n")}


def _code(text, role, exercise=None):
    meta = {"role": role} if exercise is None else {"role": role, "exercise": exercise}
    return {"cell_type": "code", "execution_count": None, "metadata": {"minivae": meta}, "outputs": [],
            "source": text.strip("\n")}


def template_parts(source):
    """The template split for the notebook: (module docstring, [(section title, [(function name, docstring,
    source of the function)])]), in the order of the file."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    sections = [(m.group(1), source[: m.start()].count("\n") + 1) for m in SECTION.finditer(source)]
    parts = []
    for title, line in sections:
        parts.append((title, []))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            owner = max((i for i, (_, line) in enumerate(sections) if line < node.lineno), default=None)
            if owner is None:
                raise ValueError(f"the function {node.name} stands before any section heading ('# Exercise ...')")
            text = "".join(lines[node.lineno - 1: node.end_lineno])
            parts[owner][1].append((node.name, ast.get_docstring(node) or "", text))
    return ast.get_docstring(tree), [p for p in parts if p[1]]


def _explanation(name, docstring, exercise_number):
    """The markdown of one exercise: its title and its docstring (the formulas stay in indented code blocks)."""
    doc = inspect.cleandoc(docstring)
    first, _, rest = doc.partition("\n")
    return f"### Exercise {exercise_number}: `{name}`\n\n{first}\n{rest}"


def notebook_cells(source):
    """The cells of the notebook built from a student template's source (see the module's docstring)."""
    graded = {e.name for e in EXERCISES}
    _, sections = template_parts(source)
    cells = [_markdown(INTRO), _code("import numpy as np\n\nfrom minivae.teaching.local_check import check", "setup")]
    number = 0
    for title, functions in sections:
        if title == "Given helpers":
            given = "\n".join(f"- `{n}`: {inspect.cleandoc(d).splitlines()[0]}" for n, d, _ in functions)
            cells.append(_markdown(f"## Given helpers\n\nThese are not exercises: run the cell, the exercises use "
                                   f"them.\n\n{given}"))
            cells.append(_code("\n\n".join(text.rstrip() for _, _, text in functions), "given"))
            continue
        cells.append(_markdown(f"## {title}"))
        for name, docstring, text in functions:
            if name not in graded:
                cells.append(_code(text, "given"))
                continue
            number += 1
            cells.append(_markdown(_explanation(name, docstring, number)))
            cells.append(_code(text, "exercise", name))
            cells.append(_code(f'check("{name}")', "check", name))
    cells += [_markdown(SUMMARY), _code("check()", "check")]
    return cells


def notebook(source):
    """The notebook (a dict in the nbformat 4 layout) built from a student template's source."""
    return {"cells": notebook_cells(source), "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}}


def make_notebook_assignment(out_dir="assignment", source_path=None, overwrite=False):
    """Write the notebook assignment into the folder out_dir; return the path of the notebook written.

    source_path : a reference file with solution regions, stripped first (default: the packaged student template)
    overwrite : replace an existing notebook (default False: a student's work is not overwritten by accident)

    Raises FileExistsError when the notebook exists and overwrite is False, ValueError for a malformed source.
    """
    path = Path(out_dir) / NOTEBOOK_NAME
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; the work in it would be lost. Choose another folder, or "
                              "overwrite it on purpose (--force on the command line)")
    source = student_source(source_path)
    nb = notebook(source)
    for i, cell in enumerate(nb["cells"]):  # the cell ids of nbformat 4.5: unique, and the same on every run
        cell["id"] = f"cell-{i:02d}"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return path
