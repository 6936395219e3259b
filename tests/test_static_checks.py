"""Tests for minivae.teaching.static_checks: a submission that imports minivae's implementations of the graded
functions is flagged, by line, without being run; one that uses NumPy only (and the notebook's check) is not."""
import pytest

from minivae.teaching.assignments import REFERENCE_SOLUTIONS, STUDENT_TEMPLATE
from minivae.teaching.static_checks import Finding, solution_imports


@pytest.mark.parametrize("source, words", [
    ("from minivae.exercises import *\n", ["everything from minivae.exercises"]),
    ("from minivae.teaching.exercises import *\n", ["everything from minivae.teaching.exercises"]),
    ("import minivae.nn.layers\ndef relu_backward(dout, x):\n    return minivae.nn.layers.relu(x)\n",
     ["imports minivae.nn.layers", "uses minivae.nn.layers.relu"]),
    ("import minivae.nn.layers as L\ny = L.Linear(3, 2)\n", ["imports minivae.nn.layers", "uses minivae.nn.layers.Linear"]),
    ("from minivae.nn import kernels\ndef relu_backward(dout, x):\n    return kernels.relu_backward_reference(x, dout)\n",
     ["imports kernels from minivae.nn", "uses minivae.nn.kernels.relu_backward_reference"]),
    ("from minivae.nn.kernels import relu_backward_reference as r\ndx = r(1, 2)\n",
     ["imports relu_backward_reference from minivae.nn.kernels", "calls minivae.nn.kernels.relu_backward_reference"]),
    ("import minivae\nopt = minivae.Adam(lr=1e-3)\n", ["imports minivae,", "uses minivae.Adam"]),
    ("from minivae.teaching import reference_blocks as rb\n", ["imports reference_blocks from minivae.teaching"]),
    ("import importlib\nm = importlib.import_module('minivae.nn.kl')\n", ["imports minivae.nn.kl by name"]),
    ("m = __import__('minivae')\n", ["imports minivae by name (__import__)"]),
    ("import sys\nm = sys.modules['minivae.nn.reparam']\n", ["takes minivae.nn.reparam from sys.modules"]),
    ("from teacher.solutions import *\n", ["everything from teacher.solutions"]),
    ("def f():\n    import minivae.nn.optim\n", ["imports minivae.nn.optim"]),
    ("from minivae.teaching.local_check import check, reference_blocks\n",
     ["imports reference_blocks from minivae.teaching.local_check"]),
    ("import minivae.teaching.local_check as lc\nlc.checks.EXERCISES\n", ["uses minivae.teaching.local_check.checks"]),
    ("def f(g):\n    return g.__globals__['want']\n", ["__globals__"]),
    ("import minivae.teaching.local_check\nminivae.nn.layers.relu(1)\n", ["uses minivae.nn.layers.relu"]),
])
def test_an_import_of_minivaes_implementations_is_flagged_with_its_line(source, words):
    findings = solution_imports(source)
    assert findings and all(isinstance(f, Finding) for f in findings)
    text = "\n".join(f.what for f in findings)
    for word in words:
        assert word in text, (word, findings)
    for f in findings:
        assert 1 <= f.line <= source.count("\n")


def test_lines_are_those_of_the_import_and_of_the_use():
    source = "import numpy as np\n\nfrom minivae.nn import kl\n\n\ndef kl_standard_normal(mu, logvar):\n" \
             "    return kl.kl_standard_normal(mu, logvar)\n"
    assert [f.line for f in solution_imports(source)] == [3, 7]


@pytest.mark.parametrize("source", [
    "import numpy as np\n",
    "import numpy as np\nfrom minivae.teaching.local_check import check\ncheck('relu_backward')\n",
    "import minivae.teaching.local_check\nminivae.teaching.local_check.check('relu_backward')\n",
    '"""Uses the formula of minivae.nn.kl.kl_standard_normal."""\n# import minivae.nn.layers\nx = 1\n',
    "import minivae_notes\nfrom numpy import linalg\n",  # another package whose name starts with minivae
    "def broken(:\n",  # does not parse: the grader reports the SyntaxError, not this check
])
def test_numpy_only_code_and_the_check_cell_are_not_flagged(source):
    assert solution_imports(source) == []


def test_the_template_and_the_reference_solutions_are_clean():
    assert solution_imports(STUDENT_TEMPLATE.read_text(encoding="utf-8")) == []
    assert solution_imports(REFERENCE_SOLUTIONS.read_text(encoding="utf-8")) == []
