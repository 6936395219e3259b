"""A static check of a submission: does it import minivae's implementations of the graded functions?

The exercises ask for NumPy only. minivae itself holds an implementation of every graded function (its layers,
losses, KL term, reparameterization, optimizers and VAE, and the grader's building blocks), so a submission that
imports them would score without writing any of them. ``solution_imports(source)`` reads the submission's syntax
tree, without running it, and lists each place that reaches into those modules:

- ``import minivae.nn.layers``, ``from minivae.nn.kernels import relu_backward_reference``, ``import minivae``,
  ``from minivae.teaching.exercises import *`` (any module of the ``minivae`` package, and the teacher's
  ``teacher`` folder of the repository);
- a call or attribute through such an import, ``minivae.nn.layers.Linear(...)`` (named with its full dotted path);
- an import by name, ``importlib.import_module("minivae.nn.kl")``, ``__import__("minivae")``,
  ``sys.modules["minivae.nn.reparam"]``;
- ``f.__globals__``, which reaches into another module's names (the grader's, for instance).

Allowed: ``from minivae.teaching.local_check import check`` (the notebook's check cell; it prints feedback and
returns nothing a grade uses), and mentions of minivae in comments and docstrings.

The grader puts the findings in the report; it is for a teacher to judge them (an import may be left over from
trying things out), so a finding flags a submission, it does not grade it.

>>> for f in solution_imports("import numpy as np\\nfrom minivae.nn import layers\\nout = layers.Linear(3, 2)\\n"):
...     print(f.line, f.what.split(",")[0])
2 imports layers from minivae.nn
3 uses minivae.nn.layers.Linear
"""
import ast
from typing import NamedTuple

# The top-level names whose modules hold an implementation of a graded function.
FLAGGED_PACKAGES = ("minivae", "teacher")
# module -> the names a submission may import from it
ALLOWED = {"minivae.teaching.local_check": {"check"}}
USE_WHY = "minivae's own implementation (the exercises ask for NumPy only)"
WHY = "which holds minivae's own implementation of graded functions (the exercises ask for NumPy only)"


class Finding(NamedTuple):
    """One place in a submission that reaches into minivae's implementations: its line and what it does."""

    line: int
    what: str


def _flagged(module):
    """Whether a dotted module name is in one of FLAGGED_PACKAGES."""
    return bool(module) and module.split(".")[0] in FLAGGED_PACKAGES


def _allowed(path):
    """Whether a dotted path is an allowed name (``minivae.teaching.local_check.check``) or an attribute of it."""
    return any(path == f"{m}.{n}" or path.startswith(f"{m}.{n}.") for m, names in ALLOWED.items() for n in names)


def _dotted(node):
    """The dotted name of a chain of attributes on a name (``a.b.c``), or None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


class _ImportFinder(ast.NodeVisitor):
    """Walks the tree once: records the flagged imports, and the names they bind (alias -> dotted module path)."""

    def __init__(self):
        self.findings = []
        self.bound = {}  # a local name -> the dotted path of the flagged module or object it stands for

    def visit_Import(self, node):
        for alias in node.names:
            if not _flagged(alias.name):
                continue
            if alias.name in ALLOWED:  # `import minivae.teaching.local_check`: only .check may be used on it
                if alias.asname:
                    self.bound[alias.asname] = alias.name
                else:
                    self.bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
                continue
            self.findings.append(Finding(node.lineno, f"imports {alias.name}, {WHY}"))
            if alias.asname:
                self.bound[alias.asname] = alias.name
            else:
                self.bound[alias.name.split(".")[0]] = alias.name.split(".")[0]

    def visit_ImportFrom(self, node):
        module = "." * node.level + (node.module or "")
        if not _flagged(node.module) or node.level:
            return
        for alias in node.names:
            if alias.name in ALLOWED.get(module, ()):
                continue
            star = alias.name == "*"
            what = f"imports everything from {module}" if star else f"imports {alias.name} from {module}"
            self.findings.append(Finding(node.lineno, f"{what}, {WHY}"))
            if not star:
                self.bound[alias.asname or alias.name] = f"{module}.{alias.name}"

    def visit_Call(self, node):
        fn = _dotted(node.func)
        if fn in ("importlib.import_module", "import_module", "__import__") and node.args:
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and _flagged(name.value):
                self.findings.append(Finding(node.lineno, f"imports {name.value} by name ({fn}), {WHY}"))
        self.generic_visit(node)

    def visit_Subscript(self, node):
        key = node.slice
        if (_dotted(node.value) == "sys.modules" and isinstance(key, ast.Constant) and isinstance(key.value, str)
                and _flagged(key.value)):
            self.findings.append(Finding(node.lineno, f"takes {key.value} from sys.modules, {WHY}"))
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr == "__globals__":
            self.findings.append(Finding(node.lineno, "reads a function's __globals__ (another module's names)"))
        self.generic_visit(node)


def _uses(tree, bound):
    """Findings for each attribute chain or call on a name bound to a flagged import (outermost chain only)."""
    findings, seen = [], set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in seen:
            continue
        name = _dotted(node)
        inner = node.value
        while isinstance(inner, ast.Attribute):  # the inner links of this chain are not reported on their own
            seen.add(id(inner))
            inner = inner.value
        if name is None or name.split(".")[0] not in bound:
            continue
        root, _, rest = name.partition(".")
        path = f"{bound[root]}.{rest}" if bound[root] != root else name
        if _allowed(path):
            continue
        findings.append(Finding(node.lineno, f"uses {path}, {USE_WHY}"))
    for node in ast.walk(tree):  # a call of a name imported from a flagged module: relu_backward_reference(x, dout)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in bound:
            findings.append(Finding(node.lineno, f"calls {bound[node.func.id]}, {USE_WHY}"))
    return findings


def solution_imports(source):
    """The places in a submission's source that reach into minivae's implementations of graded functions.

    source : the submission's Python source (a notebook's code cells joined into one text)

    Returns a list of ``Finding(line, what)`` in line order, empty for a submission that uses NumPy only. The source
    is parsed, never run; a source that does not parse has no findings (the grader reports its SyntaxError).

    >>> solution_imports("import numpy as np\\n")
    []
    >>> [f.line for f in solution_imports("from minivae.teaching.exercises import *\\n")]
    [1]
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    finder = _ImportFinder()
    finder.visit(tree)
    findings = finder.findings + _uses(tree, finder.bound)
    return sorted(set(findings), key=lambda f: (f.line, f.what))
