"""load_dataset: one call for every dataset, picked by name or by the path of your own file.

Names (``KNOWN_DATASETS``):

* ``"mnist-test-10k"`` (the default) -- the MNIST test set bundled with minivae, split 9,000 train / 1,000 test;
* ``"mnist"`` -- the full MNIST, 60,000 train / 10,000 test, downloaded once into the cache folder;
* ``"fashion-mnist"`` -- Fashion-MNIST, same format and sizes, downloaded once.

Anything else must be a path to a ``.npy``, ``.npz``, ``.csv`` or ``.csv.gz`` file of shape ``(N, D)`` or
``(N, H, W)``, which is shuffled and split by a seed. Every loader returns a Dataset: train and test matrices of shape
(N, D), float32.
"""
import dataclasses
import pathlib

from minivae.datasets.arrays import ARRAY_SUFFIXES, check_image_shape, load_array_dataset, suffix_of
from minivae.datasets.dataset import Dataset
from minivae.datasets.mnist import load_fashion_mnist, load_mnist, load_mnist_test_10k

# name -> loader(cache_dir, download); the bundled set has nothing to download.
_LOADERS = {
    "mnist-test-10k": lambda cache_dir, download: load_mnist_test_10k(),
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
}
KNOWN_DATASETS = tuple(_LOADERS)


def load_dataset(name_or_path="mnist-test-10k", cache_dir=None, download=True, test_fraction=0.1, seed=0,
                 rescale=False, missing="error", image_shape=None) -> Dataset:
    """Load a built-in dataset by name, or your own .npy / .npz / .csv / .csv.gz file.

    Names: ``"mnist-test-10k"`` (bundled, default), ``"mnist"``, ``"fashion-mnist"``. For a file, the rows are
    shuffled with ``seed`` and a ``test_fraction`` of them become the test set; with ``rescale=True`` the whole
    array is min-max rescaled, x' = (x - min) / (max - min), so that it lies in [0, 1] (needed by the Bernoulli
    likelihood). Without it the values are kept as they are. ``missing`` says what to do with missing values
    ("error", the default, "drop" the rows or fill in the column "mean"). ``test_fraction``, ``seed``, ``rescale``
    and ``missing`` apply to files only; ``cache_dir`` and ``download`` to downloaded datasets only.
    ``image_shape=(H, W)`` says that the rows are H x W images (H * W must equal D): flat data such as 8 x 8 digits
    then get image figures and can train a convolutional VAE.

    Example::

        >>> load_dataset()
        Dataset('mnist-test-10k', train (9000, 784) float32, test (1000, 784) float32, with labels, image_shape=(28, 28))
    """
    if isinstance(name_or_path, str) and name_or_path in _LOADERS:
        data = _LOADERS[name_or_path](cache_dir, download)
        if image_shape is None:
            return data
        shape = check_image_shape(name_or_path, image_shape, data.x_train.shape[1:])
        return dataclasses.replace(data, image_shape=shape)
    path = pathlib.Path(name_or_path)
    if suffix_of(path) not in ARRAY_SUFFIXES:
        raise ValueError(f"unknown dataset {str(name_or_path)!r}; use one of {', '.join(KNOWN_DATASETS)} "
                         f"or a path to a {' / '.join(ARRAY_SUFFIXES)} file")
    return load_array_dataset(path, test_fraction, seed, rescale, missing, image_shape)
