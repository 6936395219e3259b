"""Parquet files and folders and CSV files as streams of column batches (minivae.tables.arrow_io, tables.schema):
exact round trips, parts for k readers, memory far below the table's size, atomic writes, and one clear error for
each bad input."""
import gzip
import tracemalloc
from decimal import Decimal

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from minivae.datasets.dataset import DamagedFileError  # noqa: E402
from minivae.extras import MissingExtraError, require  # noqa: E402
from minivae.tables.arrow_io import (AtomicParquetWriter, count_rows, fragments, iter_batches, read_schema,  # noqa
                                     write_parquet, write_table)
from minivae.tables.schema import schema_drift, to_record_batch  # noqa: E402

N = 3000


def people(n=N, seed=0):
    """A table of every kind of column, with nulls, in the Arrow types a writer must restore exactly."""
    rng = np.random.default_rng(seed)
    null = rng.random(n) < 0.1
    colours = np.array(["blue", "green", "red"])[rng.integers(0, 3, n)]
    return pa.table({
        "id": pa.array(np.arange(n), pa.int64()),
        "age": pa.array(rng.integers(0, 100, n), pa.int8()),
        "visits": pa.array(np.where(null, 0, rng.integers(0, 5000, n)), pa.int32(), mask=null),
        "code": pa.array(rng.integers(0, 60000, n), pa.uint16()),
        "height": pa.array(rng.normal(170, 10, n), pa.float32(), mask=null),
        "score": pa.array(rng.normal(size=n), pa.float64(), mask=rng.random(n) < 0.05),
        "price": pa.array([Decimal(int(c)) / 100 for c in rng.integers(0, 10**6, n)], pa.decimal128(10, 2)),
        "member": pa.array(rng.random(n) < 0.5, pa.bool_(), mask=null),
        "name": pa.array([None if m else f"p{i}" for i, m in enumerate(null)], pa.string()),
        "note": pa.array([f"n{i % 17}" for i in range(n)], pa.large_string()),
        "colour": pa.array(colours, mask=null).dictionary_encode().cast(pa.dictionary(pa.int8(), pa.string())),
    }).cast(pa.schema([pa.field("id", pa.int64(), nullable=False)] + [
        pa.field(n, t) for n, t in [("age", pa.int8()), ("visits", pa.int32()), ("code", pa.uint16()),
                                    ("height", pa.float32()), ("score", pa.float64()),
                                    ("price", pa.decimal128(10, 2)), ("member", pa.bool_()), ("name", pa.string()),
                                    ("note", pa.large_string()), ("colour", pa.dictionary(pa.int8(), pa.string()))]]))


@pytest.fixture
def people_file(tmp_path):
    path = tmp_path / "people.parquet"
    pq.write_table(people(), path, row_group_size=700)
    return path


def test_a_round_trip_restores_the_exact_types_nulls_and_categories(people_file, tmp_path):
    schema = read_schema(people_file)
    assert [(c["name"], c["type"]) for c in schema] == [
        ("id", "int"), ("age", "int"), ("visits", "int"), ("code", "int"), ("height", "float"), ("score", "float"),
        ("price", "float"), ("member", "bool"), ("name", "string"), ("note", "string"), ("colour", "category")]
    assert schema[0]["nullable"] is False and schema[1]["arrow_type"] == "int8"
    batches = list(iter_batches(people_file, batch_rows=1000))
    assert [len(b["id"]) for b in batches] == [1000, 1000, 1000]  # row groups of 700 cut into batches of 1000
    first = batches[0]
    assert list(first) == [c["name"] for c in schema]
    assert first["visits"].dtype == np.float64 and np.isnan(first["visits"]).any()
    assert first["member"].dtype == object and {type(v) for v in first["member"]} == {bool, type(None)}
    assert first["colour"].dtype == object and set(first["colour"]) == {"blue", "green", "red", None}
    first["age"][0] = -1  # the arrays are the caller's own
    out = write_parquet(tmp_path / "copy.parquet", schema, iter_batches(people_file, batch_rows=1000))
    back, original = pq.read_table(out), people()
    assert back.schema == original.schema
    assert back.to_pylist() == original.to_pylist()
    assert read_schema(out) == schema
    assert pq.ParquetFile(out).metadata.num_row_groups == 3  # one row group per batch written


def test_nan_is_null_in_numeric_columns(tmp_path):
    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, np.nan, None])}), path)
    (batch,) = iter_batches(path)
    assert np.isnan(batch["x"][1:]).all()
    write_parquet(path, read_schema(path), [batch])
    assert pq.read_table(path).column("x").null_count == 2


def test_a_partitioned_folder_adds_its_keys_as_columns_in_path_order(tmp_path):
    for region, start in [("north", 0), ("south", 100), ("east", 200)]:
        folder = tmp_path / "t" / f"region={region}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"id": np.arange(start, start + 100)}), folder / "a.parquet")
    (tmp_path / "t" / "_SUCCESS").write_text("")  # names starting with _ or . are not data
    schema = read_schema(tmp_path / "t")
    assert [(c["name"], c["type"]) for c in schema] == [("id", "int"), ("region", "string")]
    batches = list(iter_batches(tmp_path / "t", batch_rows=64))
    ids = np.concatenate([b["id"] for b in batches])
    regions = np.concatenate([b["region"] for b in batches])
    assert ids.tolist() == list(range(200, 300)) + list(range(0, 200))  # east, north, south
    assert regions[0] == "east" and regions[-1] == "south" and count_rows(tmp_path / "t") == 300


def test_columns_selects_and_reorders(people_file):
    (batch,) = iter_batches(people_file, batch_rows=N, columns=["colour", "id"])
    assert list(batch) == ["colour", "id"] and np.array_equal(batch["id"], np.arange(N))
    assert [c["name"] for c in read_schema(people_file, columns=["name"])] == ["name"]
    with pytest.raises(ValueError, match=r"no column 'nope' in the table; its columns are \['id'"):
        iter_batches(people_file, columns=["nope"])
    with pytest.raises(TypeError, match=r"a list of column names.*\['id'\]"):
        iter_batches(people_file, columns="id")


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_a_csv_file_streams_with_its_delimiter_found(tmp_path, name):
    text = "height;colour;member\n" + "".join(f"{170 + i % 9}.5;{'ab'[i % 2]};{'true' if i % 3 else 'false'}\n"
                                             for i in range(2500)) + ";a;\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    assert [(c["name"], c["type"]) for c in read_schema(path)] == [
        ("height", "float"), ("colour", "string"), ("member", "bool")]
    batches = list(iter_batches(path, batch_rows=1000))
    assert [len(b["height"]) for b in batches] == [1000, 1000, 501] and count_rows(path) == 2501
    assert batches[0]["height"][0] == 170.5 and np.isnan(batches[-1]["height"][-1])
    assert batches[-1]["member"][-1] is None and batches[0]["member"][1] is True
    assert fragments(path) == [fragments(path)[0]] and fragments(path)[0].rows is None  # one part


def test_the_parts_are_disjoint_and_their_union_in_index_order_is_the_table(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir()
    for f, (start, stop) in enumerate([(0, 1000), (1000, 1300), (1300, 2600)]):
        pq.write_table(pa.table({"id": np.arange(start, stop)}), folder / f"part-{f}.parquet", row_group_size=250)
    units = fragments(folder)
    assert [u.index for u in units] == list(range(len(units))) == list(range(4 + 2 + 6))
    assert [u.row_group for u in units[:5]] == [0, 1, 2, 3, 0] and sum(u.rows for u in units) == 2600
    ends = np.cumsum([u.rows for u in units])
    for parts in (1, 2, 3, 5, 13):
        got = [np.concatenate([b["id"] for b in iter_batches(folder, 100, part=p, parts=parts)] or [np.array([])])
               for p in range(parts)]
        assert np.array_equal(np.sort(np.concatenate(got)), np.arange(2600))  # disjoint, and all of it
        for p in range(parts):  # part p is the units p, p + parts, ... in their order
            mine = [np.arange(ends[u.index] - u.rows, ends[u.index]) for u in units[p::parts]]
            assert np.array_equal(got[p], np.concatenate(mine) if mine else np.array([]))
    with pytest.raises(ValueError, match=r"part must be an integer in 0\.\.2"):
        iter_batches(folder, part=3, parts=3)


def test_streaming_two_million_rows_holds_a_small_part_of_them_in_memory(tmp_path):
    n, rows = 2_000_000, 65_536
    schema = [{"name": "x", "type": "float", "arrow_type": "double", "nullable": True},
              {"name": "k", "type": "int", "arrow_type": "int64", "nullable": False},
              {"name": "y", "type": "float", "arrow_type": "float", "nullable": True}]
    ranges = (np.arange(s, min(n, s + rows)) for s in range(0, n, rows))
    path = write_parquet(tmp_path / "big.parquet", schema,
                         ({"x": i * 0.5, "k": i.astype(float), "y": (i % 7).astype(float)} for i in ranges))
    assert count_rows(path) == n and len(fragments(path)) == -(-n // rows)
    table_bytes = n * 3 * 8  # the table as float64 batches
    tracemalloc.start()
    try:
        count, sums = 0, np.zeros(3)
        for batch in iter_batches(path, batch_rows=rows):
            count += len(batch["x"])
            sums += [batch["x"].sum(), batch["k"].sum(), batch["y"].sum()]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == n
    assert sums.tolist() == [n * (n - 1) / 4, n * (n - 1) / 2, float(sum(np.arange(n) % 7))]
    assert peak < table_bytes / 5, f"reading held {peak / 1e6:.1f} MB of a {table_bytes / 1e6:.0f} MB table"


# ------------------------------------------------------------------------------------------------- bad input
def test_a_missing_source_and_an_empty_table_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such table: .*nope.parquet"):
        iter_batches(tmp_path / "nope.parquet")
    pq.write_table(pa.table({"x": pa.array([], pa.float64())}), tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match="empty.parquet holds no rows"):
        iter_batches(tmp_path / "empty.parquet")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="header.csv holds no rows"):
        list(iter_batches(tmp_path / "header.csv"))
    (tmp_path / "blank.csv").write_text("")
    with pytest.raises(ValueError, match="blank.csv is empty"):
        read_schema(tmp_path / "blank.csv")


def test_a_damaged_or_foreign_file_is_named(people_file, tmp_path):
    data = people_file.read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedFileError, match=r"cut.parquet cannot be read: .*damaged \(truncated\?\)"):
        iter_batches(tmp_path / "cut.parquet")
    folder = tmp_path / "t"
    folder.mkdir()
    pq.write_table(people(10), folder / "a.parquet")
    (folder / "b.parquet").write_text("id,age\n1,2\n")
    with pytest.raises(DamagedFileError, match=r"b.parquet cannot be read.*not a Parquet file"):
        read_schema(folder)


def test_a_damaged_data_page_is_named_while_streaming(tmp_path):
    path = tmp_path / "t.parquet"
    x = np.random.default_rng(0).normal(size=200_000)  # incompressible: the data pages fill the file
    pq.write_table(pa.table({"x": x}), path, row_group_size=50_000, compression="zstd")
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) * 4 // 5] = b"\xff" * (len(data) * 4 // 5 - len(data) // 2)  # the footer intact
    path.write_bytes(bytes(data))
    batches = iter_batches(path, batch_rows=10_000)  # the footer reads well: the damage shows while streaming
    with pytest.raises(DamagedFileError, match=r"t.parquet cannot be read: .*damaged"):
        list(batches)


def test_an_unsupported_column_is_named_and_can_be_left_out(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0], "when": pa.array([0, 1], pa.timestamp("ms"))}), path)
    with pytest.raises(ValueError, match=r"column 'when' holds dates or times \(timestamp\[ms\]\).*cast it.*columns="):
        iter_batches(path)
    assert [b["x"].tolist() for b in iter_batches(path, columns=["x"])] == [[1.0, 2.0]]
    pq.write_table(pa.table({"tags": pa.array([[1], [2]])}), path)
    with pytest.raises(ValueError, match=r"column 'tags' has the Arrow type list<\w+: int64>, which is not a number"):
        read_schema(path)


def test_columns_that_differ_between_the_files_of_a_folder_are_named(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir()
    pq.write_table(pa.table({"a": [1.0], "b": ["x"]}), folder / "1.parquet")
    pq.write_table(pa.table({"a": [2.0]}), folder / "2.parquet")
    with pytest.raises(ValueError, match=r"2.parquet: its columns differ from those of .*1.parquet.*column 'b' "
                                         r"\(string\) is missing"):
        iter_batches(folder)
    pq.write_table(pa.table({"a": pa.array([2], pa.int64()), "b": ["y"]}), folder / "2.parquet")
    with pytest.raises(ValueError, match=r"column 'a' was float \(double\), is now int \(int64\)"):
        read_schema(folder)


INT = {"name": "n", "type": "int", "arrow_type": "int16", "nullable": False}


@pytest.mark.parametrize("column, values, message", [
    (INT, [1.0, np.nan], r"column 'n' is not nullable, but the batch holds 1 null"),
    (INT, [1.0, 2.5], r"column 'n' \(int16\) takes integers, but the batch holds 2.5 .*np.round"),
    (INT, [1.0, 1e6], r"column 'n' \(int16\).*numbers that int16 holds"),
    (dict(INT, type="float", arrow_type="decimal128(6, 2)"), [1.25, 1.255], r"takes multiples of 0.01.*1.255"),
    (dict(INT, type="bool", arrow_type="bool"), np.array([True, "yes"], dtype=object), r"True, False or None"),
    (dict(INT, type="string", arrow_type="string"), np.array(["a", 3], dtype=object), r"str or None"),
])
def test_a_batch_that_does_not_fit_its_schema_is_refused(column, values, message):
    with pytest.raises(ValueError, match=message):
        to_record_batch([column], {"n": np.asarray(values)})


def test_a_batch_must_have_the_schema_columns_of_one_length():
    schema = [INT, dict(INT, name="m")]
    with pytest.raises(ValueError, match=r"missing \['m'\], not in the schema \['x'\]"):
        to_record_batch(schema, {"n": np.ones(2), "x": np.ones(2)})
    with pytest.raises(ValueError, match=r"different lengths \{'n': 2, 'm': 3\}"):
        to_record_batch(schema, {"n": np.ones(2), "m": np.ones(3)})
    assert to_record_batch(schema, {"m": np.ones(2), "n": np.arange(2)}).column(0).to_pylist() == [0, 1]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, people_file):
    target = tmp_path / "out.parquet"
    target.write_bytes(b"the old file")
    schema = read_schema(people_file)

    def batches():
        yield from iter_batches(people_file, batch_rows=500, columns=None)
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="the disk is full"):
        write_parquet(target, schema, batches())
    bad = {"n": np.array([1.0, 0.5])}
    with pytest.raises(ValueError, match="takes integers"):
        with AtomicParquetWriter(target, [INT]) as writer:
            writer.write({"n": np.array([1.0, 2.0])})
            writer.write(bad)
    assert target.read_bytes() == b"the old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet", "people.parquet"]
    with AtomicParquetWriter(target, [INT]) as writer:
        writer.write({"n": np.array([1.0, 2.0])})
    assert writer.rows == 2 and pq.read_table(target).column("n").to_pylist() == [1, 2]
    with pytest.raises(ValueError, match="written whole"):
        write_table(target, [INT], [], mode="append")


def test_schema_drift_lists_every_difference():
    trained = [{"name": "a", "type": "int", "arrow_type": "int32", "nullable": False},
               {"name": "b", "type": "string", "arrow_type": "string", "nullable": True},
               {"name": "c", "type": "float", "arrow_type": "double", "nullable": True}]
    found = [dict(trained[0], arrow_type="int64", nullable=True), dict(trained[1], name="B"),
             dict(trained[2], type="category", arrow_type="dictionary<values=string, indices=int32, ordered=0>")]
    assert schema_drift(trained, trained) == []
    assert schema_drift(trained, found) == ["column 'b' (string) is missing", "column 'B' (string) is new",
                                            "column 'c' was float (double), is now category (dictionary<values="
                                            "string, indices=int32, ordered=0>)"]
    assert "column 'a' was int (int32), is now int (int64)" in schema_drift(trained, found, exact=True)


def test_without_pyarrow_the_error_names_the_extra(monkeypatch, people_file):
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)  # what an import without pyarrow meets
    with pytest.raises(MissingExtraError, match=r"needs pyarrow.*pip install 'minivae\[tables\]'"):
        read_schema(people_file)
    with pytest.raises(MissingExtraError, match=r"pip install 'minivae\[tables\]'"):
        require("tables")


def test_the_docstring_examples_run():
    import doctest

    from minivae.tables import lakehouse, schema

    for module in (schema, lakehouse):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__
