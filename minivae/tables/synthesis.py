"""Synthetic rows in batches: drawn from the model, decoded inside each column's support, ready for a writer.

    for each batch of up to batch_rows rows:
        z ~ N(0, I)                    (b, L)
        x ~ p(x | z)                   a Gaussian draw per numeric column, a category per categorical one
        rows = encoder.inverse_transform(x)      a column batch: whole numbers, ranges, nulls as the real columns
        yield rows

Drawing x (not its mean) matters: the mean of a categorical block is its probability vector, whose largest entry
would over-produce the most likely category, and the mean of a Gaussian column has less spread than the data.
The batches come from one generator, ``rng``: the same seed and the same batch_rows repeat the rows bit for bit
(another batch_rows interleaves the draws of z and x differently, and so gives other rows of the same distribution).

**Blocks, for many writers.** ``synthetic_block(..., block=b, seed=s)`` draws rows b * batch_rows up to
(b + 1) * batch_rows (fewer in the last block) from a generator of their own, ``np.random.default_rng([s, b])``.
A block depends only on the seed and its number, not on the blocks drawn before it, so any process can draw any
block: the blocks of N rows, drawn by one process or split among the ranks of an MPI launch, are the same rows
bit for bit (``distributed.parts`` writes block b as part b). They are other rows than ``synthetic_batches`` draws
from one generator with the same seed.
"""
import numpy as np

from minivae.validation import check_positive_int


def synthetic_batches(model, encoder, n, rng, batch_rows=65_536):
    """Yield column batches of synthetic rows, n in all (the module docstring)."""
    n, batch_rows = check_positive_int(n, "n"), check_positive_int(batch_rows, "batch_rows")
    if model.input_dim != encoder.data_dim:
        raise ValueError(f"the model takes {model.input_dim} values per row but the encoder makes "
                         f"{encoder.data_dim}; use the encoder the model was trained with")
    if not model.probabilistic:
        raise ValueError(f"an {type(model).__name__} has no prior to draw rows from: train a VAE")
    for start in range(0, n, batch_rows):
        b = min(batch_rows, n - start)
        z = rng.standard_normal((b, model.latent_dim)).astype(model.dtype)
        x = model.likelihood.sample(model.decoder.forward(z), rng)
        yield encoder.inverse_transform(x)


def block_count(n, batch_rows):
    """The number of blocks of n rows, batch_rows in each but the last."""
    return -(-check_positive_int(n, "n") // check_positive_int(batch_rows, "batch_rows"))


def synthetic_block(model, encoder, n, block, seed, batch_rows=65_536):
    """The column batch of block ``block`` of n synthetic rows: its rows from np.random.default_rng([seed, block])
    (the module docstring).

    Example
    -------
    >>> parts = [synthetic_block(vae, encoder, 10_000, b, seed=0, batch_rows=4096) for b in range(3)]  # doctest: +SKIP
    """
    if not 0 <= block < block_count(n, batch_rows):
        raise ValueError(f"block {block} is not one of the {block_count(n, batch_rows)} blocks of {n} rows")
    rows = min(batch_rows, n - block * batch_rows)
    rng = np.random.default_rng([seed, block])
    return next(synthetic_batches(model, encoder, rows, rng, batch_rows=rows))
