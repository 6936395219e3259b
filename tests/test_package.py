"""The package as a user meets it: the public API, the version check at import, the README's example."""
import re
import types
from pathlib import Path

import numpy as np
import pytest

import minivae

ROOT = Path(__file__).resolve().parent.parent


def test_every_public_name_exists_and_has_a_docstring():
    for name in minivae.__all__:
        obj = getattr(minivae, name)
        assert (obj.__doc__ or "").strip(), f"minivae.{name} has no docstring"


@pytest.mark.parametrize("numpy_version, numba_version", [("1.26.4", "0.60.0"), ("2.4.6", "0.58.1")])
def test_versions_that_do_not_fit_give_a_friendly_message(monkeypatch, numpy_version, numba_version):
    import sys

    monkeypatch.setattr(np, "__version__", numpy_version)
    monkeypatch.setitem(sys.modules, "numba", types.SimpleNamespace(__version__=numba_version))
    with pytest.raises(ImportError, match=r"numpy >= 2 and numba >= 0\.60.*pip install -r requirements\.txt"):
        minivae._check_versions()


def test_the_readme_example_runs_as_written():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## The library in a few lines\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(code.replace("range(500)", "range(5)"), namespace)  # fewer steps; the same code path
    assert namespace["samples"].shape == (16, 784)
    assert np.isfinite(namespace["terms"].loss)
