"""The IWAE objective: finite-difference gradients, agreement with the evaluation bound, K = 1, training.

The bound's one home is minivae.models.iwae; a model trains on it through its one call,
``model.loss_and_gradients(x, iw_samples=K, ...)``."""
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
    errors = check_model(model, lambda: iwae_loss_and_gradients(model, x, eps).loss)
    assert max(errors.values()) < 1e-6, errors


def test_loss_is_minus_the_evaluation_bound_with_the_same_noise():
    rng = np.random.default_rng(0)
    model = VAE(7, latent_dim=2, hidden=(6,), seed=0, dtype=np.float64)
    x, eps = rng.random((5, 7)), rng.standard_normal((5, 8, 2))
    loss = model.loss_and_gradients(x, eps=eps, iw_samples=8).loss
    assert loss == pytest.approx(-importance_weighted_bound(model, x, eps=eps).mean(), rel=1e-12)
    assert iwae_loss_and_gradients(model, x, eps).loss == loss


def test_k1_is_the_one_sample_elbo_and_its_gradient_equals_the_vae_loss_gradient_in_expectation_form():
    rng = np.random.default_rng(1)
    model = VAE(7, latent_dim=2, hidden=(6,), seed=0, dtype=np.float64)
    x, eps = rng.random((5, 7)), rng.standard_normal((5, 1, 2))
    terms = iwae_loss_and_gradients(model, x, eps)
    elbo = model.elbo(x, eps=eps[:, 0, :])
    # same reconstruction term; the KL is the Monte Carlo estimate instead of the closed form
    assert terms.reconstruction == pytest.approx(elbo.reconstruction.mean(), rel=1e-12)
    assert terms.loss == pytest.approx(terms.reconstruction + terms.kl, rel=1e-12)


def test_bad_input():
    model = VAE(7, latent_dim=2, hidden=(6,))
    x = np.random.default_rng(0).random((3, 7))
    with pytest.raises(ValueError, match="VAE: iw_samples must be a positive integer"):
        model.loss_and_gradients(x, rng=np.random.default_rng(0), iw_samples=0)
    with pytest.raises(ValueError, match=r"\(3, 2, 2\)"):
        model.loss_and_gradients(x, eps=np.zeros((3, 3, 2)), iw_samples=2)
    with pytest.raises(ValueError, match="pass rng"):
        model.loss_and_gradients(x, iw_samples=2)
    with pytest.raises(ValueError, match="no KL weight"):
        model.loss_and_gradients(x, rng=np.random.default_rng(0), iw_samples=2, beta=0.5)


def test_trainer_with_importance_samples_tightens_the_bound():
    data = np.random.default_rng(0).random((400, 20)) ** 3
    model = VAE(20, latent_dim=2, hidden=(16,), seed=0)
    history = Trainer(model, TrainConfig(epochs=3, batch_size=50, quiet=True, iw_samples=5)).fit(data)
    assert history["train_loss"][-1] < history["train_loss"][0]
    with pytest.raises(ValueError, match="iw_samples"):
        TrainConfig(iw_samples=5, beta=2.0)


def test_trainer_refuses_iwae_for_models_without_it():
    from minivae import Autoencoder

    with pytest.raises(ValueError, match=r"Autoencoder cannot honour iw_samples=3: it has no posterior"):
        Trainer(Autoencoder(20, 2, (8,)), TrainConfig(epochs=1, quiet=True, iw_samples=3))


def test_denoising_with_importance_samples_scores_the_clean_target():
    """The IW bound of a corrupted input against the clean target: log p(target | z) with z ~ q(z | input)."""
    rng = np.random.default_rng(2)
    model = VAE(7, latent_dim=2, hidden=(6,), seed=0, dtype=np.float64)
    x, clean, eps = rng.random((5, 7)), rng.random((5, 7)), rng.standard_normal((5, 3, 2))
    with_target = model.loss_and_gradients(x, eps=eps, iw_samples=3, target=clean).loss
    assert with_target != model.loss_and_gradients(x, eps=eps, iw_samples=3).loss  # the target is not ignored
    assert with_target != model.loss_and_gradients(clean, eps=eps, iw_samples=3).loss  # nor the input
