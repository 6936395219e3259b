"""Negative log-likelihoods of the decoder's outputs, each returning its value and its gradient, and log densities.

Reductions, the same everywhere in minivae: **sum over the data (or latent) dimensions, mean over the batch, in nats.**
Each function returns

* the per-example value, shape (N,), so that an ELBO can be reported example by example, and
* the gradient of the *batch mean* ``per_example.mean()`` with respect to each input, shape (N, D) (hence the 1/N).

The KL term has its own module, ``minivae.nn.kl``; the likelihood objects that wire these functions to a decoder's
outputs are in ``minivae.models.likelihoods``. ``log_normal`` and ``log_standard_normal`` are the Gaussian log
densities that the importance-weighted bound and imputation need (float64, no gradient).

References: Kingma & Welling (2013), "Auto-Encoding Variational Bayes", eq. 10 and appendices B and C.
"""
import numpy as np

from minivae.nn import kernels
from minivae.nn.sequence import check_mask

LOG_2PI = float(np.log(2 * np.pi))


def bernoulli_nll(logits, x):
    """Negative log-likelihood of x under independent Bernoullis with p = sigmoid(logits).

        nll_n = -sum_d [ x log p + (1 - x) log(1 - p) ] = sum_d [ softplus(l) - x l ]
        d mean_n(nll_n) / d l = (sigmoid(l) - x) / N

    Computed from logits with max(l, 0) - x l + log1p(exp(-|l|)): stable for logits of +/-1000 (no log(0), no
    overflow). x may be binary or grey values in [0, 1] (as in the PyTorch VAE example; then the minimum of the
    loss is the entropy of x, not 0).

    Parameters
    ----------
    logits : (N, D) float array
    x : (N, D) targets in [0, 1], same dtype

    Returns
    -------
    nll : (N,)   dlogits : (N, D)

    Speed: exp of every entry runs in NumPy's vectorised ufunc, everything else in one pass of
    ``kernels.bernoulli_nll_parts`` (beside it, its plain NumPy twin; it takes log1p as a vectorised series: on CPUs
    without AVX-512, NumPy's log1p is not vectorised); the sum over d is NumPy's (pairwise).
    """
    logits, x = np.ascontiguousarray(logits), np.ascontiguousarray(x)
    if x.shape != logits.shape:
        raise ValueError(f"x must have the shape of the logits, {logits.shape}, got {x.shape}")
    n = logits.shape[0]
    e = np.abs(logits)
    np.negative(e, out=e)
    np.exp(e, out=e)  # e = exp(-|l|), in [0, 1]: it cannot overflow
    nll_entries, dlogits = np.empty_like(logits), np.empty_like(logits)  # (N, D) each
    kernels.bernoulli_nll_parts(logits.reshape(-1), x.reshape(-1), e.reshape(-1),
                                logits.dtype.type(1.0 / n), nll_entries.reshape(-1), dlogits.reshape(-1))
    return nll_entries.sum(axis=1), dlogits  # (N,), (N, D)


def gaussian_nll(mean, x, variance=1.0):
    """Negative log-likelihood of x under N(mean, variance * I) with a fixed variance.

        nll_n = 0.5 * sum_d [ (x - m)^2 / s2 + log(2 pi s2) ]
        d mean_n(nll_n) / d m = (m - x) / (s2 N)

    Parameters
    ----------
    mean, x : (N, D)    variance : positive float s2

    Returns
    -------
    nll : (N,)   dmean : (N, D)
    """
    if not variance > 0:
        raise ValueError(f"variance must be positive, got {variance}")
    n, d = mean.shape
    diff = mean - x
    nll = 0.5 * ((diff * diff).sum(axis=1) / variance + d * (LOG_2PI + np.log(variance)))
    return nll.astype(mean.dtype), diff / (variance * n)


def gaussian_nll_learned_variance(mean, logvar, x):
    """Negative log-likelihood of x under N(mean, diag(exp(logvar))), both predicted by the decoder.

        nll_n = 0.5 * sum_d [ (x - m)^2 exp(-lv) + lv + log(2 pi) ]
        d mean_n(nll_n) / d m  = (m - x) exp(-lv) / N
        d mean_n(nll_n) / d lv = 0.5 * (1 - (x - m)^2 exp(-lv)) / N

    Parameters
    ----------
    mean, logvar, x : (N, D)

    Returns
    -------
    nll : (N,)   dmean : (N, D)   dlogvar : (N, D)
    """
    n, d = mean.shape
    diff = mean - x
    inv_var = np.exp(-logvar)
    sq = diff * diff * inv_var
    nll = 0.5 * (sq + logvar).sum(axis=1) + 0.5 * d * LOG_2PI
    return nll.astype(mean.dtype), diff * inv_var / n, 0.5 * (1 - sq) / n


def logsumexp(a, axis=-1):
    """log sum_i exp(a_i) along ``axis``, without overflow or underflow.

        logsumexp(a) = m + log sum_i exp(a_i - m),      m = max_i a_i

    After the shift the largest term is exp(0) = 1, so the sum lies in [1, n]: nothing overflows (a = +1000) and the
    sum cannot underflow to 0 (a = -1000). A slice that is all -inf gives -inf (the log of a zero sum).

    Parameters
    ----------
    a : array of floats    axis : the axis to reduce

    Returns
    -------
    array of a.shape without ``axis``, float64

    Example
    -------
    >>> logsumexp(np.array([1000.0, 1000.0]))   # log(2 e^1000) = 1000 + log 2
    1000.6931471805599
    """
    a = np.asarray(a, dtype=np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # an all -inf slice: shift by 0, the sum is 0, the log -inf
    shifted = a - m
    np.exp(shifted, out=shifted)  # in place: one array, not two, for a large a
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(shifted, axis=axis, keepdims=True)) + m
    out = np.squeeze(out, axis=axis)
    return float(out) if out.ndim == 0 else out


def log_softmax_blocks(logits, block_size):
    """Log-softmax over consecutive blocks of ``block_size`` columns: (N, P*K) -> (N, P, K), K = block_size.

        log softmax(l)_k = l_k - log sum_j exp(l_j) = (l_k - m) - log sum_j exp(l_j - m),   m = max_j l_j

    Subtracting the block maximum m first (the "max shift") changes nothing mathematically, but then the largest
    exponent is exp(0) = 1: no overflow for logits of +1000 and no log(0) for logits of -1000.

    Parameters
    ----------
    logits : (N, P*K) float array, P blocks of K logits side by side
    block_size : K, the number of categories of each block

    Returns
    -------
    log_p : (N, P, K), each block's log-probabilities (exp(log_p) sums to 1 over the last axis)
    """
    n, width = logits.shape
    if block_size < 1 or width % block_size:
        raise ValueError(f"logits have {width} columns, not a multiple of the block size {block_size}; "
                         f"a categorical likelihood over K categories needs P*K columns (P blocks of K)")
    blocks = logits.reshape(n, width // block_size, block_size)  # (N, P, K)
    shifted = blocks - blocks.max(axis=2, keepdims=True)  # max shift: every entry <= 0
    return shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))


def categorical_nll(logits, x, block_size):
    """Negative log-likelihood of one-hot blocks x under a softmax over each block of logits (the cross-entropy).

    With K = block_size, x and the logits l hold P blocks of K columns side by side: x[n, p*K + k] = x_{n,p,k}.

        nll_n = -sum_p sum_k x_{n,p,k} log softmax(l_{n,p})_k
        d mean_n(nll_n) / d l_{n,p,k} = (softmax(l_{n,p})_k - x_{n,p,k}) / N

    The gradient uses sum_k x_{n,p,k} = 1 (a one-hot block, or any probability vector): the exact derivative is
    (softmax_k * sum_j x_j - x_k) / N, and that is what is computed, so it stays exact even then. The log-softmax is
    the stable one of ``log_softmax_blocks``: logits of +/-1000 give finite values.

    Parameters
    ----------
    logits : (N, P*K) float array
    x : (N, P*K) targets, each block one-hot or a probability vector (``likelihoods.Categorical.check_target``
        enforces it; this function does not check)
    block_size : K

    Returns
    -------
    nll : (N,)   dlogits : (N, P*K)
    """
    n = logits.shape[0]
    log_p = log_softmax_blocks(logits, block_size)  # (N, P, K)
    xb = x.reshape(log_p.shape)
    nll = -(xb * log_p).sum(axis=(1, 2))
    dlogits = (np.exp(log_p) * xb.sum(axis=2, keepdims=True) - xb) / n
    return nll.astype(logits.dtype), dlogits.reshape(logits.shape).astype(logits.dtype)


def token_nll(logits, targets, mask=None):
    """Negative log-likelihood of token sequences: a softmax over the vocabulary at every step, padding masked.

    With m the mask (1 at a real token, 0 at padding) and y the target ids,

        log p(y_{n,t}) = l_{n,t,y} - log sum_v exp(l_{n,t,v})             (log-softmax, after the max shift)
        nll_n = -sum_t m_{n,t} log p(y_{n,t})                              (nats per sequence, real steps only)
        d mean_n(nll_n) / d l_{n,t,v} = m_{n,t} (softmax(l_{n,t})_v - [v = y_{n,t}]) / N

    The reduction, as everywhere in minivae: sum over the steps of a sequence, mean over the N sequences. Per token,
    divide instead by the number of real tokens: ``nll.sum() / mask.sum()`` (its exp is the perplexity). The max of
    each step's logits is subtracted before exp (as in ``log_softmax_blocks``): logits of +/-1000 give finite values.

    Parameters
    ----------
    logits : (N, T, V) float array, V the vocabulary size (a ``SequenceLinear`` layer's output)
    targets : (N, T) integer ids, in [0, V) at the real steps; at padded steps they are not read (the <pad> id, or -1)
    mask : (N, T) bool, True at a real token (``minivae.nn.sequence.mask_from_lengths``); None: every step is real

    Returns
    -------
    nll : (N,) in the logits' dtype    dlogits : (N, T, V), exactly 0 at the padded steps

    Example
    -------
    >>> logits = np.zeros((1, 3, 4))                      # uniform over 4 tokens
    >>> nll, dlogits = token_nll(logits, np.array([[2, 0, 0]]), np.array([[True, True, False]]))
    >>> round(float(nll[0] / np.log(4)), 12), bool((dlogits[0, 2] == 0).all())   # two real steps of log 4 nats
    (2.0, True)
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    if logits.ndim != 3 or logits.dtype.kind != "f":
        raise ValueError(f"logits must be a float array of shape (N, T, V), got {logits.dtype} {logits.shape}")
    N, T, V = logits.shape
    if targets.shape != (N, T) or targets.dtype.kind not in "iu":
        raise ValueError(f"targets must be integer token ids of shape (N, T) = {(N, T)}, got {targets.dtype} "
                         f"{targets.shape}")
    mask = check_mask(mask, (N, T))
    bad = mask & ((targets < 0) | (targets >= V))
    if bad.any():
        n, t = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"target id {int(targets[n, t])} at (sequence {n}, step {t}) is outside the vocabulary "
                         f"[0, {V}) of the logits; check the vocabulary size of the output layer")
    ids = np.where(mask, targets, 0)[..., None]  # (N, T, 1), any valid id at padding
    e = logits - logits.max(axis=2, keepdims=True)  # (N, T, V), every entry <= 0
    shifted_target = np.take_along_axis(e, ids, axis=2)[..., 0]  # (N, T)
    np.exp(e, out=e)
    total = e.sum(axis=2)  # (N, T), in [1, V]
    log_p = shifted_target - np.log(total)
    nll = np.where(mask, -log_p, 0).sum(axis=1)
    w = (mask / N).astype(logits.dtype)  # (N, T): m / N
    dlogits = e  # softmax * w, then - w at the target
    dlogits *= (w / total)[..., None]
    dlogits.reshape(N * T, V)[np.arange(N * T), ids.reshape(-1)] -= w.reshape(-1)  # one target per row
    return nll.astype(logits.dtype), dlogits


def log_normal(x, mu, logvar):
    """Log density of a diagonal Gaussian, summed over the last axis.

        log N(x; mu, diag(exp(logvar))) = -0.5 * sum_j [ log(2 pi) + logvar_j + (x_j - mu_j)^2 exp(-logvar_j) ]

    x, mu, logvar : (N, L) (or any shapes that broadcast)  ->  (N,) float64, in nats. (``gaussian_nll_learned_variance``
    is minus the same, in the data's dtype and with its gradient.)
    """
    x, mu, logvar = (np.asarray(a, dtype=np.float64) for a in (x, mu, logvar))
    return -0.5 * np.sum(LOG_2PI + logvar + (x - mu) ** 2 * np.exp(-logvar), axis=-1)


def log_normal_of_noise(eps, logvar):
    """log N(z; mu, diag(exp(logvar))) at z = mu + exp(0.5 * logvar) * eps, computed from the noise eps itself.

        (z - mu)^2 / sigma^2 = eps^2,  so  log q(z) = -0.5 * sum_j [ log(2 pi) + logvar_j + eps_j^2 ]

    with no cancellation in (z - mu) / sigma. eps, logvar : shapes that broadcast, (..., L) -> (...,) float64.
    """
    eps, logvar = np.asarray(eps, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    return -0.5 * np.sum(LOG_2PI + logvar + eps * eps, axis=-1)


def log_standard_normal(z):
    """log N(z; 0, I) = -0.5 * sum_j [ log(2 pi) + z_j^2 ], summed over the last axis: (N, L) -> (N,) float64."""
    z = np.asarray(z, dtype=np.float64)
    return -0.5 * np.sum(LOG_2PI + z * z, axis=-1)
