"""Operations in the latent space: interpolation, traversal, grids, latent arithmetic, active units.

A trained VAE maps each example x to a Gaussian q(z | x) = N(mu(x), diag(sigma^2(x))) in a space of L dimensions,
and the decoder maps any code z back to an image. Everything here works with the *encoder means* mu(x) (the centre
of q, no noise) and with codes that we choose ourselves, then asks the decoder what they look like:

* ``lerp`` / ``slerp`` / ``interpolate``  -- walk from one code to another (White 2016);
* ``traverse``                           -- change one coordinate of a code, keep the others;
* ``grid_values`` / ``grid_codes``       -- the grid behind the "learned manifold" figure (Kingma & Welling 2013);
* ``attribute_vector`` / ``class_means`` -- latent arithmetic: directions and centres of groups of examples;
* ``active_units``                       -- which latent dimensions the model actually uses (Burda et al. 2016).

Codes are returned as float64 arrays; the model converts them to its own dtype when it decodes them.
The functions accept a VAE (``encode`` returns ``(mu, logvar)``) or an Autoencoder (``encode`` returns the code);
those that only encode (active units, encoder means) a SequenceVAE too, x being its token ids (N, T). The mutual
information between x and z, the other measure of how much of z a model uses, is in ``minivae.apps.evaluation``.
"""
from statistics import NormalDist

import numpy as np

from minivae.validation import check_finite, check_positive_int

# The angle (radians) under which two codes count as parallel for slerp, which then falls back to lerp.
_PARALLEL_ANGLE = 1e-6


# -- checks shared by the functions below -----------------------------------------------------------------------------

def _check_model(model):
    """A model that is not conditional (these tools encode and decode without labels), with the contract's parts."""
    for name in ("encode", "decode", "latent_dim", "conditional"):
        if not hasattr(model, name):
            raise TypeError(f"expected a model with encode, decode, latent_dim and conditional (a minivae VAE or "
                            f"Autoencoder), got {type(model).__name__} without {name!r}")
    if model.conditional:
        raise ValueError(f"{type(model).__name__} is conditional: its latent space is read with labels, which these "
                         "tools do not take; use a VAE or an Autoencoder")


def _check_n(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n, the number of points, must be an integer >= 2 (the two ends), got {n!r}")
    return int(n)


def _check_dim(dim, latent_dim, name="dim"):
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 0 <= dim < latent_dim:
        raise ValueError(f"{name} must be an integer in [0, {latent_dim - 1}] (the latent space has "
                         f"{latent_dim} dimension(s)), got {dim!r}")
    return int(dim)


def _check_code(z, name, length=None):
    """A single code as a float64 vector (L,); a batch of one, (1, L), is accepted too."""
    arr = np.asarray(z)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be one vector of shape (L,), got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} must have length {length}, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    check_finite(arr, name)
    return arr


def _one_example(x, name):
    """A single example as a batch of one, (1, D); the model checks D."""
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] != 1:
        raise ValueError(f"{name} must be one example of shape (D,) (or (1, D)), got shape {arr.shape}")
    return arr


# -- encoder means ----------------------------------------------------------------------------------------------------

def encoder_means(model, x, batch_size=1000):
    """The encoder means mu(x) of a dataset, computed batch by batch: (N, D) -> (N, L), float64.

    For a VAE this is the mean of q(z | x) (the first output of ``model.encode``); for an Autoencoder, its code.
    Batching bounds the memory of the hidden activations to ``batch_size`` rows at a time.

    Example
    -------
    >>> vae = VAE(784, latent_dim=2, hidden=(16,))
    >>> encoder_means(vae, np.zeros((5, 784))).shape
    (5, 2)
    """
    _check_model(model)
    batch_size = check_positive_int(batch_size, "batch_size")
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch of shape (N, D), got shape {x.shape}")
    out = np.empty((len(x), model.latent_dim), dtype=np.float64)
    for start in range(0, len(x), batch_size):
        codes = model.encode(x[start:start + batch_size])
        out[start:start + batch_size] = codes[0] if isinstance(codes, tuple) else codes  # VAE: (mu, logvar)
    return out


# -- interpolation ----------------------------------------------------------------------------------------------------

def lerp(z0, z1, n):
    """Linear interpolation: n evenly spaced points from z0 to z1, both ends included.

        z(t) = (1 - t) z0 + t z1,     t = 0, 1/(n-1), ..., 1

    z0, z1 : (L,)    n : int >= 2    Returns (n, L); row 0 is z0 and row n-1 is z1.

    Example
    -------
    >>> lerp(np.zeros(2), np.ones(2), 3)
    array([[0. , 0. ],
           [0.5, 0.5],
           [1. , 1. ]])
    """
    z0, z1, n = _check_code(z0, "z0"), _check_code(z1, "z1"), _check_n(n)
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same length, got shapes {z0.shape} and {z1.shape}")
    t = np.linspace(0.0, 1.0, n)[:, None]  # (n, 1)
    out = (1 - t) * z0 + t * z1  # (n, L)
    out[-1] = z1  # exactly, without rounding
    return out


def slerp(z0, z1, n):
    """Spherical linear interpolation (White 2016, "Sampling Generative Networks"), both ends included.

        omega = arccos( z0 . z1 / (|z0| |z1|) )                     the angle between the two codes
        z(t)  = sin((1 - t) omega) / sin(omega) * z0 + sin(t omega) / sin(omega) * z1,     t in [0, 1]

    The path follows the great circle from the direction of z0 to the direction of z1; when |z0| = |z1| every point
    keeps that norm. When the angle is ~0 (parallel codes) or ~pi (opposite codes), or a code is zero, sin(omega)
    is ~0, the great circle is not defined, and slerp falls back to ``lerp``.

    Why slerp suits a Gaussian prior: a sample z ~ N(0, I_L) has |z|^2 ~ chi^2_L, whose mean is L and whose
    standard deviation is sqrt(2L), so for large L the norms concentrate near sqrt(L): the prior's mass lives in a
    thin shell, not near the origin. The midpoint of lerp between two such codes has norm about sqrt(L / 2)
    (two nearly orthogonal vectors of norm sqrt(L), halved and added), a region the decoder almost never saw in
    training; slerp stays on the shell, so its images look like typical samples all the way.

    z0, z1 : (L,)    n : int >= 2    Returns (n, L); row 0 is z0 and row n-1 is z1.

    Example
    -------
    >>> np.round(slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3), 4)
    array([[1.    , 0.    ],
           [0.7071, 0.7071],
           [0.    , 1.    ]])
    """
    z0, z1, n = _check_code(z0, "z0"), _check_code(z1, "z1"), _check_n(n)
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same length, got shapes {z0.shape} and {z1.shape}")
    norm0, norm1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if norm0 == 0 or norm1 == 0:
        return lerp(z0, z1, n)
    omega = np.arccos(np.clip(z0 @ z1 / (norm0 * norm1), -1.0, 1.0))
    if omega < _PARALLEL_ANGLE or np.pi - omega < _PARALLEL_ANGLE:
        return lerp(z0, z1, n)
    t = np.linspace(0.0, 1.0, n)[:, None]  # (n, 1)
    out = (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)  # (n, L)
    out[0], out[-1] = z0, z1  # exactly, without rounding
    return out


def interpolate(model, x0, x1, n=10, method="linear"):
    """Decoded images along a path between the encoder means of two examples.

        z0 = mu(x0), z1 = mu(x1);  z_k = lerp or slerp(z0, z1)_k;  returns decode(z_k)   (the mean of p(x | z_k))

    model : VAE or Autoencoder    x0, x1 : one example each, (D,)    n : number of points, >= 2
    method : "linear" (lerp) or "spherical" (slerp)    Returns (n, D).

    Example
    -------
    >>> interpolate(vae, x_test[0], x_test[1], n=8, method="spherical").shape
    (8, 784)
    """
    _check_model(model)
    paths = {"linear": lerp, "spherical": slerp}
    if method not in paths:
        raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")
    means = encoder_means(model, np.concatenate([_one_example(x0, "x0"), _one_example(x1, "x1")]))  # (2, L)
    return model.decode(paths[method](means[0], means[1], n))


# -- traversal and the manifold grid ----------------------------------------------------------------------------------

def traverse(model, z, dim, values):
    """Decoded images of the base code z with coordinate ``dim`` set to each of ``values`` in turn.

        z_k = z;  z_k[dim] = values[k];  returns decode(z_k)

    A traversal shows what one latent dimension encodes (stroke width, slant, ...) when the others stay fixed.

    model : VAE or Autoencoder    z : base code (L,)    dim : int in [0, L)    values : (K,) the coordinates
    Returns (K, D).

    Example
    -------
    >>> traverse(vae, np.zeros(vae.latent_dim), dim=0, values=np.linspace(-3, 3, 7)).shape
    (7, 784)
    """
    _check_model(model)
    z = _check_code(z, "z", model.latent_dim)
    dim = _check_dim(dim, model.latent_dim)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array of coordinates, got shape {values.shape}")
    check_finite(values, "values")
    codes = np.tile(z, (len(values), 1))  # (K, L)
    codes[:, dim] = values
    return model.decode(codes)


def grid_values(n, extent=0.95):
    """n coordinates spaced by equal probability under N(0, 1): the inverse Gaussian CDF of a linear grid.

        p_k = (1 - extent) / 2 + extent * k / (n - 1),   k = 0..n-1;      v_k = Phi^{-1}(p_k)

    ``extent`` is the central probability mass that the grid spans: 0.95 gives v from -1.96 to +1.96. Equal steps
    in p give steps in z that widen away from 0, so every cell of the grid holds the same prior mass
    (Kingma & Welling 2013, Fig. 4). Returns (n,), increasing and symmetric about 0.

    Example
    -------
    >>> np.round(grid_values(3), 3)
    array([-1.96,  0.  ,  1.96])
    """
    n = _check_n(n)
    if not 0 < extent < 1:
        raise ValueError(f"extent is the probability mass covered per axis and must lie in (0, 1), got {extent!r}")
    p = np.linspace((1 - extent) / 2, (1 + extent) / 2, n)
    values = np.array([NormalDist().inv_cdf(float(pk)) for pk in p])
    return (values - values[::-1]) / 2  # exactly antisymmetric (v_k = -v_{n-1-k}), without rounding differences


def grid_codes(n, dims=(0, 1), latent_dim=2, base=None, extent=0.95):
    """Codes on an n x n grid over two latent dimensions, in the order of an image grid read like text.

    Coordinates: v = grid_values(n, extent) on both axes. Code number r * n + c (row r from the top, column c from
    the left) has
        z[dims[0]] = v[c]             (first dim increases to the right)
        z[dims[1]] = v[n - 1 - r]     (second dim decreases downwards, like the y axis of a plot)
    and every other dimension equal to base (default 0, the prior's mean). For latent_dim > 2 the grid is a 2-D
    slice through the latent space.

    n : points per axis (>= 2)    dims : two different dimensions    latent_dim : L    base : (L,) or None
    extent : probability mass per axis, see grid_values    Returns (n * n, L).

    Example
    -------
    >>> grid_codes(3)[[0, 2, 6]]     # top left, top right, bottom left
    array([[-1.95996398,  1.95996398],
           [ 1.95996398,  1.95996398],
           [-1.95996398, -1.95996398]])
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    if latent_dim < 2:
        raise ValueError("a grid needs a latent space of at least 2 dimensions, got latent_dim=1")
    d0, d1 = _check_dims(dims, latent_dim)
    values = grid_values(n, extent)
    base = np.zeros(latent_dim) if base is None else _check_code(base, "base", latent_dim)
    codes = np.tile(base, (len(values) ** 2, 1))  # (n*n, L)
    right, up = np.meshgrid(values, values[::-1])  # (n, n) each: [r, c] -> v[c], v[n-1-r]
    codes[:, d0] = right.ravel()
    codes[:, d1] = up.ravel()
    return codes


def _check_dims(dims, latent_dim):
    try:
        d0, d1 = dims
    except (TypeError, ValueError):
        raise ValueError(f"dims must be a pair of latent dimensions such as (0, 1), got {dims!r}") from None
    d0, d1 = _check_dim(d0, latent_dim, "dims[0]"), _check_dim(d1, latent_dim, "dims[1]")
    if d0 == d1:
        raise ValueError(f"dims must be two different dimensions, got {dims!r}")
    return d0, d1


# -- latent arithmetic ------------------------------------------------------------------------------------------------

def attribute_vector(model, x, mask):
    """The direction of an attribute in latent space: mean code of the examples that have it minus the others'.

        a = mean_{n: mask_n} mu(x_n) - mean_{n: not mask_n} mu(x_n)              (L,)

    Adding a to a code adds the attribute, e.g. ``mask = (y == 1)`` gives a "towards the digit 1" direction.
    x : (N, D)    mask : (N,) booleans, with at least one True and one False.

    Example
    -------
    >>> a = attribute_vector(vae, x_test, y_test == 1)
    >>> more_like_a_one = vae.decode(encoder_means(vae, x_test[:1]) + a)
    """
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be an array of booleans (e.g. y == 1), got dtype {mask.dtype}")
    x = np.asarray(x)
    if mask.shape != (len(x),):
        raise ValueError(f"mask must have shape (N,) = ({len(x)},), one flag per example, got {mask.shape}")
    if mask.all() or not mask.any():
        raise ValueError(f"mask must select some examples but not all ({int(mask.sum())} of {len(mask)} selected): "
                         "the vector compares the examples with the attribute to those without")
    means = encoder_means(model, x)  # (N, L)
    return means[mask].mean(axis=0) - means[~mask].mean(axis=0)


def class_means(model, x, y, n_classes=None):
    """The mean encoder mean of each class: row k = mean_{n: y_n = k} mu(x_n).   Returns (n_classes, L).

    y : (N,) integer labels 0..n_classes-1    n_classes : default max(y) + 1; every class needs an example.

    Example
    -------
    >>> centres = class_means(vae, x_test, y_test)      # (10, L) for MNIST
    >>> vae.decode(centres)                              # a "typical" image of each digit
    """
    y = np.asarray(y)
    x = np.asarray(x)
    if y.dtype.kind not in "iu" or y.shape != (len(x),):
        raise ValueError(f"y must be integer labels of shape (N,) = ({len(x)},), got dtype {y.dtype} and "
                         f"shape {y.shape}")
    if len(y) and y.min() < 0:
        raise ValueError(f"labels must be 0, 1, 2, ..., got {int(y.min())}")
    means = encoder_means(model, x)  # (N, L); also checks that x is a non-empty batch
    n_classes = int(y.max()) + 1 if n_classes is None else check_positive_int(n_classes, "n_classes")
    counts = np.bincount(y, minlength=n_classes)
    if len(counts) > n_classes:
        raise ValueError(f"y holds label {int(y.max())}, but n_classes={n_classes}")
    if (counts == 0).any():
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no examples in y; pass examples of "
                         "every class, or relabel the classes as 0, 1, 2, ...")
    sums = np.zeros((n_classes, model.latent_dim))
    np.add.at(sums, y, means)
    return sums / counts[:, None]


# -- how many dimensions are used -------------------------------------------------------------------------------------

def active_units(model, x, threshold=0.01, batch_size=1000):
    """Count the active latent units (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders").

        A_j = Var_x( E_{q(z | x)}[z_j] ) = Var_n( mu_j(x_n) );        unit j is active if A_j > threshold

    An inactive unit has the same posterior mean for every input: the decoder cannot learn anything from it, and its
    KL term can fall to zero (the posterior equals the prior; "posterior collapse"). The variance is the population
    variance over the N examples (divided by N), computed in float64 from encoder means obtained in batches.

    x : (N, D), N >= 2    threshold : 0.01 in the paper    Returns (count, variances) with variances of shape (L,).

    Example
    -------
    >>> count, variances = active_units(vae, x_test)
    >>> print(f"{count} of {vae.latent_dim} latent units are active")
    """
    if not threshold >= 0:
        raise ValueError(f"threshold must be a non-negative number (0.01 in Burda et al.), got {threshold!r}")
    return count_active(encoder_means(model, x, batch_size), threshold)


def count_active(means, threshold=0.01):
    """``active_units`` from the encoder means (N, L) already computed: (count, variances (L,))."""
    if len(means) < 2:
        raise ValueError(f"a variance over examples needs at least 2 examples, got {len(means)}")
    variances = np.asarray(means, dtype=np.float64).var(axis=0)  # (L,)
    return int((variances > threshold).sum()), variances
