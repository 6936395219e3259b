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
