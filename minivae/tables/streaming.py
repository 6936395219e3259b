"""A table larger than memory as training data: fitted in one pass over it, encoded in a second into files on disk.

    pass 1   encoder = TableEncoder(...).fit(batches)                       memory: a sample per column
    pass 2   for each batch:  x = encoder.transform(batch)                   (B, D) float32
                              its rows go to train.npy or test.npy, two memory-mapped .npy files, as
                              the split says: M = max(1, floor(N * test_fraction)) test rows, the first M
                              of np.random.default_rng(seed).permutation(N) (``held_out_mask``)

The split depends only on N, the seed and the rows' order, never on the batch sizes, so a run that reads the table
again gets the same split. It costs N bytes of mask (and, once, the 8 N bytes of the permutation). Each file is written in place
under a temporary name and renamed when complete (``minivae.fileio``): a crash never leaves half an array.

The trainer then reads the two files as arrays (``np.load(path, mmap_mode="r")``: a memmap is an ndarray): a step
reads its batch's rows from the file (through the operating system's page cache), so the process holds one batch,
the encoder, and the epoch's permutation of the N row indices (8 N bytes), never the table.
"""
from pathlib import Path

import numpy as np

from minivae.fileio import atomic_write
from minivae.validation import check_positive_int


def held_out_count(n, test_fraction):
    """M, the test rows of a split of n rows: max(1, floor(n * test_fraction)) (a 90/10 split of 37 rows: 3)."""
    return max(1, int(n * test_fraction))


def held_out_mask(n, test_fraction=0.1, seed=0):
    """(n,) bool, True for the M = held_out_count(n, test_fraction) test rows: the first M of a seeded permutation."""
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:held_out_count(n, test_fraction)]] = True
    return mask


def split_sizes(n, test_fraction, seed):
    """(train rows, test rows) of the split of n rows, as ``encode_split`` makes it (the seed does not change them)."""
    test = held_out_count(n, test_fraction)
    return n - test, test


def encode_split(batches, n, encoder, folder=None, test_fraction=0.1, seed=0):
    """Encode n rows, given as column batches (read once), into folder/train.npy and folder/test.npy.

    Returns the two arrays, memory-mapped read-only; with ``folder`` None, two arrays in memory (a small table).
    ``n`` is the number of rows the batches hold (from the table's metadata: ``minivae.tables.arrow_io.count_rows``);
    a different count is an error.
    """
    n = check_positive_int(n, "n")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    sizes = split_sizes(n, test_fraction, seed)
    if min(sizes) == 0:
        raise ValueError(f"{n} rows split at {test_fraction:g} leave {sizes[0]} training and {sizes[1]} test rows; "
                         "a table needs enough rows for both")
    is_test = held_out_mask(n, test_fraction, seed)
    if folder is None:
        return _encode_in_memory(batches, n, encoder, is_test, sizes)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "train.npy", folder / "test.npy"]
    with atomic_write(paths[0]) as train_file, atomic_write(paths[1]) as test_file:
        out = [np.lib.format.open_memmap(f.name, mode="w+", dtype=np.float32, shape=(size, encoder.data_dim))
               for f, size in zip((train_file, test_file), sizes)]
        _fill(batches, n, encoder, is_test, out)
        for array in out:
            array.flush()
        del out
    return tuple(np.load(path, mmap_mode="r") for path in paths)


def _encode_in_memory(batches, n, encoder, is_test, sizes):
    out = [np.zeros((size, encoder.data_dim), dtype=np.float32) for size in sizes]
    _fill(batches, n, encoder, is_test, out)
    return tuple(out)


def _fill(batches, n, encoder, is_test, out):
    """Encode each batch and copy its rows to out[0] (train) or out[1] (test), in the table's order."""
    seen, filled = 0, [0, 0]
    for batch in batches:
        x = encoder.transform(batch)
        if seen + len(x) > n:
            raise ValueError(f"the table was said to hold {n} rows but gives more; it changed while it was read: "
                             "read it again")
        test = is_test[seen:seen + len(x)]
        seen += len(x)
        for part, rows in ((0, x[~test]), (1, x[test])):
            out[part][filled[part]:filled[part] + len(rows)] = rows
            filled[part] += len(rows)
    if seen != n:
        raise ValueError(f"the table was said to hold {n} rows but gave {seen}; it changed while it was read: "
                         "read it again")
