"""Labelled data: how many classes a Dataset has, and the Dataset without some of them.

A class is an integer label 0, 1, ..., C - 1 (``Dataset.y_train`` and ``y_test``, shape (N,) and (M,)). Two things a
run needs from the labels:

* ``n_classes(data)``: C = 1 + the largest label of the training and test sets, the number of one-hot columns a
  conditional VAE is told the class with;
* ``without_classes(data, classes)``: the same Dataset with the examples of some classes removed from its training
  part, the setting of anomaly detection: a model that never saw a class should find its examples improbable. The
  test part keeps every class, so the left-out ones are there to be found.

Example
-------
>>> from minivae.datasets import load_mnist_test_10k
>>> data = load_mnist_test_10k()
>>> n_classes(data)
10
>>> normal = without_classes(data, [5])            # train without the 5s; the test set still has them
>>> bool((normal.y_train == 5).any()), bool((normal.y_test == 5).any())
(False, True)
"""
import dataclasses

import numpy as np


def _labels_or_error(data, what):
    if data.y_train is None:
        raise ValueError(f"{what} needs labelled data, but {data.name} has no labels; use a labelled dataset such "
                         "as mnist-test-10k, mnist or fashion-mnist")


def n_classes(data):
    """The number of classes C of a labelled Dataset: 1 + the largest label of y_train and y_test.

    Labels are class indices 0..C-1; a class with no example (e.g. left out by ``without_classes``) still counts if a
    larger label exists, so a model built for C classes accepts every label of the dataset.

    Example
    -------
    >>> from minivae.datasets import load_mnist_test_10k
    >>> n_classes(load_mnist_test_10k())
    10
    """
    _labels_or_error(data, "counting classes")
    labels = [data.y_train] + ([data.y_test] if data.y_test is not None else [])
    return int(max(y.max() for y in labels if len(y))) + 1


def without_classes(data, classes):
    """The Dataset ``data`` with every training example whose label is in ``classes`` removed.

        keep = y_train not in classes,   x_train -> x_train[keep] (N', D),   y_train -> y_train[keep] (N',)

    The test part (x_test, y_test) is unchanged, and the description says which classes were left out. An empty
    ``classes`` returns ``data`` itself. Raises ValueError for data without labels, or when nothing would be left.

    Example
    -------
    >>> from minivae.datasets import load_mnist_test_10k
    >>> data = without_classes(load_mnist_test_10k(), [2, 3])
    >>> sorted(set(data.y_train.tolist()))
    [0, 1, 4, 5, 6, 7, 8, 9]
    """
    classes = [int(c) for c in classes]
    if not classes:
        return data
    _labels_or_error(data, "leaving classes out")
    keep = ~np.isin(data.y_train, classes)  # (N,) bool
    if not keep.any():
        raise ValueError(f"leaving out classes {classes} removes every training example of {data.name}; keep at "
                         "least one class")
    return dataclasses.replace(data, x_train=data.x_train[keep], y_train=data.y_train[keep],
                               description=data.description + f" (training without classes {classes})")
