"""Data: the bundled MNIST digits, verified downloads, your own arrays and tables.

    loading       Dataset, load_dataset, the IDX parser, bundled MNIST, downloads, array files, binarization
    tables        CSV tables as VAE data: TabularEncoder, read and write CSV rows, table_dataset
    labels        labelled data: n_classes, without_classes (the training set without some classes)
    files/        the bundled MNIST test set (the original IDX files) and its licence

The names below are also importable from ``minivae.datasets`` itself, as in version 0.1.0.
"""
from minivae.datasets.loading import (Dataset, binarize_dynamic, binarize_static, load_array_file, load_dataset,
                                      load_fashion_mnist, load_mnist, load_mnist_test_10k, read_idx)

__all__ = ["Dataset", "load_dataset", "load_mnist_test_10k", "load_mnist", "load_fashion_mnist", "load_array_file",
           "read_idx", "binarize_static", "binarize_dynamic"]
