"""The Dataset every loader returns: a train and a test matrix, one sample per row.

Rows are samples and columns are values: ``x_train`` (N, D) and ``x_test`` (M, D), float32. Images are flattened row
by row (a 28 x 28 digit becomes D = 784 numbers) and scaled to [0, 1] by ``pixel / 255``; ``image_shape`` says how
to fold a row back into an image.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class Dataset:
    """A train/test pair of data matrices, one sample per row.

    Attributes: ``x_train`` (N, D) float32 and ``x_test`` (M, D) float32 (images: pixel / 255, in [0, 1]);
    ``y_train`` (N,) and ``y_test`` (M,) int64 labels, or None; ``image_shape`` (H, W) with H * W = D for images,
    None for tabular data; ``name`` and a one-line ``description`` with the source; ``encoder``, for a table, the
    ``TabularEncoder`` that turned its rows into x (None otherwise).

    Example::

        >>> from minivae.datasets import load_dataset
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
    encoder: object = None

    def __repr__(self):
        labels = "with labels" if self.y_train is not None else "no labels"
        return (f"Dataset({self.name!r}, train {self.x_train.shape} {self.x_train.dtype}, "
                f"test {self.x_test.shape} {self.x_test.dtype}, {labels}, image_shape={self.image_shape})")
