"""Your own data: a .npy, .npz or .csv file of shape (N, D) or (N, H, W), checked, and split into a Dataset.

The reader refuses what would silently train on garbage: unknown file types, object arrays (a data file must not be
able to run code, so nothing is unpickled), text in a CSV, ragged rows, empty files, NaN and infinity. Each error
names the file, the place and what to do. ``load_array_dataset`` shuffles the rows with a seed and holds a fraction
out for testing, the same way every time for the same seed.
"""
import csv
import math
import pathlib

import numpy as np

from minivae.datasets.dataset import Dataset

ARRAY_SUFFIXES = (".npy", ".npz", ".csv")


def load_array_file(path, image_shape=None) -> np.ndarray:
    """Load a .npy, .npz or .csv file of shape (N, D) or (N, H, W) as a float32 (N, D) matrix.

    Images (N, H, W) are flattened row by row to (N, H*W). A .npz must hold one array or an array named 'x';
    pickled objects are never loaded. A .csv holds numbers only; a first row with no numbers is a header and is
    skipped. If ``image_shape`` is given, each sample must have that many values (H*W) or that shape.

    Example::

        >>> np.save("points.npy", np.random.default_rng(0).normal(size=(100, 2)))   # doctest: +SKIP
        >>> load_array_file("points.npy").shape   # doctest: +SKIP
        (100, 2)
    """
    x = read_array_file(path)
    if image_shape is not None and x.shape[1:] != tuple(image_shape) and x[0].size != math.prod(image_shape):
        raise ValueError(f"{path}: each sample has shape {x.shape[1:]}, which does not fit image_shape "
                         f"{tuple(image_shape)}")
    return x.reshape(len(x), -1)


def load_array_dataset(path, test_fraction=0.1, seed=0, rescale=False) -> Dataset:
    """A user's array file as a Dataset: rows shuffled with ``seed``, a ``test_fraction`` of them held out.

    With ``rescale=True`` the whole array is min-max rescaled, x' = (x - min) / (max - min), so that it lies in
    [0, 1] (needed by the Bernoulli likelihood); without it the values are kept as they are. A file of images
    (N, H, W) gives ``image_shape`` (H, W); the rows are flattened to (N, H*W). There are no labels.

    Example::

        >>> load_array_dataset("points.npy", test_fraction=0.25, seed=3)   # doctest: +SKIP
        Dataset('points', train (75, 2) float32, test (25, 2) float32, no labels, image_shape=None)
    """
    path = pathlib.Path(path)
    x = read_array_file(path)
    image_shape = tuple(x.shape[1:]) if x.ndim == 3 else None
    x = x.reshape(len(x), -1)
    if rescale:
        low, high = float(x.min()), float(x.max())
        if high == low:
            raise ValueError(f"{path}: every value equals {low}, so it cannot be rescaled to [0, 1]")
        x = ((x - low) / (high - low)).astype(np.float32)
    x_train, x_test = _shuffled_split(x, test_fraction, seed)
    description = (f"user data from {path.name}: {x.shape[0]} samples x {x.shape[1]} values, shuffled with "
                   f"seed {seed}, {len(x_test)} held out for test" + (", min-max rescaled" if rescale else ""))
    return Dataset(path.stem, x_train, None, x_test, None, image_shape, description)


def _shuffled_split(x, test_fraction, seed):
    """Shuffle the rows of x with ``seed``; the first round(N * test_fraction) rows (at least 1) become the test set."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if len(x) < 2:
        raise ValueError(f"need at least 2 samples to make a train and a test set, got {len(x)}")
    n_test = min(max(round(len(x) * test_fraction), 1), len(x) - 1)
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order[n_test:]], x[order[:n_test]]


def read_array_file(path):
    """Read and check a user file; returns float32 of shape (N, D) or (N, H, W) as stored."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in ARRAY_SUFFIXES:
        raise ValueError(f"{path}: unknown file type {suffix!r}; minivae reads {', '.join(ARRAY_SUFFIXES)}")
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    x = _read_csv(path) if suffix == ".csv" else _read_numpy(path)
    if x.ndim not in (2, 3):
        raise ValueError(f"{path}: expected an array of shape (N, D) or (N, H, W), got shape {x.shape}; "
                         f"a 1-D array of N numbers can be saved as x.reshape(-1, 1)")
    if x.shape[0] == 0 or x.size == 0:
        raise ValueError(f"{path} is empty: shape {x.shape}; it needs at least one sample with at least one value")
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{path}: {int(bad.sum())} values are NaN or infinite, the first at index {first} "
                         f"(sample {first[0]}); remove or fill them before training")
    return x.astype(np.float32)


def _read_numpy(path):
    try:
        loaded = np.load(path, allow_pickle=False)  # never unpickle: a data file must not be able to run code
    except ValueError as err:
        raise ValueError(f"{path} could not be read without unpickling Python objects ({err}); save a plain "
                         f"numeric array, e.g. np.save(path, np.asarray(x, dtype=np.float32))") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            if len(keys) != 1 and "x" not in keys:
                raise ValueError(f"{path} holds arrays {keys}; expected a single array or one named 'x'")
            loaded = loaded["x" if "x" in keys else keys[0]]
    if not (np.issubdtype(loaded.dtype, np.integer) or np.issubdtype(loaded.dtype, np.floating)
            or loaded.dtype == bool):
        raise ValueError(f"{path}: expected numbers, found an array of dtype {loaded.dtype}")
    return loaded


def _read_csv(path):
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue  # blank line
            numbers = [_number_or_none(cell) for cell in row]
            if not rows and all(v is None for v in numbers):
                continue  # a header row: no numbers in it
            if None in numbers:
                col = numbers.index(None)
                raise ValueError(f"{path}, line {reader.line_num}, column {col + 1}: {row[col]!r} is not a number")
            if rows and len(numbers) != len(rows[0]):
                raise ValueError(f"{path}, line {reader.line_num}: {len(numbers)} values, but earlier rows have "
                                 f"{len(rows[0])}")
            rows.append(numbers)
    return np.array(rows, dtype=np.float64) if rows else np.zeros((0, 0))


def _number_or_none(cell):
    try:
        return float(cell)
    except ValueError:
        return None
