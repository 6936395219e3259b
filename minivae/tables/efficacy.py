"""Machine-learning efficacy: train on synthetic, test on real (TSTR). Is the synthetic table as good as the real one
for learning to predict a column from the others?

A model learns the ``target`` column from all the other columns (``minivae.tables.linear``'s features) twice: once
on the synthetic rows (TSTR) and once on real training rows (TRTR, the reference), and both are scored on the same
real test rows, which neither saw.

    numeric target       ridge regression;   R^2 = 1 - sum_i (y_i - yhat_i)^2 / sum_i (y_i - y_bar)^2   (y_bar: the
                         test rows' mean; 1 = perfect, 0 = no better than the mean, negative = worse)
    categorical target   softmax regression; accuracy = #{yhat_i = y_i} / n, and the macro F1:
                         F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c),  macro F1 = the mean of F1_c over the classes that
                         are true or predicted on the test rows (scikit-learn's f1_score(average="macro"))

The "baseline" predicts without features: the training mean (numeric), the most frequent training class (categorical).
A TSTR score near the TRTR score says the synthetic rows keep what a linear model needs; near the baseline, they
keep nothing of it.

The real test rows are ``holdout`` when given (real rows the generator never saw: the honest test). Without it, a
random ``test_fraction`` of the real rows is the test set and the rest trains TRTR; the generator, trained on all
real rows, has then seen the test rows, which flatters TSTR. Rows whose target is null are left out everywhere.
SDMetrics' LinearRegression and MulticlassMLPClassifier efficacy metrics are the same idea with scikit-learn's models.

Example
-------
>>> e = efficacy(real, synthetic, kinds, target="income", holdout=holdout)
>>> e["synthetic"]["r2"], e["real"]["r2"]                  # doctest: +SKIP
(0.41, 0.47)
"""
import numpy as np

from minivae.tables.inputs import category_codes, check_tables
from minivae.tables.linear import features, fit_features, fit_ridge, fit_softmax, predict_linear


def r2_score(y, prediction):
    """R^2 = 1 - sum (y - yhat)^2 / sum (y - y_bar)^2 (module docstring); None when the test targets are constant."""
    total = np.sum((y - y.mean()) ** 2)
    return None if total == 0 else float(1 - np.sum((y - prediction) ** 2) / total)


def macro_f1(y, prediction):
    """The mean over the classes in y or prediction of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c). y, prediction: (n,)."""
    f1 = []
    for c in np.union1d(y, prediction):
        tp, fp, fn = np.sum((prediction == c) & (y == c)), np.sum((prediction == c) & (y != c)), np.sum(
            (prediction != c) & (y == c))
        f1.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1))


def _rows(table, keep):
    return {c: v[keep] for c, v in table.items()}


def _targets(checked, target, kind):
    """Each table's target as float64, NaN for null; a categorical target as class codes common to every table."""
    if kind == "numeric":
        return [t[target] for t in checked.values()]
    codes, _ = category_codes([t[target] for t in checked.values()])
    return [np.where(c < 0, np.nan, c) for c in codes]


def _fit_predict(train, y, test, target, kinds, lam):
    """Train on (train, y), predict test's target: (N_test,) floats or class codes; and the baseline's prediction."""
    spec = fit_features(train, kinds, [c for c in train if c != target])
    x_train, x_test = features(train, spec), features(test, spec)
    lam = 1.0 / len(x_train) if lam is None else lam
    if kinds[target] == "numeric":
        return predict_linear(x_test, fit_ridge(x_train, y, lam)), np.full(len(x_test), y.mean())
    majority = np.full(len(x_test), np.bincount(y).argmax())
    if len(np.unique(y)) == 1:  # one class to learn: predict it
        return majority, majority
    w = fit_softmax(x_train, y, int(y.max()) + 1, lam)
    return np.argmax(predict_linear(x_test, w), axis=1), majority


def _scores(y, prediction, kind):
    if kind == "numeric":
        return {"r2": r2_score(y, prediction)}
    return {"accuracy": float(np.mean(prediction == y)), "macro_f1": macro_f1(y, prediction)}


def efficacy(real, synthetic, kinds, target, holdout=None, rng=None, test_fraction=0.2, lam=None):
    """TSTR and TRTR (module docstring), as a dict:

        "target", "kind", "model" ("ridge" | "softmax"), "metric" (the headline: "r2" | "macro_f1"),
        "test" ("holdout" | "real split"), "n_test",
        "synthetic", "real", "baseline": {"n_train", "r2"} or {"n_train", "accuracy", "macro_f1"}

    real, synthetic, holdout : tables in the column-batch convention (holdout: real rows the generator never saw)
    target : the column to predict    rng : np.random.Generator for the split without holdout (default seed 0)
    test_fraction : the share of real rows tested on without holdout    lam : the L2 weight, default 1/N_train
    (scikit-learn's Ridge(alpha=1) and LogisticRegression(C=1) in this scaling)
    """
    tables = {"real": real, "synthetic": synthetic, **({} if holdout is None else {"holdout": holdout})}
    checked = check_tables(tables, kinds)
    if target not in kinds:
        raise ValueError(f"target {target!r} is not a column; choose one of {list(kinds)}")
    kind = kinds[target]
    data = {}  # role -> (rows, target values), the rows with a null target left out
    for (role, table), y in zip(checked.items(), _targets(checked, target, kind)):
        keep = ~np.isnan(y)
        data[role] = (_rows(table, keep), y[keep] if kind == "numeric" else y[keep].astype(np.int64))
    if holdout is None:
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        rng = np.random.default_rng(0) if rng is None else rng
        rows, y = data["real"]
        is_test = np.zeros(len(y), dtype=bool)
        is_test[rng.permutation(len(y))[:max(1, int(round(test_fraction * len(y))))]] = True
        data["holdout"], data["real"] = (_rows(rows, is_test), y[is_test]), (_rows(rows, ~is_test), y[~is_test])
    for role, (_, y) in data.items():
        if len(y) == 0:
            use = "test" if role == "holdout" else "learn"
            raise ValueError(f"the {role} rows have no non-null {target!r} to {use} on: choose another target, or give "
                             "more rows")
    test, y_test = data["holdout"]
    result = {"target": target, "kind": kind, "model": "ridge" if kind == "numeric" else "softmax",
              "metric": "r2" if kind == "numeric" else "macro_f1",
              "test": "real split" if holdout is None else "holdout", "n_test": len(y_test)}
    for role in ("synthetic", "real"):
        rows, y = data[role]
        prediction, baseline = _fit_predict(rows, y, test, target, kinds, lam)
        result[role] = {"n_train": len(y), **_scores(y_test, prediction, kind)}
    # the baseline of the last model fitted, the real rows': their mean, or their most frequent class
    result["baseline"] = {"n_train": len(data["real"][1]), **_scores(y_test, baseline, kind)}
    return result
