"""Datasets: read MNIST-style IDX files, download and verify them, load your own arrays.

Every loader returns a :class:`Dataset`: train and test matrices of shape ``(N, D)``, float32, one row per sample.
Images are flattened row by row (a 28 x 28 digit becomes D = 784 numbers) and scaled to [0, 1] by ``pixel / 255``.

Built-in datasets (``load_dataset(name)``):

* ``"mnist-test-10k"`` (the default) -- the real MNIST *test* set, shipped with minivae, so everything works offline.
  It is split in a FIXED, documented way: the first 9,000 images are our training set, the last 1,000 our test set.
  (The original test set is ordered by writer, so this split is not perfectly i.i.d.; it is good enough to learn on.)
* ``"mnist"`` -- the full MNIST, 60,000 train / 10,000 test, downloaded once into the cache folder.
* ``"fashion-mnist"`` -- Fashion-MNIST, same format and sizes, downloaded once.
* a path to a ``.npy``, ``.npz`` or ``.csv`` file of shape ``(N, D)`` or ``(N, H, W)``, shuffled and split by a seed.

The IDX format (LeCun et al.) stores one array per file, big-endian::

    offset      bytes     meaning
    0           2         always 0x00 0x00
    2           1         dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    3           1         ndim, the number of dimensions
    4           4 * ndim  each dimension as a big-endian uint32
    4 + 4*ndim  the rest   the values in row-major (C) order: prod(dims) * itemsize bytes, nothing after them

So the "magic number" 2051 = 0x00000803 at the start of an image file means "uint8, 3 dimensions" (N, 28, 28),
and 2049 = 0x00000801 at the start of a label file means "uint8, 1 dimension" (N,).

Downloads are checked against the checksums their authors published, written to a temporary file first and moved
into place only when they are correct, so an interrupted download never leaves a half file behind.
"""
import csv
import functools
import gzip
import hashlib
import http.client
import math
import os
import pathlib
import shutil
import struct
import sys
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass

import numpy as np

from minivae.fileio import atomic_write
from minivae.validation import check_unit_interval

_DATA_DIR = pathlib.Path(__file__).resolve().parent / "files"

# Bundled files and the sha256 of the .gz files as shipped (they were re-compressed, so they differ from the .gz
# files published by LeCun et al.; the uncompressed contents are identical, see minivae/data/README.md).
_BUNDLED_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "9fe7630f90c0e670227960a294637bc2e78a29d724810e24204eb342c9f033a1",
    "t10k-labels-idx1-ubyte.gz": "2c54c993d38068b3c3adb720a5cdee07065a066a7b36e7d1df720548d6359eba",
}
_BUNDLED_TRAIN_SIZE = 9000  # first 9,000 images -> train, last 1,000 -> test

_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# Where to download from: base URLs tried in order (a file's URL is base + file name).
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

# MD5 of each .gz file, as published by the dataset authors.
MD5SUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

_DESCRIPTIONS = {
    "mnist-test-10k": "MNIST test set, 10,000 handwritten digits (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0), "
                      "bundled; fixed split: first 9,000 = train, last 1,000 = test",
    "mnist": "MNIST handwritten digits, 60,000 train / 10,000 test (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0)",
    "fashion-mnist": "Fashion-MNIST clothing images, 60,000 train / 10,000 test (H. Xiao, K. Rasul, R. Vollgraf, "
                     "Zalando Research, 2017; MIT licence)",
}
KNOWN_DATASETS = tuple(_DESCRIPTIONS)
_ARRAY_SUFFIXES = (".npy", ".npz", ".csv")


@dataclass(eq=False)
class Dataset:
    """A train/test pair of data matrices, one sample per row.

    Attributes: ``x_train`` (N, D) float32 and ``x_test`` (M, D) float32 (images: pixel / 255, in [0, 1]);
    ``y_train`` (N,) and ``y_test`` (M,) int64 labels, or None; ``image_shape`` (H, W) with H * W = D for images,
    None for tabular data; ``name`` and a one-line ``description`` with the source.

    Example::

        >>> ds = load_dataset("mnist-test-10k")
        >>> ds.x_train.shape, ds.image_shape
        ((9000, 784), (28, 28))
    """
    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    image_shape: tuple | None
    description: str

    def __repr__(self):
        labels = "with labels" if self.y_train is not None else "no labels"
        return (f"Dataset({self.name!r}, train {self.x_train.shape} {self.x_train.dtype}, "
                f"test {self.x_test.shape} {self.x_test.dtype}, {labels}, image_shape={self.image_shape})")


# ----------------------------------------------------------------------------------------------------------- IDX
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path_or_fileobj) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a NumPy array; see the module docstring for the layout.

    Gzip is recognised by its first two bytes (0x1f 0x8b), not by the file name. The result has the shape stored in
    the header, e.g. (10000, 28, 28) uint8 for MNIST images, in native byte order.

    Example::

        >>> labels = read_idx("t10k-labels-idx1-ubyte.gz")   # doctest: +SKIP
        >>> labels.shape, labels.dtype   # doctest: +SKIP
        ((10000,), dtype('uint8'))
    """
    raw, where = _read_bytes(path_or_fileobj)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{where} is not a valid gzip file ({err}): it is probably corrupt or only partly "
                             f"downloaded; delete it and download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{where} is not an IDX file: it must start with bytes 0x00 0x00, found {raw[:4].hex(' ')}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{where}: unknown IDX dtype code 0x{code:02X} (magic {raw[:4].hex(' ')}); known: {known}")
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_size:
        raise ValueError(f"{where}: bad IDX header: ndim={ndim}, header needs {header_size} bytes, file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected, found = math.prod(dims) * dtype.itemsize, len(raw) - header_size
    if found < expected:
        raise ValueError(f"{where} is truncated: expected {expected} bytes of data, found {found} "
                         f"(shape {dims}); delete it and download it again")
    if found > expected:
        raise ValueError(f"{where}: {found - expected} unexpected trailing bytes after the data of shape {dims} "
                         f"({expected} bytes); the file is damaged, delete it and download it again")
    flat = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=header_size)
    return flat.reshape(dims).astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def _read_bytes(path_or_fileobj):
    """Return (all bytes, a name for error messages) of a path or of an open binary file."""
    if hasattr(path_or_fileobj, "read"):
        return path_or_fileobj.read(), str(getattr(path_or_fileobj, "name", "the IDX stream"))
    path = pathlib.Path(path_or_fileobj)
    return path.read_bytes(), str(path)


def _images_and_labels(images_path, labels_path):
    """Parse an IDX image file and its label file into (N, H*W) uint8 images, (N,) int64 labels, (H, W)."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{images_path} and {labels_path} do not fit together: expected images (N, H, W) and "
                         f"labels (N,), found {images.shape} and {labels.shape}")
    return images.reshape(len(images), -1), labels.astype(np.int64), images.shape[1:]


def _to_unit(images):
    """uint8 pixels (N, D) -> float32 in [0, 1]: x = pixel / 255. Always a new array."""
    return images.astype(np.float32) / np.float32(255.0)


# ------------------------------------------------------------------------------------------------ bundled MNIST
@functools.lru_cache(maxsize=1)
def _bundled_arrays():
    """Parse the bundled files once per process. Returns read-only (10000, 784) uint8 and (10000,) int64."""
    for filename, sha256 in _BUNDLED_SHA256.items():
        problem = _checksum_problem(_DATA_DIR / filename, sha256=sha256)
        if problem:
            raise ValueError(f"the bundled file {filename} is damaged ({problem}); reinstall minivae")
    images, labels, _ = _images_and_labels(_DATA_DIR / "t10k-images-idx3-ubyte.gz",
                                           _DATA_DIR / "t10k-labels-idx1-ubyte.gz")
    images.flags.writeable = False  # the cache is shared: nobody may change it
    labels.flags.writeable = False
    return images, labels


def load_mnist_test_10k() -> Dataset:
    """The bundled MNIST test set, split 9,000 train (images 0..8999) / 1,000 test (images 9000..9999).

    Works offline. Returns fresh arrays on every call, so changing them does not change the next call's result.

    Example::

        >>> ds = load_mnist_test_10k()
        >>> ds.x_train.shape, ds.x_test.shape, ds.y_train[:5].tolist()
        ((9000, 784), (1000, 784), [7, 2, 1, 0, 4])
    """
    images, labels = _bundled_arrays()
    n = _BUNDLED_TRAIN_SIZE
    return Dataset("mnist-test-10k", _to_unit(images[:n]), labels[:n].copy(), _to_unit(images[n:]),
                   labels[n:].copy(), (28, 28), _DESCRIPTIONS["mnist-test-10k"])


# ---------------------------------------------------------------------------------------------------- downloads
class DownloadError(OSError):
    """A file could not be fetched (no network, unknown host, HTTP error...). The message says what to do instead."""


def default_cache_dir() -> pathlib.Path:
    """Folder for downloaded datasets: ``$MINIVAE_CACHE_DIR`` if set, else ``~/.cache/minivae``.

    Example::

        >>> default_cache_dir()                              # doctest: +SKIP
        PosixPath('/home/ada/.cache/minivae')
    """
    env = os.environ.get("MINIVAE_CACHE_DIR")
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "minivae"


def download_file(url, dest, sha256=None, md5=None, timeout=30) -> pathlib.Path:
    """Download ``url`` to ``dest`` and check its checksum; return ``dest``.

    If ``dest`` already exists with the right checksum (or no checksum is given), nothing is downloaded. The data
    goes to a temporary file next to ``dest``, which is checked and then renamed with ``os.replace`` (atomic), so
    ``dest`` is either absent or complete. Raises DownloadError (an OSError) if the network fails and ValueError if
    the checksum is wrong; in both cases no file is left behind.

    Example::

        >>> download_file("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        ...               "t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c")   # doctest: +SKIP
    """
    dest = pathlib.Path(dest)
    if dest.exists() and _checksum_problem(dest, sha256, md5) is None:
        return dest
    with atomic_write(dest, "wb") as out:  # on any error the partial download is deleted
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, out)
        except (OSError, http.client.HTTPException) as err:  # URLError and timeouts are OSErrors
            raise DownloadError(_download_advice(dest.name, url, _reason(err), dest.parent)) from err
        out.flush()
        problem = _checksum_problem(pathlib.Path(out.name), sha256, md5)
        if problem:
            raise ValueError(f"downloaded {dest.name} from {url}, but {problem}; the server sent a different or "
                             f"damaged file, so it was not kept")
    return dest


def _reason(err):
    return str(getattr(err, "reason", None) or err)


def _download_advice(what, url, reason, folder):
    return (f"could not download {what} from {url}: {reason}; use the bundled dataset ('mnist-test-10k') "
            f"or place the files in {folder}")


def _checksum_problem(path, sha256=None, md5=None):
    """None if ``path`` has the given digests, else a sentence saying which one differs."""
    for algorithm, want in (("sha256", sha256), ("md5", md5)):
        if want is not None:
            digest = hashlib.new(algorithm)
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != want.lower():
                return f"its {algorithm} checksum is {digest.hexdigest()}, expected {want}"
    return None


def _fetch(filename, urls, md5, folder):
    """Try each mirror in turn; raise the checksum error if a mirror sent a wrong file, else a DownloadError."""
    errors = []
    for base in urls:
        print(f"minivae: downloading {base}{filename}", file=sys.stderr)
        try:
            return download_file(base + filename, folder / filename, md5=md5)
        except (DownloadError, ValueError) as err:
            errors.append(err)
    mismatches = [err for err in errors if isinstance(err, ValueError)]
    if mismatches:
        raise mismatches[0]
    reasons = "; ".join(_reason(err.__cause__) for err in errors)
    raise DownloadError(_download_advice(filename, " or ".join(u + filename for u in urls), reasons, folder))


def _load_idx_dataset(name, cache_dir, download):
    """Shared body of load_mnist / load_fashion_mnist: files in <cache_dir>/<name>/, checked, fetched if missing."""
    folder = pathlib.Path(cache_dir or default_cache_dir()).expanduser() / name
    loader = "load_" + name.replace("-", "_")
    missing = [f for f in _IDX_FILES if not (folder / f).exists()]
    if missing and not download:
        raise FileNotFoundError(f"{name}: missing {', '.join(missing)} in {folder}; call {loader}(download=True) "
                                f"or place the files there")
    for filename in _IDX_FILES:
        path, md5 = folder / filename, MD5SUMS[name][filename]
        if not path.exists():
            _fetch(filename, MIRRORS[name], md5, folder)
        elif (problem := _checksum_problem(path, md5=md5)) is not None:
            path.unlink()  # so that the next call downloads a fresh copy
            raise ValueError(f"{path} is corrupt or incomplete ({problem}); it has been deleted: call {loader}() "
                             f"again to download it, or place a good copy there")
    x_train, y_train, shape = _images_and_labels(folder / _IDX_FILES[0], folder / _IDX_FILES[1])
    x_test, y_test, _ = _images_and_labels(folder / _IDX_FILES[2], folder / _IDX_FILES[3])
    return Dataset(name, _to_unit(x_train), y_train, _to_unit(x_test), y_test, tuple(shape), _DESCRIPTIONS[name])


def load_mnist(cache_dir=None, download=True) -> Dataset:
    """Full MNIST: (60000, 784) train and (10000, 784) test, float32 in [0, 1], int64 labels.

    The four .gz files live in ``<cache_dir>/mnist/`` (default cache: :func:`default_cache_dir`) and are
    downloaded on first use from the mirrors in ``MIRRORS["mnist"]``, checked against the published MD5s.

    Example::

        >>> ds = load_mnist()                                # doctest: +SKIP
        >>> ds.x_train.shape   # doctest: +SKIP
        (60000, 784)
    """
    return _load_idx_dataset("mnist", cache_dir, download)


def load_fashion_mnist(cache_dir=None, download=True) -> Dataset:
    """Fashion-MNIST: (60000, 784) train and (10000, 784) test, float32 in [0, 1], labels 0..9 (T-shirt..boot).

    Same file format, cache layout (``<cache_dir>/fashion-mnist/``) and checks as :func:`load_mnist`.

    Example::

        >>> ds = load_fashion_mnist()                        # doctest: +SKIP
        >>> ds.image_shape   # doctest: +SKIP
        (28, 28)
    """
    return _load_idx_dataset("fashion-mnist", cache_dir, download)


# ------------------------------------------------------------------------------------------------- your own data
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
    x = _read_array_file(path)
    if image_shape is not None and x.shape[1:] != tuple(image_shape) and x[0].size != math.prod(image_shape):
        raise ValueError(f"{path}: each sample has shape {x.shape[1:]}, which does not fit image_shape "
                         f"{tuple(image_shape)}")
    return x.reshape(len(x), -1)


def _read_array_file(path):
    """Read and check a user file; returns float32 of shape (N, D) or (N, H, W) as stored."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in _ARRAY_SUFFIXES:
        raise ValueError(f"{path}: unknown file type {suffix!r}; minivae reads {', '.join(_ARRAY_SUFFIXES)}")
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


def _shuffled_split(x, test_fraction, seed):
    """Shuffle the rows of x with ``seed``; the first round(N * test_fraction) rows (at least 1) become the test set."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if len(x) < 2:
        raise ValueError(f"need at least 2 samples to make a train and a test set, got {len(x)}")
    n_test = min(max(round(len(x) * test_fraction), 1), len(x) - 1)
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order[n_test:]], x[order[:n_test]]


def load_dataset(name_or_path="mnist-test-10k", cache_dir=None, download=True, test_fraction=0.1, seed=0,
                 rescale=False) -> Dataset:
    """Load a built-in dataset by name, or your own .npy / .npz / .csv file.

    Names: ``"mnist-test-10k"`` (bundled, default), ``"mnist"``, ``"fashion-mnist"``. For a file, the rows are
    shuffled with ``seed`` and a ``test_fraction`` of them become the test set; with ``rescale=True`` the whole
    array is min-max rescaled, x' = (x - min) / (max - min), so that it lies in [0, 1] (needed by the Bernoulli
    likelihood). Without it the values are kept as they are. ``test_fraction``, ``seed`` and ``rescale`` apply to
    files only; ``cache_dir`` and ``download`` to downloaded datasets only.

    Example::

        >>> load_dataset()
        Dataset('mnist-test-10k', train (9000, 784) float32, test (1000, 784) float32, with labels, image_shape=(28, 28))
    """
    loaders = {"mnist-test-10k": load_mnist_test_10k,
               "mnist": lambda: load_mnist(cache_dir, download),
               "fashion-mnist": lambda: load_fashion_mnist(cache_dir, download)}
    if isinstance(name_or_path, str) and name_or_path in loaders:
        return loaders[name_or_path]()
    path = pathlib.Path(name_or_path)
    if path.suffix.lower() not in _ARRAY_SUFFIXES:
        raise ValueError(f"unknown dataset {str(name_or_path)!r}; use one of {', '.join(KNOWN_DATASETS)} "
                         f"or a path to a {' / '.join(_ARRAY_SUFFIXES)} file")
    x = _read_array_file(path)
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


# ---------------------------------------------------------------------------------------------------- binarizing
def binarize_static(x, threshold=0.5) -> np.ndarray:
    """Fixed binarization: 1 where x > threshold, else 0; same shape and dtype as ``x``.

    Example::

        >>> binarize_static(np.array([0.2, 0.5, 0.9], dtype=np.float32))
        array([0., 0., 1.], dtype=float32)
    """
    x = np.asarray(x)
    return (x > threshold).astype(x.dtype)


def binarize_dynamic(x, rng) -> np.ndarray:
    """Random binarization: each value becomes 1 with probability x, else 0 (a fresh draw each call, e.g. each
    epoch; Salakhutdinov & Murray 2008). Same shape and dtype as ``x``; E[result] = x.

    Example::

        >>> binarize_dynamic(np.array([0.0, 1.0, 0.5]), np.random.default_rng(0))
        array([0., 1., 1.])
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, e.g. np.random.default_rng(0), got {type(rng).__name__}")
    x = np.asarray(x)
    check_unit_interval(x, "the input of binarize_dynamic (probabilities)")
    return (rng.random(x.shape) < x).astype(x.dtype)
