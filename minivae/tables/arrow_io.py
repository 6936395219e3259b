"""Tables as streams of column batches: read a batch at a time, never whole, and Parquet written atomically.

One entry point reads every kind of table (``read_schema``, ``count_rows``, ``fragments``, ``iter_batches``); the
source says which it is::

    data.parquet                a Parquet file (any name that does not end in .csv or .csv.gz)
    data/                       a folder of Parquet files, read in the order of their paths (names that start with
                                "." or "_" are skipped); hive-style key=value/ folders add a column "key"
    data.csv, data.csv.gz       a CSV file with a header row, its delimiter found as ``datasets.csvfiles`` finds it;
                                pyarrow.csv guesses each column's type from the file's first block
    delta:PATH[@VERSION]        a Delta Lake table, at its latest version or at VERSION     (``tables.lakehouse``)
    iceberg:CATALOG#NS.TABLE[@SNAPSHOT]   an Iceberg table of a SQLite catalog file         (``tables.lakehouse``)

The batches follow the column-batch convention of ``tables.schema`` (numbers as float64 with NaN for null, bools
and strings as object arrays with None): every batch has ``batch_rows`` rows but the last, which may have fewer.

**Parts.** ``fragments(source)`` lists a table's units of work in one fixed order: each row group of each Parquet
file, files in path order (for a Delta table, in the order of its log; for Iceberg, each data file, in path order;
a CSV file is one unit). Part i of k is the units i, i+k, i+2k, ...: ``iter_batches(source, part=i, parts=k)``.
Each reader (an MPI rank) computes the same list from the same files, so the k parts are disjoint, together they
are the whole table, and their units put back in index order are the table in its order. A unit is read at once
by pyarrow (the column chunks of one row group), so write large tables with row groups of a bounded size:
``AtomicParquetWriter`` writes one row group per batch.

Errors say what is wrong in one line: a missing source, a table with no rows, a file that is not Parquet or is
damaged (``DamagedFileError``, naming the file), a column of a type minivae does not read, columns that differ
between the files of a folder, a batch that does not fit its schema on writing.

Example
-------
>>> schema = read_schema("people.parquet")                                  # doctest: +SKIP
>>> for batch in iter_batches("people.parquet", batch_rows=4096):           # doctest: +SKIP
...     batch["age"].mean()                                                 # float64, NaN for a null
>>> write_parquet("copy.parquet", schema, iter_batches("people.parquet"))   # doctest: +SKIP
"""
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minivae.datasets.csvfiles import detect_delimiter
from minivae.datasets.dataset import DamagedFileError
from minivae.fileio import atomic_write
from minivae.tables.schema import describe, import_pyarrow, schema_drift, to_arrow_schema, to_batch, to_record_batch
from minivae.validation import check_positive_int

__all__ = ["Part", "read_schema", "count_rows", "fragments", "iter_batches", "AtomicParquetWriter", "write_parquet",
           "write_table", "schema_drift"]

DEFAULT_BATCH_ROWS = 65_536
LAKEHOUSE = ("delta:", "iceberg:")
_CSV_SUFFIXES = (".csv", ".csv.gz")


@dataclass(frozen=True)
class Part:
    """One unit of work of a table: ``index`` in ``fragments(source)``, the ``file`` it reads, the ``row_group`` of
    that file (None: the whole file) and its number of ``rows`` (None when only reading tells: a CSV file)."""
    index: int
    file: str
    row_group: int | None
    rows: int | None


# ------------------------------------------------------------------------------------------------- reading
def read_schema(source, columns=None):
    """The schema of a table (a list of {"name", "type", "arrow_type", "nullable"}; ``columns``: those columns only,
    in that order), read from its metadata. Raises ValueError at a column minivae cannot read: leave it out with
    ``columns=``."""
    return _schema(open_table(source), columns)


def count_rows(source):
    """The number of rows of a table: from the metadata of Parquet files, Delta and Iceberg tables (no data read);
    by streaming through a CSV file."""
    return open_table(source).count_rows()


def fragments(source):
    """The table's units of work, a list of ``Part`` in the fixed order that ``iter_batches(part=, parts=)``
    splits (the module docstring says which order)."""
    return list(open_table(source).parts)


def iter_batches(source, batch_rows=DEFAULT_BATCH_ROWS, columns=None, part=0, parts=1):
    """Stream a table as column batches (dicts of name -> 1-D array, the convention of ``tables.schema``).

    Parameters
    ----------
    source : a Parquet file or folder, a CSV file, "delta:PATH[@VERSION]" or "iceberg:CATALOG#NS.TABLE[@SNAPSHOT]"
    batch_rows : rows per batch; every batch has as many but the last
    columns : the columns to read, in that order (None: all, in schema order)
    part, parts : read only part ``part`` of ``parts``: the units i with i % parts == part (``fragments``)

    The source is opened and checked at once (a missing file, no rows, an unreadable column, columns that differ
    between files raise here); a damaged data page raises DamagedFileError while streaming, naming the file.

    Example
    -------
    >>> total = sum(np.nansum(b["x"]) for b in iter_batches("big.parquet", columns=["x"]))   # doctest: +SKIP
    """
    check_positive_int(batch_rows, "batch_rows")
    check_positive_int(parts, "parts")
    if not isinstance(part, (int, np.integer)) or not 0 <= part < parts:
        raise ValueError(f"part must be an integer in 0..{parts - 1} (one of parts={parts}), got {part!r}")
    table = open_table(source)
    schema = _schema(table, columns)
    if None not in (p.rows for p in table.parts) and sum(p.rows for p in table.parts) == 0:
        raise ValueError(f"{table.name} holds no rows; give a table with at least one row")
    mine = table.parts[part::parts]
    return _stream(table, mine, schema, batch_rows, must_have_rows=len(mine) == len(table.parts))


def _schema(table, columns):
    pa = import_pyarrow()
    if all(pa.types.is_null(f.type) for f in table.arrow_schema) and table.count_rows() == 0:  # a CSV header only
        raise ValueError(f"{table.name} holds no rows; give a table with at least one row")
    return describe(table.arrow_schema, columns)


def _stream(table, units, schema, batch_rows, must_have_rows):
    names, pending, have, total = [c["name"] for c in schema], [], 0, 0
    for unit in units:
        for record_batch in table.read(unit, names, batch_rows):
            start = 0
            while start < record_batch.num_rows:  # cut and join the record batches into batches of batch_rows
                take = min(batch_rows - have, record_batch.num_rows - start)
                pending.append(to_batch(record_batch.slice(start, take), schema))
                have, start = have + take, start + take
                if have == batch_rows:
                    yield _join(pending)
                    pending, have, total = [], 0, total + batch_rows
    if have:
        yield _join(pending)
    elif total == 0 and must_have_rows:
        raise ValueError(f"{table.name} holds no rows; give a table with at least one row")


def _join(batches):
    if len(batches) == 1:
        return batches[0]
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


# ------------------------------------------------------------------------------------------------- sources
def open_table(source):
    """The reader of a source: an object with ``name``, ``arrow_schema``, ``parts`` (a list of Part),
    ``count_rows()`` and ``read(part, columns, batch_rows)`` (Arrow record batches). Lakehouse sources go to
    ``tables.lakehouse``."""
    from minivae.tables import lakehouse

    if lakehouse.is_source(source):
        return lakehouse.open_table(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such table: {path} (expected a Parquet file or folder, a .csv file, "
                                "delta:PATH or iceberg:CATALOG#NAMESPACE.TABLE)")
    if path.is_dir() and (path / "_delta_log").is_dir():
        raise ValueError(f"{path} is a Delta Lake table (it has a _delta_log folder): read it as 'delta:{path}', "
                         "which reads the files of its current version only")
    if path.is_file() and path.name.lower().endswith(_CSV_SUFFIXES):
        return _csv_table(path)
    return _parquet_table(path)


class DatasetTable:
    """A table read through a pyarrow dataset: a Parquet file or folder, a CSV file, the files of a Delta table.

    ``fragments``: the dataset's files in the order to read them; ``by_row_group``: one Part per row group (Parquet)
    or per file (CSV); ``hint``: said after a reading error, how to fix it; ``root``: the folder the fragments'
    paths are relative to, if they are (a Delta table's files).
    """

    def __init__(self, name, arrow_schema, fragments, by_row_group=True, hint=None, root=None):
        self.name, self.arrow_schema, self.hint = name, arrow_schema, hint
        self.parts, self._fragments = [], []
        for fragment in fragments:
            file = fragment.path if root is None else f"{root}/{fragment.path}"  # root: of a relative path
            pieces = _guarded(file, fragment.split_by_row_group, hint) if by_row_group else [fragment]
            for piece in pieces:
                group = piece.row_groups[0] if by_row_group else None  # a split fragment holds one row group
                self.parts.append(Part(len(self.parts), file, None if group is None else group.id,
                                       None if group is None else group.num_rows))
                self._fragments.append(piece)

    def count_rows(self):
        if None not in (p.rows for p in self.parts):
            return sum(p.rows for p in self.parts)
        return sum(_guarded(p.file, f.count_rows, self.hint) for p, f in zip(self.parts, self._fragments))

    def read(self, part, columns, batch_rows):
        fragment = self._fragments[part.index]
        batches = _guarded(part.file, lambda: fragment.to_batches(schema=self.arrow_schema, columns=columns,
                                                                  batch_size=batch_rows), self.hint)
        while True:
            batch = _guarded(part.file, lambda: next(batches, None), self.hint)
            if batch is None:
                return
            yield batch


def _guarded(file, call, hint=None):
    """call(), with pyarrow's errors of reading ``file`` turned into a DamagedFileError that names it."""
    pa = import_pyarrow()
    try:
        return call()
    except (pa.ArrowException, OSError) as err:
        detail = " ".join(str(err).split()).rstrip(".")
        raise DamagedFileError(f"{file} cannot be read: {detail}; " + (hint or "it is not a Parquet file, or it "
                               "is damaged (truncated?): write it again, or move it out of the table")) from None


def _parquet_table(path):
    """A Parquet file, or a folder of them whose files all have the same columns of the same types."""
    pa = import_pyarrow()
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(str(path), format="parquet", partitioning="hive" if path.is_dir() else None)
    except (pa.ArrowException, OSError) as err:  # pyarrow read the first file's footer: find the file that fails
        for file in _files(path):
            _guarded(file, lambda: _read_footer(file))
        raise DamagedFileError(f"{path} cannot be read as Parquet: {' '.join(str(err).split())}") from None
    files = sorted(dataset.get_fragments(), key=lambda f: f.path)
    if not files:
        raise ValueError(f"{path} holds no Parquet files; expected .parquet files (in key=value/ folders or not)")
    partitions = [dataset.schema.field(n) for n in (dataset.partitioning.schema.names if dataset.partitioning else ())]
    first = _guarded(files[0].path, lambda: files[0].physical_schema)
    for fragment in files[1:]:
        drift = schema_drift(_kinds(first), _kinds(_guarded(fragment.path, lambda: fragment.physical_schema)), True)
        if drift:
            raise ValueError(f"{fragment.path}: its columns differ from those of {files[0].path}, the folder's "
                             f"first file: {'; '.join(drift)}. The files of a folder must have the same columns "
                             "of the same types: write the odd file again, or move it out")
    arrow_schema = pa.schema(list(first) + [f for f in partitions if f.name not in first.names])
    return DatasetTable(str(path), arrow_schema, files)


def _files(path):
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not any(
        part.startswith((".", "_")) for part in p.relative_to(path).parts))


def _read_footer(file):
    import pyarrow.parquet as pq

    return pq.read_metadata(file)


def _kinds(arrow_schema):
    """A schema list of any Arrow schema, for comparing files: a type minivae does not read is "unreadable"."""
    out = []
    for field in arrow_schema:
        try:
            kind = describe(import_pyarrow().schema([field]))[0]["type"]
        except ValueError:
            kind = "unreadable"
        out.append({"name": field.name, "type": kind, "arrow_type": str(field.type), "nullable": field.nullable})
    return out


def _csv_table(path):
    """A CSV file, one unit of work; pyarrow.csv guesses the column types from its first block (1 MB)."""
    pa = import_pyarrow()
    import pyarrow.csv as pcsv
    import pyarrow.dataset as ds

    with (gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")) as f:  # as pyarrow
        head = _guarded(path, lambda: f.read(1 << 16), "it is not a valid gzip file").decode("utf-8", "replace")
    if not head.strip():
        raise ValueError(f"{path} is empty; expected a header row of column names, then rows")
    lines = head.splitlines()[:-1] or head.splitlines()  # the last line of the sample may be cut
    options = ds.CsvFileFormat(parse_options=pcsv.ParseOptions(delimiter=detect_delimiter("\n".join(lines))))
    hint = ("pyarrow.csv guesses each column's type from the file's first block, and a later row does not fit it: "
            "fix that value, or convert the file to Parquet with the types you mean")
    try:
        dataset = ds.dataset(str(path), format=options)
    except (pa.ArrowException, OSError) as err:
        raise ValueError(f"{path} cannot be read as CSV: {' '.join(str(err).split())}") from None
    return DatasetTable(str(path), dataset.schema, list(dataset.get_fragments()), by_row_group=False, hint=hint)


# ------------------------------------------------------------------------------------------------- writing
class AtomicParquetWriter:
    """Write a Parquet file batch by batch, atomically: each ``write(batch)`` converts a column batch to the
    schema's exact Arrow types (``tables.schema.to_record_batch``: ints, decimals, categories, nulls checked) and
    appends it as one row group to a temporary file beside ``path``; a normal exit writes the footer and renames the
    file over ``path`` (``minivae.fileio.atomic_write``). On any error the temporary file is removed and a file
    already at ``path`` is left as it was.

    Example
    -------
    >>> with AtomicParquetWriter("synthetic.parquet", schema) as writer:   # doctest: +SKIP
    ...     for batch in batches:
    ...         writer.write(batch)
    >>> writer.rows                                                        # doctest: +SKIP
    100000
    """

    def __init__(self, path, schema, compression="snappy"):
        self.path, self.schema, self.compression = Path(path), schema, compression
        self.arrow_schema = to_arrow_schema(schema)
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a folder; give the path of the Parquet file to write")
        self.rows = 0

    def __enter__(self):
        import pyarrow.parquet as pq

        self._file = atomic_write(self.path, "wb")
        self._writer = pq.ParquetWriter(self._file.__enter__(), self.arrow_schema, compression=self.compression)
        return self

    def write(self, batch):
        """Append one column batch (dict of name -> 1-D array, the schema's columns) as a row group."""
        record_batch = to_record_batch(self.schema, batch, self.arrow_schema)
        self._writer.write_batch(record_batch)
        self.rows += record_batch.num_rows

    def __exit__(self, kind, error, traceback):
        try:
            self._writer.close()  # the footer; on an error it goes to the temporary file, which is removed
        except BaseException as err:
            if kind is not None:  # the first error is the one to tell
                return self._file.__exit__(kind, error, traceback)
            self._file.__exit__(type(err), err, err.__traceback__)
            raise
        return self._file.__exit__(kind, error, traceback)


def write_parquet(path, schema, batches, compression="snappy"):
    """Write column batches to a Parquet file in ``schema``'s exact types, atomically (``AtomicParquetWriter``):
    one row group per batch. Returns the path."""
    with AtomicParquetWriter(path, schema, compression) as writer:
        for batch in batches:
            writer.write(batch)
    return writer.path


def write_table(target, schema, batches, mode=None):
    """Write column batches to a table: a Parquet file (replaced whole, atomically: ``mode`` None or "overwrite"),
    "delta:PATH" (a new version: ``mode`` "append", the default, or "overwrite") or "iceberg:CATALOG#NS.TABLE" (a
    new snapshot: "append"). Returns the path, the Delta version or the Iceberg snapshot id written."""
    from minivae.tables import lakehouse

    if lakehouse.is_source(target):
        return lakehouse.write_table(target, schema, batches, mode or "append")
    if mode not in (None, "overwrite"):
        raise ValueError(f"a Parquet file is written whole (mode 'overwrite'), not with mode {mode!r}; to add rows, "
                         "write a new file into the table's folder")
    if str(target).lower().endswith(_CSV_SUFFIXES):
        raise ValueError(f"{target}: write_table writes Parquet; give a .parquet path (CSV: datasets.csvfiles)")
    return write_parquet(target, schema, batches)
