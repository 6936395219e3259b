"""The linear models behind the detection and efficacy scores: table rows as feature vectors, then ridge regression,
logistic regression and softmax regression, each fitted by hand in NumPy (float64), its loss and gradient beside it.

Features (``fit_features`` on the training rows, ``features`` for any rows): a numeric column v becomes
(v - mean) / std, with mean and std of the training rows' non-null values, and a null becomes 0 (the mean) with a
second feature, 1 where v was null, if the training rows hold a null in that column. A categorical column becomes one
0/1 feature per category of the training rows, null a category of its own; a category the training rows never
showed gets all zeros. X is (N, D); every model adds the intercept itself: X1 = [X, 1], (N, D + 1), parameters
theta (D + 1,) or W (D + 1, K), the last row the intercept, which the L2 penalty leaves out (mask m = [1 .. 1, 0]).

    ridge      L(theta) = 1/N ||y - X1 theta||^2 + lam ||m * theta||^2
               solved exactly: (X1^T X1 / N + lam diag(m)) theta = X1^T y / N
    logistic   L(theta) = 1/N sum_i [log(1 + e^{z_i}) - y_i z_i] + lam/2 ||m * theta||^2,   z = X1 theta, y in {0, 1}
               g = X1^T (sigmoid(z) - y) / N + lam m * theta
               H = X1^T diag(s (1 - s)) X1 / N + lam diag(m),   s = sigmoid(z)
               Newton's method: theta <- theta - t H^{-1} g, the step t halved until L falls (L is convex)
    softmax    L(W) = 1/N sum_i [logsumexp(z_i) - z_{i, y_i}] + lam/2 ||m * W||^2,   Z = X1 W, y in 0 .. K - 1
               G = X1^T (P - Y) / N + lam m * W,   P = softmax(Z) row by row, Y the one-hot labels
               Boehning's bound (1992): the Hessian is at most B = 1/2 X1^T X1 / N + lam diag(m) on every column
               of W, so W <- W - B^{-1} G lowers L at every step; B is factored once

``lam`` defaults to 1/N for the two classifiers: scikit-learn's LogisticRegression with C = 1 minimises
N L(theta) with lam = 1/N, the classifier of SDMetrics' LogisticDetection (which scales by the median and the
interquartile range instead of the mean and the standard deviation). tests/test_table_quality.py checks both
gradients against central finite differences.

Example
-------
>>> spec = fit_features(train, kinds, columns=["age", "city"])
>>> theta = fit_logistic(features(train, spec), labels)
>>> p = sigmoid(np.c_[features(test, spec), np.ones(len(test[columns[0]]))] @ theta)     # P(y = 1 | x)
"""
import numpy as np

from minivae.tables.inputs import is_null


# -------------------------------------------------------------------------------------------------------- features
def fit_features(table, kinds, columns):
    """What ``features`` needs of the training rows: a list of (column, kind, details), one a column.

    numeric: (mean, std, has_null), std 1 for a constant column;  categorical: the list of categories (None, null,
    last if present). table : checked columns (``minivae.tables.inputs.check_tables``).
    """
    spec = []
    for column in columns:
        values = table[column]
        if kinds[column] == "numeric":
            present = values[~np.isnan(values)]
            mean = float(present.mean()) if len(present) else 0.0
            std = float(present.std()) if len(present) else 1.0
            spec.append((column, "numeric", (mean, std if std > 0 else 1.0, bool(np.isnan(values).any()))))
        else:
            seen = {None if is_null(v) else v for v in values}
            spec.append((column, "categorical", sorted(seen - {None}, key=lambda v: (type(v).__name__, str(v)))
                         + ([None] if None in seen else [])))
    return spec


def features(table, spec):
    """The feature matrix (N, D), float64, of a table's rows (module docstring), D fixed by spec."""
    blocks = []
    for column, kind, details in spec:
        values = table[column]
        if kind == "numeric":
            mean, std, has_null = details
            null = np.isnan(values)
            blocks.append(np.where(null, 0.0, (values - mean) / std)[:, None])
            if has_null:
                blocks.append(null[:, None].astype(np.float64))
        else:
            index = {value: k for k, value in enumerate(details)}
            codes = np.fromiter((index.get(None if is_null(v) else v, -1) for v in values), np.int64, len(values))
            one_hot = np.zeros((len(values), len(details)))
            known = codes >= 0
            one_hot[np.flatnonzero(known), codes[known]] = 1.0
            blocks.append(one_hot)
    return np.hstack(blocks) if blocks else np.zeros((len(next(iter(table.values()))), 0))


def _with_intercept(x):
    return np.hstack([x, np.ones((len(x), 1))])


def _mask(d):
    """m = [1, ..., 1, 0] (D + 1,): the penalty leaves the intercept alone."""
    return np.r_[np.ones(d), 0.0]


# -------------------------------------------------------------------------------------------------------- ridge
def fit_ridge(x, y, lam=1e-4):
    """Ridge regression, exactly: theta (D + 1,) minimising 1/N ||y - X1 theta||^2 + lam ||m * theta||^2.

    x : (N, D)    y : (N,)    lam >= 0 (0 is least squares; a singular system then gets the least-norm solution).
    Predict with ``predict_linear(x, theta)``.
    """
    x1 = _with_intercept(x)
    a = x1.T @ x1 / len(x1) + lam * np.diag(_mask(x.shape[1]))
    return np.linalg.lstsq(a, x1.T @ y / len(x1), rcond=None)[0]


def predict_linear(x, theta):
    """X1 theta: (N,) for theta (D + 1,), or the scores Z (N, K) for W (D + 1, K)."""
    return _with_intercept(x) @ theta


# -------------------------------------------------------------------------------------------------------- logistic
def sigmoid(z):
    """1 / (1 + e^{-z}), computed without overflow for either sign of z."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logistic_loss_and_gradient(theta, x, y, lam):
    """The mean log-loss with L2 and its gradient (module docstring): (L, g), g (D + 1,).

    log(1 + e^z) is computed as max(z, 0) + log1p(e^{-|z|}) (no overflow). x : (N, D)    y : (N,) 0/1
    """
    z = predict_linear(x, theta)
    m = _mask(x.shape[1])
    loss = np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z) + lam / 2 * np.sum((m * theta) ** 2)
    grad = _with_intercept(x).T @ (sigmoid(z) - y) / len(x) + lam * m * theta
    return float(loss), grad


def fit_logistic(x, y, lam=None, max_iter=50, tol=1e-10):
    """Logistic regression by Newton's method with step halving: theta (D + 1,), P(y = 1 | x) = sigmoid(X1 theta).

    x : (N, D)    y : (N,) 0/1 or bool    lam : the L2 weight, default 1/N (scikit-learn's C = 1)
    Stops when a step changes the loss by less than tol, or after max_iter steps.
    """
    y = np.asarray(y, dtype=np.float64)
    lam = 1.0 / len(x) if lam is None else lam
    x1, m = _with_intercept(x), _mask(x.shape[1])
    theta = np.zeros(x1.shape[1])
    loss, grad = logistic_loss_and_gradient(theta, x, y, lam)
    for _ in range(max_iter):
        s = sigmoid(x1 @ theta)
        hessian = (x1.T * (s * (1 - s))) @ x1 / len(x1) + lam * np.diag(m)
        step = np.linalg.lstsq(hessian, grad, rcond=None)[0]
        t, new_theta = 1.0, theta - step
        new_loss, new_grad = logistic_loss_and_gradient(new_theta, x, y, lam)
        while new_loss > loss and t > 1e-8:  # halve the step until the loss falls (it is convex: a small one does)
            t /= 2
            new_theta = theta - t * step
            new_loss, new_grad = logistic_loss_and_gradient(new_theta, x, y, lam)
        if new_loss > loss:  # no step lowers it: the minimum, to rounding
            break
        improvement = loss - new_loss
        theta, loss, grad = new_theta, new_loss, new_grad
        if improvement < tol:
            break
    return theta


# -------------------------------------------------------------------------------------------------------- softmax
def softmax_loss_and_gradient(w, x, y, lam):
    """The mean cross-entropy of softmax(X1 W) with L2 and its gradient (module docstring): (L, G), G (D + 1, K).

    x : (N, D)    y : (N,) integer classes in 0 .. K - 1    w : (D + 1, K)
    """
    z = predict_linear(x, w)
    z = z - z.max(axis=1, keepdims=True)  # softmax and the loss are unchanged by a shift of each row
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    m = _mask(x.shape[1])[:, None]
    loss = -np.mean(log_p[np.arange(len(y)), y]) + lam / 2 * np.sum((m * w) ** 2)
    p_minus_y = np.exp(log_p)
    p_minus_y[np.arange(len(y)), y] -= 1.0
    return float(loss), _with_intercept(x).T @ p_minus_y / len(x) + lam * m * w


def fit_softmax(x, y, n_classes, lam=None, max_iter=500, tol=1e-10):
    """Softmax (multinomial logistic) regression by Boehning's bound: W (D + 1, K); class = argmax of X1 W.

    x : (N, D)    y : (N,) integers in 0 .. n_classes - 1    lam : default 1/N
    Every step lowers the loss (module docstring); stops when it falls by less than tol, or after max_iter steps.
    """
    y = np.asarray(y, dtype=np.int64)
    lam = 1.0 / len(x) if lam is None else lam
    x1 = _with_intercept(x)
    bound = x1.T @ x1 / (2 * len(x1)) + lam * np.diag(_mask(x.shape[1]))
    inverse = np.linalg.pinv(bound)  # the same B for every step and class: invert it once
    w = np.zeros((x1.shape[1], n_classes))
    loss, grad = softmax_loss_and_gradient(w, x, y, lam)
    for _ in range(max_iter):
        w = w - inverse @ grad
        new_loss, grad = softmax_loss_and_gradient(w, x, y, lam)
        done, loss = loss - new_loss < tol, new_loss
        if done:
            break
    return w
