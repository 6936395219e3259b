"""Input checks shared by the layers, losses and models.

Every public entry point calls one of these before it computes anything, so that a wrong shape, a NaN or an
integer image of 0..255 fails at once with a message that says what was wrong and what was expected, instead of
producing a silently wrong number three layers later.
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


def check_finite(arr, name):
    """Raise ValueError naming the count and first position of NaN or infinite entries."""
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name} contains {len(bad)} NaN or infinite value(s), the first at index {first} "
            f"(value {arr[first]}); clean or impute the data before using it"
        )


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
        f"{name} must lie in [0, 1] for a Bernoulli likelihood, got {found}; rescale the data (for 0..255 images "
        "divide by 255; for a data file, load_dataset(..., rescale=True) or --rescale) or use a Gaussian likelihood"
    )


def check_positive_int(value, name):
    """Raise ValueError unless value is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
