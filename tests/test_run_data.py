"""Tests for minivae.training.run_data: the data of a run, recorded when it starts and rebuilt from its checkpoint
(the test set binarized as the model was validated on it)."""
import csv
import json

import numpy as np
import pytest

from minivae import VAE
from minivae.datasets import binarize_dynamic, binarize_static, load_mnist_test_10k
from minivae.training.checkpoint import load_checkpoint, save_checkpoint
from minivae.training.run_data import data_of_checkpoint, run_record, training_data


def checkpoint_with(tmp_path, extra):
    """A checkpoint of a tiny untrained VAE that records ``extra``, as a run of the trainer would."""
    path = save_checkpoint(tmp_path / "checkpoint.npz", VAE(784, latent_dim=2, hidden=(4,)), extra=extra)
    return load_checkpoint(path)


@pytest.mark.parametrize("binarize", ["none", "static", "dynamic"])
def test_data_of_checkpoint_binarizes_the_test_set_as_recorded(tmp_path, binarize):
    ckpt = checkpoint_with(tmp_path, {"dataset": "mnist-test-10k", "train_config": {"binarize": binarize, "seed": 3}})
    data = data_of_checkpoint(ckpt)
    grey = load_mnist_test_10k()
    expected = {"none": grey.x_test, "static": binarize_static(grey.x_test),
                "dynamic": binarize_dynamic(grey.x_test, np.random.default_rng(3))}[binarize]  # Trainer.fit's draw
    np.testing.assert_array_equal(data.x_test, expected)
    np.testing.assert_array_equal(data.x_train, grey.x_train)  # the training part as loaded
    np.testing.assert_array_equal(data.y_test, grey.y_test)
    assert data.image_shape == (28, 28) and data.x_test.dtype == np.float32
    assert ("binarized" in data.description) == (binarize != "none")


def test_data_of_checkpoint_defaults_and_overrides(tmp_path):
    ckpt = checkpoint_with(tmp_path, {})  # written by library code, not by train: nothing recorded
    assert data_of_checkpoint(ckpt).name == "mnist-test-10k"
    np.save(tmp_path / "mine.npy", np.random.default_rng(0).random((20, 784)).astype(np.float32) * 10)
    data = data_of_checkpoint(ckpt, name=str(tmp_path / "mine.npy"), rescale=True)
    assert data.name == "mine" and data.x_test.shape == (2, 784) and data.x_test.max() <= 1


def test_training_data_and_its_record_rebuild_the_same_run(tmp_path):
    data = training_data("mnist-test-10k", exclude_classes=[1, 7])
    assert not np.isin(data.y_train, [1, 7]).any() and np.isin(data.y_test, [1, 7]).any()
    record = json.loads(json.dumps(run_record(data, "mnist-test-10k", [1, 7])))  # as a checkpoint stores it
    assert record == {"dataset": "mnist-test-10k", "exclude_classes": [1, 7], "image_shape": [28, 28]}
    again = training_data(record["dataset"], exclude_classes=record["exclude_classes"])
    np.testing.assert_array_equal(again.x_train, data.x_train)


def test_a_table_run_records_its_encoder_and_gets_the_same_rows_back(tmp_path):
    rng = np.random.default_rng(0)
    with open(tmp_path / "t.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["height", "year", "colour"])
        for _ in range(60):
            h = rng.normal(170, 10)
            writer.writerow([f"{h:.1f}", str(rng.integers(2000, 2003)), "red" if h > 170 else "blue"])
    data = training_data(str(tmp_path / "t.csv"), table=True, categorical=["year"])
    assert data.x_train.shape == (54, 1 + 3 + 2) and data.x_test.shape == (6, 6)  # 90/10; height, 3 years, 2 colours
    record = json.loads(json.dumps(run_record(data, str(tmp_path / "t.csv"))))
    assert record["image_shape"] is None and record["exclude_classes"] == []
    resumed = training_data(record["dataset"], table_encoder=record["table_encoder"])
    np.testing.assert_array_equal(resumed.x_train, data.x_train)
    np.testing.assert_array_equal(resumed.x_test, data.x_test)


def test_the_test_rows_of_a_table_run_are_encoded_with_its_encoder(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("height,colour\n" + "".join(f"{150 + i},{'red' if i % 2 else 'blue'}\n" for i in range(30)))
    data = training_data(str(path), table=True)
    ckpt = checkpoint_with(tmp_path, {**run_record(data, str(path)), "train_config": {"binarize": "none"}})
    again = data_of_checkpoint(ckpt)
    np.testing.assert_array_equal(again.x_test, data.x_test)  # not the grey-image loader, which refuses 'red'
    assert again.encoder.to_dict() == data.encoder.to_dict()
