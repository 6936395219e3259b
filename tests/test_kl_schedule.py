"""KL annealing (minivae.training.kl_schedule): the two schedules' formulas, and the Trainer following them."""
import math

import numpy as np
import pytest

from minivae import TrainConfig, Trainer, VAE
from minivae.training.kl_schedule import kl_weight


def test_linear_schedule_rises_from_zero_to_beta_and_stays():
    assert [kl_weight(t, 2.0, 10, "linear") for t in (0, 5, 10, 50)] == [0.0, 1.0, 2.0, 2.0]


def test_logistic_schedule_is_the_logistic_curve_centred_at_half_the_warmup():
    n = 1000
    k, x0 = 10 / n, n / 2
    for t in (0, 123, 500, 999, 5000):
        assert kl_weight(t, 1.5, n, "logistic") == pytest.approx(1.5 / (1 + math.exp(-k * (t - x0))), rel=1e-15)
    assert kl_weight(0, 1.0, n, "logistic") == pytest.approx(0.00669, abs=1e-5)  # small, not zero
    assert kl_weight(n, 1.0, n, "logistic") == pytest.approx(0.99331, abs=1e-5)
    weights = [kl_weight(t, 1.0, n, "logistic") for t in range(0, 3 * n, 7)]
    assert all(a < b for a, b in zip(weights, weights[1:]))  # rising all the way


def test_no_warmup_means_full_weight_from_the_first_step():
    assert kl_weight(0, 0.7, 0, "logistic") == kl_weight(0, 0.7, 0, "linear") == 0.7


def test_an_unknown_schedule_is_refused_by_name():
    with pytest.raises(ValueError, match="kl_schedule must be one of"):
        TrainConfig(kl_schedule="cosine")
    with pytest.raises(ValueError, match="must be one of"):
        kl_weight(0, 1.0, 10, "cosine")


def test_the_trainer_records_the_logistic_weight_of_each_epoch():
    x = np.random.default_rng(0).random((64, 6)).astype(np.float32)
    config = TrainConfig(epochs=3, batch_size=16, warmup_steps=8, kl_schedule="logistic", quiet=True)
    trainer = Trainer(VAE(6, latent_dim=2, hidden=(4,)), config)
    history = trainer.fit(x)
    assert history["beta"] == pytest.approx([kl_weight(4 * e, 1.0, 8, "logistic") for e in (1, 2, 3)])
