"""Training loop and checkpoints: exact resume, divergence guard, Ctrl-C, corrupt and foreign files."""
import json
import os
import zipfile

import numpy as np
import pytest

from minivae import VAE, Autoencoder
from minivae.training.checkpoint import CheckpointError, copy_params_into, load_checkpoint, read_checkpoint_file, \
    save_checkpoint
from minivae.nn.optim import Adam
from minivae.training.trainer import TrainConfig, Trainer, TrainingDiverged


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    # small MNIST-like data: blurry blobs in [0, 1]
    x = rng.random((300, 20)) ** 3
    return x[:240].astype(np.float32), x[240:].astype(np.float32)


def small_vae(seed=0):
    return VAE(20, latent_dim=2, hidden=(16,), seed=seed)


def params_equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("binarize", ["none", "dynamic"])
def test_resume_is_bit_identical(data, tmp_path, binarize):
    x, xv = data
    config = dict(batch_size=32, quiet=True, seed=5, binarize=binarize, warmup_steps=10, corruption=0.1)
    straight = Trainer(small_vae(), TrainConfig(epochs=2, **config))
    straight.fit(x, xv)

    first = Trainer(small_vae(), TrainConfig(epochs=1, **config))
    first.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.npz", TrainConfig(epochs=2, **config))
    assert resumed.epoch == 1 and resumed.step == first.step
    resumed.fit(x, xv)

    assert params_equal(straight.model.params, resumed.model.params)
    assert straight.history["train_loss"] == resumed.history["train_loss"]
    assert straight.history["val_loss"] == resumed.history["val_loss"]


def test_same_seed_same_run_and_different_seed_differs(data):
    x, xv = data
    runs = [Trainer(small_vae(), TrainConfig(epochs=1, batch_size=32, quiet=True, seed=s)) for s in (1, 1, 2)]
    for r in runs:
        r.fit(x, xv)
    assert params_equal(runs[0].model.params, runs[1].model.params)
    assert not params_equal(runs[0].model.params, runs[2].model.params)


def test_history_has_every_key_per_epoch(data):
    x, xv = data
    trainer = Trainer(small_vae(), TrainConfig(epochs=3, batch_size=32, quiet=True))
    history = trainer.fit(x, xv)
    for key, values in history.items():
        assert len(values) == 3, key
    assert history["epoch"] == [1, 2, 3]
    assert all(0 <= a <= 2 for a in history["active_units"])
    # training makes progress on this easy data
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_kl_warmup_schedule(data):
    x, _ = data
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, batch_size=32, quiet=True, beta=2.0, warmup_steps=16))
    assert trainer.current_beta() == 0.0
    trainer.fit(x)  # 240 / 32 -> 8 steps
    assert trainer.step == 8
    assert trainer.current_beta() == pytest.approx(2.0 * 8 / 16)


def test_autoencoder_trains_and_evaluates(data):
    x, xv = data
    trainer = Trainer(Autoencoder(20, latent_dim=2, hidden=(16,)), TrainConfig(epochs=2, batch_size=32, quiet=True))
    history = trainer.fit(x, xv)
    assert history["val_kl"] == [0.0, 0.0] and history["active_units"] == [None, None]


def test_divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint(data, tmp_path):
    x, xv = data
    path = tmp_path / "ckpt.npz"
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, batch_size=32, quiet=True))
    trainer.fit(x, xv, checkpoint_path=path)
    good_bytes = path.read_bytes()

    trainer.config.epochs = 2
    trainer.model.params["decoder.0.W"][0, 0] = np.nan  # a parameter gone bad: the next loss is NaN
    with pytest.raises(TrainingDiverged, match="diverged at epoch 2.*learning rate.*last good checkpoint"):
        trainer.fit(x, xv, checkpoint_path=path)
    assert path.read_bytes() == good_bytes
    assert np.all(np.isfinite(load_checkpoint(path).model.params["decoder.0.W"]))


def test_ctrl_c_saves_a_checkpoint_and_reraises(data, tmp_path, monkeypatch):
    x, xv = data
    trainer = Trainer(small_vae(), TrainConfig(epochs=3, batch_size=32, quiet=True))
    calls = {"n": 0}
    original = trainer.model.loss_and_gradients

    def interrupted_on_third_call(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer.model, "loss_and_gradients", interrupted_on_third_call)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    saved = load_checkpoint(tmp_path / "ckpt-interrupted.npz")
    assert params_equal(saved.model.params, trainer.model.params)
    assert not (tmp_path / "ckpt.npz").exists()  # no epoch finished


def test_conditional_model_needs_labels(data):
    from minivae import ConditionalVAE

    x, _ = data
    model = ConditionalVAE(x.shape[1], latent_dim=2, hidden=(8,), n_classes=3)
    with pytest.raises(ValueError, match="ConditionalVAE is conditional: pass the labels of x_train"):
        Trainer(model, TrainConfig(epochs=1, quiet=True)).fit(x)


@pytest.mark.parametrize("bad", [dict(epochs=-1), dict(batch_size=0), dict(binarize="yes"), dict(corruption=1.0),
                                 dict(beta=-1.0)])
def test_bad_config_is_rejected(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_training_rejects_bad_data():
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, quiet=True))
    with pytest.raises(ValueError, match="NaN"):
        trainer.fit(np.full((10, 20), np.nan))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        trainer.fit(np.full((10, 20), 255.0))
    with pytest.raises(ValueError, match="20 columns"):
        trainer.fit(np.zeros((10, 21)))


# -- checkpoints -------------------------------------------------------------------------------------------------------


def trained_state(seed=0):
    rng = np.random.default_rng(seed)
    model, opt = small_vae(seed), Adam(lr=1e-2)
    x = rng.random((16, 20))
    for _ in range(3):
        model.loss_and_gradients(x, rng=rng)
        opt.step(model.params, model.grads)
    return model, opt, rng


def test_checkpoint_round_trip(tmp_path):
    model, opt, rng = trained_state()
    save_checkpoint(tmp_path / "c.npz", model, opt, rng, epoch=3, history={"train_loss": [1.0]}, extra={"a": 1})
    ckpt = load_checkpoint(tmp_path / "c.npz")
    assert params_equal(model.params, ckpt.model.params)
    assert ckpt.model.config() == model.config()
    assert ckpt.optimizer.t == opt.t and type(ckpt.optimizer) is Adam and ckpt.optimizer.lr == opt.lr
    assert params_equal(ckpt.optimizer.state_dict(), opt.state_dict())
    assert np.array_equal(ckpt.rng.random(5), rng.random(5))  # the generator continues where it was
    assert ckpt.epoch == 3 and ckpt.history == {"train_loss": [1.0]} and ckpt.extra == {"a": 1}


def test_checkpoint_holds_no_pickles(tmp_path):
    model, opt, rng = trained_state()
    save_checkpoint(tmp_path / "c.npz", model, opt, rng)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
    assert oct(os.stat(tmp_path / "c.npz").st_mode & 0o777) != oct(0o600)  # an ordinary file, not a private temp


def test_truncated_or_garbage_checkpoint_raises_a_clear_error(tmp_path):
    model, opt, rng = trained_state()
    path = save_checkpoint(tmp_path / "c.npz", model, opt, rng)
    data = path.read_bytes()
    (tmp_path / "short.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint at all")
    for name in ("short.npz", "junk.npz"):
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            load_checkpoint(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")


def _rewrite_meta(path, change):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def test_other_format_version_is_refused(tmp_path):
    model, opt, rng = trained_state()
    path = save_checkpoint(tmp_path / "c.npz", model, opt, rng)
    _rewrite_meta(path, lambda m: m.update(format_version=99))
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(path)


def test_npz_that_is_not_a_checkpoint_and_pickled_objects_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a minivae checkpoint"):
        read_checkpoint_file(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", meta=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(CheckpointError):
        read_checkpoint_file(tmp_path / "pickled.npz")


def test_other_architecture_is_refused(tmp_path):
    model, opt, rng = trained_state()
    path = save_checkpoint(tmp_path / "c.npz", model, opt, rng)
    _, arrays = read_checkpoint_file(path)
    with pytest.raises(CheckpointError, match="different architecture.*shape"):
        copy_params_into(VAE(20, latent_dim=3, hidden=(16,)), arrays)
    with pytest.raises(CheckpointError, match="different architecture.*missing"):
        copy_params_into(VAE(20, latent_dim=2, hidden=(16, 8)), arrays)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    model, opt, rng = trained_state()
    path = save_checkpoint(tmp_path / "c.npz", model, opt, rng, epoch=1)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, opt, rng, epoch=2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]  # no temporary file left behind
    assert zipfile.is_zipfile(path)


def _rewrite_arrays(path, change):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(path, **arrays)


def _set_rng_kind(meta):
    meta["rng_state"]["bit_generator"] = "Mersenne"


def _break_rng_state(meta):
    meta["rng_state"]["state"] = "not a state"


DAMAGED_FIELDS = [  # (what is changed, in the meta dict or the arrays, a fragment of the CheckpointError)
    ("meta", lambda m: m.pop("model"), "has no 'model' entry"),
    ("meta", lambda m: m.update(model=[1, 2]), "'model' entry is [1, 2], not an object"),
    ("meta", lambda m: m["model"].update(model="GAN"), "model config cannot be built (unknown model kind 'GAN'"),
    ("meta", lambda m: m["model"].pop("input_dim"), "model config cannot be built"),
    ("meta", lambda m: m["model"].update(hidden="wide"), "model config cannot be built"),
    ("meta", lambda m: m.update(epoch=1.5), "'epoch' entry is 1.5, not an integer"),
    ("meta", lambda m: m.update(epoch="3"), "'epoch' entry is '3', not an integer"),
    ("meta", lambda m: m.update(epoch=-2), "epoch is -2, not a count"),
    ("meta", lambda m: m.update(history=[1.0]), "'history' entry is [1.0], not an object"),
    ("meta", lambda m: m.update(history={"train_loss": 3.0}), "history entry 'train_loss' is not a list of numbers"),
    ("meta", lambda m: m.update(history={"train_loss": ["a"]}), "history entry 'train_loss' is not a list"),
    ("meta", lambda m: m.update(extra=None), "'extra' entry is None, not an object"),
    ("meta", lambda m: m.pop("rng_state"), "has no 'rng_state' entry"),
    ("meta", _set_rng_kind, "random generator of unknown kind 'Mersenne'"),
    ("meta", _break_rng_state, "generator state that numpy refuses"),
    ("meta", lambda m: m.update(rng_state=7), "'rng_state' entry is 7, not an object or null"),
    ("meta", lambda m: m["optimizer"].update(name="lbfgs"), "optimizer named 'lbfgs'"),
    ("meta", lambda m: m["optimizer"].update(lr=-1), "its adam settings"),
    ("meta", lambda m: m["optimizer"].update(momentum=0.9), "its adam settings"),
    ("meta", lambda m: m.update(optimizer="adam"), "'optimizer' entry is 'adam', not an object or null"),
    ("arrays", lambda a: a.pop("optim/encoder.0.W/m"), "optimizer state lacks optim/encoder.0.W/m"),
    ("arrays", lambda a: a.pop("optim/t"), "no step count 'optim/t'"),
    ("arrays", lambda a: a.update({"optim/t": np.array(2.5)}), "no step count 'optim/t'"),
    ("arrays", lambda a: a.update({"optim/encoder.0.W/velocity": a["optim/encoder.0.W/m"]}),
     "entry 'optim/encoder.0.W/velocity', but Adam keeps m and v"),
    ("arrays", lambda a: a.update({"optim/nowhere/m": a["optim/encoder.0.W/m"]}), "entry 'optim/nowhere/m'"),
    ("arrays", lambda a: a.update({"optim/encoder.0.W/v": np.zeros((3, 3), np.float32)}),
     "'optim/encoder.0.W/v' has shape (3, 3)"),
    ("arrays", lambda a: a.update({"optim/encoder.0.W/v": a["optim/encoder.0.W/v"].astype(np.float64)}),
     "dtype float64"),
    ("arrays", lambda a: a.update(meta=np.array("{not json")), "'meta' entry is not valid JSON"),
    ("arrays", lambda a: a.update(meta=np.array("[1, 2]")), "'meta' entry is a JSON list, not an object"),
]


@pytest.mark.parametrize("where, change, message", DAMAGED_FIELDS, ids=[m for _, _, m in DAMAGED_FIELDS])
def test_every_damaged_field_is_one_clear_checkpoint_error(tmp_path, where, change, message):
    model, opt, rng = trained_state()
    path = save_checkpoint(tmp_path / "c.npz", model, opt, rng, epoch=1, history={"train_loss": [1.0]})
    (_rewrite_meta if where == "meta" else _rewrite_arrays)(path, change)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_folder_given_as_a_checkpoint_names_its_checkpoint(tmp_path):
    model, opt, rng = trained_state()
    save_checkpoint(tmp_path / "checkpoint.npz", model, opt, rng)
    with pytest.raises(CheckpointError, match=r"is a folder, not a checkpoint file.*checkpoint\.npz"):
        load_checkpoint(tmp_path)


def test_an_optimizer_before_its_first_step_has_no_state_and_loads(tmp_path):
    model = small_vae()
    save_checkpoint(tmp_path / "c.npz", model, Adam(lr=3e-3), np.random.default_rng(0))
    ckpt = load_checkpoint(tmp_path / "c.npz")
    assert ckpt.optimizer.t == 0 and ckpt.optimizer.state == {} and ckpt.optimizer.lr == 3e-3

