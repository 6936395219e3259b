"""Tests for minivae.training.run_data: the data of a run, recorded when it starts and rebuilt from its checkpoint
(the test set binarized as the model was validated on it)."""
import csv
import json

import numpy as np
import pytest

from minivae import VAE
from minivae.datasets import binarize_dynamic, binarize_static, load_mnist_test_10k
from minivae.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minivae.training.run_data import data_of_checkpoint, recorded_data, run_record, training_data


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
    assert record == {"dataset": "mnist-test-10k", "dataset_sha256": None, "load_options": {}, "split": None,
                      "exclude_classes": [1, 7], "image_shape": [28, 28], "examples": [len(data.x_train), 1000]}
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


# -- the whole pipeline, recorded and replayed ---------------------------------------------------------------------


def user_file(folder, name="grey.npy", n=40, seed=0):
    """An array file of 0..255 values, as a user's images often are (they need rescale=True)."""
    x = np.random.default_rng(seed).integers(0, 256, size=(n, 16)).astype(np.float32)
    path = folder / name
    np.save(path, x)
    return path


def test_a_user_file_is_recorded_by_absolute_path_checksum_options_and_split(tmp_path, monkeypatch):
    import hashlib

    user_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    data = training_data("grey.npy", rescale=True, cache_dir="/somewhere", download=False)
    record = json.loads(json.dumps(run_record(data, "grey.npy", load_options=dict(rescale=True, cache_dir="/x",
                                                                                  download=False))))
    assert record["dataset"] == str(tmp_path / "grey.npy")  # absolute: the commands work from any folder
    assert record["dataset_sha256"] == hashlib.sha256((tmp_path / "grey.npy").read_bytes()).hexdigest()
    assert record["load_options"] == {"rescale": True}  # where files come from is not recorded
    assert record["split"] == {"test_fraction": 0.1, "seed": 0} and record["examples"] == [36, 4]


def test_the_recorded_pipeline_is_replayed_from_another_folder(tmp_path, monkeypatch):
    """The issue's case: a run trained with rescale=True scored without it looked 20x worse, silently."""
    user_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    data = training_data("grey.npy", rescale=True)
    ckpt = checkpoint_with(tmp_path, {**run_record(data, "grey.npy", load_options={"rescale": True}),
                                      "train_config": {"binarize": "none"}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    notes = []
    again = data_of_checkpoint(ckpt, say=notes.append, cache_dir=None, download=True, rescale=False)  # as the CLI
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert again.x_test.max() <= 1 and notes == []


def test_an_explicit_option_that_contradicts_the_record_is_applied_with_a_note_or_refused(tmp_path):
    path = user_file(tmp_path)
    data = training_data(str(path))
    record = run_record(data, str(path), load_options={"rescale": False})
    notes = []
    again = recorded_data(record, rescale=True, say=notes.append)
    assert again.x_test.max() <= 1
    assert notes == ["note: the run was trained with rescale=False, not rescale=True; applying rescale=True as "
                     "asked, so the numbers are not those of the run's own data pipeline"]
    with pytest.raises(ValueError, match="cannot resume with rescale=True: the run was trained with rescale=False"):
        recorded_data(record, rescale=True, strict=True)


def test_a_changed_file_is_refused_unless_named_and_then_used_with_a_warning(tmp_path):
    path = user_file(tmp_path)
    record = run_record(training_data(str(path), rescale=True), str(path), load_options={"rescale": True})
    user_file(tmp_path, seed=1)  # the same name, other bytes
    with pytest.raises(CheckpointError, match=r"has changed since the run was trained \(SHA-256 [0-9a-f]{12}\.\.\. "
                                              r"then, [0-9a-f]{12}\.\.\. now\).*--data"):
        recorded_data(record)
    notes = []
    recorded_data(record, name=str(path), say=notes.append)
    assert notes == [f"warning: {path} has changed since the run was trained on it (other SHA-256); using it as it "
                     "is now"]
    with pytest.raises(CheckpointError, match="cannot resume on .*: it has changed since the run was trained on it"):
        recorded_data(record, name=str(path), strict=True)


def test_a_moved_file_is_found_by_its_checksum_and_a_missing_one_named(tmp_path):
    path = user_file(tmp_path)
    record = run_record(training_data(str(path)), str(path), load_options={})
    moved = tmp_path / "moved.npy"
    path.rename(moved)
    with pytest.raises(FileNotFoundError, match="the data file of this run, .*grey.npy, is gone; .*--data"):
        recorded_data(record)
    notes = []
    data = recorded_data(record, name=str(moved), strict=True, say=notes.append)  # the same bytes: the same run
    assert notes == [] and data.x_test.shape == (4, 16)


def test_whatever_options_load_dataset_grows_are_recorded_and_replayed(tmp_path, monkeypatch):
    """load_options is recorded as a dict, whatever its keys: a loader with an option this module never heard of."""
    import minivae.training.run_data as run_data

    calls, real = [], run_data.load_dataset

    def load_dataset(name_or_path, cache_dir=None, download=True, test_fraction=0.1, seed=0, rescale=False,
                     image_shape=None, delimiter=None):
        calls.append(dict(rescale=rescale, image_shape=image_shape, delimiter=delimiter))
        return real(name_or_path, rescale=rescale)

    monkeypatch.setattr(run_data, "load_dataset", load_dataset)
    path = user_file(tmp_path)
    options = dict(cache_dir=None, download=True, rescale=True, image_shape=(4, 4), delimiter=";")  # as loading()
    record = json.loads(json.dumps(run_record(training_data(str(path), **options), str(path), load_options=options)))
    assert record["load_options"] == {"rescale": True, "image_shape": [4, 4], "delimiter": ";"}
    calls.clear()
    recorded_data(record, cache_dir=None, download=True, rescale=False, image_shape=None, delimiter=None)
    assert calls == [dict(rescale=True, image_shape=[4, 4], delimiter=";")]  # left at their defaults: as recorded
    notes = []
    recorded_data(record, image_shape=(2, 8), say=notes.append)
    assert calls[-1]["image_shape"] == (2, 8) and "trained with image_shape=[4, 4], not image_shape=(2, 8)" in notes[0]


def test_the_training_part_comes_back_without_the_excluded_classes(tmp_path):
    data = training_data("mnist-test-10k", exclude_classes=[3])
    ckpt = checkpoint_with(tmp_path, {**run_record(data, "mnist-test-10k", [3]), "train_config": {}})
    again = data_of_checkpoint(ckpt)
    assert not np.isin(again.y_train, [3]).any() and len(again.x_train) == len(data.x_train)


def test_a_checkpoint_from_before_the_record_loads_as_the_options_say_with_a_note(tmp_path):
    ckpt = checkpoint_with(tmp_path, {"dataset": "mnist-test-10k", "exclude_classes": [], "image_shape": [28, 28],
                                      "train_config": {"binarize": "none"}})  # what 0.1.0 recorded
    notes = []
    data = data_of_checkpoint(ckpt, say=notes.append, rescale=False)
    assert data.name == "mnist-test-10k"
    assert notes == ["note: this checkpoint does not record how its data were loaded (it predates minivae 0.2.0); "
                     "loading mnist-test-10k with the options given now (rescale=False)"]


def test_data_that_no_longer_split_as_recorded_are_refused(tmp_path):
    path = user_file(tmp_path)
    record = run_record(training_data(str(path)), str(path), load_options={})
    record["examples"] = [30, 10]
    with pytest.raises(CheckpointError, match="now gives 36 training and 4 test examples, but the run had 30 and 10"):
        recorded_data(record)
