"""Filling in missing values with a trained VAE.

The data x (N, D) comes with a boolean ``mask`` (N, D): True where the value was OBSERVED, False where it is missing.
Write x = (x_obs, x_mis). The values of x at missing entries are ignored (they may be NaN). Observed values are never
changed: every method returns x with only the missing entries filled in.

Three methods, from the simplest to the most principled:

* ``mean_imputation``: each missing value becomes the mean of the observed values of its column. The baseline.
* ``impute(..., method="iterative")``: start from a fill (column means), then repeat
      mu = encoder_mean(x);  x_hat = E[x | z = mu];  x_mis <- x_hat_mis      (x_obs stays clamped)
  A simple, deterministic scheme (Rezende et al. 2014 iterate the same loop with samples: "pseudo-Gibbs"). It
  works well in practice but has no guarantee to reach p(x_mis | x_obs).
* ``impute(..., method="mcmc")``: the Metropolis-within-Gibbs sampler of Mattei & Frellsen (2018, "Leveraging the
  Exact Likelihood of Deep Latent Variable Models", algorithm 1), whose chain of (z, x_mis) has the exact conditional
  p(z, x_mis | x_obs) of the model as its stationary distribution. See :func:`metropolis_within_gibbs`.

``imputation_error`` measures a result: the mean squared error over the missing entries only, and ``missing_mask``
makes the masks of the usual experiments (the bottom or right half of each image, or entries missing at random).

Example
-------
>>> mask = rng.random(x.shape) > 0.5                       # half the pixels observed
>>> x_hat = impute(vae, x, mask, method="mcmc", rng=rng)
>>> imputation_error(x, x_hat, mask), imputation_error(x, mean_imputation(x, mask), mask)
"""
import numpy as np

from minivae.nn.losses import log_normal, log_normal_of_noise, log_standard_normal
from minivae.nn.reparam import reparameterize
from minivae.validation import check_positive_int

METHODS = ("iterative", "mcmc")
MISSING_KINDS = ("bottom", "right", "random")


# ------------------------------------------------------------------------------------------------------ checks
def _check_mask(x, mask):
    """x (N, D) array-like, mask (N, D) bool -> x as float64 with missing entries set to 0, mask."""
    mask = np.asarray(mask)
    x = np.asarray(x)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array (True = observed, False = missing), got dtype {mask.dtype}; "
                        "convert it with mask.astype(bool) if it holds 0/1")
    if x.ndim != 2 or mask.shape != x.shape:
        raise ValueError(f"x must be (N, D) and mask must have the same shape, got {x.shape} and {mask.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"x must hold real numbers, got an array of dtype {x.dtype}")
    x = np.where(mask, x, 0.0).astype(np.float64)  # missing values (possibly NaN) are never read
    if not np.isfinite(x).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"observed value x{list(bad)} is NaN or infinite; mark it as missing (mask False) instead")
    return x, mask


def _column_means(x, mask):
    """Mean of the observed values of each column (D,); a column with none gets the mean of all observed values."""
    counts = mask.sum(axis=0)
    if counts.sum() == 0:
        raise ValueError("every entry is missing: there is nothing to impute from")
    overall = x[mask].mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, (x * mask).sum(axis=0) / counts, overall)
    return means


# ------------------------------------------------------------------------------------------------------ masks
def missing_mask(kind, shape, image_shape=None, fraction=0.5, rng=None, blocks=None):
    """The observed-entry mask of an imputation experiment: (N, D) bool, True = observed, False = missing.

    kind : "bottom"   the bottom half of each image is missing: rows h >= H // 2 of the (H, W) image
           "right"    the right half of each image is missing: columns w >= W // 2
           "random"   each entry is missing independently with probability ``fraction`` (needs ``rng``)
    shape : (N, D), the shape of x    image_shape : (H, W) with H * W = D; needed by "bottom" and "right"
    fraction : P(missing) for "random", in [0, 1]    rng : np.random.Generator, for "random"
    blocks : for "random", the widths of the columns' blocks of x, summing to D (a table's one-hot categories
             take several entries): a whole block is missing or observed together, each with P(missing) = fraction

    Images are flattened row by row (as ``Dataset`` stores them), so "bottom" leaves the first (H // 2) * W entries
    of each row observed. With an odd H or W the missing half is the larger one: rows H // 2 .. H - 1.

    Example
    -------
    >>> mask = missing_mask("bottom", (2, 6), image_shape=(3, 2))
    >>> mask.astype(int).tolist()                                     # row 0 of each 3 x 2 image observed
    [[1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]]
    >>> mask = missing_mask("random", (1000, 10), fraction=0.3, rng=np.random.default_rng(0))
    >>> round(float(mask.mean()), 2)                                  # 70 % observed
    0.7
    """
    if kind not in MISSING_KINDS:
        raise ValueError(f"unknown kind of missing values {kind!r}; choose one of {MISSING_KINDS}")
    if len(shape) != 2:
        raise ValueError(f"shape must be (N, D), the shape of the data, got {shape}")
    n, d = shape
    if kind == "random":
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction (the probability that an entry is missing) must be in [0, 1], got {fraction}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"missing values at random need rng=np.random.default_rng(seed), got {rng!r}")
        if blocks is None:
            return rng.random(shape) >= fraction  # missing with probability fraction
        widths = np.asarray(blocks, dtype=int)
        if widths.sum() != d or (widths < 1).any():
            raise ValueError(f"blocks must be positive widths summing to D = {d}, got {list(blocks)}")
        return np.repeat(rng.random((n, len(widths))) >= fraction, widths, axis=1)  # (N, D)
    if image_shape is None:
        raise ValueError(f"a missing {kind} half needs images (an image_shape (H, W)); for data that are not "
                         "images, use missing values at random")
    h, w = image_shape
    if h * w != d:
        raise ValueError(f"image_shape {tuple(image_shape)} has {h * w} pixels, but the data have D = {d} columns")
    grid = np.ones((n, h, w), dtype=bool)  # (N, H, W)
    if kind == "bottom":
        grid[:, h // 2:, :] = False
    else:
        grid[:, :, w // 2:] = False
    return grid.reshape(n, d)


# ------------------------------------------------------------------------------------------------- baselines
def mean_imputation(x, mask):
    """Fill each missing entry with the mean of the observed entries of its column (D column means).

    x : (N, D), missing entries ignored    mask : (N, D) bool, True = observed    Returns (N, D) float64.
    A column with no observed value gets the mean of all observed values.
    """
    x, mask = _check_mask(x, mask)
    return np.where(mask, x, _column_means(x, mask))


def imputation_error(x_true, x_imputed, mask):
    """Mean squared error over the missing entries only:

        MSE = sum_{(n, d) missing} (x_true[n, d] - x_imputed[n, d])^2 / #missing

    Observed entries are left out: every method copies them, so they would only dilute the difference.
    """
    _check_mask(x_true, mask)
    missing = ~np.asarray(mask)
    x_true, x_imputed = np.asarray(x_true, dtype=np.float64), np.asarray(x_imputed, dtype=np.float64)
    if x_imputed.shape != x_true.shape:
        raise ValueError(f"x_imputed must have the shape of x_true {x_true.shape}, got {x_imputed.shape}")
    if not missing.any():
        raise ValueError("the mask marks no entry as missing (all True): there is no imputation error to measure")
    diff = x_true[missing] - x_imputed[missing]
    if not np.isfinite(diff).all():
        raise ValueError("x_true or x_imputed is NaN or infinite at a missing entry; the error needs the true values")
    return float(np.mean(diff ** 2))


# ------------------------------------------------------------------------------------------- the VAE methods
def _iterative(model, x, mask, fill, n_iter):
    dtype = model.dtype
    current = np.where(mask, x, fill).astype(dtype)
    for _ in range(n_iter):
        code = model.encode(current)  # a VAE: (mu, logvar); an Autoencoder: the code
        mu = code[0] if model.probabilistic else code  # (N, L)
        x_hat = model.decode(mu)  # E[x | z = mu], (N, D)
        current = np.where(mask, current, x_hat)  # observed entries stay clamped
    return np.where(mask, x, current)  # the observed values exactly as given, not rounded to the model's dtype


def metropolis_within_gibbs(model, x, mask, rng, n_iter=200, burn_in=None, fill=None):
    """Mattei & Frellsen (2018), algorithm 1: sample (z, x_mis) from p(z, x_mis | x_obs), one chain per row.

    Start: x_mis = fill (column means), z ~ q(z | x). Then, for t = 1..n_iter, with x = (x_obs, x_mis):

      1. z-step (Metropolis-Hastings, target p(z | x_obs, x_mis) ∝ p(x_obs, x_mis | z) p(z)): propose
         z' ~ q(z | x) (the encoder, evaluated at the current completed x) and accept it with probability

            rho = min(1, [p(x | z') p(z') q(z | x)] / [p(x | z) p(z) q(z' | x)])

         computed with logarithms. log p(x | z) is over ALL D dimensions of the current completed x, observed and
         imputed: that is the conditional of z in the joint p(z, x_mis | x_obs), which is what makes this a valid
         Gibbs step. (Using only the observed dimensions here would target p(z | x_obs) with a proposal that depends
         on x_mis, a mixture that has no such guarantee.)
      2. x_mis-step (exact Gibbs): x_mis ~ p(x_mis | z), the decoder's distribution at the new z (the likelihood
         factorises over dimensions, so the missing ones are drawn independently of the observed ones).

    If q were the exact posterior, every proposal would be accepted (rho = 1) and this would be a plain Gibbs
    sampler. The returned single imputation is the Monte Carlo estimate of E[x_mis | x_obs]: the average over the
    iterations after ``burn_in`` of E[x_mis | z_t] (averaging the decoder means, not the draws, lowers the variance).

    Parameters
    ----------
    model : a VAE (``encode``, ``decoder``, ``likelihood``)    x : (N, D)    mask : (N, D) bool, True = observed
    rng : np.random.Generator    n_iter : number of iterations T    burn_in : iterations discarded (default T // 2)
    fill : initial value of the missing entries (default: column means of the observed values)

    Returns
    -------
    x_imputed : (N, D) float64    acceptance_rate : float, the fraction of accepted z proposals over the chain
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"the mcmc method needs rng=np.random.default_rng(seed), got {rng!r}")
    n_iter = check_positive_int(n_iter, "n_iter")
    burn_in = n_iter // 2 if burn_in is None else burn_in
    if isinstance(burn_in, bool) or not isinstance(burn_in, (int, np.integer)) or not 0 <= burn_in < n_iter:
        raise ValueError(f"burn_in must be an integer in [0, n_iter) = [0, {n_iter}), got {burn_in!r}")
    x, mask = _check_mask(x, mask)
    dtype = model.dtype
    fill = _column_means(x, mask) if fill is None else fill
    lik = model.likelihood

    def log_joint(out, current, z):  # log p(x | z) + log p(z), (N,)
        return -lik.nll(out, current)[0].astype(np.float64) + log_standard_normal(z)

    current = np.where(mask, x, fill).astype(dtype)  # the completed x, (N, D)
    mu, logvar = model.encode(current)
    z = reparameterize(mu, logvar, rng.standard_normal(mu.shape, dtype=dtype)).astype(np.float64)
    out = model.decoder.forward(z.astype(dtype))
    total, n_kept, n_accepted = np.zeros_like(x), 0, 0
    for t in range(n_iter):
        # 1. z-step: propose from q(z | x_obs, x_mis), accept with the Metropolis-Hastings ratio
        mu, logvar = model.encode(current)
        mu, logvar = mu.astype(np.float64), logvar.astype(np.float64)
        eps = rng.standard_normal(mu.shape)
        z_new = reparameterize(mu, logvar, eps)
        out_new = model.decoder.forward(z_new.astype(dtype))
        log_rho = (log_joint(out_new, current, z_new) + log_normal(z, mu, logvar)
                   - log_joint(out, current, z) - log_normal_of_noise(eps, logvar))  # (N,)
        accept = np.log(rng.random(len(x))) < log_rho  # accept with probability min(1, rho)
        z = np.where(accept[:, None], z_new, z)
        out = np.where(accept[:, None], out_new, out)
        n_accepted += int(accept.sum())
        # 2. x_mis-step: draw the missing values from p(x_mis | z); the observed ones stay clamped
        current = np.where(mask, current, lik.sample(out, rng))
        if t >= burn_in:
            total += lik.mean(out)
            n_kept += 1
    x_imputed = np.where(mask, x, total / n_kept)
    return x_imputed, n_accepted / (n_iter * len(x))


def impute(model, x, mask, n_iter=None, method="iterative", rng=None, fill=None):
    """Fill in the missing entries of x with a trained VAE; observed entries are returned unchanged.

    Parameters
    ----------
    model : a VAE    x : (N, D), values at missing entries ignored (may be NaN)
    mask : (N, D) bool, True = observed, False = missing
    n_iter : iterations (default 20 for "iterative", 200 for "mcmc")
    method : "iterative" (deterministic: x_mis <- E[x_mis | z = mu(x)], repeated) or "mcmc" (Mattei & Frellsen's
             Metropolis-within-Gibbs, see :func:`metropolis_within_gibbs`; needs rng)
    fill : starting value of the missing entries; default the column means of the observed values

    Returns
    -------
    (N, D) float64. The likelihood decides what "a value" is: pixel probabilities for a Bernoulli decoder, means for
    a Gaussian one.
    """
    if method not in METHODS:
        raise ValueError(f"unknown imputation method {method!r}; choose one of {METHODS}")
    name = type(model).__name__
    if model.conditional:
        raise ValueError(f"{name} is conditional: imputation does not take labels; impute with a VAE or an "
                         "Autoencoder of the same data")
    if method == "mcmc" and not model.probabilistic:
        raise ValueError(f"Metropolis-within-Gibbs samples the posterior and the prior, which an {name} does not "
                         "have: use method='iterative' (--method iterative)")
    if method == "mcmc":
        return metropolis_within_gibbs(model, x, mask, rng, 200 if n_iter is None else n_iter, fill=fill)[0]
    n_iter = check_positive_int(20 if n_iter is None else n_iter, "n_iter")
    x, mask = _check_mask(x, mask)
    fill = _column_means(x, mask) if fill is None else fill
    return _iterative(model, x, mask, fill, n_iter)
