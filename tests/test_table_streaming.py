"""Training on a table larger than memory: fitted in one pass, encoded into memory-mapped files in a second, and
trained on from disk, with the traced memory held far below the table's size; the split repeats with the seed."""
import tracemalloc

import numpy as np
import pytest

from minivae.models import VAE
from minivae.tables.columns import TableEncoder
from minivae.tables.streaming import encode_split, split_sizes, held_out_count, held_out_mask
from minivae.training.trainer import TrainConfig, Trainer

ROWS, BATCH = 2_000_000, 65_536


def stream(rows=ROWS, batch=BATCH, seed=0):
    """A table made batch by batch, never whole: 8 numeric columns (two correlated), one categorical."""
    for start in range(0, rows, batch):
        b = min(batch, rows - start)
        rng = np.random.default_rng([seed, start])
        z = rng.standard_normal(b)
        table = {f"v{j}": rng.standard_normal(b) for j in range(6)}
        table["a"], table["b"] = z, 2 * z + 0.1 * rng.standard_normal(b)
        table["kind"] = np.where(z > 0, "up", "down").astype(object)
        yield table


def test_the_split_takes_exactly_m_rows_by_the_seed_whatever_the_batch_sizes():
    mask = held_out_mask(37, 0.1, seed=3)
    assert mask.sum() == 3 == held_out_count(37, 0.1) and split_sizes(37, 0.1, 3) == (34, 3)
    assert (held_out_mask(37, 0.1, seed=3) == mask).all() and (held_out_mask(37, 0.1, seed=4) != mask).any()
    assert held_out_count(5, 0.1) == 1  # never an empty test part
    table = next(stream(rows=1000, batch=1000))
    cut = lambda b: ({name: v[s:s + b] for name, v in table.items()} for s in range(0, 1000, b))  # noqa: E731
    encoder = TableEncoder().fit(cut(300))
    by_300 = encode_split(cut(300), 1000, encoder, seed=5)  # in memory
    by_77 = encode_split(cut(77), 1000, encoder, seed=5)
    whole = encoder.transform(table)
    test = held_out_mask(1000, 0.1, seed=5)
    for a, b, rows in zip(by_300, by_77, (whole[~test], whole[test])):
        assert np.array_equal(a, rows) and np.array_equal(b, rows)


def traced_peak(rows, folder):
    """Fit, encode and train one epoch on ``rows`` rows; returns (peak traced bytes, encoder, train, test, history)."""
    tracemalloc.start()
    try:
        encoder = TableEncoder().fit(stream(rows))
        train, test = encode_split(stream(rows), rows, encoder, folder, test_fraction=0.01, seed=1)
        vae = VAE(encoder.data_dim, latent_dim=2, hidden=(8,),
                  likelihood={"name": "mixed", "columns": encoder.column_specs()})
        history = Trainer(vae, TrainConfig(epochs=1, batch_size=4096, lr=3e-3, quiet=True)).fit(train, test[:5000])
        return tracemalloc.get_traced_memory()[1], encoder, train, test, history
    finally:
        tracemalloc.stop()


def test_a_table_of_2_million_rows_trains_from_disk_in_a_quarter_of_its_size(tmp_path):
    """The memory that grows with the table, from 50,000 rows to 2 million, stays below a quarter of the table's
    size: the epoch's permutation (8 bytes per row) and nothing else of its size. (What does not grow is the same
    for any table: Numba's compiled kernels, one batch, the latent-use report's 2,000 x 2,000 matrix.)"""
    table_bytes = ROWS * 8 * 8 + ROWS * 8  # 8 float64 columns and one column of object pointers: 144 MB
    traced_peak(50_000, tmp_path / "warm")  # Numba compiles its kernels (memory of its own) first
    small = traced_peak(50_000, tmp_path / "small")[0]
    peak, encoder, train, test, history = traced_peak(ROWS, tmp_path / "big")
    assert isinstance(train, np.memmap) and (len(train), len(test)) == split_sizes(ROWS, 0.01, 1)
    assert train.shape[1] == encoder.data_dim == 10 and np.isfinite(train[-5:]).all()
    grown = peak - small
    assert grown < table_bytes / 4, f"{grown / 1e6:.0f} MB more for 2M rows than for 50,000; the table is 144 MB"
    assert history["val_loss"][0] < history["train_loss"][0] + 5  # it learned: far below the untrained loss
    assert [c["name"] for c in encoder.columns][-1] == "kind" and encoder.columns[-1]["values"] == ["down", "up"]


def test_a_table_that_changes_while_it_is_read_is_refused(tmp_path):
    encoder = TableEncoder().fit(stream(rows=1000, batch=300))
    with pytest.raises(ValueError, match="said to hold 2000 rows but gave 1000"):
        encode_split(stream(rows=1000, batch=300), 2000, encoder, tmp_path)
    with pytest.raises(ValueError, match="said to hold 500 rows but gives more"):
        encode_split(stream(rows=1000, batch=300), 500, encoder, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written is left
