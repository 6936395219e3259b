"""A table larger than memory as training data: fitted in one pass over it, encoded in a second into files on disk.

    pass 1   encoder = TableEncoder(...).fit(batches)                       memory: a sample per column
    pass 2   for each batch:  x = encoder.transform(batch)                   (B, D) float32
                              row i is a test row when u_i < test_fraction, u = np.random.default_rng(seed).random(N)
                              its row goes to train.npy or test.npy, two memory-mapped .npy files

The split depends only on the seed and the rows' order (the generator's numbers are drawn in the same sequence
whatever the batch sizes), so a run that reads the table again gets the same split. Each file is written in place
under a temporary name and renamed when complete (``minivae.fileio``): a crash never leaves half an array.

The trainer then reads the two files as arrays (``np.load(path, mmap_mode="r")``: a memmap is an ndarray): a step
reads its batch's rows from the file (through the operating system's page cache), so the process holds one batch,
the encoder, and the epoch's permutation of the N row indices (8 N bytes), never the table.
"""
import numpy as np

from minivae.fileio import atomic_write
from minivae.validation import check_positive_int

SPLIT_CHUNK = 1 << 20  # the split's random numbers are drawn this many at a time


def split_sizes(n, test_fraction, seed):
    """(train rows, test rows) of the split of n rows, drawn as ``encode_split`` draws it."""
    rng, test = np.random.default_rng(seed), 0
    for start in range(0, n, SPLIT_CHUNK):
        test += int((rng.random(min(SPLIT_CHUNK, n - start)) < test_fraction).sum())
    return n - test, test


def encode_split(batches, n, encoder, folder, test_fraction=0.1, seed=0):
    """Encode n rows, given as column batches (read once), into folder/train.npy and folder/test.npy.

    Returns the two arrays, memory-mapped read-only. ``n`` is the number of rows the batches hold (from the
    table's metadata: ``minivae.tables.arrow_io.count_rows``); a different count is an error.
    """
    n = check_positive_int(n, "n")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    sizes = split_sizes(n, test_fraction, seed)
    if min(sizes) == 0:
        raise ValueError(f"{n} rows split at {test_fraction:g} leave {sizes[0]} training and {sizes[1]} test rows; "
                         "a table needs enough rows for both")
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "train.npy", folder / "test.npy"]
    with atomic_write(paths[0]) as train_file, atomic_write(paths[1]) as test_file:
        out = [np.lib.format.open_memmap(f.name, mode="w+", dtype=np.float32, shape=(size, encoder.data_dim))
               for f, size in zip((train_file, test_file), sizes)]
        rng, seen, filled = np.random.default_rng(seed), 0, [0, 0]
        for batch in batches:
            x = encoder.transform(batch)
            is_test = _draw(rng, len(x), seen, n) < test_fraction
            seen += len(x)
            for part, rows in ((0, x[~is_test]), (1, x[is_test])):
                out[part][filled[part]:filled[part] + len(rows)] = rows
                filled[part] += len(rows)
        if seen != n:
            raise ValueError(f"the table was said to hold {n} rows but gave {seen}; it changed while it was read: "
                             "read it again")
        for array in out:
            array.flush()
        del out
    return tuple(np.load(path, mmap_mode="r") for path in paths)


def _draw(rng, count, seen, n):
    if seen + count > n:
        raise ValueError(f"the table was said to hold {n} rows but gives more; it changed while it was read: read it "
                         "again")
    return rng.random(count)
