"""The lessons are readable without running them: every code cell carries the outputs its current source made.

``python lessons/store_outputs.py`` runs the lessons in full mode and stores their outputs with the SHA-256 of each
cell's source; this test fails when a cell's source has changed since (its stored output is stale), and when a
stored output names a path of the machine it was made on.
"""
import importlib.util
from pathlib import Path

import nbformat
import pytest

TOOL = Path(__file__).resolve().parent.parent / "lessons" / "store_outputs.py"
spec = importlib.util.spec_from_file_location("store_outputs", TOOL)
store_outputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(store_outputs)
LESSONS = store_outputs.lesson_paths()
MAX_BYTES = 3_000_000  # a lesson with its figures, as a reader downloads it


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_stored_outputs_are_current(path):
    nb = nbformat.read(path, as_version=4)
    stale = store_outputs.stale_cells(nb)
    assert not stale, (f"{path.name}: the stored outputs of cell(s) {stale[:10]} were not made by their current "
                       f"source; run  python lessons/store_outputs.py {path.name[:2]}  and commit the notebook")
    assert not store_outputs.machine_paths(nb)
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB with its outputs"


def test_a_changed_cell_is_stale():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    cell = nb.cells[0]
    assert store_outputs.stale_cells(nb) == [0]  # never run
    cell.metadata[store_outputs.KEY] = {"source_sha256": store_outputs.source_sha256(cell)}
    assert store_outputs.stale_cells(nb) == []
    cell.source = "x = 2"
    assert store_outputs.stale_cells(nb) == [0]
