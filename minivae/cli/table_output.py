"""Where the rows of a table command go: one file, a lakehouse table, or a folder of parts.

    scores.parquet, rows.csv    one file, written atomically by one process
    delta:PATH, iceberg:...     a new version of a Delta table, a new snapshot of an Iceberg table
    scores/                     a folder of parts, part-000000.parquet, part-000001.parquet, ...: one per unit of work
                                (a row group of the table scored, a block of synthetic rows), ``distributed.parts``

**The rule.** An --out that ends with "/" or is an existing folder is a folder of parts, in one process as under
``mpiexec``; anything else is one file (or a lakehouse table), which one process writes. ``--distributed`` writes
folders only: the ranks write their parts side by side, and one file cannot be written by several processes at
once, so a file --out is refused with the folder to give instead.
"""
from pathlib import Path

from minivae.distributed.parts import is_folder


def is_parts_folder(out):
    """True if --out names a folder of parts (the rule of the module docstring); a lakehouse table never does."""
    from minivae.tables.lakehouse import is_source

    return not is_source(out) and is_folder(out)


def check_target(out, what, distributed=False):
    """Refuse an --out that is neither a .parquet or .csv file, a lakehouse table nor a folder (module docstring),
    and, with --distributed, any --out but a folder."""
    from minivae.tables.lakehouse import is_source

    if is_parts_folder(out):
        return
    if distributed:
        folder = str(Path(str(out).split(":", 1)[-1]).with_suffix("")) + "/"
        raise ValueError(f"--out {out}: with --distributed every rank writes its own parts of {what}, one Parquet "
                         f"file per unit, into a folder: give --out a folder, ending in / (e.g. --out {folder})")
    if is_source(out) or str(out).lower().endswith((".parquet", ".csv")):
        return
    raise ValueError(f"--out {out}: {what} of a table go to a .parquet or .csv file, delta:PATH, "
                     "iceberg:CATALOG#NS.TABLE or a folder of parts (a path ending in /)")


def refuse_own_source(out, source):
    """Refuse a folder --out that is the table being read, or inside it, or holds it: its parts would be replaced."""
    from minivae.tables.lakehouse import is_source

    if not is_parts_folder(out) or is_source(source):
        return
    target, read = Path(out).resolve(), Path(source).resolve()
    if target == read or target in read.parents or read in target.parents:
        raise ValueError(f"--out {out} is where the table {source} is read from; the scores' parts would replace "
                         "its files: give another folder")


def write(target, schema, batches):
    """Write column batches to a Parquet file, a CSV file (both atomically) or a lakehouse table; say where."""
    from minivae.tables.lakehouse import is_source

    if str(target).lower().endswith(".csv"):
        return _write_csv(target, schema, batches)
    from minivae.tables.arrow_io import write_table

    result = write_table(target, schema, batches)
    if is_source(target):
        what = "version" if str(target).startswith("delta:") else "snapshot"
        return f"{target} ({what} {result})"
    return str(result)


def _write_csv(path, schema, batches):
    """A CSV file of the batches: whole numbers without a decimal point, a null as an empty cell."""
    from minivae.datasets.csvfiles import write_csv_table

    rows = []
    for batch in batches:
        rows.extend(zip(*[_cells(batch[c["name"]], c["type"]) for c in schema]))
    return str(write_csv_table(path, [c["name"] for c in schema], rows))


def _cells(values, kind):
    if values.dtype != object:
        return ["" if v != v else (str(int(v)) if kind == "int" else repr(float(v))) for v in values.tolist()]
    return ["" if v is None else str(v) for v in values]
