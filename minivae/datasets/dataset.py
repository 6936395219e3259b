"""The Dataset every loader returns: a train and a test matrix, one sample per row.

Rows are samples and columns are values: ``x_train`` (N, D) and ``x_test`` (M, D), float32. Images are flattened row
by row (a 28 x 28 digit becomes D = 784 numbers) and scaled to [0, 1] by ``pixel / 255``; ``image_shape`` says how
to fold a row back into an image.

What every loader shares goes with it: ``tell`` prints what a loader decided about a file (its delimiter, a header
row, the rows it dropped), ``check_test_set`` refuses a test part too small to train with, and ``DamagedFileError``
says that a file is truncated or corrupt (a run that failed, exit status 1, not a usage error).
"""
from dataclasses import dataclass

import numpy as np

MIN_TEST_EXAMPLES = 2  # a run measures a variance over the test set (its active units): it needs two examples


@dataclass(eq=False)
class Dataset:
    """A train/test pair of data matrices, one sample per row.

    Attributes: ``x_train`` (N, D) float32 and ``x_test`` (M, D) float32 (images: pixel / 255, in [0, 1]);
    ``y_train`` (N,) and ``y_test`` (M,) int64 labels, or None; ``image_shape`` (H, W) with H * W = D for images,
    None for tabular data; ``name`` and a one-line ``description`` with the source; ``encoder``, for a table, the
    ``TableEncoder`` that turned its rows into x (None otherwise); ``table``, for a table, its schema, key columns
    and row count ({"schema", "keys", "rows"}, ``minivae.tables.dataset``).

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
    table: dict | None = None

    def __repr__(self):
        labels = "with labels" if self.y_train is not None else "no labels"
        return (f"Dataset({self.name!r}, train {self.x_train.shape} {self.x_train.dtype}, "
                f"test {self.x_test.shape} {self.x_test.dtype}, {labels}, image_shape={self.image_shape})")


class DamagedFileError(OSError, ValueError):
    """A data file that cannot be read as what it claims to be: truncated, corrupt, a bad checksum.

    An OSError, as a failed read is (the command line exits with status 1: the run failed, the command was right),
    and a ValueError, as these errors were before (``except ValueError`` still catches them).
    """


def tell(*notes):
    """Print what a loader decided about a file, one line "minivae: ..." per note, beside the command's own output
    (stdout: an error stays the one line on stderr)."""
    for note in notes:
        print(f"minivae: {note}")


def check_test_set(data, minimum=MIN_TEST_EXAMPLES):
    """Raise ValueError unless ``data`` holds at least ``minimum`` test examples; returns ``data``.

    Training validates on the test part after every epoch and counts the active latent units there, a variance over
    the test examples, which needs two of them. A loader's split decides how many there are: array files hold out
    at least 2 (so they need 3 examples), tables max(1, N // 10) rows (so they need 20).

    Example::

        >>> from minivae.datasets import load_dataset
        >>> check_test_set(load_dataset("mnist-test-10k")).x_test.shape
        (1000, 784)
    """
    n = len(data.x_test)
    if n < minimum:
        raise ValueError(f"{data.name} has {n} test example{'s' * (n != 1)}, too few to train with: the test set needs "
                         f"at least {minimum} (training measures a variance over it); give it more examples (a table "
                         "needs at least 20 rows)")
    return data
