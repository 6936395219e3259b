"""Data: the bundled MNIST digits, verified downloads, your own arrays and tables.

    dataset       Dataset: the train and test matrices (N, D) that every loader returns
    catalog       load_dataset: a dataset by name ("mnist-test-10k", "mnist", "fashion-mnist") or by file path;
                  bundled_table: the path of a bundled real table ("penguins"), checked
    mnist         the bundled MNIST test set (fixed 9,000 / 1,000 split), MNIST and Fashion-MNIST downloads
    idx           read_idx: the IDX file format of MNIST, raw or gzip-compressed
    download      verified downloads: checksums, the cache folder, atomic writes, DownloadError
    arrays        your own .npy / .npz / .csv arrays (and an .npz's labels): checked, shuffled and split by a seed
    csvfiles      CSV files read as meant (gzip, delimiter, header row, pandas index); tables written atomically
    missing       missing values: where and how many, and "drop" or "mean" only when asked
    binarize      static and dynamic binarization of grey values in [0, 1]
    tables        CSV tables as VAE data: TabularEncoder, read and write CSV rows, table_dataset
    labels        labelled data: n_classes, without_classes (the training set without some classes)
    files/        the bundled data (MNIST test set, census first names, Palmer penguins) and their licences

The names below are also importable from ``minivae.datasets`` itself, as in version 0.1.0.
"""
from minivae.datasets.arrays import load_array_file
from minivae.datasets.binarize import binarize_dynamic, binarize_static
from minivae.datasets.catalog import load_dataset
from minivae.datasets.dataset import Dataset
from minivae.datasets.idx import read_idx
from minivae.datasets.mnist import load_fashion_mnist, load_mnist, load_mnist_test_10k

__all__ = ["Dataset", "load_dataset", "load_mnist_test_10k", "load_mnist", "load_fashion_mnist", "load_array_file",
           "read_idx", "binarize_static", "binarize_dynamic"]
