"""The loss-threshold membership attack: a model that overfits a small training set leaks who was in it (AUC
clearly above 0.5), an untrained one does not, so the attack can fail; its AUC is the Mann-Whitney probability."""
import numpy as np
import pytest

from minivae.datasets import load_dataset
from minivae.models import VAE
from minivae.privacy.membership import membership_auc, membership_scores
from minivae.training.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("mnist-test-10k")
    return data.x_train[:100], data.x_train[100:200]  # members, and non-members of the same distribution


def test_an_overfitted_model_leaks_membership_and_an_untrained_one_does_not(digits):
    members, others = digits
    untrained = VAE(784, latent_dim=20, hidden=(400,), seed=0)
    chance = membership_auc(untrained, members, others, np.random.default_rng(0))
    model = VAE(784, latent_dim=20, hidden=(400,), seed=0)
    Trainer(model, TrainConfig(epochs=150, batch_size=20, lr=1e-3, quiet=True)).fit(members)
    leak = membership_auc(model, members, others, np.random.default_rng(0))
    assert abs(chance - 0.5) < 0.12, chance   # 100 + 100 examples: the AUC's standard error is about 0.04
    assert leak > 0.75, leak                   # 100 digits seen 150 times each: their losses are far lower


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
