"""Binarization: turning grey values in [0, 1] into 0s and 1s, the data a Bernoulli likelihood models exactly.

``binarize_static`` thresholds once, so every epoch sees the same binary images; ``binarize_dynamic`` draws each
pixel as 1 with probability equal to its grey value, afresh every call (Salakhutdinov & Murray 2008), so that
each epoch sees new binary images whose expectation is the grey image.
"""
import numpy as np

from minivae.validation import check_unit_interval


def binarize_static(x, threshold=0.5) -> np.ndarray:
    """Fixed binarization: 1 where x > threshold, else 0; same shape and dtype as ``x``.

    Example::

        >>> binarize_static(np.array([0.2, 0.5, 0.9], dtype=np.float32))
        array([0., 0., 1.], dtype=float32)
    """
    x = np.asarray(x)
    return (x > threshold).astype(x.dtype)


def binarize_dynamic(x, rng) -> np.ndarray:
    """Random binarization: each value becomes 1 with probability x, else 0 (a fresh draw each call, e.g. each
    epoch; Salakhutdinov & Murray 2008). Same shape and dtype as ``x``; E[result] = x.

    Example::

        >>> binarize_dynamic(np.array([0.0, 1.0, 0.5]), np.random.default_rng(0))
        array([0., 1., 1.])
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, e.g. np.random.default_rng(0), got {type(rng).__name__}")
    x = np.asarray(x)
    check_unit_interval(x, "the input of binarize_dynamic (probabilities)")
    return (rng.random(x.shape) < x).astype(x.dtype)
