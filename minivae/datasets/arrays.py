"""Your own data: a .npy, .npz, .csv or .csv.gz file of shape (N, D) or (N, H, W), checked, and split into a Dataset.

The reader refuses what would silently train on garbage: unknown file types, object arrays (a data file must not be
able to run code, so nothing is unpickled), truncated files, text in a CSV, ragged rows, empty files, infinity, and
missing values unless you say what to do with them (``missing``, see ``minivae.datasets.missing``). Each error names
the file, the place and what to do. A CSV file is read as its author meant it (``minivae.datasets.csvfiles``: gzip,
the delimiter, a header row, a pandas index column). An .npz file may carry labels:

    arrays        x (or X, data): the examples      y (or labels, Y): one integer label per example, optional
    one array     the examples, whatever its name;  two arrays, one of them named as labels: the other is the data

``load_array_dataset`` shuffles the rows (and their labels) with a seed and holds a fraction out for testing, the same
way every time for the same seed.
"""
import math
import pathlib
import zipfile
from dataclasses import dataclass, field

import numpy as np

from minivae.datasets.csvfiles import read_csv_cells
from minivae.datasets.dataset import MIN_TEST_EXAMPLES, DamagedFileError, Dataset, tell
from minivae.datasets.missing import handle_missing_array, is_missing

ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".csv.gz")
DATA_NAMES = ("x", "X", "data")  # the .npz arrays that hold the examples ...
LABEL_NAMES = ("y", "labels", "Y")  # ... and those that hold their labels


@dataclass
class ArrayFile:
    """What a file held: ``x`` (N, D) or (N, H, W) floats, NaN where a value is missing; ``y`` (N,) int64 labels or
    None; ``columns`` and ``positions`` name the columns and rows in messages (``unit``: "line" or "row");
    ``notes``: what the reader decided, in words."""
    x: np.ndarray
    y: np.ndarray | None
    columns: list
    positions: list
    unit: str
    notes: list = field(default_factory=list)


def suffix_of(path):
    """The file type of ``path`` as minivae reads it: ".csv.gz" for a compressed CSV, else the last suffix."""
    name = pathlib.Path(path).name.lower()
    return ".csv.gz" if name.endswith(".csv.gz") else pathlib.Path(name).suffix


def load_array_file(path, image_shape=None, missing="error") -> np.ndarray:
    """Load a .npy, .npz, .csv or .csv.gz file of shape (N, D) or (N, H, W) as a float32 (N, D) matrix.

    Images (N, H, W) are flattened row by row to (N, H*W). A .npz must hold one array or an array named 'x' (see the
    module docstring; its labels are not returned here); pickled objects are never loaded. A .csv holds numbers; its
    header row, if any, is skipped. If ``image_shape`` is given, each sample must have that many values (H*W) or that
    shape. ``missing`` says what to do with missing values: "error" (the default), "drop" or "mean".

    Example::

        >>> np.save("points.npy", np.random.default_rng(0).normal(size=(100, 2)))   # doctest: +SKIP
        >>> load_array_file("points.npy").shape   # doctest: +SKIP
        (100, 2)
    """
    x = read_array_file(path, missing)
    if image_shape is not None and x.shape[1:] != tuple(image_shape) and x[0].size != math.prod(image_shape):
        raise ValueError(f"{path}: each sample has shape {x.shape[1:]}, which does not fit image_shape "
                         f"{tuple(image_shape)}")
    return x.reshape(len(x), -1)


def read_array_file(path, missing="error"):
    """Read and check a user file; returns float32 of shape (N, D) or (N, H, W) as stored (no labels), its missing
    values handled as ``missing`` says ("error", "drop" or "mean")."""
    return _checked(path, missing).x.astype(np.float32)


def load_array_dataset(path, test_fraction=0.1, seed=0, rescale=False, missing="error", image_shape=None) -> Dataset:
    """A user's array file as a Dataset: rows shuffled with ``seed``, a ``test_fraction`` of them held out.

    With ``rescale=True`` the whole array is min-max rescaled, x' = (x - min) / (max - min), so that it lies in
    [0, 1] (needed by the Bernoulli likelihood); without it the values are kept as they are. A file of images
    (N, H, W) gives ``image_shape`` (H, W); for flat data (N, D), pass ``image_shape=(H, W)`` with H * W = D to say
    that the rows are images. The rows are flattened to (N, H*W). Labels come from an .npz's ``y`` array (else None).
    ``missing``: "error" (default), "drop" or "mean", for missing values (NaN, empty or "n/a" cells).
    The test set holds at least 2 examples (training measures a variance over it): a file needs at least 3.

    Example::

        >>> load_array_dataset("points.npy", test_fraction=0.25, seed=3)   # doctest: +SKIP
        Dataset('points', train (75, 2) float32, test (25, 2) float32, no labels, image_shape=None)
    """
    path = pathlib.Path(path)
    arrays = _checked(path, missing)
    x, y = arrays.x, arrays.y
    shape = check_image_shape(path, image_shape, x.shape[1:]) if image_shape is not None else None
    shape = shape or (tuple(x.shape[1:]) if x.ndim == 3 else None)
    x = x.reshape(len(x), -1).astype(np.float32)
    if rescale:
        low, high = float(x.min()), float(x.max())
        if high == low:
            raise ValueError(f"{path}: every value equals {low}, so it cannot be rescaled to [0, 1]")
        x = ((x - low) / (high - low)).astype(np.float32)
    train, test = _shuffled_split(path, len(x), test_fraction, seed)
    notes = arrays.notes + (["min-max rescaled"] if rescale else [])
    description = (f"user data from {path.name}: {x.shape[0]} samples x {x.shape[1]} values"
                   + (", with labels" if y is not None else "") + f", shuffled with seed {seed}, {len(test)} held out "
                   "for test" + "".join(f"; {note}" for note in notes))
    tell(*arrays.notes)
    name = path.name[:-len(suffix_of(path))] or path.name  # "digits.csv.gz" -> "digits"
    return Dataset(name, x[train], None if y is None else y[train], x[test], None if y is None else y[test], shape,
                   description)


def check_image_shape(where, image_shape, sample_shape):
    """(H, W) as a tuple of ints if H * W equals the number of values of a sample, else a ValueError saying why."""
    try:
        h, w = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be two positive integers (H, W), got {image_shape!r}") from None
    d = math.prod(sample_shape)
    if h < 1 or w < 1 or h * w != d:
        raise ValueError(f"{where}: image shape {h}x{w} = {h * w} pixels does not fit samples of {d} values "
                         f"(shape {tuple(sample_shape)}); give an H,W with H * W = {d}")
    return h, w


def _shuffled_split(path, n, test_fraction, seed):
    """Shuffle the row indices with ``seed``; the first round(N * test_fraction) (at least 2, so that the test set has a
    variance, and at most N - 1) become the test set: a file needs at least 3 examples."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if n < MIN_TEST_EXAMPLES + 1:
        raise ValueError(f"{path} has {n} example{'s' * (n != 1)}; a train and a test set need at least "
                         f"{MIN_TEST_EXAMPLES + 1}: {MIN_TEST_EXAMPLES} to test on (training measures a variance over "
                         "them) and 1 to train on")
    n_test = min(max(round(n * test_fraction), MIN_TEST_EXAMPLES), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test:], order[:n_test]


# ------------------------------------------------------------------------------------------------------ reading
def _checked(path, missing):
    """The file's arrays, checked: (N, D) or (N, H, W), not empty, no infinity, missing values handled."""
    path = pathlib.Path(path)
    suffix = suffix_of(path)
    if suffix not in ARRAY_SUFFIXES:
        raise ValueError(f"{path}: unknown file type {suffix!r}; minivae reads {', '.join(ARRAY_SUFFIXES)}")
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    arrays = _read_csv(path) if suffix in (".csv", ".csv.gz") else _read_numpy(path)
    x = arrays.x
    if x.ndim not in (2, 3):
        raise ValueError(f"{path}: expected an array of shape (N, D) or (N, H, W), got shape {x.shape}; "
                         f"a 1-D array of N numbers can be saved as x.reshape(-1, 1)")
    if x.shape[0] == 0 or x.size == 0:
        raise ValueError(f"{path} is empty: shape {x.shape}; it needs at least one sample with at least one value")
    infinite = np.isinf(x)
    if infinite.any():
        bad = ~np.isfinite(x)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{path}: {int(bad.sum())} values are NaN or infinite, the first at index {first} "
                         f"(sample {first[0]}); remove or fill them before training (NaN alone is a missing value, "
                         "which --missing-values can handle; infinity is not)")
    flat = x.reshape(len(x), -1)
    flat, keep, notes = handle_missing_array(path, flat, arrays.columns, arrays.positions, arrays.unit, missing)
    arrays.x = flat.reshape((len(flat),) + x.shape[1:])
    if keep is not None and arrays.y is not None:
        arrays.y = arrays.y[keep]
    arrays.notes += notes
    return arrays


def _read_numpy(path):
    with open(path, "rb") as f:
        head = f.read(6)
    if head != b"\x93NUMPY" and head[:4] != b"PK\x03\x04":
        raise ValueError(f"{path} is not a NumPy file (it does not start like one: {head!r}); save arrays with "
                         "np.save or np.savez, or give a CSV file a .csv suffix")
    try:
        loaded = np.load(path, allow_pickle=False)  # never unpickle: a data file must not be able to run code
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                stored = {key: loaded[key] for key in loaded.keys()}  # read every array now: damage shows here
        else:
            stored = None
    except ValueError as err:
        if "pickle" not in str(err):
            raise _damaged(path, err) from None
        raise ValueError(f"{path} could not be read without unpickling Python objects ({err}); save a plain "
                         f"numeric array, e.g. np.save(path, np.asarray(x, dtype=np.float32))") from None
    except (EOFError, OSError, zipfile.BadZipFile) as err:
        raise _damaged(path, err) from None
    x, y, notes = (loaded, None, []) if stored is None else _npz_arrays(path, stored)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
        raise ValueError(f"{path}: expected numbers, found an array of dtype {x.dtype}")
    n = len(x) if x.ndim else 0
    width = int(np.prod(x.shape[1:])) if x.ndim > 1 else 0
    x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)  # floats as they are: NaN marks a gap
    return ArrayFile(x, y, list(range(width)), list(range(n)), "row", notes)


def _damaged(path, err):
    return DamagedFileError(f"{path} is truncated or corrupt ({err}); write it again, e.g. with np.save or np.savez")


def _npz_arrays(path, npz):
    """The data array (and the labels, if any) of an .npz's arrays {name: array}, by the names of the module
    docstring; returns (x, y or None, notes)."""
    keys = list(npz)
    data = [k for k in DATA_NAMES if k in keys]
    labels = [k for k in LABEL_NAMES if k in keys]
    for found, what in ((data, "the data"), (labels, "the labels")):
        if len(found) > 1:
            raise ValueError(f"{path} holds arrays {keys}, of which {found} could all be {what}; keep one of them")
    if data:
        x_key = data[0]
    elif len(keys) == 1 or (len(keys) == 2 and labels):
        x_key = next(k for k in keys if k not in labels)
    else:
        raise ValueError(f"{path} holds arrays {keys} and none is clearly the data; expected a single array or one "
                         f"named 'x' (or {', '.join(map(repr, DATA_NAMES[1:]))}), with labels, if any, named 'y' (or "
                         f"{', '.join(map(repr, LABEL_NAMES[1:]))}): np.savez(path, x=x, y=y)")
    x = npz[x_key]
    y = _labels(path, npz[labels[0]], labels[0], x) if labels else None
    used = f"used array {x_key!r} as the data" + (f" and {labels[0]!r} as the labels" if labels else " (no labels)")
    ignored = [k for k in keys if k != x_key and k not in labels]
    return x, y, [used + (f", ignored {ignored}" if ignored else "")]


def _labels(path, y, name, x):
    """Labels as int64 class indices (N,): integers (or whole floats) >= 0, one per example of x."""
    where = f"{path}: the labels {name!r}"
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{where} have shape {y.shape}; expected one integer label per example, shape (N,) "
                         "(one-hot labels: y.argmax(axis=1))")
    n = len(x) if x.ndim else 0
    if len(y) != n:
        raise ValueError(f"{where} hold {len(y)} labels, but the data hold {n} examples; expected one label each")
    if y.dtype.kind == "f":  # whole numbers saved as floats are fine
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            raise ValueError(f"{where} must be integer class labels 0, 1, ..., C-1; {y[~whole][0]} is not one")
    elif y.dtype.kind not in "biu":
        raise ValueError(f"{where} must be integer class labels 0, 1, ..., C-1, got an array of dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise ValueError(f"{where} must be class indices 0, 1, ..., C-1, but include {y.min()}")
    return y.astype(np.int64)


def _read_csv(path):
    cells = read_csv_cells(path)
    values = []
    for row, line in zip(cells.rows, cells.lines):
        numbers = []
        for j, cell in enumerate(row):
            if is_missing(cell):
                numbers.append(np.nan)
                continue
            try:
                numbers.append(float(cell))
            except ValueError:
                raise ValueError(f"{path}, line {line}, column {j + 1}: {cell!r} is not a number"
                                 + _not_a_number_hint(cell, cells.delimiter)) from None
        values.append(numbers)
    columns = list(cells.header) if cells.header is not None else list(range(1, len(values[0]) + 1) if values else [])
    x = np.array(values, dtype=np.float64) if values else np.zeros((0, 0))
    return ArrayFile(x, None, columns, list(cells.lines), "line", [cells.summary()] if cells.notable else [])


def _not_a_number_hint(cell, delimiter):
    if delimiter == ";" and cell.replace(",", "", 1).lstrip("+-").isdigit():
        return " (a decimal comma? minivae reads decimal points: 7.4, not 7,4)"
    return "; a CSV given as --data holds numbers only (a table of numbers and words: train --table)"
