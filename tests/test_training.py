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


@pytest.mark.parametrize("options", [
    dict(binarize="dynamic", warmup_steps=10, corruption=0.1, free_bits=0.05),
    dict(dp_clip_norm=1.0, dp_noise_multiplier=1.1, dp_delta=1e-3),  # DP-SGD: Poisson batches, clipping, noise
])
def test_loading_the_kernels_before_the_first_epoch_changes_nothing_of_the_run(data, options):
    """fit runs the step once on two examples first (training/kernel_loading.py): the run is bit for bit the run
    without it (a trainer whose kernels count as loaded already skips it)."""
    x, xv = data
    config = TrainConfig(epochs=2, batch_size=32, quiet=True, seed=5, **options)
    loaded, skipped = Trainer(small_vae(), config), Trainer(small_vae(), config)
    skipped.kernel_seconds = 0.0
    loaded.fit(x, xv), skipped.fit(x, xv)
    assert loaded.kernel_seconds > 0
    assert params_equal(loaded.model.params, skipped.model.params)
    assert loaded.history["train_loss"] == skipped.history["train_loss"]
    assert loaded.history["val_loss"] == skipped.history["val_loss"]
    assert loaded.rng.bit_generator.state == skipped.rng.bit_generator.state
    assert params_equal(loaded.optimizer.state_dict(), skipped.optimizer.state_dict())


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


# -- resuming as the run was made ----------------------------------------------------------------------------------

RUN_OPTIONS = dict(batch_size=32, binarize="dynamic", beta=0.5, lr=3e-3, warmup_steps=20, free_bits=0.1, seed=3,
                   quiet=True)  # every one of them differs from the defaults


def test_two_plus_two_epochs_resumed_equal_four_straight_with_non_default_options(data, tmp_path):
    x, xv = data
    straight = Trainer(small_vae(), TrainConfig(epochs=4, **RUN_OPTIONS))
    straight.fit(x, xv)
    first = Trainer(small_vae(), TrainConfig(epochs=2, **RUN_OPTIONS))
    first.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.npz", TrainConfig(epochs=4, **RUN_OPTIONS))
    assert resumed.config == TrainConfig(epochs=4, **RUN_OPTIONS) and resumed.optimizer.lr == 3e-3
    resumed.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    assert params_equal(straight.model.params, resumed.model.params)
    assert straight.history["val_loss"] == resumed.history["val_loss"]
    assert load_checkpoint(tmp_path / "ckpt.npz").extra["train_config"]["lr"] == 3e-3


def interrupt_on_call(trainer, monkeypatch, n, how="raise"):
    """Make the n-th loss call of the trainer's steps raise KeyboardInterrupt (inside the batch, before its
    update) or, with how="signal", send this process a real SIGINT (a Ctrl-C) from there. The call fit makes to
    load the kernels, before its first epoch, does not count."""
    import signal

    original, calls = trainer.model.loss_and_gradients, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += trainer.kernel_seconds is not None
        if calls["n"] == n:
            if how == "raise":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer.model, "loss_and_gradients", interrupted)


@pytest.mark.parametrize("how, batches_done", [("raise", 2), ("signal", 3)])
def test_resuming_a_run_interrupted_inside_an_epoch_is_exact(data, tmp_path, monkeypatch, capsys, how,
                                                             batches_done):
    """Interrupted in the 3rd batch of epoch 2 (8 batches per epoch): a KeyboardInterrupt raised inside the batch
    goes back to its start; a real Ctrl-C lets the batch finish. Either way the resumed run equals the straight one."""
    x, xv = data
    options = dict(RUN_OPTIONS, corruption=0.1)
    straight = Trainer(small_vae(), TrainConfig(epochs=3, **options))
    straight.fit(x, xv)

    run = Trainer(small_vae(), TrainConfig(epochs=3, **options))
    interrupt_on_call(run, monkeypatch, 8 + 3, how)
    with pytest.raises(KeyboardInterrupt):
        run.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    assert f"interrupted after batch {batches_done} of epoch 2" in capsys.readouterr().out
    saved = load_checkpoint(tmp_path / "ckpt-interrupted.npz")
    assert saved.epoch == 1 and saved.extra["position"]["batches_done"] == batches_done
    assert saved.extra["step"] == 8 + batches_done

    resumed = Trainer.from_checkpoint(tmp_path / "ckpt-interrupted.npz")
    resumed.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    assert params_equal(straight.model.params, resumed.model.params)
    assert straight.history["train_loss"] == resumed.history["train_loss"]
    assert straight.history["val_loss"] == resumed.history["val_loss"]
    assert not (tmp_path / "ckpt-interrupted.npz").exists()  # behind the finished epochs: removed


def test_the_same_trainer_continues_exactly_after_an_interruption(data, monkeypatch):
    x, xv = data
    straight = Trainer(small_vae(), TrainConfig(epochs=2, **RUN_OPTIONS))
    straight.fit(x, xv)
    run = Trainer(small_vae(), TrainConfig(epochs=2, **RUN_OPTIONS))
    interrupt_on_call(run, monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        run.fit(x, xv)  # no checkpoint: the state stays in the trainer, back at the start of the batch
    monkeypatch.undo()
    run.fit(x, xv)
    assert params_equal(straight.model.params, run.model.params)


def test_resuming_with_a_changed_option_is_refused_and_names_it(data, tmp_path):
    x, _ = data
    Trainer(small_vae(), TrainConfig(epochs=1, **RUN_OPTIONS)).fit(x, checkpoint_path=tmp_path / "ckpt.npz")
    with pytest.raises(ValueError, match=r"batch_size was 32, now 128; lr was 0\.003, now 0\.001.*only epochs and "
                                         r"quiet may change"):
        Trainer.from_checkpoint(tmp_path / "ckpt.npz", TrainConfig(epochs=2, **dict(RUN_OPTIONS, batch_size=128,
                                                                                     lr=1e-3)))
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.npz", TrainConfig(epochs=5, **dict(RUN_OPTIONS, quiet=False)))
    assert resumed.config.epochs == 5 and not resumed.config.quiet


def test_an_optimizer_given_is_what_the_config_and_the_checkpoint_record(data, tmp_path):
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, quiet=True), optimizer=Adam(lr=3e-3))
    assert trainer.config.lr == 3e-3 and trainer.config.optimizer == "adam"
    trainer.fit(data[0], checkpoint_path=tmp_path / "ckpt.npz")
    assert load_checkpoint(tmp_path / "ckpt.npz").extra["train_config"]["lr"] == 3e-3


def test_a_checkpoint_whose_record_disagrees_with_its_optimizer_resumes_as_the_optimizer_ran(tmp_path):
    """minivae 0.1.0 resumed with the flags' lr in the record and the checkpoint's lr in the optimizer."""
    from minivae.training.trainer import recorded_config

    model, opt, rng = trained_state()  # Adam(lr=1e-2)
    save_checkpoint(tmp_path / "c.npz", model, opt, rng, epoch=1, extra={"train_config": {"lr": 1e-3}, "step": 3})
    notes = []
    config = recorded_config(load_checkpoint(tmp_path / "c.npz"), notes)
    assert config.lr == 1e-2 and notes == ["note: the checkpoint's training config says adam with lr 0.001, but its "
                                           "optimizer ran as adam with lr 0.01; continuing as the optimizer ran"]
    assert Trainer.from_checkpoint(tmp_path / "c.npz").config.lr == 1e-2


@pytest.mark.parametrize("bad", [dict(batch_size=1.5), dict(epochs="3"), dict(lr="fast"), dict(quiet=1),
                                 dict(divergence_patience=0), dict(divergence_factor=-1.0)])
def test_config_values_of_the_wrong_kind_are_refused(bad):
    with pytest.raises(ValueError, match=f"{next(iter(bad))}"):
        TrainConfig(**bad)


# -- the divergence guard --------------------------------------------------------------------------------------------


def test_the_guard_bound_its_patience_and_its_reset():
    from minivae.training.guard import DivergenceGuard

    guard = DivergenceGuard(factor=10, patience=3)
    assert guard.limit() == float("inf") and guard.check(1e30) is None  # no start yet
    guard.commit(543.0)
    assert guard.limit() == 543.0 + 10 * 543.0
    for _ in range(2):
        assert guard.check(6000.0) is None
        guard.commit(6000.0)
    assert "stayed above 5973 nats for 3 steps in a row" in guard.check(6000.0)
    guard.commit(200.0)  # a good step resets the count
    assert guard.over == 0 and guard.check(6000.0) is None
    assert "not a finite number" in guard.check(float("nan")) and "not a finite number" in guard.check(float("inf"))
    negative = DivergenceGuard(start=-50.0)
    assert negative.limit() == -50.0 + 10 * 50.0  # max(|start|, 1): meaningful for negative losses too
    assert DivergenceGuard(start=0.2).limit() == 0.2 + 10 * 1.0
    assert DivergenceGuard(factor=0, start=5.0).limit() == float("inf")  # NaN and infinity only


def test_a_finite_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(data, tmp_path):
    x, xv = data
    path = tmp_path / "ckpt.npz"
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, batch_size=8, quiet=True))
    trainer.fit(x, xv, checkpoint_path=path)
    good = path.read_bytes()
    trainer.config.epochs = 2
    trainer.optimizer.lr = 1e3  # as `train --lr 1e3`: the loss jumps by orders of magnitude and stays finite
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 2.*stayed above .* nats for 10 steps in a row.*"
                                               r"untrained model's loss.*learning rate.*last good checkpoint "
                                               r"\(epoch 1\) is unchanged"):
        trainer.fit(x, xv, checkpoint_path=path)
    assert path.read_bytes() == good


def test_the_guard_state_is_saved_and_restored(data, tmp_path):
    x, _ = data
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, batch_size=32, quiet=True))
    trainer.fit(x, checkpoint_path=tmp_path / "ckpt.npz")
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.npz")
    assert resumed.guard.start == trainer.guard.start and resumed.guard.start > 0
    assert resumed.guard.limit() == trainer.guard.limit()


@pytest.fixture(scope="module")
def digits():
    from minivae import load_mnist_test_10k

    d = load_mnist_test_10k()
    return d.x_train[:2000], d.x_test[:200]


@pytest.mark.parametrize("model_options, options", [
    ({}, {}),                                                              # the main job's settings
    ({}, dict(beta=8.0, warmup_steps=40, lr=3e-3, batch_size=100)),        # warm-up up to a large beta
    ({}, dict(beta=8.0, lr=3e-3, batch_size=100)),                         # a large beta from the start
    ({"latent_dim": 20}, dict(beta=0.01, lr=3e-3, batch_size=100)),       # a small beta: a large KL
    ({}, dict(lr=0.1)),                                                    # a brisk Adam that still works
    ({}, dict(optimizer="sgd", lr=0.01)),
    ({"likelihood": "gaussian_learned"}, {}),                              # losses that go negative
])
def test_normal_training_never_trips_the_guard(digits, model_options, options):
    x, xv = digits
    model = VAE(784, **{"latent_dim": 2, "hidden": (64,), **model_options})
    trainer = Trainer(model, TrainConfig(epochs=3, quiet=True, **options))
    history = trainer.fit(x, xv)
    assert len(history["train_loss"]) == 3 and trainer.guard.over == 0
