"""A table as a Dataset to train on, from any source: read, fitted, split and encoded; and read again from a record.

    source                          read by                                           needs
    people.csv, people.csv.gz       minivae.datasets.csvfiles, whole, as one batch    nothing more (NumPy)
    people.parquet, or a folder     minivae.tables.arrow_io, batch by batch           pip install "minivae[tables]"
    delta:PATH, iceberg:CAT#NS.TAB  minivae.tables.lakehouse, pinned to its version   pip install "minivae[lakehouse]"

What ``table_dataset`` does with it, in four steps:

    1. schema    the source's columns and types (``tables.schema``); the key columns (``keys=``, e.g. an id)
                 identify rows: they are kept in the schema but not modelled
    2. encoder   TableEncoder(categorical=, ranges=).fit(batches of the model's columns): one pass over the table;
                 or the encoder a run recorded, and then the table must have its columns (``schema_drift``)
    3. split     M = max(1, floor(N / 10)) held-out rows, the first M of a seeded permutation (``tables.streaming``)
    4. encoding  ``encode_split``: a CSV file in memory; any other source into two memory-mapped files in a scratch
                 folder, which the Trainer reads from disk (the files are unlinked at once: they live as long as
                 the arrays that map them, and nothing is left behind)

A CSV file's cells are typed here, as a reader of the file would: a column whose cells (other than missing markers,
``datasets.missing``) are all numbers is numeric (float64, NaN for a missing cell), unless it is named in
``categorical=``; any other column is text (str, None for a missing cell). A column of numbers with a few cells of
text (``1.2.3``) is refused with the lines of those cells: it is a typo, not a category. What to do with missing
cells is ``missing=``: "keep" (the default for tables) models them, a null is one more category of its column (the
encoder's null block), as a Parquet table's nulls always are; "error" refuses them with a report of where they are;
"drop" leaves out the rows that have one; "mean" fills in a numeric column's mean and a text column's most frequent
value (``datasets.missing``).

Example
-------
>>> data = table_dataset("people.parquet", keys=["person_id"])      # doctest: +SKIP
>>> data.x_train.shape, data.encoder                                # doctest: +SKIP
((90000, 14), TableEncoder(age: numeric, identity, whole, [18, 97], ...; D=14))
>>> data.table["keys"], [c["name"] for c in data.table["schema"]][:2]  # doctest: +SKIP
(['person_id'], ['person_id', 'age'])
"""
import hashlib
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

from minivae.datasets.csvfiles import read_table_cells
from minivae.datasets.dataset import Dataset, tell
from minivae.datasets.missing import MISSING_MARKERS, handle_missing_cells, is_missing
from minivae.tables.columns import TableEncoder
from minivae.tables.streaming import encode_split

MISSING = ("keep", "error", "drop", "mean")  # what a table's missing values become
TEST_FRACTION, SPLIT_SEED = 0.1, 0  # the fixed split of every table run: a command that reads it later gets the same
_CSV = (".csv", ".csv.gz")


def is_csv(source):
    return isinstance(source, (str, Path)) and str(source).lower().endswith(_CSV)


# ------------------------------------------------------------------------------------------------- sources
def source_record(source):
    """(name, sha256) of a source, as a run records it: a file's or folder's absolute path and the SHA-256 of its
    bytes; a lakehouse table pinned to its current version (``lakehouse.pinned``), whose files never change, so no
    digest (None)."""
    from minivae.tables import lakehouse

    if lakehouse.is_source(source):
        return lakehouse.pinned(source), None
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such table: {path} (expected a .csv file, a Parquet file or folder, delta:PATH "
                                "or iceberg:CATALOG#NAMESPACE.TABLE)")
    return str(path.resolve()), source_sha256(path)


def source_sha256(path):
    """The SHA-256 of a file's bytes; of a folder, of each file's path (relative to it) and bytes, in path order
    (files and folders whose names start with "." or "_" left out, as the Parquet reader leaves them out)."""
    path, digest = Path(path), hashlib.sha256()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not any(part.startswith((".", "_"))
                                                              for part in p.relative_to(path).parts))
    for file in files:
        if file != path:
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def source_schema(source, csv_batch=None):
    """The schema (``tables.schema``) of a source; a CSV file's from its typed batch (``csv_schema``)."""
    if csv_batch is not None:
        return csv_schema(csv_batch)
    from minivae.tables.arrow_io import read_schema

    return read_schema(source)


def batches_of(source, columns, batch_rows=65_536, csv_batch=None):
    """An iterator over the column batches of ``columns`` (a CSV file's batch cut into pieces of batch_rows)."""
    if csv_batch is not None:
        n = len(next(iter(csv_batch.values())))
        return ({c: csv_batch[c][s:s + batch_rows] for c in columns} for s in range(0, n, batch_rows))
    from minivae.tables.arrow_io import iter_batches

    return iter_batches(source, batch_rows=batch_rows, columns=list(columns))


def row_count(source, csv_batch=None):
    if csv_batch is not None:
        return len(next(iter(csv_batch.values())))
    from minivae.tables.arrow_io import count_rows

    return count_rows(source)


# ------------------------------------------------------------------------------------------------- CSV files
def read_csv_batch(path, missing="keep", categorical=(), encoder=None, max_categories=50):
    """A CSV table as one column batch, typed (the module docstring); returns (batch, notes).

    encoder : a fitted TableEncoder: its numeric columns (and its categorical columns of numbers) are read as
        numbers, its other columns as text, whatever their cells look like; default None: typed by the cells
    """
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(map(repr, MISSING))} for a table, got {missing!r}")
    cells = read_table_cells(path)
    header, rows, lines = cells.header, cells.rows, cells.lines
    if len(header) < 2:
        raise ValueError(f"{path} has a single column {header[0]!r}; a table needs at least two (if the file has "
                         "more, they are not separated by ',', ';' or tab; a single column of numbers can be read "
                         "with --data)")
    numeric = [_reads_as_numbers(name, [row[j] for row in rows], categorical, encoder)
               for j, name in enumerate(header)]
    notes = [cells.summary()] if cells.notable else []
    if missing == "keep":
        holes = sum(is_missing(row[j]) for row in rows for j in range(len(header)))
        if holes:
            notes.append(f"kept {holes} missing value(s) as nulls: the model learns where values are missing "
                         "(--missing-values drop or mean to handle them otherwise)")
    else:
        fill = _fill_values(encoder) if encoder is not None else None
        rows, lines, more = handle_missing_cells(path, header, rows, lines, missing, numeric, fill)
        notes += more
    if not rows:
        raise ValueError(f"{path} has no rows left to read")
    batch = {}
    for j, name in enumerate(header):
        column = [row[j] for row in rows]
        if numeric[j]:
            batch[name] = _numbers(name, column, lines, encoder is not None)
        else:
            if encoder is None and name not in categorical:
                _refuse_mostly_numbers(name, column, lines, max_categories)
            batch[name] = np.array([None if is_missing(c) else c.strip() for c in column], dtype=object)
    return batch, notes


def _reads_as_numbers(name, cells, categorical, encoder):
    if encoder is not None and name in encoder.header:
        c = encoder.columns[encoder.header.index(name)]
        return c["kind"] == "numeric" or bool(c.get("number"))
    present = [c for c in cells if not is_missing(c)]
    return name not in categorical and bool(present) and all(_to_number(c) is not None for c in present)


def _numbers(name, cells, lines, fitted):
    values = np.array([math.nan if is_missing(c) else (_to_number(c) if _to_number(c) is not None else math.inf)
                       for c in cells], dtype=np.float64)
    bad = np.flatnonzero(np.isinf(values))
    if bad.size:
        i = bad[0]
        why = "was numeric when the model was trained" if fitted else "is numeric"
        raise ValueError(f"column {name!r}, line {lines[i]}: {cells[i]!r} is not a finite number, but the column "
                         f"{why} ({bad.size} such cell(s)); fix them, or mark them missing (empty or one of "
                         f"{', '.join(m for m in MISSING_MARKERS if m)})")
    return values


def _refuse_mostly_numbers(name, cells, lines, max_categories):
    """A column of numbers with a few cells of text is a typo or a missing value, not a categorical column."""
    present = [(i, c) for i, c in enumerate(cells) if not is_missing(c)]
    bad = [i for i, c in present if _to_number(c) is None]
    if len({c for _, c in present}) > max_categories and len(bad) <= len(present) // 2:
        shown = ", ".join(f"line {lines[i]}: {cells[i]!r}" for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise ValueError(f"column {name!r} holds numbers except in {len(bad)} row(s) ({shown}); fix those cells "
                         "(a missing value: --missing-values, missing= in Python), or name the column as categorical "
                         "if its values are labels")


def _fill_values(encoder):
    """What --missing-values mean fills in with a run's encoder: a numeric column's centre, a category's most
    common value, as the encoder knows them (its mean of t(x), mapped back), so a later command fills as the run did."""
    fill = {}
    for c in encoder.columns:
        if c["kind"] == "numeric":
            u = np.zeros((1, encoder.data_dim))
            fill[c["name"]] = repr(float(encoder.inverse_transform(u)[c["name"]][0]))
    return fill


def _to_number(cell):
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def csv_schema(batch):
    """The schema of a typed CSV batch: "int" for numeric columns of whole numbers, "float" for the others,
    "string" for text; nullable where a value is missing."""
    schema = []
    for name, values in batch.items():
        if values.dtype == object:
            schema.append({"name": name, "type": "string", "arrow_type": "string",
                           "nullable": any(v is None for v in values)})
            continue
        present = values[~np.isnan(values)]
        whole = present.size > 0 and np.all(present == np.round(present)) and np.all(np.abs(present) < 2 ** 53)
        schema.append({"name": name, "type": "int" if whole else "float", "arrow_type": "int64" if whole else "double",
                       "nullable": bool(np.isnan(values).any())})
    return schema


# ------------------------------------------------------------------------------------------------- the Dataset
def table_dataset(source, encoder=None, keys=(), categorical=(), ranges=None, missing="keep", scratch=None,
                  batch_rows=65_536, trained_schema=None, image_shape=None):
    """A table as a Dataset: x_train (N - M, D) and x_test (M, D) float32 (the module docstring's four steps).

    Parameters
    ----------
    source : a .csv file, a Parquet file or folder, delta:PATH[@VERSION] or iceberg:CATALOG#NS.TABLE[@SNAPSHOT]
    encoder : the TableEncoder of a run (or its ``to_dict()``); default None: fit one on the table
    keys : columns that identify a row (never modelled); categorical, ranges : the new encoder's options
    missing : "keep", "error", "drop" or "mean" (a CSV file's missing cells; the module docstring)
    scratch : the folder for the memory-mapped files of a non-CSV source (default: the system's temporary folder)
    trained_schema : with ``encoder``, the schema the run was trained on: a column missing or of another kind now
        is refused (``schema_drift``), a new column is left out with a note
    image_shape : must be None (the rows of a table are not images); there so that every loader takes the same options

    Returns a Dataset whose ``encoder`` is the TableEncoder and whose ``table`` is {"schema", "keys", "rows"}.
    """
    if image_shape is not None:
        raise ValueError(f"{source} is a table: its rows are not images, so an image shape {tuple(image_shape)} does "
                         "not apply")
    if isinstance(encoder, dict):
        encoder = TableEncoder.from_dict(encoder)
    keys = list(keys)
    csv_batch, notes = (read_csv_batch(source, missing, categorical, encoder) if is_csv(source) else (None, []))
    schema = source_schema(source, csv_batch)
    names = [c["name"] for c in schema]
    missing_keys = [k for k in keys if k not in names]
    if missing_keys:
        raise ValueError(f"key column(s) {missing_keys} are not in {source}, whose columns are {names}")
    modelled = [n for n in names if n not in keys]
    if encoder is not None:
        notes += check_drift(source, encoder, schema, keys, trained_schema)
    n = row_count(source, csv_batch)
    if n == 0:
        raise ValueError(f"{source} has no rows: there is nothing to learn from")
    if n < 2:
        raise ValueError(f"{source} has a single row; a train and a test part need at least 2 rows")
    if encoder is None:
        encoder = TableEncoder(categorical=categorical, ranges=ranges).fit(
            batches_of(source, modelled, batch_rows, csv_batch))
    else:
        modelled = encoder.header
    x_train, x_test = _encoded(source, modelled, n, encoder, batch_rows, csv_batch, scratch)
    tell(*notes, f"table {source}: {n:,} rows; " + "; ".join(map(_shown, encoder.columns))
         + (f"; keys (not modelled): {', '.join(keys)}" if keys else ""))
    description = f"table {source}" + "".join(f"; {note}" for note in notes)
    return Dataset(str(source), x_train, None, x_test, None, None, description, encoder,
                   table={"schema": schema, "keys": keys, "rows": n})


def _encoded(source, columns, n, encoder, batch_rows, csv_batch, scratch):
    """encode_split in memory (a CSV file) or into memory-mapped files that are unlinked once mapped."""
    batches = batches_of(source, columns, batch_rows, csv_batch)
    if csv_batch is not None:
        return encode_split(batches, n, encoder, None, TEST_FRACTION, SPLIT_SEED)
    if scratch is not None:
        Path(scratch).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="minivae-table-", dir=scratch))
    try:
        return encode_split(batches, n, encoder, folder, TEST_FRACTION, SPLIT_SEED)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the maps keep the files' pages until the arrays are gone


FAMILY = {"float": "number", "int": "number", "bool": "bool", "string": "text", "category": "text"}


def check_drift(source, encoder, schema, keys=(), trained_schema=None):
    """A table read with a run's encoder must have the encoder's columns, each of the family it was (numbers, text,
    bools: ``trained_schema``, when the run recorded one): a ValueError listing every difference. An int column that
    became float (or a string one a category) is read as before, and a column the model does not know is left out;
    returns the notes that say so.

    Example: trained on "age" (int) and "city" (string), a table with "age" as string and no "city" is refused with
    "column 'age' was int (int64), is now string (string); column 'city' (string) is missing".
    """
    found = {c["name"]: c for c in schema}
    trained = {c["name"]: c for c in trained_schema or []}
    extra = [name for name in found if name not in encoder.header and name not in keys]
    drift, notes = [], []
    for name in encoder.header:
        old, new = trained.get(name), found.get(name)
        if new is None:
            drift.append(f"column {name!r}" + (f" ({old['type']})" if old else "") + " is missing")
        elif old is not None and FAMILY[old["type"]] != FAMILY[new["type"]]:
            drift.append(f"column {name!r} was {old['type']} ({old['arrow_type']}), is now {new['type']} "
                         f"({new['arrow_type']})")
        elif old is not None and old["type"] != new["type"]:
            notes.append(f"column {name!r} was {old['type']}, is now {new['type']}: read as {FAMILY[new['type']]}s, "
                         "as the model was trained")
    if drift:
        renamed = f" (it has {extra}, which the model does not know: renamed?)" if extra and any(
            line.endswith("is missing") for line in drift) else ""
        raise ValueError(f"{source} does not have the columns the model was trained on: {'; '.join(drift)}{renamed}. "
                         "Give a table with the model's columns and types, or train a model on this one")
    return notes + ([f"left out the column(s) {extra}, which the model was not trained on"] if extra else [])


def _shown(column):
    from minivae.tables.columns import describe

    return describe(column)
