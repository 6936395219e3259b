"""Tests for the notebook form of the assignment and for answers not handed out: the notebook runs top to bottom
(untouched: every check says "not done yet"; with the reference solutions pasted in: every check passes), its check
cell finds the student's function in the notebook's globals, and neither the .py nor the notebook form contains a
reference solution."""
import json
import re

import pytest

from minivae.teaching.assignments import (
    BEGIN_MARKER, END_MARKER, REFERENCE_SOLUTIONS, main_make_student,
)
from minivae.teaching.checks import EXERCISES
from minivae.teaching.local_check import run_check
from minivae.teaching.notebook_assignment import NOTEBOOK_NAME, make_notebook_assignment, template_parts

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REFERENCE = REFERENCE_SOLUTIONS.read_text(encoding="utf-8")
NAMES = [e.name for e in EXERCISES]


def reference_functions():
    """name -> the source of the reference solution's function (teacher/solutions.py)."""
    return {name: text for _, functions in template_parts(REFERENCE)[1] for name, _, text in functions}


def solution_regions():
    """name -> the code lines of its solution region (stripped, without the TODO line and comments)."""
    regions = {}
    for name, text in reference_functions().items():
        if BEGIN_MARKER in text:
            region = text[text.index(BEGIN_MARKER) + len(BEGIN_MARKER): text.index(END_MARKER)]
            lines = [line.strip() for line in region.splitlines()]
            regions[name] = [line for line in lines if line and not line.startswith("#")]
    return regions


def run(nb):
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    return nb


def check_outputs(nb):
    """exercise -> the text its check cell printed (the final check() of every exercise under the key None)."""
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("minivae", {})
        if cell.cell_type == "code" and meta.get("role") == "check":
            out[meta.get("exercise")] = "".join(o.get("text", "") for o in cell.outputs)
    return out


@pytest.fixture(scope="module")
def notebook_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assignment")
    assert main_make_student(["--format", "notebook", "--out", str(folder)]) == 0
    return folder / NOTEBOOK_NAME


def test_the_notebook_has_an_explanation_a_todo_cell_and_a_check_cell_per_exercise(notebook_path):
    nb = nbformat.read(notebook_path, as_version=4)
    nbformat.validate(nb)
    roles = [(c.cell_type, c.metadata.get("minivae", {}).get("role"), c.metadata.get("minivae", {}).get("exercise"))
             for c in nb.cells]
    for name in NAMES:
        i = roles.index(("code", "exercise", name))
        assert roles[i - 1][0] == "markdown" and f"`{name}`" in nb.cells[i - 1].source
        assert roles[i + 1] == ("code", "check", name) and nb.cells[i + 1].source == f'check("{name}")'
        assert nb.cells[i].source.startswith(f"def {name}(") and 'raise NotImplementedError("TODO: ' in nb.cells[i].source
    assert "0.5 * sum_j [ mu_nj^2 + sigma_nj^2 - 1 - log sigma_nj^2 ]" in json.dumps(nb.cells[roles.index(
        ("code", "exercise", "kl_standard_normal")) - 1].source)  # the formulas are in the markdown
    assert "from minivae.teaching.local_check import check" in nb.cells[1].source


def test_the_untouched_notebook_runs_and_every_check_says_not_done(notebook_path):
    outputs = check_outputs(run(nbformat.read(notebook_path, as_version=4)))
    for name in NAMES:
        assert outputs[name].startswith(f"{name}: not done yet"), outputs[name]
        assert "TODO:" in outputs[name]
    assert outputs[None].count("not done yet") == len(NAMES)


def test_with_the_reference_pasted_in_every_check_passes(notebook_path):
    nb = nbformat.read(notebook_path, as_version=4)
    solutions = reference_functions()
    for cell in nb.cells:
        meta = cell.metadata.get("minivae", {})
        if meta.get("role") == "exercise":
            cell.source = solutions[meta["exercise"]]
    outputs = check_outputs(run(nb))
    for name in NAMES:
        assert outputs[name].startswith(f"{name}: pass"), outputs[name]
    assert outputs[None].count(": pass") == len(NAMES) and "FAIL" not in outputs[None]


def test_the_check_finds_the_function_in_the_callers_globals_and_leaves_them_alone():
    from minivae.teaching.local_check import check

    namespace = {}
    exec(reference_functions()["relu_backward"].replace("(x > 0)", "(x >= 0)"), {"np": __import__("numpy")},
         namespace)
    result = run_check("relu_backward", namespace)
    assert result.status == "fail" and "not x >= 0" in result.message
    assert "seed=" in result.line() and run_check("relu_backward", namespace, seed=result.seed).message == \
        result.message
    assert run_check("linear_forward", namespace).status == "missing"
    # a VAE defined in a notebook is checked with the reference building blocks, without changing the notebook
    solutions = "\n".join(reference_functions().values())
    namespace = {"np": __import__("numpy")}
    exec(solutions, namespace)
    mine = namespace["linear_forward"]
    assert run_check("vae_negative_elbo", namespace).status == "pass"
    assert namespace["linear_forward"] is mine
    exec("from minivae.teaching.local_check import check\ncheck('reparameterize')", namespace)  # the caller's globals


@pytest.mark.parametrize("form", ["py", "notebook"])
def test_the_student_version_contains_no_reference_solution(tmp_path, form):
    out = tmp_path / ("exercises.py" if form == "py" else "assignment")
    assert main_make_student(["--format", form, "--out", str(out)]) == 0
    files = [out] if form == "py" else sorted(out.iterdir())
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    if form == "notebook":
        text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    assert BEGIN_MARKER not in text and END_MARKER not in text
    docstrings = {name: doc for _, functions in template_parts(REFERENCE)[1] for name, doc, _ in functions}
    regions = solution_regions()
    assert sorted(regions) == sorted(NAMES)
    for name, lines in regions.items():
        if len(lines) > 1:  # the whole body (a one-line body is the docstring's formula, checked below)
            assert "\n".join(lines) not in "\n".join(line.strip() for line in text.splitlines()), name
        # a line of the solution may only appear where the docstring states it (a formula), never as code
        leaked = [line for line in lines if line in text and line.split(" = ", 1)[-1] not in docstrings[name]]
        assert not leaked, (name, leaked)


def test_make_notebook_assignment_refuses_to_overwrite(tmp_path):
    path = make_notebook_assignment(tmp_path)
    path.write_text("my work", encoding="utf-8")
    with pytest.raises(FileExistsError, match="overwrite"):
        make_notebook_assignment(tmp_path)
    assert main_make_student(["--format", "notebook", "--out", str(tmp_path)]) == 1
    assert path.read_text(encoding="utf-8") == "my work"
    assert make_notebook_assignment(tmp_path, overwrite=True) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == [NOTEBOOK_NAME]
