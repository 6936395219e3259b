"""The quality scores of a synthetic table (minivae.tables): each metric by hand on tiny tables and on known answers,
the classifiers' gradients against finite differences, the DCR kernel against its NumPy twin, bad input, and, when
SDMetrics is installed (the [test] extra installs it), every score against SDMetrics' own.

Where the numbers agree with SDMetrics, and how closely (the tolerances below):
* KSComplement, TVComplement, CorrelationSimilarity, ContingencySimilarity, the QualityReport's properties and its
  score: to 1e-12 (the same arithmetic, up to the order of a sum), with nulls and the real-trend thresholds.
* TVComplement with a category only the synthetic table has: SDMetrics counts it 1e-6 times in the real table; the
  difference is below 1e-6 / n_real, as minivae.tables.quality says.
* The DCR distances and DCROverfittingProtection: exactly (the same formula).
* The R^2 of train-on-synthetic with lam = 0 and SDMetrics' LinearRegression efficacy: to 1e-9 (both least squares).
* LogisticDetection: SDMetrics draws its 3 folds without a seed, so its score scatters by about 0.01 around ours
  (n = 2000); the classifier itself equals scikit-learn's LogisticRegression(C=1) to 1e-8.
"""
import json

import numpy as np
import pytest

from minivae.nn.gradcheck import numerical_gradient, rel_error
from minivae.tables import dcr, detection, efficacy, linear, quality
from minivae.tables.inputs import check_tables, infer_kinds
from minivae.tables.scores import markdown_report, quality_scores

KINDS = {"x": "numeric", "y": "numeric", "c": "categorical"}


def _table(rng, n, shift=0.0, slope=0.8, nulls=0.0):
    """A correlated Gaussian pair x, y and a category c that depends on x; a share ``nulls`` of y and c null."""
    x = rng.normal(size=n) + shift
    y = slope * x + np.sqrt(1 - slope ** 2) * rng.normal(size=n)
    c = np.where(x > 0.3, "a", np.where(rng.random(n) < 0.5, "b", "c")).astype(object)
    y[rng.random(n) < nulls] = np.nan
    c[rng.random(n) < nulls] = None
    return {"x": x, "y": y, "c": c}


def _objects(*values):
    return np.array(values, dtype=object)


# --------------------------------------------------------------------------------------------- column shapes
def test_ks_statistic_by_hand_and_for_a_shift():
    assert quality.ks_statistic([1.0, 2.0, 3.0], [2.5, 3.5]) == pytest.approx(2 / 3)  # at x = 2: 2/3 against 0
    a = np.arange(10.0)
    assert quality.ks_statistic(a, a + 3) == pytest.approx(0.3)  # a shift by k of 0 .. n - 1 gives D = k / n
    assert quality.ks_statistic(a, a) == 0.0
    assert quality.ks_statistic([1.0, np.nan, 2.0], [1.0, 2.0, np.nan, np.nan]) == 0.0  # nulls are left out


def test_total_variation_by_hand_nulls_left_out():
    real = {"c": _objects("a", "a", "b", None)}
    syn = {"c": _objects("a", "b", "b", "c")}
    shape = quality.column_shapes(real, syn, {"c": "categorical"})["columns"][0]
    # p_real = (2/3, 1/3, 0), p_syn = (1/4, 1/2, 1/4): TVD = (5/12 + 2/12 + 3/12) / 2 = 5/12
    assert shape["score"] == pytest.approx(1 - 5 / 12)
    assert (shape["null_share_real"], shape["null_share_synthetic"]) == (0.25, 0.0)


def test_identical_tables_score_one():
    t = _table(np.random.default_rng(0), 300, nulls=0.1)
    q = quality.quality_score(t, t, KINDS, correlation_threshold=0, association_threshold=0)
    assert q["score"] == 1.0 and q["column_shapes"]["score"] == 1.0 and q["column_pair_trends"]["score"] == 1.0
    assert all(p["counted"] and p["score"] == pytest.approx(1.0) for p in q["column_pair_trends"]["pairs"])


# --------------------------------------------------------------------------------------------- column pairs
def test_correlation_similarity_by_hand():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    pair = quality.column_pair({"a": x, "b": 2 * x}, {"a": x, "b": -x}, ("a", "b"), {"a": "numeric", "b": "numeric"})
    assert (pair["real"], pair["synthetic"], pair["score"]) == (1.0, -1.0, 0.0)  # 1 - |1 - (-1)| / 2
    rng = np.random.default_rng(19)  # an independent real pair against a correlated synthetic one: 1 - 0.8 / 2
    independent, correlated = _table(rng, 5000, slope=0.0), _table(rng, 5000, slope=0.8)
    assert quality.column_pair(independent, correlated, ("x", "y"), KINDS)["score"] == pytest.approx(0.6, abs=0.03)
    constant = quality.column_pair({"a": x, "b": 0 * x}, {"a": x, "b": x}, ("a", "b"), {"a": "numeric", "b": "numeric"})
    assert constant["score"] is None and constant["real"] is None


def test_contingency_similarity_by_hand():
    real = {"a": _objects("a", "a", "b", "b"), "b": _objects("x", "y", "x", "x")}
    syn = {"a": _objects("a", "a", "b", "b"), "b": _objects("x", "x", "y", "y")}
    pair = quality.column_pair(real, syn, ("a", "b"), {"a": "categorical", "b": "categorical"})
    # p_real: ax 1/4, ay 1/4, bx 1/2;  p_syn: ax 1/2, by 1/2;  TVD = (1/4 + 1/4 + 1/2 + 1/2) / 2 = 3/4
    assert pair["score"] == pytest.approx(0.25)


def test_numeric_bins_follow_np_digitize_and_nulls_get_their_own():
    edges = np.histogram_bin_edges(np.array([0.0, 10.0]), bins=10)  # 0, 1, ..., 10
    assert quality.numeric_bins(np.array([0.0, 1.0, 9.99, 10.0, np.nan]), edges).tolist() == [1, 2, 10, 11, -1]


def test_the_report_binning_is_blind_to_a_shift_and_the_real_binning_is_not():
    """The QualityReport bins each table's numeric column on its own range: real bin k and synthetic bin k are
    different intervals, so x + 5 keeps every contingency score; on the real column's bins it falls."""
    t = _table(np.random.default_rng(20), 500)
    shifted = {**t, "x": t["x"] + 5}
    report = quality.column_pair(t, shifted, ("x", "c"), KINDS, binning="report")
    real_bins = quality.column_pair(t, shifted, ("x", "c"), KINDS, binning="real")
    assert report["score"] == pytest.approx(1.0, abs=0.01) and real_bins["score"] < 0.1  # up to rounding at an edge


def test_cramers_v_of_independent_and_of_equal_columns():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 3, 20000), rng.integers(0, 4, 20000)
    assert quality.cramers_v(a, b, 3, 4) < 0.03
    assert quality.cramers_v(a, a, 3, 3) == pytest.approx(1.0)
    assert quality.cramers_v(a, np.zeros_like(a), 3, 1) is None  # one column: no association to measure
    scipy_contingency = pytest.importorskip("scipy.stats.contingency")
    counts = np.zeros((3, 4), dtype=np.int64)
    np.add.at(counts, (a[:500], (a[:500] + b[:500]) % 4), 1)
    v = scipy_contingency.association(counts, method="cramer")
    assert quality.cramers_v(a[:500], (a[:500] + b[:500]) % 4, 3, 4) == pytest.approx(v, abs=1e-12)


def test_pairs_without_a_real_trend_do_not_count():
    rng = np.random.default_rng(2)
    real, syn = _table(rng, 2000, slope=0.1), _table(rng, 2000, slope=0.1)
    trends = quality.column_pair_trends(real, syn, KINDS)
    xy = trends["pairs"][0]
    assert xy["columns"] == ["x", "y"] and abs(xy["real"]) < 0.5 and not xy["counted"]
    assert trends["score"] == pytest.approx(np.mean([p["score"] for p in trends["pairs"] if p["counted"]]))
    assert quality.column_pair_trends(real, syn, KINDS, 0, 0)["pairs"][0]["counted"]
    one = {"x": real["x"]}
    assert quality.quality_score(one, {"x": syn["x"]}, {"x": "numeric"})["score"] == \
        quality.column_shapes(one, {"x": syn["x"]}, {"x": "numeric"})["score"]  # no pair: the shapes alone


# --------------------------------------------------------------------------------------------- the linear models
def test_logistic_and_softmax_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 5))
    y = (rng.random(40) < 0.4).astype(np.float64)
    theta = rng.normal(size=6)
    _, grad = linear.logistic_loss_and_gradient(theta, x, y, 0.1)
    numeric = numerical_gradient(lambda: linear.logistic_loss_and_gradient(theta, x, y, 0.1)[0], theta)
    assert rel_error(grad, numeric) < 1e-6
    classes = rng.integers(0, 3, 40)
    w = rng.normal(size=(6, 3))
    _, grad = linear.softmax_loss_and_gradient(w, x, classes, 0.1)
    numeric = numerical_gradient(lambda: linear.softmax_loss_and_gradient(w, x, classes, 0.1)[0], w)
    assert rel_error(grad, numeric) < 1e-6


def test_the_fits_reach_their_minimum():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 4))
    y = (x @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=300) > 0).astype(np.float64)
    theta = linear.fit_logistic(x, y)
    assert np.max(np.abs(linear.logistic_loss_and_gradient(theta, x, y, 1 / 300)[1])) < 1e-10  # g = 0
    classes = np.digitize(x[:, 0] + 0.5 * rng.normal(size=300), [-0.5, 0.5])
    w = linear.fit_softmax(x, classes, 3)
    assert np.max(np.abs(linear.softmax_loss_and_gradient(w, x, classes, 1 / 300)[1])) < 1e-5
    target = x @ [1.0, 2.0, 3.0, 4.0] + 5.0
    assert np.allclose(linear.fit_ridge(x, target, lam=0.0), [1, 2, 3, 4, 5])


def test_logistic_regression_is_scikit_learns_with_c_1():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(500, 3))
    y = (x[:, 0] + rng.normal(size=500) > 0).astype(np.float64)
    theta = linear.fit_logistic(x, y)
    model = sklearn.LogisticRegression(C=1.0, solver="newton-cg", tol=1e-12, max_iter=1000).fit(x, y)
    assert np.max(np.abs(theta - np.r_[model.coef_[0], model.intercept_])) < 1e-8


# --------------------------------------------------------------------------------------------- detection
def test_detection_is_chance_on_one_distribution_and_sure_on_two():
    rng = np.random.default_rng(6)
    same = detection.detection(_table(rng, 1000), _table(rng, 1000), KINDS, rng=np.random.default_rng(0))
    assert same["score"] > 0.85 and abs(same["auc"] - 0.5) < 0.05
    apart = detection.detection(_table(rng, 1000), _table(rng, 1000, shift=5.0), KINDS)
    assert apart["score"] < 0.02 and apart["auc"] > 0.99
    assert apart["roc"]["fpr"][0] == 0.0 and apart["roc"]["tpr"][-1] == 1.0
    again = detection.detection(_table(np.random.default_rng(7), 200), _table(np.random.default_rng(8), 200), KINDS)
    assert again == detection.detection(_table(np.random.default_rng(7), 200), _table(np.random.default_rng(8), 200),
                                        KINDS)  # seeded: the same folds, the same numbers


def test_stratified_folds_cover_every_row_once_with_each_class_shared_out():
    labels = np.r_[np.ones(10), np.zeros(20)]
    folds = detection.stratified_folds(labels, 3, np.random.default_rng(0))
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(30))
    assert [int(labels[f].sum()) for f in folds] == [4, 3, 3]


# --------------------------------------------------------------------------------------------- efficacy
def test_efficacy_near_the_real_baseline_when_the_relation_is_kept_and_near_zero_when_not():
    rng = np.random.default_rng(9)
    real, holdout, syn = _table(rng, 1500), _table(rng, 500), _table(rng, 1500)
    kept = efficacy.efficacy(real, syn, KINDS, "y", holdout=holdout)
    assert kept["test"] == "holdout" and abs(kept["synthetic"]["r2"] - kept["real"]["r2"]) < 0.03
    assert kept["real"]["r2"] == pytest.approx(0.64, abs=0.08)  # r = 0.8 explains r^2 of the variance
    lost = efficacy.efficacy(real, _table(rng, 1500, slope=0.0), KINDS, "y", holdout=holdout)
    assert abs(lost["synthetic"]["r2"]) < 0.1 and lost["baseline"]["r2"] < 0.01
    category = efficacy.efficacy(real, syn, KINDS, "c")  # no holdout: a split of the real rows
    assert category["test"] == "real split" and category["synthetic"]["accuracy"] > category["baseline"]["accuracy"]


def test_macro_f1_and_r2_by_hand():
    y, p = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0])
    # F1: class 0: 2*1 / (2 + 1 + 1) = 1/2; class 1: 2*2 / (4 + 1 + 0) = 4/5; class 2: 0
    assert efficacy.macro_f1(y, p) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert efficacy.r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])) == pytest.approx(0.5)
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(10)
    y, p = rng.integers(0, 4, 200), rng.integers(0, 5, 200)
    assert efficacy.macro_f1(y, p) == pytest.approx(metrics.f1_score(y, p, average="macro"), abs=1e-12)


# --------------------------------------------------------------------------------------------- DCR
def test_dcr_by_hand_with_nulls():
    kinds = {"x": "numeric", "c": "categorical"}
    ref = {"x": np.array([0.0, 10.0, np.nan]), "c": _objects("a", "b", None)}
    rows = {"x": np.array([1.0, np.nan, 3.0]), "c": _objects("b", None, "a")}
    # row 0: to (10, b): (0.9 + 0) / 2;  row 1: to (nan, None): 0;  row 2: to (0, a): (0.3 + 0) / 2
    assert dcr.distance_to_closest_record(rows, ref, kinds).tolist() == pytest.approx([0.45, 0.0, 0.15])


def test_copies_of_training_rows_are_at_distance_zero_and_flagged():
    rng = np.random.default_rng(11)
    real, holdout = _table(rng, 400), _table(rng, 200)
    drawn = rng.integers(0, 400, 300)
    copies = {c: v[drawn] for c, v in real.items()}
    summary = dcr.dcr_summary(real, copies, KINDS, holdout)
    assert summary["synthetic"] == {"median": 0.0, "p05": 0.0, "exact_copies": 300, "exact_copy_share": 1.0}
    assert summary["share_closer_than_holdout_median"] == 1.0 and summary["holdout"]["median"] > 0
    fresh = dcr.dcr_summary(real, _table(rng, 300), KINDS, holdout)
    assert fresh["synthetic"]["exact_copies"] == 0 and 0.35 < fresh["share_closer_than_holdout_median"] < 0.65


def test_the_kernel_equals_its_numpy_twin_in_any_chunks():
    rng = np.random.default_rng(12)
    rows, ref = _table(rng, 130, nulls=0.2), _table(rng, 90, nulls=0.2)
    ref["z"], rows["z"] = np.full(90, 2.0), np.where(rng.random(130) < 0.5, 2.0, 3.0)  # range 0: equal or not
    kinds = {**KINDS, "z": "numeric"}
    (x_num, x_cat), (r_num, r_cat) = dcr.distance_inputs([rows, ref], kinds)
    ranges = dcr.column_ranges(r_num)
    one_block = dcr.closest_distances_reference(x_num, x_cat, r_num, r_cat, ranges, chunk=10_000)
    for chunk in (1, 7, 64):
        assert np.array_equal(dcr.closest_distances_reference(x_num, x_cat, r_num, r_cat, ranges, chunk), one_block)
    plain = getattr(dcr.closest_distances, "py_func", dcr.closest_distances)  # what NUMBA_DISABLE_JIT=1 runs
    for kernel in (dcr.closest_distances, plain):
        assert np.array_equal(kernel(x_num, x_cat, r_num, r_cat, ranges, np.empty(130)), one_block)
    for only in ({"x": "numeric", "y": "numeric"}, {"c": "categorical"}):  # no column of the other kind
        (x_num, x_cat), (r_num, r_cat) = dcr.distance_inputs([{c: rows[c] for c in only}, {c: ref[c] for c in only}],
                                                             only)
        ranges = dcr.column_ranges(r_num)
        assert np.array_equal(dcr.closest_distances(x_num, x_cat, r_num, r_cat, ranges, np.empty(130)),
                              dcr.closest_distances_reference(x_num, x_cat, r_num, r_cat, ranges, chunk=16))


# --------------------------------------------------------------------------------------------- input and output
@pytest.mark.parametrize("real, synthetic, kinds, message", [
    ({"x": np.ones(3)}, {"y": np.ones(3)}, {"x": "numeric"}, "same column names"),
    ({}, {}, {}, "has no columns"),
    ({"x": np.ones(0)}, {"x": np.ones(3)}, {"x": "numeric"}, "has no rows"),
    ({"x": np.ones(3)}, {"x": np.full(3, np.nan)}, {"x": "numeric"}, "no non-null value"),
    ({"c": _objects(None, None)}, {"c": _objects("a")}, {"c": "categorical"}, "no non-null value"),
    ({"x": np.ones(3)}, {"x": np.ones(3)}, {"x": "ordinal"}, "one of"),
    ({"x": np.ones(3)}, {"x": np.ones(3)}, {"x": "numeric", "y": "numeric"}, "kinds must name every column"),
    ({"x": np.ones(3), "y": np.ones(2)}, {"x": np.ones(3), "y": np.ones(3)}, {"x": "numeric", "y": "numeric"},
     "differ in length"),
    ({"x": _objects("a", "b")}, {"x": _objects("a")}, {"x": "numeric"}, "call it 'categorical'"),
])
def test_bad_input_gives_one_line_value_errors(real, synthetic, kinds, message):
    with pytest.raises(ValueError, match=message) as error:
        quality.quality_score(real, synthetic, kinds)
    assert "\n" not in str(error.value)


def test_infer_kinds_from_the_dtypes():
    table = {"a": np.array([1.0]), "b": np.array([2]), "c": _objects("x"), "d": np.array([True]), "e": np.array(["s"])}
    assert infer_kinds(table) == {"a": "numeric", "b": "numeric", "c": "categorical", "d": "categorical",
                                  "e": "categorical"}
    with pytest.raises(ValueError, match="neither numeric nor categorical"):
        infer_kinds({"t": np.array(["2024-01-01"], dtype="datetime64[D]")})
    assert check_tables({"real": {"b": np.array([2])}}, {"b": "numeric"})["real"]["b"].dtype == np.float64


def test_quality_scores_are_json_and_the_report_folder_is_written(tmp_path):
    from minivae.tables.report import write_report

    rng = np.random.default_rng(13)
    real, holdout, syn = _table(rng, 300, nulls=0.05), _table(rng, 100), _table(rng, 300, shift=0.2)
    scores = write_report(tmp_path / "report", real, syn, KINDS, holdout=holdout, target="c")
    assert json.loads((tmp_path / "report" / "scores.json").read_text()) == json.loads(json.dumps(scores))
    text = (tmp_path / "report" / "report.md").read_text()
    for name in ("marginals.png", "correlations.png", "detection_roc.png"):
        assert f"]({name})" in text and (tmp_path / "report" / name).stat().st_size > 1000
    assert "| `c` | categorical | TVComplement |" in text and "## Machine-learning efficacy" in text
    assert markdown_report(quality_scores(real, syn, KINDS)).count("\n## ") == 5  # no efficacy without a target


# --------------------------------------------------------------------------------------------- SDMetrics
def _frame(table):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(table)


METADATA = {"columns": {"x": {"sdtype": "numerical"}, "y": {"sdtype": "numerical"}, "c": {"sdtype": "categorical"}}}


@pytest.mark.parametrize("nulls", [0.0, 0.1])
def test_the_single_metrics_agree_with_sdmetrics(nulls):
    sdmetrics = pytest.importorskip("sdmetrics")
    from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
    from sdmetrics.single_column import KSComplement, TVComplement

    rng = np.random.default_rng(14)
    real, syn = _table(rng, 500, nulls=nulls), _table(rng, 400, shift=0.3, slope=0.6, nulls=nulls)
    shapes = {c["column"]: c["score"] for c in quality.column_shapes(real, syn, KINDS)["columns"]}
    assert shapes["x"] == pytest.approx(KSComplement.compute(real["x"], syn["x"]), abs=1e-12)
    assert shapes["y"] == pytest.approx(KSComplement.compute(real["y"], syn["y"]), abs=1e-12)
    assert shapes["c"] == pytest.approx(TVComplement.compute(real["c"], syn["c"]), abs=1e-12)
    pairs = {tuple(p["columns"]): p for p in quality.column_pair_trends(real, syn, KINDS, binning="real")["pairs"]}
    theirs = CorrelationSimilarity.compute_breakdown(_frame(real)[["x", "y"]], _frame(syn)[["x", "y"]])
    assert pairs["x", "y"]["score"] == pytest.approx(theirs["score"], abs=1e-12)
    assert pairs["x", "y"]["real"] == pytest.approx(theirs["real"], abs=1e-12)
    for a in ("x", "y"):  # ContingencySimilarity's own binning: the real column's bins, open at both ends
        theirs = ContingencySimilarity.compute(_frame(real)[[a, "c"]], _frame(syn)[[a, "c"]],
                                               continuous_column_names=[a])
        assert pairs[a, "c"]["score"] == pytest.approx(theirs, abs=1e-12)
    new = {"c": np.append(syn["c"], _objects("new", "new"))}  # a category the real table has not
    gap = abs(quality.column_shapes({"c": real["c"]}, new, {"c": "categorical"})["score"]
              - TVComplement.compute(real["c"], new["c"]))
    assert gap < 1e-6 / len(real["c"]) and sdmetrics.__version__


@pytest.mark.parametrize("seed, thresholds", [(15, True), (16, False)])
def test_the_quality_report_agrees_with_sdmetrics(seed, thresholds):
    pytest.importorskip("sdmetrics")
    from sdmetrics.reports import QualityReport

    rng = np.random.default_rng(seed)
    real = _table(rng, 800)
    perturbed = {"x": real["x"] + 0.3 * rng.normal(size=800), "y": real["y"] * 1.2, "c": real["c"].copy()}
    perturbed["c"][rng.random(800) < 0.2] = "c"
    report = QualityReport()
    if not thresholds:
        report.real_correlation_threshold = report.real_association_threshold = 0
    report.generate({"t": _frame(real)}, {"t": _frame(perturbed)}, {"tables": {"t": METADATA}}, verbose=False)
    ours = quality.quality_score(real, perturbed, KINDS, *((0.5, 0.3) if thresholds else (0, 0)))
    assert ours["score"] == pytest.approx(report.get_score(), abs=1e-12)
    shapes = report.get_details("Column Shapes")
    assert [c["score"] for c in ours["column_shapes"]["columns"]] == pytest.approx(list(shapes["Score"]), abs=1e-12)
    trends = report.get_details("Column Pair Trends")
    pairs = ours["column_pair_trends"]["pairs"]
    assert [p["columns"] for p in pairs] == [[a, b] for a, b in zip(trends["Column 1"], trends["Column 2"])]
    assert [p["counted"] for p in pairs] == list(trends["Meets Threshold?"])
    for p, score in zip(pairs, trends["Score"]):
        if p["counted"]:  # SDMetrics leaves the score of a pair that does not count as NaN
            assert p["score"] == pytest.approx(score, abs=1e-12)


def test_dcr_and_efficacy_agree_with_sdmetrics():
    pytest.importorskip("sdmetrics")
    from sdmetrics.single_table import DCROverfittingProtection, LinearRegression
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    rng = np.random.default_rng(17)
    real, holdout, syn = _table(rng, 300, nulls=0.1), _table(rng, 300, nulls=0.1), _table(rng, 200, 0.3, nulls=0.1)
    theirs = calculate_dcr(_frame(syn), _frame(real), METADATA).to_numpy()
    assert np.array_equal(dcr.distance_to_closest_record(syn, real, KINDS), theirs)
    breakdown = DCROverfittingProtection.compute_breakdown(_frame(real), _frame(syn), _frame(holdout), METADATA, None)
    ours = dcr.dcr_summary(real, syn, KINDS, holdout)
    assert ours["closer_to_training_than_holdout"] == breakdown["synthetic_data_percentages"]["closer_to_training"]
    assert ours["overfitting_protection"] == pytest.approx(breakdown["score"], abs=1e-12)
    real, holdout, syn = _table(rng, 500), _table(rng, 300), _table(rng, 400, slope=0.6)
    r2 = LinearRegression.compute(_frame(holdout), _frame(syn), METADATA, target="y")
    assert efficacy.efficacy(real, syn, KINDS, "y", holdout, lam=0.0)["synthetic"]["r2"] == pytest.approx(r2, abs=1e-9)


def test_detection_agrees_with_sdmetrics_within_the_spread_of_the_folds():
    pytest.importorskip("sdmetrics")
    from sdmetrics.single_table import LogisticDetection

    rng = np.random.default_rng(18)
    for shift, tolerance in ((0.0, 0.05), (0.15, 0.03), (3.0, 0.01)):
        real, syn = _table(rng, 2000), _table(rng, 2000, shift=shift)
        np.random.seed(0)  # SDMetrics' StratifiedKFold(shuffle=True) draws from NumPy's global generator
        theirs = LogisticDetection.compute(_frame(real), _frame(syn), METADATA)
        assert detection.detection(real, syn, KINDS)["score"] == pytest.approx(theirs, abs=tolerance)


def test_the_figures_draw_every_column_and_fold_rare_categories():
    from minivae.plots.tables import plot_correlations, plot_marginals

    rng = np.random.default_rng(21)
    real, syn = _table(rng, 300), _table(rng, 300)
    real["many"] = syn["many"] = np.array([f"k{i % 30}" for i in range(300)], dtype=object)
    kinds = {**KINDS, "many": "categorical"}
    fig = plot_marginals(real, syn, kinds, per_row=3, max_categories=5)
    drawn = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in drawn] == ["x (numeric)", "y (numeric)", "c (categorical)", "many (categorical)"]
    assert [t.get_text() for t in drawn[3].get_xticklabels()][-1] == "(other)" and len(drawn[3].patches) == 10
    assert len(plot_correlations(real, syn, kinds).axes) == 4  # three heat maps and the colour bar
    with pytest.raises(ValueError, match="at least two numeric columns"):
        plot_correlations({"x": real["x"]}, {"x": syn["x"]}, {"x": "numeric"})


def test_outside_support_counts_values_beyond_the_real_range_and_unseen_categories():
    from minivae.tables.scores import outside_support

    real = {"x": np.array([1.0, 2.0, 3.0]), "y": np.array([0.0, np.nan, 1.0]), "c": np.array(["a", "b", None], object)}
    synthetic = {"x": np.array([0.5, 2.0, np.nan, 3.0]), "y": np.array([np.nan, 2.0, 0.5, 1.0]),
                 "c": np.array(["a", None, "z", "b"], object)}
    kinds = {"x": "numeric", "y": "numeric", "c": "categorical"}
    got = outside_support(real, synthetic, kinds)
    # x: 0.5 below the range and a null the real column never has; y: 2.0 above; c: "z" unseen
    assert [c["outside"] for c in got["columns"]] == [2, 1, 1] and got["share"] == 4 / 12
    assert outside_support(real, real, kinds)["share"] == 0.0
