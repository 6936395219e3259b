"""The loss-threshold membership attack: a model that overfits a small training set leaks who was in it (AUC
clearly above 0.5), an untrained one does not, so the attack can fail; its AUC is the Mann-Whitney probability."""
import numpy as np
import pytest

from minivae.datasets import load_dataset
from minivae.models import VAE
from minivae.privacy.budget import PrivateRun
from minivae.privacy.membership import auc_bound, membership_auc, membership_scores
from minivae.training.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("mnist-test-10k")
    return data.x_train[:100], data.x_train[100:200]  # members, and non-members of the same distribution


def test_an_overfitted_model_leaks_membership_and_an_untrained_one_does_not(digits):
    members, others = digits
    untrained = VAE(784, latent_dim=20, hidden=(128,), seed=0)
    chance = membership_auc(untrained, members, others, np.random.default_rng(0))
    model = VAE(784, latent_dim=20, hidden=(128,), seed=0)
    Trainer(model, TrainConfig(epochs=150, batch_size=20, lr=1e-3, quiet=True)).fit(members)
    leak = membership_auc(model, members, others, np.random.default_rng(0))
    assert abs(chance - 0.5) < 0.12, chance   # 100 + 100 examples: the AUC's standard error is about 0.04
    assert leak > 0.75, leak                   # 100 digits seen 150 times each: their losses are far lower


def test_the_same_training_made_private_no_longer_leaks(digits):
    """The run above, as DP-SGD at epsilon 3 (delta 1e-5, C = 1, expected batch 20, 150 epochs): the attack that
    read the non-private model at AUC > 0.75 (0.86 measured) falls to chance (0.53), and stays below what (3, 1e-5)-DP allows any attack."""
    members, others = digits
    run = PrivateRun.for_target(len(members), 20, clip_norm=1.0, delta=1e-5, epsilon=3.0, epochs=150)
    model = VAE(784, latent_dim=20, hidden=(128,), seed=0)
    history = Trainer(model, TrainConfig(epochs=150, batch_size=20, lr=1e-3, quiet=True, dp_clip_norm=1.0,
                                         dp_noise_multiplier=run.noise_multiplier, dp_delta=1e-5,
                                         dp_epsilon=3.0)).fit(members)
    auc = membership_auc(model, members, others, np.random.default_rng(0))
    assert history["epsilon"][-1] <= 3.0
    assert abs(auc - 0.5) < 0.12 and auc < auc_bound(3.0, 1e-5), auc


def test_the_auc_is_the_probability_that_a_member_outscores_a_non_member(digits):
    members, others = digits
    model = VAE(784, latent_dim=2, hidden=(16,), seed=1)
    auc = membership_auc(model, members[:30], others[:20], np.random.default_rng(3))
    rng = np.random.default_rng(3)  # the same draws: the members' scores first, then the non-members'
    a, b = membership_scores(model, members[:30], rng), membership_scores(model, others[:20], rng)
    assert auc == pytest.approx((a[:, None] > b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean())


def test_an_empty_side_is_refused(digits):
    members, _ = digits
    with pytest.raises(ValueError, match="at least one of each"):
        membership_auc(VAE(784, latent_dim=2, hidden=(8,)), members[:5], members[:0], np.random.default_rng(0))


def test_the_auc_bound_of_differential_privacy():
    """delta = 0: the bound's curve meets at FPR = 1 / (1 + e^eps) and its area is e^eps / (1 + e^eps); epsilon 0 is
    chance; delta adds at most delta; a large epsilon bounds nothing."""
    for eps in (0.0, 0.5, 1.0, 3.0):
        assert auc_bound(eps) == pytest.approx(np.exp(eps) / (1 + np.exp(eps)), rel=1e-12)
    assert auc_bound(1.0) < auc_bound(1.0, 1e-3) < auc_bound(1.0) + 1e-3
    fpr = np.linspace(0, 1, 200_001)  # the area by brute force on a fine grid, with delta
    tpr = np.minimum.reduce([np.ones_like(fpr), np.e * fpr + 0.01, 1 - (1 - 0.01 - fpr) / np.e])
    assert auc_bound(1.0, 0.01) == pytest.approx(np.trapezoid(tpr, fpr), abs=1e-8)
    assert auc_bound(20.0) == pytest.approx(1.0, abs=1e-8)
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        auc_bound(-1.0)
