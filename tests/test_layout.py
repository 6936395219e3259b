"""The package map in minivae/__init__.py names every module, each module opens with its one idea, and no module of
the package grows past the size of one idea."""
import ast
from pathlib import Path

import minivae

PACKAGE = Path(minivae.__file__).resolve().parent
MAX_LINES = 400


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def mapped_modules():
    """The paths the map lists: "    nn/" opens a folder, "      layers.py  ..." is a module in it, and a line with
    a module at the top indent ("    fileio.py  ...") is a module of the package itself."""
    names, folder = set(), ""
    for line in minivae.__doc__.splitlines():
        words = line.split()
        if not words:
            continue
        indent = len(line) - len(line.lstrip())
        if words[0].endswith("/") and indent == 4:
            folder = words[0]
        elif words[0].endswith(".py"):
            names.add((folder if indent == 6 else "") + words[0])
    return names


def test_the_package_map_names_every_module():
    on_disk = {str(p.relative_to(PACKAGE)) for p in modules()}
    mapped = mapped_modules()
    assert on_disk - mapped == set(), "modules missing from the map in minivae/__init__.py"
    assert mapped - on_disk == set(), "the map in minivae/__init__.py names modules that do not exist"


def test_every_module_opens_with_its_idea_and_stays_small():
    for path in modules():
        text = path.read_text(encoding="utf-8")
        assert ast.get_docstring(ast.parse(text)), f"{path.name} has no module docstring"
        assert len(text.splitlines()) <= MAX_LINES, f"{path.relative_to(PACKAGE)} has more than {MAX_LINES} lines"
