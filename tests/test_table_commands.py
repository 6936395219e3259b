"""The table commands end to end: train --table on Parquet, CSV, Delta and Iceberg sources; anomaly --table streamed
to a scores file with the key columns; synthesize in the source's schema and inside each column's support; report;
and what a data engineer's bad inputs get: schema drift, a damaged or empty table, half-written outputs."""
import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from minivae.cli import main  # noqa: E402
from minivae.training.checkpoint import load_checkpoint  # noqa: E402

ROWS = 3000
TRAIN = ["--epochs", "3", "--hidden", "32", "--latent", "4", "--quiet", "--no-figures"]


def people(n=ROWS, seed=0):
    """A table with a key, a whole-number column, a skewed one with nulls, a declared fraction, a category."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    income = np.exp(rng.normal(10, 0.8, n) + 0.02 * (age - 50)).round(2)
    return pa.table({"id": pa.array(np.arange(n) + 1000, pa.int64()),
                     "age": pa.array(age, pa.int32()),
                     "income": pa.array(np.where(rng.random(n) < 0.05, None, income).tolist(), pa.float64()),
                     "share": 1 / (1 + np.exp(-rng.normal(0, 1, n))),
                     "city": pa.array(rng.choice(["oslo", "paris", "rome"], n)).dictionary_encode()})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained on people.parquet (three row groups) with the key id and the range share=0:1."""
    root = tmp_path_factory.mktemp("tables")
    pq.write_table(people(), root / "people.parquet", row_group_size=1000)
    assert main(["train", "--table", str(root / "people.parquet"), "--key", "id", "--range", "share=0:1",
                 "--out", str(root / "run"), *TRAIN, "--epochs", "15"]) is None
    return root


def run(argv, capsys):
    """(exit status, stdout + stderr) of one command."""
    try:
        status = main(argv) or 0
    except SystemExit as exit_info:
        status = exit_info.code
    out, err = capsys.readouterr()
    return status, out + err


def test_a_run_records_its_source_schema_keys_and_encoder(trained):
    ckpt = load_checkpoint(trained / "run" / "checkpoint.npz")
    table = ckpt.extra["table"]
    assert table["keys"] == ["id"] and table["rows"] == ROWS and len(ckpt.extra["dataset_sha256"]) == 64
    assert [c["name"] for c in table["schema"]] == ["id", "age", "income", "share", "city"]
    columns = {c["name"]: c for c in ckpt.extra["table_encoder"]["columns"]}
    assert "id" not in columns and columns["share"]["transform"] == "logit" and columns["income"]["nullable"]
    assert ckpt.extra["examples"] == [ROWS - ROWS // 10, ROWS // 10]


def test_anomaly_table_writes_every_rows_scores_beside_its_key(trained, capsys):
    out = trained / "scores.parquet"
    status, text = run(["anomaly", str(trained / "run" / "checkpoint.npz"), "--table", str(trained / "people.parquet"),
                        "--out", str(out), "-k", "5", "--batch-rows", "700"], capsys)
    assert status == 0, text
    scores = pq.read_table(out)
    assert scores.column_names == ["id", "negative_elbo", "reconstruction_error", "negative_iw_bound"]
    assert scores.num_rows == ROWS and scores["id"].to_pylist() == list(range(1000, 1000 + ROWS))
    assert scores.schema.field("id").type == pa.int64()
    values = np.column_stack([scores[c].to_numpy() for c in scores.column_names[1:]])
    assert np.isfinite(values).all() and f"scored {ROWS:,} rows" in text
    again = trained / "again.parquet"
    run(["anomaly", str(trained / "run" / "checkpoint.npz"), "--table", str(trained / "people.parquet"),
         "--out", str(again), "-k", "5", "--batch-rows", "700"], capsys)
    assert pq.read_table(again).equals(scores)  # the same seed, the same scores, bit for bit


def test_planted_rows_score_as_anomalies(trained, capsys):
    table = people(n=500, seed=1)
    odd = np.zeros(500, dtype=bool)
    odd[::50] = True  # ten rows with incomes a hundred times the rest
    income = np.where(odd, table["income"].to_numpy(zero_copy_only=False) * 100, table["income"].to_numpy(
        zero_copy_only=False))
    table = table.set_column(2, "income", pa.array(income, pa.float64()))
    pq.write_table(table, trained / "odd.parquet")
    status, text = run(["anomaly", str(trained / "run" / "checkpoint.npz"), "--table", str(trained / "odd.parquet"),
                        "--out", str(trained / "odd-scores.parquet"), "--method", "elbo"], capsys)
    assert status == 0, text
    scores = pq.read_table(trained / "odd-scores.parquet")["negative_elbo"].to_numpy()
    from minivae.apps.anomaly import roc_auc

    assert np.isfinite(scores).all() and roc_auc(scores, odd) > 0.95


def test_synthetic_rows_have_the_source_schema_and_stay_in_each_columns_support(trained, capsys):
    out = trained / "synthetic.parquet"
    status, text = run(["synthesize", str(trained / "run" / "checkpoint.npz"), "-n", "4000", "--out", str(out),
                        "--batch-rows", "1500"], capsys)
    assert status == 0, text
    syn, real = pq.read_table(out), pq.read_table(trained / "people.parquet")
    assert syn.num_rows == 4000 and "id" not in syn.column_names and "key column(s) id left out" in text
    for name in syn.column_names:
        assert syn.schema.field(name).type == real.schema.field(name).type, name
    age, share = syn["age"].to_numpy(), syn["share"].to_numpy()
    assert age.min() >= 18 and age.max() <= 89 and ((share > 0) & (share < 1)).all()
    income = syn["income"].to_numpy(zero_copy_only=False).astype(float)
    real_income = real["income"].to_numpy(zero_copy_only=False).astype(float)
    assert np.nanmin(income) >= np.nanmin(real_income) and np.nanmax(income) <= np.nanmax(real_income)
    assert 0.02 < np.isnan(income).mean() < 0.1  # the nulls of the real column, at about their rate (5%)
    assert set(syn["city"].to_pylist()) <= {"oslo", "paris", "rome"}


def test_synthetic_rows_to_csv_read_back_with_whole_numbers_and_empty_nulls(trained, capsys):
    out = trained / "synthetic.csv"
    status, text = run(["synthesize", str(trained / "run" / "checkpoint.npz"), "-n", "300", "--out", str(out)],
                       capsys)
    assert status == 0, text
    lines = out.read_text().splitlines()
    assert lines[0] == "age,income,share,city" and len(lines) == 301
    ages = [row.split(",")[0] for row in lines[1:]]
    assert all(a.isdigit() for a in ages)


def test_report_writes_the_page_the_scores_and_the_figures(trained, capsys):
    status, text = run(["report", str(trained / "run" / "checkpoint.npz"), "--rows", "800", "--target", "city",
                        "--out", str(trained / "report")], capsys)
    assert status == 0, text
    names = {p.name for p in (trained / "report").iterdir()}
    assert {"report.md", "scores.json", "marginals.png", "correlations.png", "detection_roc.png"} <= names
    scores = json.loads((trained / "report" / "scores.json").read_text())
    assert scores["n_real"] == 800 and scores["n_holdout"] == ROWS // 10 and scores["efficacy"] is not None
    assert "quality score" in text and "held-out real" in text


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop_columns(["income"]), "column 'income' (float) is missing"),
    (lambda t: t.rename_columns(["id", "age", "salary", "share", "city"]),
     "column 'income' (float) is missing (it has ['salary'], which the model does not know: renamed?)"),
    (lambda t: t.set_column(1, "age", pa.array([str(v) for v in t["age"].to_pylist()])),
     "column 'age' was int (int32), is now string (string)"),
    (lambda t: t.drop_columns(["id"]), "lacks the key column(s) ['id']"),
])
def test_schema_drift_is_refused_with_what_changed(trained, capsys, change, message):
    pq.write_table(change(people(n=200, seed=2)), trained / "drift.parquet")
    status, text = run(["anomaly", str(trained / "run" / "checkpoint.npz"), "--table", str(trained / "drift.parquet"),
                        "--out", str(trained / "drift-scores.parquet")], capsys)
    assert status == 2 and message in text, text
    assert not (trained / "drift-scores.parquet").exists()


def test_a_new_column_is_left_out_and_said(trained, capsys):
    table = people(n=200, seed=2).append_column("note", pa.array(["x"] * 200))
    pq.write_table(table, trained / "extra.parquet")
    status, text = run(["anomaly", str(trained / "run" / "checkpoint.npz"), "--table", str(trained / "extra.parquet"),
                        "--out", str(trained / "extra-scores.parquet")], capsys)
    assert status == 0 and "left out the column(s) ['note']" in text, text


def test_a_new_category_midway_fails_without_leaving_half_a_file(trained, capsys):
    table = people(n=3000, seed=3)
    city = table["city"].to_pylist()
    city[2500] = "lima"  # in the third row group: two have been scored when it is met
    pq.write_table(table.set_column(4, "city", pa.array(city).dictionary_encode()), trained / "new.parquet",
                   row_group_size=1000)
    out = trained / "new-scores.parquet"
    status, text = run(["anomaly", str(trained / "run" / "checkpoint.npz"), "--table", str(trained / "new.parquet"),
                        "--out", str(out)], capsys)
    assert status == 2 and "'lima'" in text and "never seen" in text, text
    assert not out.exists() and not list(trained.glob(".new-scores*"))


def test_a_damaged_and_an_empty_table_are_refused(trained, capsys):
    (trained / "damaged.parquet").write_bytes((trained / "people.parquet").read_bytes()[:-100])
    status, text = run(["train", "--table", str(trained / "damaged.parquet"), "--out", str(trained / "d"), *TRAIN],
                       capsys)
    assert status == 1 and "damaged.parquet" in text and "Traceback" not in text, text
    pq.write_table(people(n=10).slice(0, 0), trained / "empty.parquet")
    status, text = run(["train", "--table", str(trained / "empty.parquet"), "--out", str(trained / "e"), *TRAIN],
                       capsys)
    assert status == 2 and "empty.parquet" in text and "no rows" in text, text


def test_resume_reads_the_same_table_and_refuses_a_changed_one(trained, capsys, tmp_path):
    import shutil

    shutil.copytree(trained / "run", tmp_path / "run")
    shutil.copy(trained / "people.parquet", tmp_path / "people.parquet")
    ckpt = tmp_path / "run" / "checkpoint.npz"
    status, text = run(["train", "--resume", str(ckpt), "--epochs", "16", "--quiet", "--no-figures"], capsys)
    assert status == 0 and "2700 train / 300 test" in text and "resuming" in text, text
    pq.write_table(people(seed=9), trained / "people.parquet", row_group_size=1000)  # the run's table changes
    try:
        status, text = run(["train", "--resume", str(ckpt), "--epochs", "17", "--quiet", "--no-figures"], capsys)
        assert status == 1 and "has changed since the run was trained" in text, text
    finally:
        pq.write_table(people(), trained / "people.parquet", row_group_size=1000)


def test_table_options_without_a_table_are_refused(capsys, tmp_path):
    status, text = run(["train", "--key", "id", "--out", str(tmp_path / "r"), *TRAIN], capsys)
    assert status == 2 and "--key apply to a table" in text


def test_a_csv_table_trains_without_the_arrow_reader_and_writes_csv_rows(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(4)
    rows = "".join(f"{i},{rng.integers(0, 5)},{rng.lognormal(3, 1):.2f},{'ab'[i % 2]}\n" for i in range(200))
    (tmp_path / "t.csv").write_text("id,count,amount,kind\n" + rows)
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)  # as if the tables extra were not installed
    status, text = run(["train", "--table", str(tmp_path / "t.csv"), "--key", "id", "--out", str(tmp_path / "run"),
                        *TRAIN], capsys)
    assert status == 0, text
    status, text = run(["synthesize", str(tmp_path / "run" / "checkpoint.npz"), "-n", "50"], capsys)
    assert status == 0 and (tmp_path / "run" / "synthetic.csv").exists(), text
    status, text = run(["synthesize", str(tmp_path / "run" / "checkpoint.npz"), "-n", "50", "--out",
                        str(tmp_path / "s.parquet")], capsys)
    assert status == 1 and "pip install 'minivae[tables]'" in text, text


def test_delta_and_iceberg_sources_are_pinned_and_written_back(tmp_path, capsys):
    pytest.importorskip("deltalake")
    pytest.importorskip("pyiceberg.catalog.sql")
    from minivae.tables.arrow_io import count_rows, read_schema
    from minivae.tables.lakehouse import write_table
    from minivae.tables.schema import to_batch

    source = people(n=1000, seed=5)
    schema = read_schema_of(source, tmp_path)
    batch = to_batch(source.to_batches()[0], schema)
    write_table(f"delta:{tmp_path / 'lake'}", schema, [batch])
    status, text = run(["train", "--table", f"delta:{tmp_path / 'lake'}", "--key", "id", "--out",
                        str(tmp_path / "run"), *TRAIN], capsys)
    assert status == 0, text
    recorded = load_checkpoint(tmp_path / "run" / "checkpoint.npz").extra["dataset"]
    assert recorded == f"delta:{(tmp_path / 'lake').resolve()}@0"
    write_table(f"delta:{tmp_path / 'lake'}", schema, [batch])  # a new version: the run still reads version 0
    status, text = run(["evaluate", str(tmp_path / "run" / "checkpoint.npz")], capsys)
    assert status == 0 and "test set (100 examples)" in text, text
    status, text = run(["synthesize", str(tmp_path / "run" / "checkpoint.npz"), "-n", "200", "--out",
                        f"delta:{tmp_path / 'synthetic'}"], capsys)
    assert status == 0 and "(version 0)" in text and count_rows(f"delta:{tmp_path / 'synthetic'}") == 200, text
    iceberg = f"iceberg:{tmp_path / 'catalog.db'}#lab.synthetic"
    status, text = run(["synthesize", str(tmp_path / "run" / "checkpoint.npz"), "-n", "150", "--out", iceberg],
                       capsys)
    assert status == 0 and "snapshot" in text and count_rows(iceberg) == 150, text
    assert [c["name"] for c in read_schema(iceberg)] == ["age", "income", "share", "city"]


def read_schema_of(table, folder):
    from minivae.tables.arrow_io import read_schema

    pq.write_table(table, folder / "source.parquet")
    return read_schema(folder / "source.parquet")
