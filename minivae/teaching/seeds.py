"""Fresh inputs for every grading run: a seed drawn at random unless given.

    seed = fresh_seed()                          a new 32-bit seed (the report prints it; --seed repeats the run)
    rng = np.random.default_rng([seed, i])       the inputs of exercise i (``grader._rng``)

The checks (``minivae.teaching.checks_layers``, ``minivae.teaching.checks_vae``) draw everything from the ``rng``
they are given, their array sizes too (``checks_layers.draw_sizes``), so a lookup table of one run's inputs is
useless in the next, and the same seed repeats a run exactly. The batch mode grades every submission of a folder
with the same seed, so it is fair.
"""
import secrets


def fresh_seed():
    """A new random seed, 0 <= seed < 2**32 (from the operating system's randomness)."""
    return secrets.randbits(32)
