"""One idea per module: every module of minivae.datasets and minivae.plots stays under 400 lines.

A module that grows past that usually holds a second idea; split it (see how datasets/ and plots/ are split)
rather than raise the limit.
"""
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "minivae"
MAX_LINES = 400
MODULES = sorted(p for folder in ("datasets", "plots") for p in (PACKAGE / folder).glob("*.py"))


def test_the_packages_have_modules():
    names = {p.relative_to(PACKAGE).as_posix() for p in MODULES}
    assert {"datasets/__init__.py", "datasets/mnist.py", "plots/__init__.py", "plots/images.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=[p.relative_to(PACKAGE).as_posix() for p in MODULES])
def test_module_is_under_400_lines(path):
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    assert n_lines < MAX_LINES, f"{path.relative_to(PACKAGE)} has {n_lines} lines; split it into modules of one idea"
