"""How good is a trained VAE? Log-likelihood estimates, bits per dimension (or per token), the mutual information
between x and z, and active units.

The ELBO is a lower bound on log p(x), and a loose one when q(z | x) is far from the true posterior p(z | x). The
importance-weighted bound of Burda, Grosse & Salakhutdinov (2016, "Importance Weighted Autoencoders", eq. 8) is a
tighter one that approaches log p(x) as the number of samples K grows:

    L_K(x) = log (1/K) sum_{k=1..K} w_k,      w_k = p(x | z_k) p(z_k) / q(z_k | x),      z_k ~ q(z | x)

    E[L_1] = ELBO  <=  E[L_K]  <=  E[L_{K+1}]  <=  log p(x),      L_K -> log p(x) as K -> infinity.

The weights are tiny numbers (log w is around -100 nats for an MNIST digit), so everything is done with logarithms
and the sum with the log-sum-exp trick. Reported numbers follow the convention of the whole library: nats per
example, summed over the data dimensions, averaged over the examples. For token sequences (a SequenceVAE), an
example is a sequence and its dimensions are its tokens: the NLL per token divides by the number of real tokens
after <bos> (<eos> included), and its exp is the perplexity.

Example
-------
>>> from minivae import VAE
>>> from minivae.datasets import load_mnist_test_10k
>>> vae = VAE(784, latent_dim=8, hidden=(64,))
>>> x = load_mnist_test_10k().x_test[:50]
>>> log_px = importance_weighted_bound(vae, x, k=100, rng=np.random.default_rng(0))   # (50,), nats
>>> evaluate(vae, x, rng=np.random.default_rng(0), k=100)["neg_iw_bound"]            # mean -log p(x), nats
"""
import numpy as np

from minivae.apps.latent import active_units, count_active
from minivae.datasets.text import PAD_ID
from minivae.models.iwae import iw_bound, log_importance_weights
from minivae.nn import kernels



# ------------------------------------------------------------------------------------------------ building blocks
def bits_per_dim(nats_per_example, n_dims):
    """Convert a negative log-likelihood in nats per example to bits per data dimension.

        bits/dim = nats / (D ln 2)

    The usual unit to compare image models across image sizes. It is a probability (a code length) only for
    discrete data, e.g. binarized MNIST: then it is >= 0, and 1 bit/dim means one fair coin flip per pixel. For
    continuous data, log p(x) is a *density*, which can exceed 1, so "bits/dim" can be negative and depends on the
    scale of the data; compare such numbers only between models of the same data.

    Example
    -------
    >>> bits_per_dim(784 * np.log(2), 784)
    1.0
    """
    if not (isinstance(n_dims, (int, np.integer)) and n_dims >= 1):
        raise ValueError(f"n_dims must be a positive integer (the number of data dimensions D), got {n_dims!r}")
    out = np.asarray(nats_per_example, dtype=np.float64) / (n_dims * np.log(2.0))
    return float(out) if out.ndim == 0 else out


def nats_per_token(nats_per_sequence, ids):
    """A negative log-likelihood of token sequences in nats per token, over a whole set of sequences.

        nats/token = sum_n nll_n / sum_n n_tokens(x_n),      perplexity = exp(nats/token)

    n_tokens counts the real ids after <bos> (<eos> included), the tokens that p(x) predicts; a corpus-level ratio
    (the total over the total, as language models report it), not a mean of per-sequence ratios.

    nats_per_sequence : (N,)    ids : (N, T) token ids padded with <pad> = 0    Returns a float.

    Example
    -------
    >>> nats_per_token(np.array([3.0, 3.0]), np.array([[1, 5, 2], [1, 2, 0]]))   # 6 nats over 3 tokens
    2.0
    """
    nll, ids = np.asarray(nats_per_sequence, dtype=np.float64), np.asarray(ids)
    if ids.ndim != 2 or ids.shape[1] < 2 or nll.shape != (len(ids),):
        raise ValueError(f"expected one value per sequence (N,) and ids (N, T >= 2), got {nll.shape} and {ids.shape}")
    return float(nll.sum() / np.count_nonzero(ids[:, 1:] != PAD_ID))


# ------------------------------------------------------------------------------------------ importance weighting
def _check_k(k, name="k (the number of importance samples)"):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, e.g. np.random.default_rng(0), got {type(rng).__name__}")
    return rng


def importance_weighted_bound(model, x, k=100, rng=None, batch_size=4096, eps=None, condition=None):
    """Per-example importance-weighted estimate of log p(x) (Burda et al. 2016), in nats.

        L_K(x) = log (1/K) sum_k exp(log w_k) = logsumexp_k(log w_k) - log K,      z_k ~ q(z | x)

    with log w_k from ``minivae.models.iwae.log_importance_weights`` (the bound's one home). Properties (and tests):

    * K = 1: log w_1 = log p(x | z_1) - [log q(z_1 | x) - log p(z_1)], a one-sample ELBO whose KL term is estimated
      by Monte Carlo; its expectation is the ELBO of ``model.elbo`` (which uses the closed-form KL), and it has the
      same reconstruction term for the same noise.
    * E[L_K] grows with K and tends to log p(x); the gap is about Var(w) / (2 K E[w]^2).
    * If q(z | x) = p(z | x) exactly, every w_k equals p(x): L_K = log p(x) for every K, even K = 1.

    Memory: the decoder sees at most ``batch_size`` rows (example, sample) at a time; only the (N, K) log-weights
    of one block of examples are kept. For token sequences, (N, T) ids, a row is a whole sequence of T - 1 decoder
    steps (each with V logits), so the budget counts steps: at most batch_size // (T - 1) sequences per pass.

    Parameters
    ----------
    model : a VAE or a SequenceVAE      x : (N, D) data, or (N, T) token ids      k : number of importance samples K
    rng : np.random.Generator for the noise (or pass ``eps``, (N, K, L), to fix it)
    batch_size : maximum number of decoder rows (for sequences: decoder steps) per forward pass
    condition : the labels (N,) of a conditional model (then the bound is on log p(x | y))

    Returns
    -------
    (N,) float64: estimates of log p(x_n). Average them for the dataset's log-likelihood.

    The noise is drawn example by example in row order, so with K = 1 it is the same noise as
    ``model.elbo(x, rng)`` given an identically seeded rng.
    """
    if eps is not None:
        eps = np.asarray(eps)
        n, latent = np.shape(x)[0], model.latent_dim
        if eps.ndim != 3 or eps.shape[0] != n or eps.shape[2] != latent:
            raise ValueError(f"eps must have shape (N, K, L) = ({n}, K, {latent}), got {eps.shape}")
        return iw_bound(log_importance_weights(model, x, eps, condition))
    k = _check_k(k)
    _check_rng(rng)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = np.asarray(x)
    dtype = model.dtype
    if model.input_kind == "tokens" and x.ndim == 2:  # a row is a sequence of T - 1 decoder steps
        batch_size = max(1, batch_size // max(1, x.shape[1] - 1))
    n_block = max(1, min(len(x), batch_size // k))  # examples per block
    n_chunk = max(1, min(k, batch_size // n_block))  # samples per decoder pass
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), n_block):
        xb = x[start:start + n_block]
        yb = None if condition is None else np.asarray(condition)[start:start + n_block]
        log_w = np.empty((len(xb), k))  # (B, K)
        for s in range(0, k, n_chunk):
            m = min(n_chunk, k - s)
            eps_chunk = rng.standard_normal((len(xb), m, model.latent_dim), dtype=dtype)  # (B, m, L)
            log_w[:, s:s + m] = log_importance_weights(model, xb, eps_chunk, yb)
        out[start:start + len(xb)] = iw_bound(log_w)
    return out


# ------------------------------------------------------------------------------------------ how much z carries
def mutual_information(model, x, rng, n_samples=1, batch_size=1000):
    """I(x; z) under q, estimated on a batch (Hoffman & Johnson 2016; He et al. 2019, "Lagging Inference Networks").

        I(x; z) = E_x E_{q(z | x)}[log q(z | x)] - E_{q(z)}[log q(z)],      q(z) = E_x q(z | x), the aggregate posterior

    With S = n_samples codes z_ms ~ q(z | x_m) for each example (eps = rng.standard_normal((N, S, L))), and q(z)
    replaced by the mixture of the batch's N posteriors, (1/N) sum_n q(z | x_n) (its log by log-sum-exp):

        I ~= mean_{m, s} [ log q(z_ms | x_m) - log (1/N) sum_n q(z_ms | x_n) ]

    Its bias: the mixture holds the term q(z_ms | x_m) / N, so every term, and the estimate, is at most log N, which
    it reaches when the posteriors do not overlap. A model that carries more than about log N nats is
    underestimated: use a large batch (with 2000 examples, log N = 7.6 nats). It is 0 when every q(z | x_n) is the
    same Gaussian (posterior collapse), and near 0 it can come out a little negative (sampling noise; the true
    I(x; z) is >= 0). He et al. take the first term in closed form, -0.5 sum_j log(2 pi e sigma_j^2); using the same
    samples in both terms keeps the bound log N exact.

    Parameters
    ----------
    model : a VAE or a SequenceVAE (``encode`` -> mu, logvar)    x : (N, D), or (N, T) token ids, N >= 2
    rng : np.random.Generator for the noise    n_samples : S    batch_size : examples per encoder pass

    Returns
    -------
    float, nats.

    Example
    -------
    >>> mutual_information(vae, x_test[:2000], np.random.default_rng(0)) <= np.log(2000)
    True
    """
    if not getattr(model, "probabilistic", False) or getattr(model, "conditional", False):
        raise ValueError(f"{type(model).__name__} has no posterior q(z | x) without labels: the mutual information "
                         "needs a VAE or a SequenceVAE")
    _check_rng(rng)
    S = _check_k(n_samples, "n_samples")
    x = np.asarray(x)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"x must be a batch of at least 2 examples (the mixture needs them), got shape {x.shape}")
    return mutual_information_of_posteriors(*posteriors(model, x, batch_size), rng, S)


def posteriors(model, x, batch_size=1000):
    """The parameters of q(z | x_n) for every example, encoded ``batch_size`` rows at a time: (mu, logvar), each
    (N, L) float64."""
    parts = [model.encode(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return tuple(np.concatenate([p[j] for p in parts]).astype(np.float64) for j in (0, 1))


def mutual_information_of_posteriors(mu, logvar, rng, n_samples=1):
    """The estimate of ``mutual_information`` from the posteriors' parameters mu, logvar (N, L): float, nats.

    log q(z | x_n) = c_n - 0.5 z^2 . w_n + z . (mu_n w_n),  w_n = exp(-logvar_n),  c_n = -0.5 (L log 2 pi +
    sum_j logvar_nj + mu_n^2 . w_n): the square (z - mu_n)^2 opened up, so that all N posteriors at once are ONE
    product [z^2, z, 1] (N S, 2L + 1) @ [-0.5 w, mu w, c]^T (2L + 1, N), not an (N S, N, L) array of differences
    (50x faster at N = 2,000, L = 50), nor two products and three passes over their (N S, N) results (2x).
    The log-sum-exp over the N posteriors is ``kernels.logsumexp_rows``: ``logsumexp`` without the exp of the terms
    too small to change a float64 sum (the whole estimate 41 -> 16 ms on a VAE after three epochs, on a CPU without
    AVX-512, where NumPy's float64 exp runs one entry at a time).
    """
    N, L = mu.shape
    S = n_samples
    z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * rng.standard_normal((N, S, L))  # (N, S, L)
    z = z.reshape(N * S, L)
    own = np.repeat(np.arange(N), S)  # the example each code was drawn for
    w = np.exp(-logvar)
    c = -0.5 * (L * np.log(2 * np.pi) + logvar.sum(axis=1) + (mu * mu * w).sum(axis=1))  # (N,)
    coefficients = np.concatenate([-0.5 * w, mu * w, c[:, None]], axis=1).T.copy()  # (2L + 1, N)
    features = np.concatenate([z * z, z, np.ones((N * S, 1))], axis=1)  # (N S, 2L + 1)
    terms, rows = np.empty(N * S), max(1, 2**16 // N)  # codes per block: (rows, N) floats (0.5 MB, in cache)
    for i in range(0, N * S, rows):
        log_q = features[i:i + rows] @ coefficients  # (rows, N): log q(z_ms | x_n)
        log_own = log_q[np.arange(len(log_q)), own[i:i + rows]]  # log q(z_ms | x_m)
        terms[i:i + rows] = log_own - (kernels.logsumexp_rows(log_q, np.empty(len(log_q))) - np.log(N))
    return float(terms.mean())


# ---------------------------------------------------------------------------------------------------- summaries
def evaluate(model, x, rng, k=None, batch_size=1024):
    """A trained VAE's scores on a dataset, as a dict of floats (nats per example unless said otherwise).

    Keys
    ----
    "neg_elbo"          mean negative ELBO, -(1/N) sum_n ELBO(x_n) = reconstruction + kl (the training loss)
    "reconstruction"    mean -E_q[log p(x | z)] (one sample of z per example)
    "kl"                mean KL(q(z | x) || N(0, I)) (closed form)
    "neg_iw_bound"      mean -L_K(x), the importance-weighted estimate of -log p(x) (only if k is given); it is
                        <= neg_elbo on average, and the gap is how much the ELBO undersells the model
    "bits_per_dim"      the best of the two estimates above in bits per dimension (see :func:`bits_per_dim`:
                        a code length for discrete data, a density for continuous data); vectors only
    "nll_per_token", "perplexity", "n_tokens"
                        token sequences only, instead of bits_per_dim: the best estimate per token
                        (:func:`nats_per_token`), its exp, and the number of tokens it divides by
    "active_units"      number of latent units with Var_x(mu_j(x)) > 0.01 (Burda et al. 2016; computed by
                        ``minivae.apps.latent.active_units``)
    "mutual_information"
                        the estimate of I(x; z) on the first 2000 examples (:func:`mutual_information`), nats
    "n_examples", "k"   what the numbers were computed on

    A model with an exact log-likelihood and no latent variable (the SequenceLM) has "neg_log_likelihood", the mean
    -log p(x) itself, in place of the ELBO's keys and the bound, with the per-token keys, "n_examples" and "k" (None).

    Parameters
    ----------
    model : a VAE, a SequenceVAE or a SequenceLM    x : (N, D), or (N, T) token ids    rng : np.random.Generator
    k : importance samples, or None to skip the IW bound    batch_size : examples per forward pass
    """
    _check_rng(rng)
    x = np.asarray(x)
    if not model.probabilistic:
        return _exact_scores(model, x, batch_size)
    rec, kl = [], []
    for i in range(0, len(x), batch_size):
        terms = model.elbo(x[i:i + batch_size], rng=rng)
        rec.append(terms.reconstruction.astype(np.float64))
        kl.append(terms.kl.astype(np.float64))
    rec, kl = np.concatenate(rec), np.concatenate(kl)
    result = {"neg_elbo": float(np.mean(rec + kl)), "reconstruction": float(rec.mean()), "kl": float(kl.mean())}
    best = rec + kl  # (N,): the estimate of -log p(x_n) to report per dimension
    if k is not None:
        best = -importance_weighted_bound(model, x, k, rng, batch_size=4096)
        result["neg_iw_bound"] = float(best.mean())
    result.update(_per_dimension(model, best, x))
    result["active_units"] = active_units(model, x, batch_size=batch_size)[0]  # minivae.apps.latent
    result["mutual_information"] = mutual_information(model, x[:2000], rng, batch_size=batch_size)
    result["n_examples"], result["k"] = len(x), k
    return result


def _exact_scores(model, x, batch_size):
    """evaluate's dict for a model whose log p(x) is exact (``model.log_likelihood``): no bound, no latent units."""
    if not hasattr(model, "log_likelihood"):
        raise ValueError(f"{type(model).__name__} has no likelihood p(x) to evaluate (no prior, no exact "
                         "log-likelihood): evaluate a VAE, a SequenceVAE or a SequenceLM")
    nll = np.concatenate([-model.log_likelihood(x[i:i + batch_size]).astype(np.float64)
                          for i in range(0, len(x), batch_size)])  # (N,)
    return {"neg_log_likelihood": float(nll.mean()), **_per_dimension(model, nll, x), "n_examples": len(x), "k": None}


def _per_dimension(model, nats, x):
    """bits per dimension for vectors; nats per token, perplexity and the token count for sequences."""
    if model.input_kind != "tokens":
        return {"bits_per_dim": bits_per_dim(float(nats.mean()), model.input_dim)}
    per_token = nats_per_token(nats, x)
    return {"nll_per_token": per_token, "perplexity": float(np.exp(per_token)),
            "n_tokens": int(np.count_nonzero(x[:, 1:] != PAD_ID))}


def latent_use(model, x, seed=0, n=2000):
    """(active units, mutual information estimate in nats) on the first n examples of x, or (None, None) for a model
    without a posterior (or a conditional one, whose posterior also depends on the labels).

    Both say whether z is used at all: a collapsed posterior has 0 active units and I(x; z) near 0 (``active_units``,
    ``mutual_information``, with np.random.default_rng(seed)). The MI estimate is at most log(n): 7.6 nats for 2,000.
    The trainer reports both every epoch, so they share one encoder pass (``posteriors``).
    """
    if not model.probabilistic or model.conditional:
        return None, None
    mu, logvar = posteriors(model, x[:n])  # one encoder pass for both numbers
    return (count_active(mu)[0],
            mutual_information_of_posteriors(mu, logvar, np.random.default_rng(seed)))
