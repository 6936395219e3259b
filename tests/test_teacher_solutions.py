"""Every checkable exercise of the lessons has a reference solution for teachers, outside the lessons and the package.

``teacher/lessons/NN_solutions.py`` holds, for lesson NN, the code a student would write in a cell above the check
cells. Here each file must exist, compile, and define every name that the lesson's check cells look for
(``if "name" in globals()``): a renamed exercise without a renamed reference fails. (That the references pass their
checks was verified by running them inside the lessons; ``tests/test_lesson_checks.py`` runs the pattern itself.)
"""
import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def checked_names(path):
    """The names the lesson's check cells look for."""
    nb = nbformat.read(path, as_version=4)
    return {name for cell in nb.cells if cell.cell_type == "code"
            for name in re.findall(r'"(\w+)" in globals\(\)', cell.source)}


def defined_names(source):
    """The names a module defines at its top level: functions, classes, assignments (tuple targets too)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_each_checked_name_has_a_reference(lesson):
    wanted = checked_names(lesson)
    if not wanted:
        pytest.skip(f"{lesson.name} has no check cells")
    path = ROOT / "teacher" / "lessons" / f"{lesson.name[:2]}_solutions.py"
    assert path.is_file(), f"no reference solutions for {lesson.name}: write {path.relative_to(ROOT)}"
    missing = wanted - defined_names(path.read_text(encoding="utf-8"))
    assert not missing, f"{path.relative_to(ROOT)} does not define {sorted(missing)}, which {lesson.name} checks"


def test_the_references_are_not_in_the_package():
    assert not list((ROOT / "minivae").rglob("*_solutions.py"))
