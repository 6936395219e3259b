"""The IWAE objective: finite-difference gradients, agreement with the evaluation bound, K = 1, training."""
import numpy as np
import pytest

from minivae import VAE
from minivae.apps.evaluation import importance_weighted_bound
from minivae.nn.gradcheck import check_model
from minivae.models.iwae import iwae_loss_and_gradients
from minivae.training.trainer import TrainConfig, Trainer


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian_learned"])
@pytest.mark.parametrize("k", [1, 4])
def test_gradients_match_finite_differences(likelihood, k):
    rng = np.random.default_rng(3)
    model = VAE(7, latent_dim=3, hidden=(5,), likelihood=likelihood, seed=1, dtype=np.float64)
    x = rng.random((4, 7))
    eps = rng.standard_normal((4, k, 3))
    errors = check_model(model, lambda: iwae_loss_and_gradients(model, x, k, eps=eps).loss)
    assert max(errors.values()) < 1e-6, errors


def test_loss_is_minus_the_evaluation_bound_with_the_same_noise():
    rng = np.random.default_rng(0)
    model = VAE(7, latent_dim=2, hidden=(6,), seed=0, dtype=np.float64)
    x, eps = rng.random((5, 7)), rng.standard_normal((5, 8, 2))
    loss = iwae_loss_and_gradients(model, x, 8, eps=eps).loss
    assert loss == pytest.approx(-importance_weighted_bound(model, x, eps=eps).mean(), rel=1e-12)


def test_k1_is_the_one_sample_elbo_and_its_gradient_equals_the_vae_loss_gradient_in_expectation_form():
    rng = np.random.default_rng(1)
    model = VAE(7, latent_dim=2, hidden=(6,), seed=0, dtype=np.float64)
    x, eps = rng.random((5, 7)), rng.standard_normal((5, 1, 2))
    terms = iwae_loss_and_gradients(model, x, 1, eps=eps)
    elbo = model.elbo(x, eps=eps[:, 0, :])
    # same reconstruction term; the KL is the Monte Carlo estimate instead of the closed form
    assert terms.reconstruction == pytest.approx(elbo.reconstruction.mean(), rel=1e-12)
    assert terms.loss == pytest.approx(terms.reconstruction + terms.kl, rel=1e-12)


def test_bad_input():
    model = VAE(7, latent_dim=2, hidden=(6,))
    x = np.random.default_rng(0).random((3, 7))
    with pytest.raises(ValueError, match="positive integer"):
        iwae_loss_and_gradients(model, x, 0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(3, 2, 2\)"):
        iwae_loss_and_gradients(model, x, 2, eps=np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="pass rng"):
        iwae_loss_and_gradients(model, x, 2)


def test_trainer_with_importance_samples_tightens_the_bound():
    data = np.random.default_rng(0).random((400, 20)) ** 3
    model = VAE(20, latent_dim=2, hidden=(16,), seed=0)
    history = Trainer(model, TrainConfig(epochs=3, batch_size=50, quiet=True, iw_samples=5)).fit(data)
    assert history["train_loss"][-1] < history["train_loss"][0]
    with pytest.raises(ValueError, match="iw_samples"):
        TrainConfig(iw_samples=5, beta=2.0)


def test_trainer_refuses_iwae_for_models_without_it():
    from minivae import Autoencoder

    with pytest.raises(ValueError, match="iw_samples"):
        Trainer(Autoencoder(20, 2, (8,)), TrainConfig(epochs=1, quiet=True, iw_samples=3)).fit(np.zeros((10, 20)))
