"""Delta Lake and Apache Iceberg tables, read as the same column batches and schema as a Parquet file, written back.

A lakehouse table is Parquet files plus a log that says which files make up each version of the table. Reading a
version reads its files; writing adds files and commits a new entry to the log, all or nothing. The sources, as
the strings ``tables.arrow_io`` takes (its ``iter_batches``, ``read_schema``, ... come here for them), or as the
dataclasses they parse into::

    delta:PATH                          the Delta table in the local folder PATH, its latest version
    delta:PATH@VERSION                  ... at VERSION (0, 1, ...)               DeltaSource(PATH, VERSION)
    iceberg:CATALOG#NS.TABLE            table TABLE of namespace NS in the SQLite catalog file CATALOG, its
                                        current snapshot                           IcebergSource(CATALOG, "NS.TABLE")
    iceberg:CATALOG#NS.TABLE@SNAPSHOT   ... at snapshot id SNAPSHOT                IcebergSource(..., snapshot=ID)

The Iceberg catalog is pyiceberg's ``SqlCatalog`` on ``sqlite:///CATALOG``, named "default" (the name is stored with
each table; ``IcebergSource(catalog_name=...)`` reads another). The tables it creates go under its warehouse, the
catalog file's folder unless ``IcebergSource(warehouse=...)`` names another.

**Reading.** Delta: the files of the version, as a pyarrow dataset; its parts are their row groups, files in the
order of the log. Iceberg: pyiceberg plans the data files of the snapshot (deletes applied); its parts are the data
files in path order, and pyiceberg reads one data file into memory at a time.

**Writing** (``write_table``), streamed to either format as Arrow record batches:

    Delta     a new version: mode "append" (the rows' columns must be the table's; they are cast to its types, and
              1.5 for an int column is refused, not truncated) or "overwrite" (rows and schema replaced; the older
              versions stay readable with @VERSION). A table that does not exist yet is created.
    Iceberg   one append, one new snapshot; the catalog, the namespace and the table are created if missing.

Neither format stores Arrow's dictionary type: a "category" column is written as strings and reads back as a
"string" column. Iceberg stores int8, int16 and uint8 as int32, and strings as large_string; Delta has no float16.

Example
-------
>>> version = write_table("delta:runs/synthetic", schema, batches)     # doctest: +SKIP
>>> read_schema(f"delta:runs/synthetic@{version}") == ...              # doctest: +SKIP
"""
import re
from dataclasses import dataclass
from pathlib import Path

from minivae.extras import require
from minivae.tables.arrow_io import DatasetTable, Part
from minivae.tables.schema import import_pyarrow, to_arrow_schema, to_record_batch


@dataclass(frozen=True)
class DeltaSource:
    """A Delta Lake table in a local folder, at its latest version (None) or a given one."""
    path: str
    version: int | None = None

    def __str__(self):
        return f"delta:{self.path}" + ("" if self.version is None else f"@{self.version}")


@dataclass(frozen=True)
class IcebergSource:
    """An Iceberg table "namespace.table" of a SQLite catalog file, at its current snapshot (None) or a given one."""
    catalog: str
    table: str
    snapshot: int | None = None
    catalog_name: str = "default"
    warehouse: str | None = None  # where new tables go; None: the catalog file's folder

    def __str__(self):
        return f"iceberg:{self.catalog}#{self.table}" + ("" if self.snapshot is None else f"@{self.snapshot}")


def is_source(source):
    """Whether ``source`` names a lakehouse table: a DeltaSource, an IcebergSource, or a "delta:" or "iceberg:"
    string."""
    return isinstance(source, (DeltaSource, IcebergSource)) or (
        isinstance(source, str) and source.startswith(("delta:", "iceberg:")))


def parse_source(source):
    """The DeltaSource or IcebergSource of a source string (the module docstring's forms); a dataclass is returned
    as it is.

    Example
    -------
    >>> parse_source("delta:tables/people@3")
    DeltaSource(path='tables/people', version=3)
    >>> source = parse_source("iceberg:lake/catalog.db#census.people")
    >>> source.catalog, source.table, source.snapshot
    ('lake/catalog.db', 'census.people', None)
    """
    if isinstance(source, (DeltaSource, IcebergSource)):
        return source
    kind, _, rest = str(source).partition(":")
    at = re.fullmatch(r"(.*)@(\d+)", rest)
    body, pin = (at.group(1), int(at.group(2))) if at else (rest, None)
    if kind == "delta" and body:
        return DeltaSource(body, pin)
    if kind == "iceberg" and "#" in body:
        catalog, _, table = body.rpartition("#")
        if catalog and "." in table.strip(".") and "" not in table.split("."):
            return IcebergSource(catalog, table, pin)
    raise ValueError(f"{source!r} is not a lakehouse source; write delta:PATH[@VERSION] or "
                     "iceberg:CATALOG_FILE#NAMESPACE.TABLE[@SNAPSHOT]")


def pinned(source):
    """The source string of a lakehouse table at the version it is at now, its path absolute: what a run records,
    so that reading it again reads the same rows even after new versions or snapshots were committed.

    Example
    -------
    >>> pinned("delta:tables/people")                             # doctest: +SKIP
    'delta:/home/ada/tables/people@3'
    """
    source = parse_source(source)
    _require()
    if isinstance(source, DeltaSource):
        version = source.version if source.version is not None else _delta(source).version()
        return str(DeltaSource(str(Path(source.path).resolve()), version))
    snapshot = source.snapshot
    if snapshot is None:
        current = _iceberg(source).current_snapshot()
        if current is None:
            raise ValueError(f"{source}: the Iceberg table has no snapshot yet, so no rows; append rows to it first")
        snapshot = current.snapshot_id
    return str(IcebergSource(str(Path(source.catalog).resolve()), source.table, snapshot))


def _require():
    require("tables", "Delta Lake and Iceberg tables")
    require("lakehouse", "Delta Lake and Iceberg tables")


# ------------------------------------------------------------------------------------------------- reading
def open_table(source):
    """The reader of a lakehouse source, with the contract of ``arrow_io.open_table``."""
    source = parse_source(source)
    _require()
    return _delta_table(source) if isinstance(source, DeltaSource) else IcebergTable(source)


def _delta(source):
    from deltalake import DeltaTable

    if "://" in source.path:
        raise ValueError(f"{source}: minivae reads local Delta tables only; copy the table to a local folder")
    if not DeltaTable.is_deltatable(source.path):
        raise FileNotFoundError(f"no Delta table at {source.path} (no _delta_log folder with a commit there)")
    latest = DeltaTable(source.path).version()
    if source.version is None:
        return DeltaTable(source.path)
    if not 0 <= source.version <= latest:
        raise ValueError(f"{source}: the Delta table has versions 0..{latest}, not {source.version}")
    return DeltaTable(source.path, version=source.version)


def _delta_dataset(table, path):
    import pyarrow.fs as fs

    # deltalake's default file system is a Python one, which can abort the interpreter at exit: read the local
    # folder through pyarrow's own
    return table.to_pyarrow_dataset(filesystem=fs.SubTreeFileSystem(str(Path(path).resolve()), fs.LocalFileSystem()))


def _delta_table(source):
    dataset = _delta_dataset(_delta(source), source.path)
    return DatasetTable(str(source), dataset.schema, list(dataset.get_fragments()), root=source.path,
                        hint="a file of the Delta table is missing or damaged")


class IcebergTable:
    """An Iceberg table's snapshot as ``arrow_io`` reads tables: ``name``, ``arrow_schema``, ``parts`` (its data
    files), ``count_rows()``, ``read(part, columns, batch_rows)``."""

    def __init__(self, source):
        table = _iceberg(source)
        if source.snapshot is not None and table.snapshot_by_id(source.snapshot) is None:
            ids = [s.snapshot_id for s in table.snapshots()]
            raise ValueError(f"{source}: the Iceberg table has no snapshot {source.snapshot}; its snapshots are {ids}")
        self.name, self._scan = str(source), table.scan(snapshot_id=source.snapshot)
        self.arrow_schema = self._scan.projection().as_arrow()
        self._tasks = sorted(self._scan.plan_files(), key=lambda task: task.file.file_path)
        self.parts = [Part(i, task.file.file_path, None, None if task.delete_files else task.file.record_count)
                      for i, task in enumerate(self._tasks)]

    def count_rows(self):
        return self._scan.count()

    def read(self, part, columns, batch_rows):
        from pyiceberg.io.pyarrow import ArrowScan

        scan = self._scan.select(*columns)
        reader = ArrowScan(scan.table_metadata, scan.io, scan.projection(), scan.row_filter, scan.case_sensitive)
        yield from reader.to_record_batches([self._tasks[part.index]])  # cut into batch_rows by arrow_io


def _catalog(source, create=False):
    from pyiceberg.catalog.sql import SqlCatalog

    path = Path(source.catalog)
    if not create and not path.is_file():
        raise FileNotFoundError(f"no Iceberg catalog file {path}; expected the SQLite file of a pyiceberg SqlCatalog")
    path.parent.mkdir(parents=True, exist_ok=True)
    warehouse = Path(source.warehouse or path.parent).resolve()
    return SqlCatalog(source.catalog_name, uri=f"sqlite:///{path.resolve()}", warehouse=warehouse.as_uri())


def _iceberg(source):
    from pyiceberg.exceptions import NoSuchTableError

    catalog = _catalog(source)
    try:
        return catalog.load_table(source.table)
    except NoSuchTableError:
        tables = [".".join(t) for ns in catalog.list_namespaces() for t in catalog.list_tables(ns)]
        raise LookupError(f"{source.catalog} has no Iceberg table {source.table!r} (catalog name "
                          f"{source.catalog_name!r}); its tables are {tables}") from None


# ------------------------------------------------------------------------------------------------- writing
def write_table(target, schema, batches, mode="append"):
    """Write column batches to a lakehouse table: Delta, a new version ("append" or "overwrite"); Iceberg, a new
    snapshot ("append"). Returns the Delta version or the Iceberg snapshot id written."""
    target = parse_source(target)
    _require()
    pinned = target.version if isinstance(target, DeltaSource) else target.snapshot
    if pinned is not None:
        raise ValueError(f"{target}: a write makes a new version; give the table without @{pinned}")
    if isinstance(target, DeltaSource):
        return write_delta(target.path, schema, batches, mode)
    if mode != "append":
        raise ValueError(f"{target}: Iceberg tables are written with mode 'append' (a new snapshot), not {mode!r}")
    return write_iceberg(target, schema, batches)


def write_delta(path, schema, batches, mode="append"):
    """Write column batches to the Delta table at ``path`` (created if missing) as one new version; returns it."""
    from deltalake import DeltaTable, write_deltalake

    _require()
    if mode not in ("append", "overwrite"):
        raise ValueError(f"mode must be 'append' or 'overwrite' for a Delta table, got {mode!r}")
    arrow_schema = _plain(to_arrow_schema(schema))
    if mode == "append" and DeltaTable.is_deltatable(str(path)):
        arrow_schema = _table_types(arrow_schema, _delta_dataset(DeltaTable(str(path)), path).schema, f"delta:{path}")
    stream = _RecordBatches(schema, batches, arrow_schema)
    try:
        write_deltalake(str(path), stream.reader(), mode=mode,
                        **({"schema_mode": "overwrite"} if mode == "overwrite" else {}))
    except Exception as err:  # deltalake reports an error of the batches as text only: raise the error itself
        if stream.error is not None:
            raise stream.error from None
        raise ValueError(f"delta:{path}: Delta Lake refused the rows: {str(err).splitlines()[0]}") from None
    return DeltaTable(str(path)).version()


def write_iceberg(target, schema, batches):
    """Append column batches to an Iceberg table (catalog, namespace, table created if missing) as one new
    snapshot; returns its id."""
    from pyiceberg.exceptions import NoSuchTableError

    target = parse_source(target)
    _require()
    catalog, arrow_schema = _catalog(target, create=True), _plain(to_arrow_schema(schema))
    try:
        table = catalog.load_table(target.table)
    except NoSuchTableError:
        catalog.create_namespace_if_not_exists(target.table.rpartition(".")[0])
        table = catalog.create_table(target.table, schema=arrow_schema)
    arrow_schema = _table_types(arrow_schema, table.schema().as_arrow(), str(target))
    table.append(_RecordBatches(schema, batches, arrow_schema).reader())
    return table.current_snapshot().snapshot_id


def _plain(arrow_schema):
    """The schema with dictionary types replaced by their value types (neither format stores dictionaries)."""
    pa = import_pyarrow()
    return pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in arrow_schema])


def _table_types(arrow_schema, table_schema, name):
    """The table's own schema for rows of ``arrow_schema``, after checking that they have the same columns."""
    missing = [n for n in table_schema.names if n not in arrow_schema.names]
    extra = [n for n in arrow_schema.names if n not in table_schema.names]
    if missing or extra:
        raise ValueError(f"{name}: the rows' columns differ from the table's: missing {missing}, not in the table "
                         f"{extra}; append rows of the table's columns {table_schema.names}, or overwrite it")
    return table_schema


class _RecordBatches:
    """Column batches as Arrow record batches of ``arrow_schema`` (cast safely: 1.5 into an int column raises), and
    the error that stopped them."""

    def __init__(self, schema, batches, arrow_schema):
        self.schema, self.batches, self.arrow_schema, self.error = schema, batches, arrow_schema, None

    def reader(self):
        return import_pyarrow().RecordBatchReader.from_batches(self.arrow_schema, iter(self))

    def __iter__(self):
        pa = import_pyarrow()
        try:
            for batch in self.batches:
                record_batch = to_record_batch(self.schema, batch)
                yield pa.RecordBatch.from_arrays([_cast(record_batch.column(f.name), f) for f in self.arrow_schema],
                                                 schema=self.arrow_schema)
        except Exception as err:
            self.error = err
            raise


def _cast(array, field):
    pa = import_pyarrow()
    if pa.types.is_dictionary(array.type) and not pa.types.is_dictionary(field.type):
        array = array.cast(array.type.value_type)
    try:
        array = array.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise ValueError(f"column {field.name!r}: the table stores it as {field.type}, and {err}; give values "
                         "of that type") from None
    if array.null_count and not field.nullable:
        raise ValueError(f"column {field.name!r} is not nullable in the table, but the rows hold "
                         f"{array.null_count} null(s) in it; fill them in")
    return array
