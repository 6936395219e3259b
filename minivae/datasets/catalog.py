"""load_dataset: one call for every dataset, picked by name or by the path of your own file.

Names (``KNOWN_DATASETS``):

* ``"mnist-test-10k"`` (the default) -- the MNIST test set bundled with minivae, split 9,000 train / 1,000 test;
* ``"mnist"`` -- the full MNIST, 60,000 train / 10,000 test, downloaded once into the cache folder;
* ``"fashion-mnist"`` -- Fashion-MNIST, same format and sizes, downloaded once.

Anything else must be a path to a ``.npy``, ``.npz``, ``.csv`` or ``.csv.gz`` file of shape ``(N, D)`` or
``(N, H, W)``, which is shuffled and split by a seed. Every loader returns a Dataset: train and test matrices of shape
(N, D), float32.

Bundled tables (``BUNDLED_TABLES``) are real tables of mixed columns shipped in ``files/`` for the table VAE
(``minivae.tables``): ``bundled_table(name)`` gives the path of the checked file, which ``minivae.tables.arrow_io``
reads as column batches.

* ``"penguins"`` -- the Palmer penguins, 344 rows x 8 columns (3 categorical, 4 numeric, the year), with nulls
  (Gorman, Williams & Fraser 2014; CC0). See ``files/README.md``.
"""
import dataclasses
import pathlib

from minivae.datasets.arrays import ARRAY_SUFFIXES, check_image_shape, load_array_dataset, suffix_of
from minivae.datasets.dataset import DamagedFileError, Dataset
from minivae.datasets.download import checksum_problem
from minivae.datasets.mnist import load_fashion_mnist, load_mnist, load_mnist_test_10k

# name -> loader(cache_dir, download); the bundled set has nothing to download.
_LOADERS = {
    "mnist-test-10k": lambda cache_dir, download: load_mnist_test_10k(),
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
}
KNOWN_DATASETS = tuple(_LOADERS)

_FILES = pathlib.Path(__file__).resolve().parent / "files"
# name -> (file in files/, sha256 of that .gz file as shipped); files/README.md has the sources and licences.
BUNDLED_TABLES = {
    "penguins": ("penguins.csv.gz", "c1389583136398d9da48509f1b6574705294349d6ebe2446d161e9c012dfdcac"),
}


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


def bundled_table(name) -> pathlib.Path:
    """The path of the bundled table ``name`` (a key of ``BUNDLED_TABLES``), after checking its sha256.

    The file is a gzip-compressed CSV with a header row; "NA" marks a null, as in the published file. Read it as
    column batches with ``minivae.tables.arrow_io.iter_batches(path)`` (the ``tables`` extra), which reads "NA" as a
    null in number columns and leaves it as the text "NA" in text columns.
    Raises ValueError for an unknown name (naming the known ones) and DamagedFileError if the file's checksum differs.

    Example::

        >>> bundled_table("penguins").name
        'penguins.csv.gz'
    """
    if name not in BUNDLED_TABLES:
        raise ValueError(f"unknown bundled table {name!r}; the bundled tables are: {', '.join(BUNDLED_TABLES)}")
    filename, sha256 = BUNDLED_TABLES[name]
    path = _FILES / filename
    problem = checksum_problem(path, sha256=sha256)
    if problem:
        raise DamagedFileError(f"the bundled table file {filename} is damaged ({problem}); reinstall minivae")
    return path
