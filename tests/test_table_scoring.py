"""Scoring and synthesising a table batch by batch: the scores of a batch depend on its id alone (so parts scored
apart equal the whole), keys pass through, and synthetic rows keep every column's support."""
import numpy as np
import pytest

from minivae.apps.anomaly import anomaly_scores
from minivae.models import VAE
from minivae.tables.columns import TableEncoder
from minivae.tables.scoring import score_batches
from minivae.tables.synthesis import synthetic_batches


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    n = 600
    table = {"id": np.arange(n, dtype=np.float64), "size": rng.lognormal(1, 1, n),
             "colour": rng.choice(np.array(["red", "blue"], dtype=object), n),
             "count": rng.integers(0, 4, n).astype(np.float64)}
    columns = {k: v for k, v in table.items() if k != "id"}
    enc = TableEncoder().fit([columns])
    vae = VAE(enc.data_dim, latent_dim=2, hidden=(8,), likelihood={"name": "mixed", "columns": enc.column_specs()},
              dtype=np.float64)
    return table, enc, vae


def batches(table, size):
    n = len(table["id"])
    return [((0, i // size), {k: v[i:i + size] for k, v in table.items()}) for i in range(0, n, size)]


def test_scores_are_the_apps_scores_with_the_keys_and_the_noise_of_the_batch_id(setup):
    table, enc, vae = setup
    out = list(score_batches(vae, enc, batches(table, 250), keys=["id"], k=10, seed=4))
    assert [len(b["id"]) for b in out] == [250, 250, 100]
    assert list(out[0]) == ["id", "negative_elbo", "reconstruction_error", "negative_iw_bound"]
    second = {k: v[250:500] for k, v in table.items() if k != "id"}
    x = enc.transform(second, dtype=np.float64)
    rng = np.random.default_rng([4, 0, 1])
    assert np.array_equal(out[1]["negative_elbo"], anomaly_scores(vae, x, "elbo", rng))
    assert np.array_equal(out[1]["reconstruction_error"], anomaly_scores(vae, x, "reconstruction"))
    assert np.array_equal(out[1]["id"], table["id"][250:500])
    # scored in another order, or one part per process: the same scores for the same batch ids
    again = list(score_batches(vae, enc, batches(table, 250)[::-1], keys=["id"], k=10, seed=4))[::-1]
    assert all(np.array_equal(a["negative_iw_bound"], b["negative_iw_bound"]) for a, b in zip(out, again))


def test_bad_keys_and_methods_are_refused(setup):
    table, enc, vae = setup
    for keys, message in ((["nope"], "not in the table"), (["size"], "are columns of the model")):
        with pytest.raises(ValueError, match=message):
            list(score_batches(vae, enc, batches(table, 300), keys=keys))
    with pytest.raises(ValueError, match="unknown score method"):
        list(score_batches(vae, enc, batches(table, 300), methods=["psychic"]))


def test_synthetic_batches_keep_the_columns_support_and_repeat_with_the_seed(setup):
    table, enc, vae = setup
    rows = list(synthetic_batches(vae, enc, 1000, np.random.default_rng(1), batch_rows=300))
    assert [len(b["size"]) for b in rows] == [300, 300, 300, 100]
    sizes = np.concatenate([b["size"] for b in rows])
    assert table["size"].min() <= sizes.min() and sizes.max() <= table["size"].max()
    assert set(np.concatenate([b["count"] for b in rows]).tolist()) <= {0.0, 1.0, 2.0, 3.0}
    assert set(np.concatenate([b["colour"] for b in rows]).tolist()) <= {"red", "blue"}
    again = list(synthetic_batches(vae, enc, 1000, np.random.default_rng(1), batch_rows=300))
    assert all(np.array_equal(a["size"], b["size"]) for a, b in zip(rows, again))
