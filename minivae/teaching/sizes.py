"""Fresh inputs for every grading run: a seed drawn at random unless given, and array sizes drawn from it.

    seed = fresh_seed()                    a new 32-bit seed (the report prints it; --seed repeats the run)
    sizes = draw_sizes(seed)               e.g. {"N": 9, "D": 4, "M": 6, "L": 3, "H": 5}
    with sizes_in_place(sizes): ...        the checks use these sizes meanwhile

The checks (``minivae.teaching.checks_layers``, ``minivae.teaching.checks_vae``) take their random values from the
``rng`` the grader passes (``np.random.default_rng([seed, exercise index])``), and their sizes from the module
constants N (batch), D and M (the Linear layer's input and output widths), L (latent) and H (hidden).
``sizes_in_place`` sets those constants for the duration of one grading run and restores them after, so a lookup
table of one run's inputs is useless in the next. The grader sets them once per run in its own process (a run
grades one seed; the batch mode grades every submission of a folder with the same seed, so it is fair).

The sizes are drawn so that the checks' hypotheses stay distinguishable: N is odd and at least 5 (so "N times the
truth" is neither "twice" nor "half" of it, and differs from the 1/6 of the Bernoulli check's D = 6), and N, D, M
are three different numbers (a transposed array never has the right shape by accident); L is 3 to 5 and not N.
"""
import secrets
from contextlib import contextmanager

import numpy as np

from minivae.teaching import checks_layers, checks_vae

FIXED = {"N": checks_layers.N, "D": checks_layers.D, "M": checks_layers.M, "L": checks_layers.L,
         "H": checks_layers.H}  # the sizes the checks are written with
SIZES_STREAM = 1_000_003  # default_rng([seed, SIZES_STREAM]) draws the sizes; the exercises use [seed, index]


def fresh_seed():
    """A new random seed, 0 <= seed < 2**32 (from the operating system's randomness)."""
    return secrets.randbits(32)


def draw_sizes(seed):
    """The sizes of one run, a dict N, D, M, L, H drawn from ``seed`` (see the module's docstring)."""
    rng = np.random.default_rng([seed, SIZES_STREAM])
    n = int(rng.choice([5, 7, 9, 11]))
    d, m = (int(v) for v in rng.choice([v for v in range(3, 9) if v != n], size=2, replace=False))
    latent = int(rng.choice([v for v in (3, 4, 5) if v != n]))
    return {"N": n, "D": d, "M": m, "L": latent, "H": int(rng.integers(3, 7))}


@contextmanager
def sizes_in_place(sizes):
    """Within the block, the checks use ``sizes`` (a dict as from draw_sizes; None keeps the fixed ones)."""
    modules = (checks_layers, checks_vae)
    saved = [{k: getattr(m, k) for k in FIXED if hasattr(m, k)} for m in modules]
    try:
        for module, names in zip(modules, saved):
            for k in names:
                setattr(module, k, (sizes or FIXED)[k])
        yield
    finally:
        for module, names in zip(modules, saved):
            for k, v in names.items():
                setattr(module, k, v)
