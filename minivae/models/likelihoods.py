"""Decoder likelihoods p(x | z): what the decoder's outputs mean, and the reconstruction loss that follows.

A likelihood object tells the model

* ``n_outputs(D)``: how many numbers the decoder must produce for D data dimensions;
* ``nll(out, x)``: the negative log-likelihood per example (N,) and its gradient (of the batch mean) w.r.t. ``out``;
* ``mean(out)``: the expected x, what "the reconstruction" shows; ``sample(out, rng)``: a draw of x;
* ``check_target(x)``: that x lies in the likelihood's support (a clear error otherwise);
* ``config()``: a JSON-able dict from which ``make_likelihood`` rebuilds it (checkpoints store it).

The formulas live in ``minivae.nn.losses``; this module only wires them to decoder outputs.

Which one to use: ``Bernoulli`` for binary or [0, 1] data (MNIST pixels); ``Gaussian`` / ``GaussianLearnedVariance``
for real numbers; ``Categorical`` for one-hot blocks (strings over an alphabet, pixels with K intensity levels);
``Mixed`` for tables whose columns are real numbers and categories side by side (see ``minivae.datasets.tables``).
"""
import math

import numpy as np

from minivae.nn import kernels, losses
from minivae.nn.reparam import reparameterize
from minivae.validation import check_positive_int, check_unit_interval


class Bernoulli:
    """x_d ~ Bernoulli(sigmoid(l_d)); the decoder outputs the logits l (N, D). Targets must lie in [0, 1]."""

    name = "bernoulli"

    def n_outputs(self, data_dim):
        return data_dim

    def check_target(self, x, name="x"):
        check_unit_interval(x, name)

    def nll(self, out, x):
        return losses.bernoulli_nll(out, x)

    def mean(self, out):
        p = np.empty_like(out)
        kernels.sigmoid_forward(out.reshape(-1), p.reshape(-1))
        return p

    def sample(self, out, rng):
        return (rng.random(out.shape) < self.mean(out)).astype(out.dtype)

    def config(self):
        return {"name": self.name}


class Gaussian:
    """x ~ N(m, variance * I) with a fixed variance; the decoder outputs the mean m (N, D).

    With variance 1 the loss is half the squared error plus a constant, the "MSE" of many tutorials.
    """

    name = "gaussian"

    def __init__(self, variance=1.0):
        if not variance > 0:
            raise ValueError(f"the Gaussian likelihood's variance must be positive, got {variance}")
        self.variance = float(variance)

    def n_outputs(self, data_dim):
        return data_dim

    def check_target(self, x, name="x"):
        pass  # any finite real number is in the support (finiteness is checked at the model's entry)

    def nll(self, out, x):
        return losses.gaussian_nll(out, x, self.variance)

    def mean(self, out):
        return out.copy()

    def sample(self, out, rng):
        return (out + np.sqrt(self.variance) * rng.standard_normal(out.shape)).astype(out.dtype)

    def config(self):
        return {"name": self.name, "variance": self.variance}


class GaussianLearnedVariance:
    """x ~ N(m, diag(exp(lv))); the decoder outputs [m | lv] side by side, shape (N, 2D).

    The setting of the Frey Face experiment of Kingma & Welling. The log-variance is clamped to
    [min_logvar, max_logvar] so the likelihood cannot collapse onto one pixel value (its density would grow without
    bound); the gradient is exact inside the bounds and zero outside.
    """

    name = "gaussian_learned"

    def __init__(self, min_logvar=-10.0, max_logvar=10.0):
        self.min_logvar, self.max_logvar = float(min_logvar), float(max_logvar)

    def n_outputs(self, data_dim):
        return 2 * data_dim

    def check_target(self, x, name="x"):
        pass

    def split(self, out):
        """(N, 2D) -> mean (N, D), clamped logvar (N, D), and the mask of entries inside the clamp."""
        d = out.shape[1] // 2
        raw = out[:, d:]
        inside = (raw >= self.min_logvar) & (raw <= self.max_logvar)
        return out[:, :d], np.clip(raw, self.min_logvar, self.max_logvar), inside

    def nll(self, out, x):
        mean, logvar, inside = self.split(out)
        nll, dmean, dlogvar = losses.gaussian_nll_learned_variance(mean, logvar, x)
        return nll, np.concatenate([dmean, dlogvar * inside], axis=1)

    def mean(self, out):
        return self.split(out)[0].copy()

    def sample(self, out, rng):
        mean, logvar, _ = self.split(out)
        return reparameterize(mean, logvar, rng.standard_normal(mean.shape)).astype(out.dtype)  # x ~ N(m, e^lv)

    def config(self):
        return {"name": self.name, "min_logvar": self.min_logvar, "max_logvar": self.max_logvar}



# ----------------------------------------------------------------------------------------------------------------------
# Categorical data: one-hot blocks
# ----------------------------------------------------------------------------------------------------------------------


def to_one_hot(labels, k, dtype=np.float32):
    """Integer labels in [0, k) -> one-hot blocks of k columns.

    labels (N,) -> (N, k);  labels (N, P) -> (N, P*k), block p of row n holds the one-hot code of labels[n, p].
    For images with K intensity levels, first make labels with e.g. ``np.minimum((x * K).astype(int), K - 1)``.

    Example
    -------
    >>> to_one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    k = check_positive_int(k, "k")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers (category indices), got dtype {labels.dtype}; "
                        "convert them with labels.astype(int) if they are whole numbers")
    if labels.ndim not in (1, 2):
        raise ValueError(f"labels must have shape (N,) or (N, P), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got values in [{labels.min()}, {labels.max()}]")
    codes = (labels[..., None] == np.arange(k)).astype(dtype)  # (N, [P,] k)
    return codes.reshape(len(labels), -1)


def from_one_hot(x, k):
    """One-hot blocks (or probability blocks) (N, P*k) -> the index of each block's largest entry, (N, P) int64.

    The inverse of ``to_one_hot`` (for labels of shape (N,), the result has shape (N, 1)).

    Example
    -------
    >>> from_one_hot(np.array([[0., 0., 1., 1., 0., 0.]]), 3)
    array([[2, 0]])
    """
    k = check_positive_int(k, "k")
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] % k:
        raise ValueError(f"x must have shape (N, P*{k}) (P blocks of {k} columns), got {x.shape}")
    return x.reshape(len(x), -1, k).argmax(axis=2)


class Categorical:
    """Each block of K = block_size columns of x is one-hot, x_p ~ Categorical(softmax(l_p)).

    The decoder outputs the logits l (N, P*K), one block of K per position p. A string of length P over an alphabet of
    size K is x of shape (N, P*K); an image whose pixels take K intensity levels is the same with P = pixels.

        nll_n = -sum_p log softmax(l_{n,p})[class of x_{n,p}]        (losses.categorical_nll)

    ``mean`` returns the softmax probabilities (N, P*K); ``sample`` returns one-hot draws (N, P*K).

    Example
    -------
    >>> lik = Categorical(block_size=3)
    >>> nll, dlogits = lik.nll(np.zeros((2, 6)), to_one_hot(np.array([[0, 2], [1, 1]]), 3, np.float64))
    >>> np.allclose(nll, 2 * np.log(3))
    True
    """

    name = "categorical"
    TOLERANCE = 1e-4  # how far from 1 a target block may sum (float32 probability vectors are not exact)

    def __init__(self, block_size):
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 2:
            raise ValueError(f"block_size (the number of categories K) must be an integer >= 2, got {block_size!r}")
        self.block_size = int(block_size)

    def n_outputs(self, data_dim):
        self._check_width(data_dim, "the data")
        return data_dim

    def _check_width(self, width, what):
        if width % self.block_size:
            raise ValueError(f"{what} has {width} columns, not a multiple of the block size K = {self.block_size}; "
                             f"categorical data must be P one-hot blocks of K columns (see to_one_hot)")

    def check_target(self, x, name="x"):
        self._check_width(x.shape[1], name)
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"{name} must be one-hot blocks (entries 0 or 1, or probabilities), got values in "
                             f"[{lo:g}, {hi:g}]; encode category indices with to_one_hot(labels, {self.block_size})")
        sums = x.reshape(len(x), -1, self.block_size).sum(axis=2)  # (N, P)
        bad = np.argwhere(np.abs(sums - 1) > self.TOLERANCE)
        if len(bad):
            n, p = (int(i) for i in bad[0])
            raise ValueError(f"{name}: each block of {self.block_size} columns must sum to 1 (one-hot), but "
                             f"{len(bad)} block(s) do not; the first is row {n}, block {p} (columns "
                             f"{p * self.block_size}..{(p + 1) * self.block_size - 1}), which sums to "
                             f"{sums[n, p]:g}; encode category indices with to_one_hot(labels, {self.block_size})")

    def nll(self, out, x):
        return losses.categorical_nll(out, x, self.block_size)

    def mean(self, out):
        return np.exp(losses.log_softmax_blocks(out, self.block_size)).reshape(out.shape).astype(out.dtype)

    def sample(self, out, rng):
        """One category per block by inverse-CDF sampling: the first k with cumsum(p)_k >= u, u ~ U(0, 1)."""
        p = np.exp(losses.log_softmax_blocks(out, self.block_size))  # (N, P, K)
        u = rng.random(p.shape[:2] + (1,))
        k = np.minimum((p.cumsum(axis=2) < u).sum(axis=2), self.block_size - 1)  # min: cumsum may end below 1
        return to_one_hot(k, self.block_size, out.dtype)

    def config(self):
        return {"name": self.name, "block_size": self.block_size}


# ----------------------------------------------------------------------------------------------------------------------
# Tables: real and categorical columns side by side
# ----------------------------------------------------------------------------------------------------------------------


class Mixed:
    """A table row: real-valued and categorical columns side by side, independent given z.

    ``columns`` lists the columns in the order they appear in x, e.g.
    [{"type": "gaussian", "size": 1}, {"type": "categorical", "size": 3}] (an optional "name" is kept for messages).

    * a "gaussian" column of size s takes s columns of x; the decoder outputs s means and s log-variances,
      [m | lv], as ``GaussianLearnedVariance`` (lv clamped to [min_logvar, max_logvar]; a column's own
      "min_logvar" replaces the first, e.g. the variance of rounding for a whole-number column);
    * a "categorical" column with K categories takes K one-hot columns of x; the decoder outputs K logits, as
      ``Categorical(K)``;
    * a Gaussian column of size 1 may name its "null_block", the index of a categorical column [value, null] of
      size 2: where it says null, x holds a placeholder and the Gaussian term is left out (m_nc = 0 below).

        nll_n = sum over columns c of m_nc nll_c(out_n[c's outputs], x_n[c's columns])

    with m_nc = 1, or x_n[null block][0] (1: a value, 0: null); the mask is data: the gradient is m_nc times c's.

    and the gradient is each column's gradient placed at that column's outputs. ``mean`` and ``sample`` are the
    columns' own, side by side, in the layout of x.

    Example
    -------
    >>> lik = Mixed([{"type": "gaussian", "size": 1}, {"type": "categorical", "size": 3}])
    >>> lik.n_outputs(4)   # 2 for the Gaussian column (mean, logvar), 3 logits
    5
    """

    name = "mixed"

    def __init__(self, columns, min_logvar=-10.0, max_logvar=10.0):
        if isinstance(columns, (str, dict)) or not hasattr(columns, "__len__") or len(columns) == 0:
            raise ValueError('columns must be a non-empty list of specs like {"type": "gaussian", "size": 1}, '
                             f"got {columns!r}")
        self.columns = [_check_column(c, i) for i, c in enumerate(columns)]
        self.min_logvar, self.max_logvar = float(min_logvar), float(max_logvar)
        self.parts = [GaussianLearnedVariance(c.get("min_logvar", min_logvar), max_logvar) if c["type"] == "gaussian"
                      else Categorical(c["size"]) for c in self.columns]
        # where each column lives in x (its data) and in the decoder's output (its parameters)
        self.x_slices, self.out_slices = [], []
        x_at = out_at = 0
        for c, part in zip(self.columns, self.parts):
            n_out = part.n_outputs(c["size"])
            self.x_slices.append(slice(x_at, x_at + c["size"]))
            self.out_slices.append(slice(out_at, out_at + n_out))
            x_at, out_at = x_at + c["size"], out_at + n_out
        self.data_dim, self.output_dim = x_at, out_at
        _check_null_blocks(self.columns)

    def n_outputs(self, data_dim):
        if data_dim != self.data_dim:
            raise ValueError(f"the Mixed likelihood's columns take {self.data_dim} columns of x, but the data has "
                             f"{data_dim}; make the column sizes add up to the data width")
        return self.output_dim

    def check_target(self, x, name="x"):
        if x.shape[1] != self.data_dim:
            raise ValueError(f"{name} must have {self.data_dim} columns for this Mixed likelihood, got {x.shape}")
        for i, (c, part, xs) in enumerate(zip(self.columns, self.parts, self.x_slices)):
            part.check_target(x[:, xs], f"{name}, column {c.get('name', i)!r}")

    def nll(self, out, x):
        nll = np.zeros(len(out), dtype=out.dtype)
        dout = np.zeros_like(out)
        for c, part, xs, os in zip(self.columns, self.parts, self.x_slices, self.out_slices):
            nll_c, dout_c = part.nll(np.ascontiguousarray(out[:, os]), np.ascontiguousarray(x[:, xs]))
            if "null_block" in c:  # m = 1 where the row has a value, 0 where it is null
                has_value = x[:, self.x_slices[c["null_block"]].start].astype(out.dtype)  # (N,)
                nll_c, dout_c = nll_c * has_value, dout_c * has_value[:, None]
            nll += nll_c
            dout[:, os] = dout_c
        return nll, dout

    def mean(self, out):
        return np.concatenate([part.mean(out[:, os]) for part, os in zip(self.parts, self.out_slices)], axis=1)

    def sample(self, out, rng):
        return np.concatenate([part.sample(out[:, os], rng) for part, os in zip(self.parts, self.out_slices)], axis=1)

    def config(self):
        return {"name": self.name, "columns": [dict(c) for c in self.columns],
                "min_logvar": self.min_logvar, "max_logvar": self.max_logvar}


def _check_null_blocks(columns):
    """Each "null_block" names another column, a categorical one of size 2."""
    for i, block in ((i, c["null_block"]) for i, c in enumerate(columns) if "null_block" in c):
        if not (0 <= block < len(columns) and block != i and (columns[block]["type"], columns[block]["size"]) ==
                ("categorical", 2)):
            raise ValueError(f"column {i}: null_block {block} must be the index of another column, a categorical "
                             "one of size 2 ([value, null])")


def _check_column(spec, i):
    """Validate one column spec of Mixed; return a clean copy {"type", "size"[, "name"]}."""
    if not isinstance(spec, dict):
        raise TypeError(f'column {i} must be a dict like {{"type": "gaussian", "size": 1}}, got {spec!r}')
    unknown = set(spec) - {"type", "size", "name", "min_logvar", "null_block"}
    if unknown:
        raise ValueError(f"column {i} has unknown key(s) {sorted(unknown)}; a column spec has 'type', 'size' and "
                         "optionally 'name' (and a Gaussian column 'min_logvar')")
    kind, size = spec.get("type"), spec.get("size")
    if kind not in ("gaussian", "categorical"):
        raise ValueError(f"column {i} has type {kind!r}; choose 'gaussian' (real numbers) or 'categorical'")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < (2 if kind == "categorical" else 1):
        need = "the number of categories, >= 2" if kind == "categorical" else "a positive integer"
        raise ValueError(f"column {i} ({kind}) has size {size!r}; expected {need}")
    clean = {"type": kind, "size": int(size)}
    if "name" in spec:
        clean["name"] = str(spec["name"])
    if "min_logvar" in spec:
        floor = spec["min_logvar"]
        number = isinstance(floor, (int, float)) and not isinstance(floor, bool)
        if kind != "gaussian" or not number or not math.isfinite(floor):
            raise ValueError(f"column {i}: min_logvar is a finite number for a Gaussian column, got {floor!r} for a "
                             f"{kind} one")
        clean["min_logvar"] = float(floor)
    if "null_block" in spec:
        block = spec["null_block"]
        if kind != "gaussian" or size != 1 or isinstance(block, bool) or not isinstance(block, (int, np.integer)):
            raise ValueError(f"column {i}: null_block is the index of a [value, null] column, for a Gaussian column "
                             f"of size 1, got {block!r} for a {kind} column of size {size}")
        clean["null_block"] = int(block)
    return clean


LIKELIHOODS = {"bernoulli": Bernoulli, "gaussian": Gaussian, "gaussian_learned": GaussianLearnedVariance,
               "categorical": Categorical, "mixed": Mixed}


def make_likelihood(spec):
    """A likelihood from its name, its config dict, or itself.

    Names: "bernoulli", "gaussian", "gaussian_learned", "categorical" (needs "block_size"), "mixed" (needs
    "columns"); the parameters go in the dict, e.g. {"name": "categorical", "block_size": 10}.

    Example
    -------
    >>> make_likelihood({"name": "categorical", "block_size": 4}).config()
    {'name': 'categorical', 'block_size': 4}
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}")
        try:
            return LIKELIHOODS[name](**spec)
        except TypeError as err:
            raise TypeError(f"bad parameters {spec} for the {name!r} likelihood: {err}") from err
    if hasattr(spec, "nll") and hasattr(spec, "n_outputs"):
        return spec
    raise TypeError(f"likelihood must be a name, a config dict or a likelihood object, got {type(spec).__name__}")
