"""Private training in the Trainer (TrainConfig.dp_*): the same steps as a hand loop of DP-SGD, the epsilon it
records, the budget that stops it, exact resume, and every setting refused before the first step."""
import numpy as np
import pytest

from minivae import VAE, Autoencoder, ConvVAE
from minivae.nn.optim import Adam
from minivae.privacy.accountant import epsilon, steps_for
from minivae.privacy.budget import PrivateRun
from minivae.privacy.dp_sgd import poisson_batch, private_step, steps_per_epoch
from minivae.training.checkpoint import load_checkpoint
from minivae.training.trainer import PrivacyBudgetSpent, TrainConfig, Trainer
from test_training import interrupt_on_call  # the same Ctrl-C inside a batch as the non-private resume tests

N, D = 240, 20
PRIVATE = dict(batch_size=24, dp_clip_norm=1.0, dp_noise_multiplier=1.1, dp_delta=1e-3, quiet=True, seed=3,
               lr=3e-3)


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).random((300, D)) ** 3
    return x[:N].astype(np.float32), x[N:].astype(np.float32)


def small_vae(seed=0):
    return VAE(D, latent_dim=2, hidden=(16,), seed=seed)


def params_equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_private_epoch_is_a_hand_loop_of_dp_sgd_steps(data):
    """The trainer's private epochs are round(N / L) steps of Poisson batch + private_step, from the run's generator,
    bit for bit: nothing else draws from it, and the batch loss it reports is the batches' mean over the examples."""
    x, _ = data
    config = TrainConfig(epochs=2, **PRIVATE)
    trainer = Trainer(small_vae(), config)
    history = trainer.fit(x)

    model, rng, optimizer = small_vae(), np.random.default_rng(config.seed), Adam(lr=config.lr)
    losses, sizes = [], []
    for _ in range(2 * steps_per_epoch(N, config.batch_size)):
        idx = poisson_batch(N, config.batch_size / N, rng)
        clipped = private_step(model, optimizer, x[idx], 1.0, 1.1, config.batch_size, rng, target=x[idx])
        losses.append(clipped.losses.sum())
        sizes.append(len(idx))
    assert params_equal(trainer.model.params, model.params)
    assert trainer.step == 2 * 10 and len(set(sizes)) > 1  # Poisson batches: their sizes vary
    second_epoch = sum(losses[10:]) / sum(sizes[10:])
    assert history["train_loss"][1] == pytest.approx(second_epoch, rel=1e-5)


def test_the_epsilon_spent_is_the_accountants_in_the_history_and_the_checkpoint(data, tmp_path, capsys):
    x, xv = data
    trainer = Trainer(small_vae(), TrainConfig(epochs=2, **{**PRIVATE, "quiet": False}))
    history = trainer.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    q = 24 / N
    expected = [epsilon(q, 1.1, steps, 1e-3)[0] for steps in (10, 20)]
    assert history["epsilon"] == expected and expected[0] < expected[1]
    record = load_checkpoint(tmp_path / "ckpt.npz").extra["privacy"]
    assert record["epsilon"] == expected[1] and record["steps"] == 20 and record["delta"] == 1e-3
    assert record["sampling_rate"] == q and record["noise_multiplier"] == 1.1 and record["clip_norm"] == 1.0
    assert "samples" in record["covered"] and "training losses" in record["not_covered"]
    out = capsys.readouterr().out
    assert "private training (DP-SGD)" in out and f"epsilon {expected[1]:.3f} (delta 0.001)" in out


def test_a_non_private_run_records_no_epsilon(data):
    x, _ = data
    history = Trainer(small_vae(), TrainConfig(epochs=1, batch_size=32, quiet=True)).fit(x)
    assert history["epsilon"] == [None]


def test_training_stops_when_the_budget_is_spent_and_will_not_go_on(data, tmp_path, capsys):
    x, _ = data
    budget = epsilon(24 / N, 1.1, 25, 1e-3)[0]  # 2.5 epochs' worth at sigma 1.1
    allowed = steps_for(budget, 1e-3, 24 / N, 1.1)
    assert 20 < allowed < 30
    trainer = Trainer(small_vae(), TrainConfig(epochs=5, dp_epsilon=budget, **{**PRIVATE, "quiet": False}))
    history = trainer.fit(x, checkpoint_path=tmp_path / "ckpt.npz")
    assert trainer.step == allowed and trainer.epoch == 3 and len(history["epoch"]) == 3
    assert history["epsilon"][-1] <= budget < epsilon(24 / N, 1.1, allowed + 1, 1e-3)[0]
    assert "has spent its privacy budget" in capsys.readouterr().out
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.npz")
    with pytest.raises(PrivacyBudgetSpent, match="has spent its privacy budget"):
        resumed.fit(x)


def test_sigma_for_a_target_spends_at_most_the_target_in_the_planned_epochs():
    run = PrivateRun.for_target(N, 24, clip_norm=1.0, delta=1e-3, epsilon=3.0, epochs=4)
    assert run.epsilon_after(40) <= 3.0 < epsilon(24 / N, run.noise_multiplier / 1.001, 40, 1e-3)[0]
    assert run.max_steps >= 40 and run.budget == 3.0


def test_a_private_run_resumes_exactly_after_an_epoch_and_inside_one(data, tmp_path, monkeypatch):
    x, xv = data
    straight = Trainer(small_vae(), TrainConfig(epochs=2, **PRIVATE))
    straight.fit(x, xv)

    first = Trainer(small_vae(), TrainConfig(epochs=1, **PRIVATE))
    first.fit(x, xv, checkpoint_path=tmp_path / "ckpt.npz")
    resumed = Trainer.from_checkpoint(tmp_path / "ckpt.npz", TrainConfig(epochs=2, **PRIVATE))
    resumed.fit(x, xv)
    assert params_equal(straight.model.params, resumed.model.params)
    assert straight.history == {**resumed.history, "seconds": straight.history["seconds"]}

    run = Trainer(small_vae(), TrainConfig(epochs=2, **PRIVATE))
    interrupt_on_call(run, monkeypatch, 10 + 4)  # Ctrl-C inside the 4th step of epoch 2
    with pytest.raises(KeyboardInterrupt):
        run.fit(x, xv, checkpoint_path=tmp_path / "run.npz")
    saved = load_checkpoint(tmp_path / "run-interrupted.npz")
    assert saved.extra["position"]["batches_done"] == 3 and saved.extra["privacy"]["steps"] == 13
    again = Trainer.from_checkpoint(tmp_path / "run-interrupted.npz")
    again.fit(x, xv)
    assert params_equal(straight.model.params, again.model.params)
    assert straight.history["train_loss"] == again.history["train_loss"]
    assert straight.history["epsilon"] == again.history["epsilon"]


def test_empty_poisson_batches_are_noise_steps(data):
    """At q = 1/60 a batch of 4 examples is empty with probability (1 - 1/60)^4, about 0.94: the steps are taken all
    the same (skipping them would change what the accountant counts) and the epoch's loss averages what was seen."""
    x, _ = data
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, **{**PRIVATE, "batch_size": 1}))
    before = {k: v.copy() for k, v in trainer.model.params.items()}
    history = trainer.fit(x[:60])
    assert trainer.step == 60 and not params_equal(before, trainer.model.params)
    assert np.isfinite(history["train_loss"][0])


def test_the_autoencoder_and_the_iw_bound_train_privately(data):
    x, _ = data
    Trainer(Autoencoder(D, latent_dim=2, hidden=(8,)), TrainConfig(epochs=1, **PRIVATE)).fit(x)
    history = Trainer(small_vae(), TrainConfig(epochs=1, iw_samples=3, **PRIVATE)).fit(x)
    assert np.isfinite(history["train_loss"][0]) and history["epsilon"][0] > 0


@pytest.mark.parametrize("change, message", [
    (dict(dp_noise_multiplier=0.0), "needs noise"),
    (dict(dp_delta=0.0), "needs a delta"),
    (dict(dp_epsilon=-1.0), "dp_epsilon must be a number >= 0"),
    (dict(dp_clip_norm=-1.0), "dp_clip_norm must be a number >= 0"),
    (dict(clip_norm=5.0), "already clips each example"),
    (dict(dp_clip_norm=0.0), "only apply to DP-SGD"),
    (dict(dp_delta=float("nan")), "dp_delta must be a number >= 0"),
])
def test_bad_private_settings_are_refused_by_the_config(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{**PRIVATE, **change})


@pytest.mark.parametrize("change, message", [
    (dict(dp_delta=1 / N), "delta .* must lie between 0 and 1 / N"),
    (dict(dp_delta=0.5), "delta .* must lie between 0 and 1 / N"),
    (dict(dp_epsilon=1e-4), "too small for even one step"),
    (dict(batch_size=N + 1), "expected batch size must lie between 1 and the 240"),
])
def test_settings_that_need_the_data_are_refused_before_the_first_step(data, change, message):
    x, _ = data
    trainer = Trainer(small_vae(), TrainConfig(epochs=1, **{**PRIVATE, **change}))
    before = {k: v.copy() for k, v in trainer.model.params.items()}
    with pytest.raises(ValueError, match=message):
        trainer.fit(x)
    assert trainer.step == 0 and params_equal(before, trainer.model.params)


def test_models_and_options_without_per_example_gradients_are_refused():
    with pytest.raises(ValueError, match="free_bits=0.5 cannot be trained with per-example clipping"):
        Trainer(small_vae(), TrainConfig(free_bits=0.5, **PRIVATE))
    with pytest.raises(ValueError, match="ConvVAE has no per-example gradients"):
        Trainer(ConvVAE(latent_dim=2, image_shape=(8, 8)), TrainConfig(**PRIVATE))
