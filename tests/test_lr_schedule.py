"""Learning-rate schedules (minivae.training.lr_schedule): the formulas, the Trainer following them epoch by epoch,
and a resumed run repeating the schedule exactly."""
import numpy as np
import pytest

from minivae import TrainConfig, Trainer, VAE
from minivae.training.lr_schedule import burda_stage, learning_rate


def test_constant_schedule_keeps_the_base_rate():
    assert [learning_rate(e, 3e-3) for e in (0, 1, 1000)] == [3e-3] * 3


def test_exponential_schedule_multiplies_by_the_decay_every_epoch():
    rates = [learning_rate(e, 1e-3, "exponential", 0.9) for e in range(5)]
    assert rates == pytest.approx([1e-3 * 0.9 ** e for e in range(5)], rel=1e-15)


def test_burda_stages_last_one_three_nine_epochs():
    stages = [burda_stage(e) for e in range(40)]
    expected = [0] + [1] * 3 + [2] * 9 + [3] * 27
    assert stages == expected
    assert burda_stage(3279) == 7 and burda_stage(3280) == 8  # the paper's 3,280 epochs end with stage 7
    rates = [learning_rate(e, 1e-3, "burda") for e in (0, 1, 4, 13, 3279)]
    assert rates == pytest.approx([1e-3 * 10 ** (-i / 7) for i in (0, 1, 2, 3, 7)], rel=1e-15)


def test_bad_schedules_and_decays_are_refused():
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TrainConfig(lr_schedule="cosine")
    with pytest.raises(ValueError, match="lr_decay"):
        TrainConfig(lr_schedule="exponential")  # no decay given: the schedule would be constant
    with pytest.raises(ValueError, match="lr_decay"):
        TrainConfig(lr_decay=0.9)  # a decay without the schedule that uses it
    with pytest.raises(ValueError, match="lr_decay"):
        TrainConfig(lr_schedule="exponential", lr_decay=1.5)
    with pytest.raises(ValueError, match="must be one of"):
        learning_rate(0, 1e-3, "cosine")


def _data():
    return np.random.default_rng(0).random((48, 6)).astype(np.float32)


def test_the_trainer_steps_with_each_epochs_rate():
    config = TrainConfig(epochs=3, batch_size=16, lr=1e-2, lr_schedule="exponential", lr_decay=0.5, quiet=True)
    trainer = Trainer(VAE(6, latent_dim=2, hidden=(4,)), config)
    seen = []
    step = trainer.optimizer.step
    trainer.optimizer.step = lambda params, grads: (seen.append(trainer.optimizer.lr), step(params, grads))
    trainer.fit(_data())
    assert seen == pytest.approx([1e-2] * 3 + [5e-3] * 3 + [2.5e-3] * 3, rel=1e-15)  # 3 batches per epoch


def test_a_resumed_run_continues_the_schedule_bit_for_bit(tmp_path):
    def config(epochs):
        return TrainConfig(epochs=epochs, batch_size=16, lr=1e-2, lr_schedule="burda", quiet=True)
    straight = Trainer(VAE(6, latent_dim=2, hidden=(4,), seed=1), config(5))
    straight.fit(_data())
    first = Trainer(VAE(6, latent_dim=2, hidden=(4,), seed=1), config(2))
    first.fit(_data(), checkpoint_path=tmp_path / "run.npz")
    resumed = Trainer.from_checkpoint(tmp_path / "run.npz", config(5))
    assert resumed.config.lr == 1e-2  # the base rate, not the rate the optimizer had in the last epoch
    resumed.fit(_data())
    assert resumed.optimizer.lr == straight.optimizer.lr == learning_rate(4, 1e-2, "burda")
    for name in straight.model.params:
        np.testing.assert_array_equal(resumed.model.params[name], straight.model.params[name])
    assert resumed.history["train_loss"] == straight.history["train_loss"]
