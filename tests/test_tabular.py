"""Tests for minivae.datasets.tables: CSV reading and atomic writing, the TabularEncoder, and a VAE that learns a small table.

Every file a test needs is written by the test itself (pytest's tmp_path)."""
import json
import os

import numpy as np
import pytest

from minivae.models.likelihoods import Mixed
from minivae.models import VAE
from minivae.nn.optim import Adam
from minivae.datasets.tables import TabularEncoder, read_csv_table, synthesize, table_dataset, write_csv_table

HEADER = ["a", "b", "kind"]
KINDS = ["high", "low", "mid"]


def make_rows(rng, n=300):
    """Two correlated Gaussian columns (corr ~0.8) and a 3-category column that depends on them, as CSV strings.

    za ~ N(0, 1), zb = 0.8 za + 0.6 N(0, 1);  a = 10 + 2 za,  b = 3 zb - 1;
    kind = low / mid / high as the noisy score za + 0.5 zb + 0.3 N(0, 1) is < -0.5, in between, or > 1.
    """
    za = rng.standard_normal(n)
    zb = 0.8 * za + 0.6 * rng.standard_normal(n)
    score = za + 0.5 * zb + 0.3 * rng.standard_normal(n)
    kind = np.where(score < -0.5, "low", np.where(score > 1.0, "high", "mid"))
    return [[f"{u:.4f}", f"{v:.4f}", k] for u, v, k in zip(10 + 2 * za, 3 * zb - 1, kind)]


def write_text(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------------- CSV files
def test_csv_round_trip(tmp_path):
    rows = make_rows(np.random.default_rng(0), 20)
    path = write_csv_table(tmp_path / "t.csv", HEADER, rows)
    assert read_csv_table(path) == (HEADER, rows)
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temporary file left behind


def test_read_skips_blank_lines_strips_cells_and_reads_a_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffx, colour\n\n1.5, red\n 2 ,blue\n\n".encode("utf-8"))
    assert read_csv_table(path) == (["x", "colour"], [["1.5", "red"], ["2", "blue"]])


@pytest.mark.parametrize("text, message", [
    ("", "is empty; expected a header row"),
    ("\n\n", "is empty"),
    ("a,b\n", "has a header .* but no data rows"),
    ("a,b\n1,2\n3\n", "line 3: 1 values, but the header has 2 columns"),
    ("1,2\n3,4\n", "holds only numbers; a header row of column names is required"),
    ("a,a\n1,2\n", "repeated column name"),
    ("a,,c\n1,2,3\n", "column 2 of the header has no name"),
])
def test_read_errors_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_csv_table(write_text(tmp_path / "bad.csv", text))


def test_write_is_atomic_a_bad_row_leaves_the_old_file_untouched(tmp_path):
    path = write_csv_table(tmp_path / "t.csv", ["x", "y"], [[1, 2]])
    before = path.read_text()
    with pytest.raises(ValueError, match="row 1 has 1 values, but the header has 2"):
        write_csv_table(path, ["x", "y"], [[3, 4], [5]])
    assert path.read_text() == before and os.listdir(tmp_path) == ["t.csv"]


# --------------------------------------------------------------------------------------------------------- encoder
def test_encoder_detects_kinds_standardises_and_one_hot_encodes():
    rows = make_rows(np.random.default_rng(1))
    enc = TabularEncoder().fit(HEADER, rows)
    assert [c["kind"] for c in enc.columns] == ["numeric", "numeric", "categorical"]
    assert enc.columns[2]["categories"] == KINDS and enc.data_dim == 5
    x = enc.transform(rows, dtype=np.float64)
    assert x.shape == (300, 5)
    np.testing.assert_allclose(x[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(x[:, :2].std(axis=0), 1, rtol=1e-12)
    assert (x[:, 2:].sum(axis=1) == 1).all() and x[0, 2 + KINDS.index(rows[0][2])] == 1
    assert enc.transform(rows).dtype == np.float32
    specs = enc.column_specs()
    assert specs == [{"type": "gaussian", "size": 1, "name": "a"}, {"type": "gaussian", "size": 1, "name": "b"},
                     {"type": "categorical", "size": 3, "name": "kind"}]
    lik = Mixed(specs)
    lik.check_target(x)
    assert lik.n_outputs(enc.data_dim) == 2 + 2 + 3


def test_encoder_round_trip_and_json_round_trip():
    rows = make_rows(np.random.default_rng(2), 50)
    enc = TabularEncoder().fit(HEADER, rows)
    back = enc.inverse_transform(enc.transform(rows, dtype=np.float64))
    assert [r[2] for r in back] == [r[2] for r in rows]
    np.testing.assert_allclose([r[:2] for r in back], [[float(v) for v in r[:2]] for r in rows], rtol=1e-12)
    again = TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    assert again.header == HEADER and again.to_dict() == enc.to_dict()
    np.testing.assert_array_equal(again.transform(rows), enc.transform(rows))


def test_integer_codes_can_be_declared_categorical_and_are_ordered_as_numbers():
    header, rows = ["group", "x"], [["10", "1.0"], ["2", "2.0"], ["1", "0.5"], ["2", "4.0"]]
    assert TabularEncoder().fit(header, rows).columns[0]["kind"] == "numeric"  # numbers -> numeric by default
    enc = TabularEncoder(categorical=["group"]).fit(header, rows)
    assert enc.columns[0]["categories"] == ["1", "2", "10"] and enc.data_dim == 4
    assert enc.transform([[2, 1.0]]).tolist() == [[0, 1, 0, enc.transform([["2", "1.0"]])[0, 3]]]  # ints accepted
    assert enc.inverse_transform(enc.transform(rows))[0][0] == "10"


def test_encoder_errors_say_what_is_wrong():
    rows = make_rows(np.random.default_rng(3), 30)
    enc = TabularEncoder().fit(HEADER, rows)
    with pytest.raises(ValueError, match="unknown category 'huge'.*fitted with"):
        enc.transform([["1", "2", "huge"]])
    with pytest.raises(ValueError, match="'oops' is not a number"):
        enc.transform([["oops", "2", "low"]])
    with pytest.raises(ValueError, match="row 0, column 'b' is empty"):
        enc.transform([["1", "", "low"]])
    with pytest.raises(ValueError, match="row 0 has 2 values"):
        enc.transform([["1", "low"]])
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        enc.inverse_transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="not a finite number"):
        TabularEncoder().fit(["x", "y"], [["1", "a"], ["nan", "b"]])
    with pytest.raises(ValueError, match="not in the header"):
        TabularEncoder(categorical=["colour"]).fit(HEADER, rows)
    with pytest.raises(ValueError, match="30 distinct values, more than max_categories=10"):
        TabularEncoder(max_categories=10).fit(["id"], [[f"id{i}"] for i in range(30)])
    with pytest.raises(ValueError, match="single value 'red'"):
        TabularEncoder().fit(["x", "c"], [["1", "red"], ["2", "red"]])
    with pytest.raises(RuntimeError, match="not fitted"):
        TabularEncoder().transform(rows)


# ---------------------------------------------------------------------------------------------- as a Dataset
@pytest.mark.parametrize("n_rows, n_test", [(300, 30), (95, 9), (12, 1)])
def test_table_dataset_is_a_fixed_90_10_split_of_the_encoded_rows(tmp_path, n_rows, n_test):
    rows = make_rows(np.random.default_rng(0), n_rows)
    path = write_csv_table(tmp_path / "t.csv", HEADER, rows)
    data = table_dataset(path)
    assert data.x_test.shape == (n_test, 5) and data.x_train.shape == (n_rows - n_test, 5)  # 2 numbers + 3 kinds
    assert data.x_train.dtype == np.float32 and data.y_train is None and data.image_shape is None
    assert data.encoder.header == HEADER
    # every row exactly once, in train or test
    together = np.concatenate([data.x_train, data.x_test])
    np.testing.assert_array_equal(np.sort(together, axis=0), np.sort(data.encoder.transform(rows), axis=0))
    again = table_dataset(path)  # the same split every time: a resumed run sees the same test rows
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_table_dataset_reuses_a_recorded_encoder(tmp_path):
    rng = np.random.default_rng(1)
    first = write_csv_table(tmp_path / "a.csv", HEADER, make_rows(rng, 50))
    second = write_csv_table(tmp_path / "b.csv", HEADER, make_rows(rng, 50))
    encoder = table_dataset(first).encoder
    for given in (encoder, json.loads(json.dumps(encoder.to_dict()))):  # as a checkpoint stores it
        data = table_dataset(second, encoder=given)
        assert data.encoder.to_dict() == encoder.to_dict()  # not refitted to the second table
    codes = write_csv_table(tmp_path / "c.csv", ["x", "group"], [[f"{i}", f"{i % 3}"] for i in range(20)])
    assert table_dataset(codes, categorical=["group"]).encoder.columns[1]["kind"] == "categorical"
    with pytest.raises(ValueError, match="single data row"):
        table_dataset(write_csv_table(tmp_path / "one.csv", HEADER, make_rows(rng, 1)))


# -------------------------------------------------------------------------------------------- learning the table
def test_a_vae_with_the_mixed_likelihood_generates_rows_like_the_data(tmp_path):
    """Train briefly on a 300-row CSV, then compare 5,000 synthetic rows with the data.

    Tolerances, measured over 20 seeds of this exact setup (300 Adam steps) and then given headroom:
      category frequencies   max |synthetic - data|             20-seed max 0.039  -> assert < 0.07
                             (an untrained model: 0.08 to 0.14)
      numeric means          |synthetic - data| / data std      20-seed max 0.08   -> assert < 0.15
      numeric spreads        synthetic std / data std           20-seed range [0.88, 1.05] -> assert in [0.8, 1.2]
      correlation of a, b    data 0.81                          20-seed min 0.75   -> assert > 0.6  (untrained ~0)
      mean of a per category |synthetic - data| / data std      20-seed max 0.22   -> assert < 0.35 (untrained ~1.3)
    The means and spreads alone would also pass untrained (the data are standardised and a fresh decoder predicts
    mean 0, variance 1): the frequencies, the correlation and the per-category means are what show learning.
    """
    rng = np.random.default_rng(0)
    path = write_csv_table(tmp_path / "table.csv", HEADER, make_rows(rng))
    header, rows = read_csv_table(path)
    enc = TabularEncoder().fit(header, rows)
    x = enc.transform(rows)  # (300, 5) float32
    vae = VAE(enc.data_dim, latent_dim=2, hidden=(32,), activation="tanh", seed=0,
              likelihood={"name": "mixed", "columns": enc.column_specs()})
    opt = Adam(lr=1e-2)
    for _ in range(300):
        vae.loss_and_gradients(x[rng.choice(len(x), 50, replace=False)], rng=rng)
        opt.step(vae.params, vae.grads)
    synthetic = synthesize(vae, enc, 5000, rng)

    data_num = np.array([[float(r[0]), float(r[1])] for r in rows])
    syn_num = np.array([r[:2] for r in synthetic], dtype=float)
    data_freq = np.array([np.mean([r[2] == k for r in rows]) for k in KINDS])
    syn_freq = np.array([np.mean([r[2] == k for r in synthetic]) for k in KINDS])
    assert np.abs(syn_freq - data_freq).max() < 0.07, (syn_freq, data_freq)
    scale = data_num.std(axis=0)
    assert (np.abs(syn_num.mean(axis=0) - data_num.mean(axis=0)) / scale).max() < 0.15
    assert 0.8 < (syn_num.std(axis=0) / scale).min() and (syn_num.std(axis=0) / scale).max() < 1.2
    assert np.corrcoef(syn_num.T)[0, 1] > 0.6

    def mean_a_per_kind(table, a):
        return np.array([a[[r[2] == k for r in table]].mean() for k in KINDS])

    gap = np.abs(mean_a_per_kind(synthetic, syn_num[:, 0]) - mean_a_per_kind(rows, data_num[:, 0])) / scale[0]
    assert gap.max() < 0.35, gap
    # and the rows can be written out as a new table
    out = write_csv_table(tmp_path / "synthetic.csv", header, synthetic[:10])
    assert read_csv_table(out)[0] == header


def test_synthesize_refuses_a_mismatched_encoder():
    enc = TabularEncoder().fit(HEADER, make_rows(np.random.default_rng(4), 20))
    vae = VAE(4, latent_dim=2, hidden=(4,), likelihood="gaussian")
    with pytest.raises(ValueError, match="takes 4 columns but the encoder makes 5"):
        synthesize(vae, enc, 3, np.random.default_rng(0))


# ------------------------------------------------------------------------------- tables read as the user meant them
def test_a_semicolon_table_with_quoted_names_reads_as_written(tmp_path, capsys):
    """The UCI wine-quality tables: ';'-separated, quoted column names, decimal points."""
    text = '"fixed acidity";"volatile acidity";"quality"\n' + "".join(f"{7 + i / 10:.1f};{i / 20:.2f};{3 + i % 5}\n"
                                                                     for i in range(40))
    header, rows = read_csv_table(write_text(tmp_path / "wine.csv", text))
    assert header == ["fixed acidity", "volatile acidity", "quality"] and rows[1] == ["7.1", "0.05", "4"]
    data = table_dataset(tmp_path / "wine.csv")
    assert [c["kind"] for c in data.encoder.columns] == ["numeric"] * 3 and data.x_train.shape == (36, 3)
    assert "wine.csv: 40 rows x 3 columns, ';'-separated, a header row of column names" in capsys.readouterr().out


def test_a_pandas_table_with_column_numbers_and_an_index(tmp_path):
    rows = [[i, f"{i / 7:.3f}", i % 3, "ab"[i % 2]] for i in range(20)]  # DataFrame(...).to_csv()
    write_text(tmp_path / "t.csv", ",0,1,2\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    header, read = read_csv_table(tmp_path / "t.csv")
    assert header == ["0", "1", "2"] and read[3] == ["0.429", "0", "b"]  # the index is gone, the numbers are names


def test_missing_cells_of_a_table_are_reported_and_handled_as_asked(tmp_path):
    text = "x,colour\n1.0,red\nn/a,blue\n3.0,?\n5.0,red\n" + "".join(f"{i}.5,blue\n" for i in range(20))
    path = write_text(tmp_path / "t.csv", text)
    with pytest.raises(ValueError, match=r"2 missing values \(cells '\?', 'n/a'\) in 2 columns: column 'x': 1 at "
                                         r"line 3; column 'colour': 1 at line 4.*--missing-values drop"):
        table_dataset(path)
    dropped = table_dataset(path, missing="drop")
    assert len(dropped.x_train) + len(dropped.x_test) == 22
    filled = table_dataset(path, missing="mean")
    assert len(filled.x_train) + len(filled.x_test) == 24
    assert filled.encoder.columns[1]["most_frequent"] == "blue"
    # read again with the run's encoder, another file is filled with the values the run trained with
    other = write_text(tmp_path / "u.csv", "x,colour\nNA,\n" + "".join(f"{i},red\n" for i in range(5)))
    again = table_dataset(other, encoder=json.loads(json.dumps(filled.encoder.to_dict())), missing="mean")
    row = again.encoder.inverse_transform(np.concatenate([again.x_train, again.x_test]))
    assert [filled.encoder.columns[0]["mean"], "blue"] in [[pytest.approx(r[0]), r[1]] for r in row]


def test_the_encoder_records_the_most_frequent_category_and_reads_older_records():
    enc = TabularEncoder().fit(["c", "x"], [["b", "1"], ["a", "2"], ["b", "3"], ["a", "4"]])
    assert enc.columns[0]["most_frequent"] == "a"  # a tie: the first in sorted order
    assert TabularEncoder.from_dict(enc.to_dict()).to_dict() == enc.to_dict()
    old = enc.to_dict()
    del old["columns"][0]["most_frequent"]  # a checkpoint of minivae 0.1
    assert "most_frequent" not in TabularEncoder.from_dict(old).columns[0]


@pytest.mark.parametrize("text, kwargs, message", [
    ("a|b\n" + "".join(f"{i}|{i}\n" for i in range(30)), {}, r"single column 'a\|b'; a table needs at least two"),
    ("x,y\n" + "".join(f"{'7.7.7' if i == 3 else i},{i % 2}\n" for i in range(60)), {},
     r"column 'x' holds numbers except in 1 row\(s\) \(line 5: '7.7.7'\)"),
    ("x,y\n1,2\n3,4\n", {"image_shape": (1, 2)}, "rows are not images"),
    ("x,y\n1,2\n3,4\n", {"missing": "impute"}, "missing must be one of"),
    ("x,y\nn/a,1\nn/a,2\n", {"missing": "mean"}, "column 'x' has no values at all"),
    ("x,y\nn/a,1\n2,n/a\n", {"missing": "drop"}, "every row has a missing value"),
])
def test_table_dataset_refusals_say_what_is_wrong(tmp_path, text, kwargs, message):
    with pytest.raises(ValueError, match=message):
        table_dataset(write_text(tmp_path / "t.csv", text), **kwargs)


def test_a_recorded_encoder_needs_the_same_columns_in_the_same_order(tmp_path):
    rows = make_rows(np.random.default_rng(5), 30)
    encoder = table_dataset(write_csv_table(tmp_path / "a.csv", HEADER, rows)).encoder
    swapped = write_csv_table(tmp_path / "b.csv", ["b", "a", "kind"], [[r[1], r[0], r[2]] for r in rows])
    with pytest.raises(ValueError, match=r"has the columns \['b', 'a', 'kind'\], but the encoder was fitted on"):
        table_dataset(swapped, encoder=encoder)
