"""Run lessons top to bottom and store their outputs in the notebooks, so that a reader of the repository sees them.

    python lessons/store_outputs.py                     # every lesson (about 5 minutes on 2 idle cores)
    python lessons/store_outputs.py 07 15               # the lessons whose numbers are given
    python lessons/store_outputs.py --check             # say which lessons' stored outputs are stale; exit 1 if any

Each lesson runs as a student runs it (full mode: MINIVAE_FAST unset; one BLAS thread, as its first cell asks), in a
fresh kernel, in the lessons' folder. Every code cell then carries its outputs and, in its metadata, the SHA-256 of
the source that made them (``minivae.source_sha256``): a stored output is **stale** when its cell's source has
changed since (or when the cell has no stored run), and ``tests/test_lesson_outputs.py`` fails on any stale cell,
naming the lessons to run again with this command. (A change of the library alone does not make an output stale by
this rule: run the command after a change that moves the lessons' numbers.)

The stored outputs must not carry the machine they were made on: a path of this checkout or of the temporary folder
in an output is an error (``machine_paths``), and the execution timestamps nbclient records are left out.
"""
import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

LESSONS = Path(__file__).resolve().parent
KEY = "minivae"  # the cell metadata key of what this tool records


def lesson_paths(numbers=()):
    paths = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in paths if not numbers or p.name[:2] in numbers]


def source_sha256(cell):
    return hashlib.sha256(cell.source.encode("utf-8")).hexdigest()


def stale_cells(nb):
    """The indices of the code cells whose stored outputs were not made by their current source."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and cell.metadata.get(KEY, {}).get("source_sha256") != source_sha256(cell)]


def machine_paths(nb):
    """(cell index, path) of every output that names this checkout's or the temporary folder's absolute path."""
    roots = {str(LESSONS.parent), str(Path(tempfile.gettempdir()).resolve()), tempfile.gettempdir()}
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", "")) + \
                "\n".join(output.get("traceback", []))
            found += [(i, root) for root in roots if root and root in text]
    return found


def run_and_store(path):
    """Execute the lesson at ``path`` in full mode and write it back with its outputs (atomically)."""
    import nbformat
    from nbclient import NotebookClient

    from minivae.fileio import atomic_write

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "MINIVAE_FAST"}
    env.update(MPLBACKEND="module://matplotlib_inline.backend_inline", OPENBLAS_NUM_THREADS="1")
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    if errors:
        raise RuntimeError(f"{path.name}: cell(s) {errors} raised; fix the lesson before storing its outputs")
    leaks = machine_paths(nb)
    if leaks:
        raise RuntimeError(f"{path.name}: outputs name this machine's paths ({leaks[:3]}); print relative paths")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)  # nbclient's timestamps: they would change on every run
            cell.metadata[KEY] = {"source_sha256": source_sha256(cell)}
    with atomic_write(path, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers, e.g. 07 15 (default: all)")
    parser.add_argument("--check", action="store_true", help="only report the lessons whose outputs are stale")
    args = parser.parse_args(argv)
    import nbformat

    paths = lesson_paths(tuple(n.zfill(2) for n in args.lessons))
    if args.check:
        stale = [p.name for p in paths if stale_cells(nbformat.read(p, as_version=4))]
        print("stale: " + ", ".join(stale) if stale else "every lesson's stored outputs are current")
        return 1 if stale else 0
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        run_and_store(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
