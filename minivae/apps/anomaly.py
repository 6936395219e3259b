"""Anomaly detection with a VAE, and the ROC curve to measure it.

A VAE trained on "normal" data gives a number to every input: how probable the model finds it. An input the model
finds improbable is a candidate anomaly. Three scores, each (N,) with HIGHER = MORE ANOMALOUS:

    "elbo"            -ELBO(x) = -E_q[log p(x | z)] + KL(q(z | x) || p(z))       (one sample of z; nats)
    "reconstruction"  -log p(x | z = mu(x))      the reconstruction error at the posterior mean (deterministic)
    "iwae"            -L_K(x)                    the importance-weighted estimate of -log p(x) (minivae.apps.evaluation)

How good a score is, is measured without choosing a threshold: the ROC curve plots, for every threshold t, the
true-positive rate TPR(t) = P(score > t | anomaly) against the false-positive rate FPR(t) = P(score > t | normal),
and the area under it (AUC) is the probability that a random anomaly scores higher than a random normal example
(ties count one half). AUC = 1: perfect ranking; 0.5: no better than chance; 0: perfectly reversed.

A known surprise (Nalisnick et al. 2019, "Do deep generative models know what they don't know?"): likelihood
models can give *higher* likelihood to some other data than to their training data (simple images with few ink
pixels, like the digit 1), so an AUC below 0.5 is possible and not a bug.

Example
-------
>>> scores = anomaly_scores(vae, x, method="elbo", rng=np.random.default_rng(0))   # (N,)
>>> roc_auc(scores, is_anomaly)                                                       # in [0, 1]
"""
import numpy as np

from minivae.apps.evaluation import importance_weighted_bound

METHODS = ("elbo", "reconstruction", "iwae")


def anomaly_scores(model, x, method="elbo", rng=None, k=100, batch_size=1024, condition=None):
    """Per-example anomaly scores (N,), float64, in nats; higher = more anomalous. See the module docstring.

    Parameters
    ----------
    model : a trained model (an Autoencoder has only the "reconstruction" score)    x : (N, D) data
    method : "elbo" (needs rng), "reconstruction" (deterministic), "iwae" (needs rng; K = k samples per example)
    batch_size : examples per forward pass
    condition : the labels (N,) of a conditional model: the scores are then of p(x | y)
    """
    if method not in METHODS:
        raise ValueError(f"unknown anomaly score method {method!r}; choose one of {METHODS}")
    if method != "reconstruction" and not model.probabilistic:
        raise ValueError(f"{type(model).__name__} has no ELBO or likelihood bound to score with: use "
                         "method='reconstruction' (--method reconstruction)")
    if method != "reconstruction" and not isinstance(rng, np.random.Generator):
        raise TypeError(f"method {method!r} samples z: pass rng=np.random.default_rng(seed), got {rng!r}")
    x = np.asarray(x)
    if method == "iwae":
        return -importance_weighted_bound(model, x, k=k, rng=rng, condition=condition)
    labels = {} if condition is None else {"condition": np.asarray(condition)}
    scores = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        yb = {name: y[i:i + batch_size] for name, y in labels.items()}
        if method == "elbo":
            scores.append(-model.elbo(xb, rng=rng, **yb).elbo)
        else:
            scores.append(model.reconstruction_error(xb, **yb))
    return np.concatenate(scores).astype(np.float64)


def _check_scores_labels(scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or labels.shape != scores.shape:
        raise ValueError(f"scores and labels must be 1-D arrays of the same length, got shapes {scores.shape} and "
                         f"{labels.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinity; check the model and the data")
    if labels.dtype != bool:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"labels must be booleans or 0/1 (1 = anomaly), got values {np.unique(labels)[:5]}")
        labels = labels.astype(bool)
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == len(labels):
        raise ValueError(f"labels need both classes (anomalies and normal examples) for a ROC curve, got {n_pos} "
                         f"anomalies among {len(labels)} examples")
    return scores, labels


def roc_curve(scores, labels):
    """The ROC curve of a score: false- and true-positive rates at every distinct threshold.

    An example is flagged as anomalous when score >= threshold. Sorting the scores in decreasing order and lowering
    the threshold one distinct value at a time adds all examples with that score at once, so tied scores make one
    (diagonal) step and not an arbitrary staircase.

        TPR(t) = #{anomalies with score >= t} / n_pos,      FPR(t) = #{normal with score >= t} / n_neg

    Parameters
    ----------
    scores : (N,) floats, higher = more anomalous    labels : (N,) bool or 0/1, True/1 = anomaly

    Returns
    -------
    fpr, tpr : (M + 1,) from (0, 0) to (1, 1), non-decreasing
    thresholds : (M + 1,) the M distinct scores in decreasing order, preceded by +inf (nothing flagged)
    """
    scores, labels = _check_scores_labels(scores, labels)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last_of_value = np.r_[s[1:] != s[:-1], True]  # the last index of each run of equal scores
    tp = np.cumsum(y)[last_of_value]
    fp = np.cumsum(~y)[last_of_value]
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return fpr, tpr, np.r_[np.inf, s[last_of_value]]


def roc_auc(scores, labels):
    """Area under the ROC curve, by the trapezoid rule, as a float in [0, 1].

        AUC = sum_i (FPR_i - FPR_{i-1}) (TPR_i + TPR_{i-1}) / 2
            = U / (n_pos n_neg),    U = #{(anomaly a, normal b): s_a > s_b} + 0.5 #{(a, b): s_a = s_b}

    the Mann-Whitney U statistic (a test checks the identity, ties included): the probability that a random anomaly
    outscores a random normal example.

    Example
    -------
    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
