"""Input checks shared by the layers, losses and models.

Every public entry point calls one of these before it computes anything, so that a wrong shape, a NaN or an
integer image of 0..255 fails at once with a message that says what was wrong and what was expected, instead of
producing a silently wrong number three layers later. The last of them estimates the memory a model of given sizes
takes to train, so that sizes a user typed are refused with that estimate before the model is built.
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def check_dtype(dtype):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise TypeError."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 (to train) or float64 (to check gradients), got {dt}")
    return dt


def as_float_array(x, name, dtype, ndim=2, width=None, allow_empty=False):
    """Convert ``x`` to a C-contiguous array of ``dtype`` after checking it.

    Parameters
    ----------
    x : array-like of real numbers (bool, int or float)
    name : str, how the array is called in error messages ("x", "z", "logits", ...)
    dtype : the float dtype of the model
    ndim : required number of dimensions (2 for a batch of shape (N, D))
    width : required size of the last axis (D), or None
    allow_empty : whether N == 0 is accepted

    Raises
    ------
    TypeError for complex, object or string data; ValueError for a wrong shape, an empty batch, NaN or infinity.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim != ndim:
        hint = " (a single example? use x[None, :] to make a batch of one)" if arr.ndim == ndim - 1 else ""
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}{hint}")
    if width is not None and arr.shape[-1] != width:
        raise ValueError(f"{name} must have {width} columns (shape (N, {width})), got shape {arr.shape}")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is an empty batch (shape {arr.shape}); pass at least one example")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    check_finite(arr, name)
    return arr


CHECK_ROWS = 65_536  # check_finite looks at this many rows at a time: a table on disk is never read whole


def check_finite(arr, name):
    """Raise ValueError naming the count and first position of NaN or infinite entries.

    A large array (a memory-mapped table of millions of rows) is checked CHECK_ROWS rows at a time, so that the
    check needs no array of its size."""
    blocks = [arr] if arr.ndim == 0 or len(arr) <= CHECK_ROWS else [arr[s:s + CHECK_ROWS]
                                                                   for s in range(0, len(arr), CHECK_ROWS)]
    offset = 0
    for block in blocks:
        finite = np.isfinite(block)
        if not finite.all():
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            first = (first[0] + offset, *first[1:]) if first else first
            count = sum(int(np.count_nonzero(~np.isfinite(b))) for b in blocks)
            raise ValueError(
                f"{name} contains {count} NaN or infinite value(s), the first at index {first} "
                f"(value {arr[first]}); clean or impute the data before using it"
            )
        offset += len(block) if block.ndim else 0


def check_unit_interval(x, name="data"):
    """Raise ValueError unless every entry of ``x`` is in [0, 1] (the support of a Bernoulli likelihood's targets).

    NaN and infinity are refused too; an empty array passes. The message gives the range found and how to fix it.

    Example::

        >>> check_unit_interval(np.array([0.0, 0.5, 1.0]))   # fine, returns None
    """
    x = np.asarray(x)
    if x.size == 0:
        return
    lo, hi = x.min(), x.max()  # NaN propagates through min and max, so NaN fails the test below too
    if lo >= 0 and hi <= 1:
        return
    values = x.astype(np.float64, copy=False)
    nan = np.isnan(values)
    if nan.all():
        found = f"only NaN ({nan.size} values)"
    else:
        found = f"values in [{np.min(values[~nan]):g}, {np.max(values[~nan]):g}]"
        if nan.any():
            found += f" and {int(nan.sum())} NaN"
    raise ValueError(
        f"{name} must lie in [0, 1] for a Bernoulli likelihood, got {found}; rescale the data (0..255 images: divide "
        "by 255; a data file: pass --rescale, or rescale=True to load_dataset) or use a Gaussian likelihood "
        "(--likelihood gaussian)"
    )


def check_positive_int(value, name):
    """Raise ValueError unless value is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------------------------- memory of a model
MEMORY_LIMIT_BYTES = 8 * 2**30  # 8 GiB: the most one training run may ask of a laptop; larger models are refused


def training_memory_bytes(input_dim, hidden, latent_dim, batch_size=128, output_dim=None, itemsize=4):
    """About how many bytes training an MLP VAE (or autoencoder) takes, before it is built.

        P = parameters of the encoder D -> h1 -> ... -> hk -> 2L and the decoder L -> hk -> ... -> h1 -> D_out,
            where a Linear layer n_in -> n_out has n_in * n_out + n_out
        A = sum of the widths of every layer's output (what a forward pass keeps per example for the backward pass)

        bytes = 4 * P * itemsize           the parameters, their gradients, and Adam's two moments
              + 3 * B * A * itemsize       a batch of B: each layer's pre-activation, activation and gradient

    ``output_dim`` is the decoder's output width D_out (default D; 2 D for a Gaussian with a learned variance). The
    estimate leaves out what is small (the optimizer's scalars, one batch of data) and is meant to within a factor
    of about 2. Example: ``training_memory_bytes(784, (512,), 2)`` is about 15 MiB (807,700 parameters, as
    ``VAE(784, 2, hidden=(512,))`` has); a hidden layer of 10^9 units would take about 26,000 GiB.
    """
    output_dim = input_dim if output_dim is None else output_dim
    widths = [int(h) for h in hidden]
    encoder = [int(input_dim)] + widths + [2 * int(latent_dim)]
    decoder = [int(latent_dim)] + widths[::-1] + [int(output_dim)]
    parameters = sum(a * b + b for layers in (encoder, decoder) for a, b in zip(layers[:-1], layers[1:]))
    activations = sum(encoder[1:]) + sum(decoder[1:])
    return 4 * parameters * itemsize + 3 * int(batch_size) * activations * itemsize


def check_training_memory(input_dim, hidden, latent_dim, batch_size=128, output_dim=None, itemsize=4,
                          limit=MEMORY_LIMIT_BYTES):
    """Raise ValueError, with the estimate, if ``training_memory_bytes`` exceeds ``limit`` (default 8 GiB).

    Call it before building a model from sizes a user typed: a hidden layer of 10^9 units would otherwise fail
    deep inside NumPy with a MemoryError (or, worse, make the machine swap for minutes first).
    """
    need = training_memory_bytes(input_dim, hidden, latent_dim, batch_size, output_dim, itemsize)
    if need > limit:
        sizes = ",".join(str(int(h)) for h in hidden) or "none"
        raise ValueError(f"a model of {input_dim} inputs, hidden sizes {sizes} and {latent_dim} latent dimensions "
                         f"would need about {format_bytes(need)} to train with batches of {batch_size} (parameters "
                         f"x {itemsize} bytes x 4 for the parameters, their gradients and Adam's two moments, plus "
                         f"the activations of a batch), more than the limit of {format_bytes(limit)}; use smaller "
                         "hidden sizes, fewer latent dimensions or smaller batches")


def format_bytes(n):
    """Bytes as a number a person reads: "512 MiB", "8 GiB", "9.7 GiB", "26,345 GiB"."""
    if n < 2**30:
        return f"{n / 2**20:,.0f} MiB"
    gib = n / 2**30
    return f"{gib:,.0f} GiB" if gib >= 100 or gib == int(gib) else f"{gib:.1f} GiB"
