"""Tests for minivae.datasets.labels: the number of classes, and a Dataset without some of its classes."""
import numpy as np
import pytest

from minivae.datasets.labels import n_classes, without_classes
from minivae.datasets import Dataset


def labelled(y_train, y_test):
    y_train, y_test = np.array(y_train), np.array(y_test)
    x_train = np.arange(len(y_train) * 2, dtype=np.float32).reshape(-1, 2)
    x_test = -np.arange(len(y_test) * 2, dtype=np.float32).reshape(-1, 2)
    return Dataset("toy", x_train, y_train, x_test, y_test, None, "a toy dataset")


def test_n_classes_counts_train_and_test_labels():
    assert n_classes(labelled([0, 1, 1], [0, 1])) == 2
    assert n_classes(labelled([0, 1], [3])) == 4  # a label that only the test set has still needs its column
    with pytest.raises(ValueError, match="needs labelled data, but toy has no labels"):
        n_classes(Dataset("toy", np.zeros((2, 1)), None, np.zeros((1, 1)), None, None, ""))


def test_without_classes_removes_training_examples_only():
    data = labelled([0, 1, 2, 1, 0, 2], [2, 0, 1])
    left = without_classes(data, [1, 2])
    np.testing.assert_array_equal(left.y_train, [0, 0])
    np.testing.assert_array_equal(left.x_train, data.x_train[[0, 4]])  # the rows go with their labels
    assert left.x_test is data.x_test and left.y_test is data.y_test  # the left-out classes stay in the test set
    assert left.description == "a toy dataset (training without classes [1, 2])"
    assert n_classes(left) == 3  # the model still needs a column for every label it will see
    assert without_classes(data, []) is data
    assert len(data.y_train) == 6  # the original is not changed


def test_without_classes_says_what_is_wrong():
    with pytest.raises(ValueError, match="needs labelled data"):
        without_classes(Dataset("toy", np.zeros((2, 1)), None, np.zeros((1, 1)), None, None, ""), [1])
    with pytest.raises(ValueError, match="removes every training example"):
        without_classes(labelled([1, 1], [0]), [1])


def test_without_classes_on_the_bundled_digits():
    from minivae.datasets import load_mnist_test_10k

    data = load_mnist_test_10k()
    left = without_classes(data, [2, 3, 4, 5, 6, 7, 8, 9])
    assert set(np.unique(left.y_train)) == {0, 1} and len(left.x_train) == np.isin(data.y_train, [0, 1]).sum()


def test_the_labels_of_an_npz_file_are_the_dataset_labels(tmp_path):
    from minivae.datasets import load_dataset

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 60)
    np.savez(tmp_path / "d.npz", x=rng.random((60, 5)), y=y)
    data = load_dataset(tmp_path / "d.npz")
    assert n_classes(data) == 4 and sorted(np.concatenate([data.y_train, data.y_test]).tolist()) == sorted(y.tolist())
    left = without_classes(data, [3])
    assert 3 not in left.y_train and len(left.x_train) == len(left.y_train) == np.sum(data.y_train != 3)
