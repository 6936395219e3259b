"""Every lesson notebook runs top to bottom without error (its assert cells are the checks).

The notebooks run in their fast setting, MINIVAE_FAST=1: fewer epochs and smaller subsets, so that the whole suite
stays within a few minutes; the asserts still check meaningful results. Students run them without it.
"""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_lessons():
    assert len(LESSONS) >= 1, "no lessons found in lessons/"


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs(path, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIVAE_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # One BLAS thread: the lessons' small matrix products gain nothing from two, and on a machine whose cores are
    # busy with other work two threads can make them many times slower (the suite runs beside other jobs)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
