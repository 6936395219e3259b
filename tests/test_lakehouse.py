"""Delta Lake and Iceberg tables through the one entry point of minivae.tables.arrow_io (minivae.tables.lakehouse):
written as a new version or snapshot, read back at the latest or a pinned one, with the errors a user meets."""
import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("deltalake")
pytest.importorskip("pyiceberg.catalog.sql")
pytest.importorskip("sqlalchemy")

from minivae.tables.arrow_io import count_rows, fragments, iter_batches, read_schema, write_table  # noqa: E402
from minivae.tables.lakehouse import DeltaSource, IcebergSource, parse_source  # noqa: E402

SCHEMA = [{"name": "id", "type": "int", "arrow_type": "int64", "nullable": False},
          {"name": "age", "type": "int", "arrow_type": "int32", "nullable": True},
          {"name": "height", "type": "float", "arrow_type": "double", "nullable": True},
          {"name": "member", "type": "bool", "arrow_type": "bool", "nullable": True},
          {"name": "colour", "type": "category", "arrow_type": "dictionary<values=string, indices=int8, ordered=0>",
           "nullable": True}]


def batches(start, stop, rows=500):
    """Column batches of rows start..stop-1, with nulls in every nullable column."""
    for s in range(start, stop, rows):
        i = np.arange(s, min(stop, s + rows))
        null = i % 10 == 3
        yield {"id": i.astype(float), "age": np.where(null, np.nan, i % 90), "height": np.where(null, np.nan, i * 0.5),
               "member": np.array([None if n else bool(k % 2) for k, n in zip(i, null)], dtype=object),
               "colour": np.array([None if n else "rgb"[k % 3] for k, n in zip(i, null)], dtype=object)}


def read_all(source, **kw):
    got = list(iter_batches(source, batch_rows=700, **kw))
    return {name: np.concatenate([b[name] for b in got]) for name in got[0]}


def same_rows(got, start, stop):
    want = {k: np.concatenate([b[k] for b in batches(start, stop)]) for k in SCHEMA_NAMES}
    order = np.argsort(got["id"])
    for name in SCHEMA_NAMES:
        a, b = got[name][order], want[name]
        assert (np.array_equal(a, b, equal_nan=True) if a.dtype == np.float64 else a.tolist() == b.tolist()), name


SCHEMA_NAMES = [c["name"] for c in SCHEMA]


def test_source_strings_parse_into_their_dataclasses():
    assert parse_source("delta:lake/people") == DeltaSource("lake/people")
    assert parse_source("delta:lake/v@1/people@12") == DeltaSource("lake/v@1/people", 12)
    assert parse_source("iceberg:c.db#a.b.t@7") == IcebergSource("c.db", "a.b.t", 7)
    assert str(IcebergSource("c.db", "ns.t", 7)) == "iceberg:c.db#ns.t@7" and str(DeltaSource("p", 2)) == "delta:p@2"
    for bad in ["delta:", "iceberg:c.db", "iceberg:c.db#table", "iceberg:#ns.t", "iceberg:c.db#ns."]:
        with pytest.raises(ValueError, match="is not a lakehouse source; write delta:PATH"):
            parse_source(bad)


def test_a_delta_table_gets_a_new_version_per_write_and_each_version_stays_readable(tmp_path):
    table = f"delta:{tmp_path / 'people'}"
    assert write_table(table, SCHEMA, batches(0, 1500)) == 0
    schema = read_schema(table)
    assert [(c["name"], c["type"], c["arrow_type"]) for c in schema] == [
        ("id", "int", "int64"), ("age", "int", "int32"), ("height", "float", "double"), ("member", "bool", "bool"),
        ("colour", "string", "string")]  # Delta stores no dictionaries: a category reads back as strings
    assert schema[0]["nullable"] is False
    same_rows(read_all(table), 0, 1500)
    assert write_table(table, SCHEMA, batches(1500, 2000)) == 1  # append
    assert count_rows(table) == 2000 and count_rows(table + "@0") == 1500
    same_rows(read_all(table), 0, 2000)
    same_rows(read_all(table + "@0"), 0, 1500)
    assert write_table(table, SCHEMA[:2], ({k: b[k] for k in ("id", "age")} for b in batches(0, 10)),
                       mode="overwrite") == 2
    assert [c["name"] for c in read_schema(table)] == ["id", "age"] and count_rows(table) == 10
    assert count_rows(table + "@1") == 2000
    with pytest.raises(ValueError, match=r"the Delta table has versions 0\.\.2, not 5"):
        iter_batches(table + "@5")


def test_delta_parts_split_the_row_groups_of_its_files(tmp_path):
    table = DeltaSource(str(tmp_path / "t"))
    for start in (0, 600, 1200):
        write_table(table, SCHEMA, batches(start, start + 600))
    units = fragments(table)
    assert sum(u.rows for u in units) == 1800 and all(u.file.startswith(str(tmp_path / "t")) for u in units)
    ids = [read_all(table, part=p, parts=2)["id"] for p in range(2)]
    assert np.array_equal(np.sort(np.concatenate(ids)), np.arange(1800))


def test_bad_delta_writes_are_refused_and_leave_no_version(tmp_path):
    table = f"delta:{tmp_path / 't'}"
    write_table(table, SCHEMA, batches(0, 100))

    def broken():
        yield from batches(100, 600)
        yield {**next(batches(0, 1)), "age": np.array([2.5])}

    with pytest.raises(ValueError, match=r"column 'age' \(int32\) takes integers, but the batch holds 2.5"):
        write_table(table, SCHEMA, broken())
    as_float = [dict(c, type="float", arrow_type="double") if c["name"] == "age" else c for c in SCHEMA]
    rows = ({**b, "age": b["age"] + 0.5} for b in batches(0, 10))
    with pytest.raises(ValueError, match=r"column 'age': the table stores it as int32.*truncated"):
        write_table(table, as_float, rows)
    with pytest.raises(ValueError, match=r"missing \['member', 'colour'\], not in the table \[\]"):
        write_table(table, SCHEMA[:3], ({k: b[k] for k in SCHEMA_NAMES[:3]} for b in batches(0, 10)))
    with pytest.raises(ValueError, match="a write makes a new version; give the table without @0"):
        write_table(table + "@0", SCHEMA, batches(0, 10))
    assert count_rows(table) == 100 and read_schema(table + "@0") == read_schema(table)
    with pytest.raises(FileNotFoundError, match="no Delta table at .*nope"):
        iter_batches(f"delta:{tmp_path / 'nope'}")
    with pytest.raises(ValueError, match="is a Delta Lake table .* read it as 'delta:"):
        iter_batches(tmp_path / "t")


def test_an_iceberg_table_gets_one_snapshot_per_append(tmp_path):
    catalog = tmp_path / "lake" / "catalog.db"
    table = f"iceberg:{catalog}#census.people"
    first = write_table(table, SCHEMA, batches(0, 1200))  # creates the catalog, the namespace and the table
    schema = read_schema(table)
    assert [(c["name"], c["type"]) for c in schema] == [
        ("id", "int"), ("age", "int"), ("height", "float"), ("member", "bool"), ("colour", "string")]
    assert schema[0]["nullable"] is False and schema[1]["arrow_type"] == "int32"
    same_rows(read_all(table), 0, 1200)
    second = write_table(table, SCHEMA, batches(1200, 1500))
    assert second != first and count_rows(table) == 1500 and count_rows(f"{table}@{first}") == 1200
    same_rows(read_all(table, columns=SCHEMA_NAMES), 0, 1500)
    same_rows(read_all(f"{table}@{first}"), 0, 1200)
    units = fragments(table)
    assert len(units) == 2 and sorted(u.rows for u in units) == [300, 1200]
    ids = [read_all(table, part=p, parts=2)["id"] for p in range(2)]
    assert np.array_equal(np.sort(np.concatenate(ids)), np.arange(1500))
    assert (tmp_path / "lake" / "census" / "people").is_dir()  # the warehouse: the catalog file's folder


def test_iceberg_errors_name_what_exists(tmp_path):
    catalog = tmp_path / "catalog.db"
    with pytest.raises(FileNotFoundError, match="no Iceberg catalog file .*catalog.db"):
        iter_batches(f"iceberg:{catalog}#ns.t")
    assert not catalog.exists()  # reading creates nothing
    write_table(f"iceberg:{catalog}#ns.t", SCHEMA, batches(0, 10))
    with pytest.raises(LookupError, match=r"has no Iceberg table 'ns.u' .*its tables are \['ns.t'\]"):
        read_schema(f"iceberg:{catalog}#ns.u")
    with pytest.raises(ValueError, match=r"has no snapshot 1; its snapshots are \[\d+\]"):
        iter_batches(f"iceberg:{catalog}#ns.t@1")
    nulls = ({**b, "id": np.full(len(b["id"]), np.nan)} for b in batches(0, 10))
    with pytest.raises(ValueError, match="column 'id' is not nullable"):
        write_table(f"iceberg:{catalog}#ns.t", SCHEMA, nulls)
    with pytest.raises(ValueError, match="written with mode 'append'"):
        write_table(f"iceberg:{catalog}#ns.t", SCHEMA, batches(0, 10), mode="overwrite")
    assert count_rows(f"iceberg:{catalog}#ns.t") == 10
