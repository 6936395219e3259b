"""Detection: can a classifier tell the real rows from the synthetic ones? If not, the synthetic table passes.

The real rows get the label 1, the synthetic rows 0. A logistic regression (``minivae.tables.linear``: standardized
numeric features, one-hot categories, Newton's method with L2) is trained on k - 1 folds and scores the rows of the
k-th, P(real | row); each fold's held-out ROC AUC (``minivae.apps.anomaly.roc_auc``: the probability that a random
real row scores above a random synthetic one) measures how well it tells them apart. Then, as SDMetrics'
LogisticDetection:

    score = 1 - mean_k max(0, 2 AUC_k - 1)        = 1 - mean_k (max(0.5, AUC_k) * 2 - 1)

1 when the classifier does no better than chance (AUC 0.5, or below it on held-out rows, which is chance as well),
0 when it separates the two perfectly (AUC 1). 2 AUC - 1 is the Gini coefficient of the ranking.

The folds are stratified (each holds 1/k of the real rows and 1/k of the synthetic ones) and drawn with ``rng``, so
the score is reproducible; the feature scaling is fitted on each fold's training rows only. SDMetrics draws its 3
folds without a seed and scales by the median and the interquartile range: its number scatters around this one by
the spread of the folds (tests/test_table_quality.py measures it).

Misses: a linear classifier sees differences of the means and of the category shares, and of little else (a
different variance of a numeric column with the same mean is invisible to it). A score of 1 says this classifier
fails, not that every classifier does.

Example
-------
>>> d = detection(real, synthetic, kinds, rng=np.random.default_rng(0))
>>> d["score"], d["auc"]                                   # doctest: +SKIP
(0.97, 0.515)
"""
import numpy as np

from minivae.apps.anomaly import roc_auc, roc_curve
from minivae.tables.inputs import check_tables
from minivae.tables.linear import features, fit_features, fit_logistic, predict_linear, sigmoid
from minivae.validation import check_positive_int


def stratified_folds(labels, k, rng):
    """k disjoint index arrays covering 0 .. N - 1, each with about 1/k of every class: the rows of each class are
    shuffled by rng and dealt out in turn. labels : (N,) 0/1    Returns a list of k sorted int arrays."""
    folds = [[] for _ in range(k)]
    for label in (1, 0):
        rows = rng.permutation(np.flatnonzero(labels == label))
        for f in range(k):
            folds[f].append(rows[f::k])
    return [np.sort(np.concatenate(parts)) for parts in folds]


def _stack(real, synthetic, columns):
    return {c: np.concatenate([real[c], synthetic[c]]) for c in columns}


def _take(table, rows):
    return {c: v[rows] for c, v in table.items()}


def detection(real, synthetic, kinds, rng=None, folds=3, lam=None):
    """The detection score (module docstring), as a dict:

        "score"      1 - mean_k max(0, 2 AUC_k - 1), in [0, 1]
        "auc"        the mean of the held-out AUCs;  "fold_auc" each fold's
        "roc"        {"fpr", "tpr"} of the first fold, lists from (0, 0) to (1, 1), for ``plot_roc``
        "folds", "n_real", "n_synthetic", "features" (the number of features D)

    real, synthetic : tables in the column-batch convention    kinds : column -> "numeric" | "categorical"
    rng : np.random.Generator for the folds (default seeded with 0)    folds : k >= 2, at most the smaller table's size
    lam : the L2 weight of the logistic regression, default 1/N_train (scikit-learn's C = 1)
    """
    folds = check_positive_int(folds, "folds")
    checked = check_tables({"real": real, "synthetic": synthetic}, kinds)
    columns = list(checked["real"])
    n_real, n_syn = len(checked["real"][columns[0]]), len(checked["synthetic"][columns[0]])
    if folds < 2 or folds > min(n_real, n_syn):
        raise ValueError(f"folds must be between 2 and the smaller table's {min(n_real, n_syn)} rows, got {folds}")
    rng = np.random.default_rng(0) if rng is None else rng
    table = _stack(checked["real"], checked["synthetic"], columns)
    labels = np.r_[np.ones(n_real), np.zeros(n_syn)]
    aucs, roc, n_features = [], None, 0
    for test in stratified_folds(labels, folds, rng):
        train = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
        train_rows = _take(table, train)
        spec = fit_features(train_rows, kinds, columns)  # the scaling of the training folds only
        x_train = features(train_rows, spec)
        theta = fit_logistic(x_train, labels[train], lam)
        p_real = sigmoid(predict_linear(features(_take(table, test), spec), theta))
        aucs.append(roc_auc(p_real, labels[test]))
        if roc is None:
            fpr, tpr, _ = roc_curve(p_real, labels[test])
            roc, n_features = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}, x_train.shape[1]
    gini = [max(0.5, auc) * 2 - 1 for auc in aucs]
    return {"score": float(1 - np.mean(gini)), "auc": float(np.mean(aucs)), "fold_auc": [float(a) for a in aucs],
            "roc": roc, "folds": folds, "n_real": n_real, "n_synthetic": n_syn, "features": int(n_features)}
