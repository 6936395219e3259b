"""Grading a folder: grades.csv, grades.json and feedback files, partial credit, notebooks, and no way for one
submission to reach the next."""
import csv
import json

import pytest

from minivae.teaching.assignments import PACKAGED_EXERCISES, make_student_version
from minivae.teaching.batch import find_submissions
from minivae.teaching.checks import EXERCISES
from minivae.teaching.grader import main_grade
from minivae.teaching.submission import notebook_source, read_submission

REFERENCE = PACKAGED_EXERCISES.read_text(encoding="utf-8")
MAX_SCORE = sum(e.points for e in EXERCISES)

# Runs in the first submission's children; if anything of it outlived them, the later submissions would score.
PATCHER = """
import sys, numpy
import minivae.teaching.compare as compare
compare.TOLERANCE = 1e300
numpy.allclose = lambda *args, **kwargs: True
sys.modules["minivae.teaching.grader"] = None
with open("numpy.py", "w") as f:  # its working folder: would shadow NumPy for a later child started there
    f.write("raise SystemExit('shadowed')\\n")
"""


def notebook(cells):
    """A minimal .ipynb (JSON text) from [(cell_type, source)]."""
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": t, "metadata": {}, "source": s.splitlines(keepends=True),
                                  **({"outputs": [], "execution_count": None} if t == "code" else {})}
                                 for t, s in cells]})


def reference_notebook(relu_raises=False):
    split = REFERENCE.index("\ndef relu_backward(")
    second = REFERENCE[split:]
    if relu_raises:
        second = second.replace("dx = dout * (x > 0)", "dx = dout * (x > 0)[0, 0, 0]", 1)
    return notebook([("markdown", "# Assignment 1\nFill in the TODOs."),
                     ("code", "%matplotlib inline\n!pip install numpy\n" + REFERENCE[:split]),
                     ("code", "%%time\nprint('a cell magic: not Python')\n"),
                     ("code", second)])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    folder = root / "submissions"
    folder.mkdir()
    todo = make_student_version(PACKAGED_EXERCISES, root / "template.py").read_text(encoding="utf-8")
    (folder / "a_patcher.py").write_text(PATCHER + todo, encoding="utf-8")
    (folder / "b_reference.py").write_text(REFERENCE, encoding="utf-8")
    (folder / "c_todo.py").write_text(todo, encoding="utf-8")
    (folder / "d_notebook.ipynb").write_text(reference_notebook(relu_raises=True), encoding="utf-8")
    (folder / "e_partial.py").write_text(
        REFERENCE.replace("dlogvar = 0.5 * (var - 1) / N", "dlogvar = 0.5 * (1 - var) / N"), encoding="utf-8")
    (folder / "notes.txt").write_text("not a submission", encoding="utf-8")
    out = root / "grades.csv"
    status = main_grade([str(folder), "--out", str(out), "--jobs", "2", "--seed", "99"])
    rows = {r["student"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    return status, rows, json.loads((root / "grades.json").read_text(encoding="utf-8")), root


def test_the_folder_is_graded_into_csv_json_and_feedback(graded):
    status, rows, data, root = graded
    assert status == 1  # not everyone has full marks
    assert sorted(rows) == ["a_patcher", "b_reference", "c_todo", "d_notebook", "e_partial"]
    assert rows["b_reference"]["total"] == str(MAX_SCORE) and rows["c_todo"]["total"] == "0"
    assert all(row["seed"] == "99" for row in rows.values())
    assert data["seed"] == 99 and data["exercises"]["vae_negative_elbo"] == 4
    assert {s["student"] for s in data["students"]} == set(rows)
    assert sorted(p.name for p in (root / "feedback").iterdir()) == [f"{s}.md" for s in sorted(rows)]
    assert not [p for p in root.rglob("*.tmp")]  # atomic writes leave nothing behind


def test_a_patch_in_one_submission_reaches_neither_the_grader_nor_the_next(graded):
    _, rows, _, _ = graded
    assert rows["a_patcher"]["total"] == "0"
    assert rows["b_reference"]["total"] == str(MAX_SCORE)  # graded after the patcher, by the same threads


def test_partial_credit_per_output(graded):
    _, rows, data, root = graded
    assert rows["e_partial"]["kl_standard_normal"] == "1.33"  # kl and dmu right, dlogvar wrong: 2 of 3 outputs
    assert "sign" in rows["e_partial"]["hints"]
    feedback = (root / "feedback" / "e_partial.md").read_text(encoding="utf-8")
    assert "## kl_standard_normal: FAIL (1.33 / 2" in feedback and "dlogvar" in feedback


def test_a_notebook_is_graded_from_its_code_cells_with_the_traceback_by_cell(graded):
    _, rows, _, root = graded
    assert rows["d_notebook"]["total"] == str(MAX_SCORE - 1) and rows["d_notebook"]["relu_backward"] == "0"
    feedback = (root / "feedback" / "d_notebook.md").read_text(encoding="utf-8")
    assert 'File "d_notebook.ipynb", cell 3, line' in feedback and "IndexError" in feedback


def test_notebook_source_drops_magics_and_shell_lines():
    source, cells = notebook_source(reference_notebook())
    assert "%matplotlib" not in source and "!pip" not in source and "a cell magic" not in source
    assert [number for _, number in cells] == [1, 2, 3]
    compile(source, "nb", "exec")


def test_find_submissions_uses_the_stem_and_disambiguates(tmp_path):
    for name in ("x.py", "x.ipynb", "y.py", ".hidden.py", "__init__.py", "z.txt"):
        (tmp_path / name).write_text("", encoding="utf-8")
    assert [s for s, _ in find_submissions(tmp_path)] == ["x.ipynb", "x.py", "y"]
    with pytest.raises(FileNotFoundError, match="no submissions"):
        find_submissions(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
    with pytest.raises(ValueError, match="not a notebook"):
        (tmp_path / "bad.ipynb").write_text("{", encoding="utf-8")
        read_submission(tmp_path / "bad.ipynb")


def test_a_submission_that_imports_minivaes_implementations_is_flagged(tmp_path):
    """The static check of the imports (``static_checks.solution_imports``) reaches the report and the grades."""
    from minivae.teaching.batch import grades_table
    from minivae.teaching.grader import format_report, grade

    source = "from minivae.nn import layers\n\n\ndef linear_forward(x, W, b):\n    return x @ W + b\n"
    path = tmp_path / "borrower.py"
    path.write_text(source)
    report = grade(path, seed=0, isolated=False)
    assert report.flags and report.flags[0][0] == 1 and "layers" in report.flags[0][1]
    assert "Flagged for the teacher" in format_report(report) and "line 1:" in format_report(report)
    assert "line 1:" in grades_table([("borrower", report)])[0]["flagged"]
