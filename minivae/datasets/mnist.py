"""MNIST and Fashion-MNIST: the bundled MNIST test set, and the full datasets downloaded once.

* ``load_mnist_test_10k`` -- the real MNIST *test* set, shipped with minivae in ``files/``, so everything works
  offline. It is split in a FIXED, documented way: the first 9,000 images are our training set, the last 1,000 our
  test set. (The original test set is ordered by writer, so this split is not perfectly i.i.d.; it is good enough
  to learn on.)
* ``load_mnist`` -- the full MNIST, 60,000 train / 10,000 test, downloaded once into the cache folder.
* ``load_fashion_mnist`` -- Fashion-MNIST, same format and sizes, downloaded once.

All three read IDX files (``minivae.datasets.idx``) and return a Dataset of (N, 784) float32 rows in [0, 1],
x = pixel / 255, with int64 labels 0..9. The bundled files are checked against their sha256, a download
(``minivae.datasets.download``) against the MD5 its authors published, and a cached MNIST file by the sha256 of its
uncompressed content, so that a copy compressed again by someone else is accepted and a damaged one is not.
"""
import functools
import pathlib

import numpy as np

from minivae.datasets.dataset import DamagedFileError, Dataset
from minivae.datasets.download import (checksum_problem, content_checksum_problem, default_cache_dir,
                                      download_from_mirrors)
from minivae.datasets.idx import read_images_and_labels

_DATA_DIR = pathlib.Path(__file__).resolve().parent / "files"

# Bundled files and the sha256 of the .gz files as shipped (they were re-compressed, so they differ from the .gz
# files published by LeCun et al.; the uncompressed contents are identical, see files/README.md).
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

# sha256 of the uncompressed IDX bytes: the same for the published .gz files and for any re-compressed copy. The
# MD5s of the same bytes, as published: train images 6bbc9ace..., train labels a25bea73..., test images 2646ac64...,
# test labels 27ae3e4e... (Fashion-MNIST has no published digest of its content: its .gz MD5s are used instead.)
CONTENT_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}

_DESCRIPTIONS = {
    "mnist-test-10k": "MNIST test set, 10,000 handwritten digits (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0), "
                      "bundled; fixed split: first 9,000 = train, last 1,000 = test",
    "mnist": "MNIST handwritten digits, 60,000 train / 10,000 test (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0)",
    "fashion-mnist": "Fashion-MNIST clothing images, 60,000 train / 10,000 test (H. Xiao, K. Rasul, R. Vollgraf, "
                     "Zalando Research, 2017; MIT licence)",
}


def _to_unit(images):
    """uint8 pixels (N, D) -> float32 in [0, 1]: x = pixel / 255. Always a new array."""
    return images.astype(np.float32) / np.float32(255.0)


# ------------------------------------------------------------------------------------------------ bundled MNIST
@functools.lru_cache(maxsize=1)
def _bundled_arrays():
    """Parse the bundled files once per process. Returns read-only (10000, 784) uint8 and (10000,) int64."""
    for filename, sha256 in _BUNDLED_SHA256.items():
        problem = checksum_problem(_DATA_DIR / filename, sha256=sha256)
        if problem:
            raise ValueError(f"the bundled file {filename} is damaged ({problem}); reinstall minivae")
    images, labels, _ = read_images_and_labels(_DATA_DIR / "t10k-images-idx3-ubyte.gz",
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


# ------------------------------------------------------------------------------------ MNIST, Fashion-MNIST
def _load_idx_dataset(name, cache_dir, download):
    """Shared body of load_mnist / load_fashion_mnist: files in <cache_dir>/<name>/, checked, fetched if missing.

    A cached file with a wrong checksum is deleted (so that the next call fetches it again), except with
    ``download=False``: then nothing is deleted, and the error says how to get a fresh copy."""
    folder = pathlib.Path(cache_dir or default_cache_dir()).expanduser() / name
    loader = "load_" + name.replace("-", "_")
    missing = [f for f in _IDX_FILES if not (folder / f).exists()]
    if missing and not download:
        raise FileNotFoundError(f"{name}: missing {', '.join(missing)} in {folder}; call {loader}(download=True) "
                                f"or place the files there")
    for filename in _IDX_FILES:
        path = folder / filename
        if not path.exists():
            download_from_mirrors(filename, MIRRORS[name], MD5SUMS[name][filename], folder)  # checked as it lands
        elif (problem := _cached_file_problem(name, path)) is not None:
            if not download:  # never delete what we may not fetch again: the user decides
                raise DamagedFileError(f"{path} is corrupt or incomplete ({problem}); it was left in place "
                                       "because downloading is off (--no-download, download=False): delete it and "
                                       "run again without --no-download to fetch a fresh copy, or place a good copy "
                                       "there")
            path.unlink()  # so that the next call downloads a fresh copy
            raise DamagedFileError(f"{path} is corrupt or incomplete ({problem}); it has been deleted: call "
                                   f"{loader}() again to download it, or place a good copy there")
    x_train, y_train, shape = read_images_and_labels(folder / _IDX_FILES[0], folder / _IDX_FILES[1])
    x_test, y_test, _ = read_images_and_labels(folder / _IDX_FILES[2], folder / _IDX_FILES[3])
    return Dataset(name, _to_unit(x_train), y_train, _to_unit(x_test), y_test, tuple(shape), _DESCRIPTIONS[name])


def _cached_file_problem(name, path):
    """None if a cached file is good: by the sha256 of its content where it is known, else by the .gz's MD5."""
    content = CONTENT_SHA256.get(name, {}).get(path.name)
    if content is not None:
        return content_checksum_problem(path, content)
    return checksum_problem(path, md5=MD5SUMS[name][path.name])


def load_mnist(cache_dir=None, download=True) -> Dataset:
    """Full MNIST: (60000, 784) train and (10000, 784) test, float32 in [0, 1], int64 labels.

    The four .gz files live in ``<cache_dir>/mnist/`` (default cache: :func:`default_cache_dir`) and are
    downloaded on first use from the mirrors in ``MIRRORS["mnist"]``, checked against the published MD5s. Files
    placed there by hand (any gzip compression of the original IDX bytes) are checked by the sha256 of their
    uncompressed content (``CONTENT_SHA256``).

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
