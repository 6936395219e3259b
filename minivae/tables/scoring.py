"""Scoring a table batch by batch: each row's negative ELBO, reconstruction error and IW bound, beside its keys.

A table too large for memory is scored as it is read (the batches of ``minivae.tables.arrow_io.iter_batches``), and
the scores leave as batches too (to a Parquet writer), so memory holds one batch at a time:

    for (batch_id, batch) in batches:
        x = encoder.transform(batch's model columns)                       (B, D)
        rng = np.random.default_rng([seed, *batch_id])                     the noise of this batch alone
        out = {key: batch[key] for key in keys}                            the row's identity, as it came
        out["negative_elbo"]        = -ELBO(x)              one sample of z          (minivae.apps.anomaly)
        out["reconstruction_error"] = -log p(x | decoder(mu(x)))            deterministic
        out["negative_iw_bound"]    = -L_K(x)               K importance samples; >= -log p(x), tighter with K

all in nats per row, higher = more anomalous. A batch's noise depends only on the seed and its id (for example its
file and its position in the file), not on the batches scored before it, so a table split into parts (one per
process) gets the same scores as scored whole.
"""
import numpy as np

from minivae.apps.anomaly import anomaly_scores

SCORES = {"elbo": "negative_elbo", "reconstruction": "reconstruction_error", "iwae": "negative_iw_bound"}


def check_keys(keys, encoder, columns):
    """The key columns must be in the table and not among the model's columns."""
    missing = [k for k in keys if k not in columns]
    if missing:
        raise ValueError(f"key column(s) {missing} are not in the table, whose columns are {list(columns)}")
    modelled = [k for k in keys if k in encoder.header]
    if modelled:
        raise ValueError(f"key column(s) {modelled} are columns of the model; a key identifies a row and is not "
                         "scored: leave it out of training (--key at train time) or choose another key")
    clash = [k for k in keys if k in SCORES.values()]
    if clash:
        raise ValueError(f"key column(s) {clash} have the names of score columns; rename them")


def score_batches(model, encoder, batches, keys=(), methods=("elbo", "reconstruction", "iwae"), seed=0, k=100):
    """Yield one batch of scores per batch of rows: the keys as given, then a float64 column per method.

    batches : iterable of (batch_id, column batch); batch_id a tuple of ints, unique per batch
    methods : some of "elbo", "reconstruction", "iwae" (an Autoencoder has only "reconstruction")
    k : importance samples of the IW bound
    """
    unknown = [m for m in methods if m not in SCORES]
    if unknown or not methods:
        raise ValueError(f"unknown score method(s) {unknown}; choose from {list(SCORES)}")
    for batch_id, batch in batches:
        check_keys(keys, encoder, batch)
        x = encoder.transform({name: batch[name] for name in encoder.header}, dtype=model.dtype)
        rng = np.random.default_rng([seed, *batch_id])
        out = {key: batch[key] for key in keys}
        for method in methods:
            out[SCORES[method]] = anomaly_scores(model, x, method=method, rng=rng, k=k)
        yield out
