"""The model contract (minivae.models.base): every model kind with every training option either trains a step or
is refused with one ValueError naming the model and the option, by the model itself and by the Trainer before it
starts; what a model can do is declared (options, probabilistic, conditional), and the declarations are true."""
import numpy as np
import pytest

from minivae import Autoencoder, ConditionalVAE, ConvVAE, TrainConfig, Trainer, VAE
from minivae.models import MODEL_KINDS, NEUTRAL

N, D = 6, 16  # 16 = a 4 x 4 image for the ConvVAE
X = np.random.default_rng(0).random((N, D))
LABELS = np.arange(N) % 3

MAKERS = {
    "VAE": lambda: VAE(D, latent_dim=2, hidden=(5,), seed=0),
    "Autoencoder": lambda: Autoencoder(D, latent_dim=2, hidden=(5,), seed=0),
    "ConvVAE": lambda: ConvVAE(latent_dim=2, image_shape=(4, 4), channels=(2,), seed=0),
    "ConditionalVAE": lambda: ConditionalVAE(D, latent_dim=2, hidden=(5,), n_classes=3, seed=0),
}

# each option with a value that is not neutral
OPTIONS = {"beta": 0.5, "free_bits": 0.1, "target": X[::-1].copy(), "iw_samples": 3, "condition": LABELS}


def test_every_model_kind_is_in_the_table():
    assert set(MAKERS) == set(MODEL_KINDS)
    assert set(OPTIONS) == set(NEUTRAL)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("kind", MAKERS)
def test_every_option_trains_a_step_or_is_refused_by_name(kind, option):
    model = MAKERS[kind]()
    kwargs = {option: OPTIONS[option]}
    if model.conditional and option != "condition":
        kwargs["condition"] = LABELS  # a conditional model always needs its labels
    before = {k: p.copy() for k, p in model.params.items()}
    if option in model.options:
        terms = model.loss_and_gradients(X, rng=np.random.default_rng(1), **kwargs)
        assert np.isfinite(terms.loss)
        assert all(np.isfinite(g).all() for g in model.grads.values())
        assert any(np.any(g != 0) for g in model.grads.values())
    else:
        with pytest.raises(ValueError, match=rf"^{kind} cannot honour {option}="):
            model.loss_and_gradients(X, rng=np.random.default_rng(1), **kwargs)
    assert all(np.array_equal(before[k], p) for k, p in model.params.items())  # the model call never steps


CONFIGS = {  # a TrainConfig setting, the option it asks of the model
    "beta": (dict(beta=0.5), "beta"),
    "warm-up": (dict(warmup_steps=10), "beta"),
    "free_bits": (dict(free_bits=0.1), "free_bits"),
    "corruption": (dict(corruption=0.3), "target"),
    "iw_samples": (dict(iw_samples=3), "iw_samples"),
}


@pytest.mark.parametrize("setting", CONFIGS)
@pytest.mark.parametrize("kind", MAKERS)
def test_the_trainer_refuses_before_training_starts_or_trains(kind, setting):
    config, option = CONFIGS[setting]
    model = MAKERS[kind]()
    labels = LABELS if model.conditional else None
    if option in model.options:
        trainer = Trainer(model, TrainConfig(epochs=1, batch_size=3, quiet=True, **config))
        history = trainer.fit(X, y_train=labels)
        assert np.isfinite(history["train_loss"][0]) and trainer.step == 2
    else:
        refused = "warmup_steps" if setting == "warm-up" else option
        with pytest.raises(ValueError, match=rf"^{kind} cannot honour {refused}="):
            Trainer(model, TrainConfig(epochs=1, quiet=True, **config))


def test_the_declarations_are_true():
    for kind, make in MAKERS.items():
        model = make()
        assert model.probabilistic == hasattr(model, "elbo") == hasattr(model, "sample"), kind
        assert model.options <= set(NEUTRAL), kind
        assert ("condition" in model.options) == model.conditional, kind


def test_unknown_options_and_bad_values_are_refused():
    vae = MAKERS["VAE"]()
    with pytest.raises(TypeError, match="unexpected keyword argument 'y'"):
        vae.loss_and_gradients(X, rng=np.random.default_rng(0), y=LABELS)
    with pytest.raises(TypeError, match=r"unknown training option\(s\) \['warmup'\]"):
        vae.check_options(warmup=3)
    with pytest.raises(ValueError, match="VAE: beta and free_bits must not be negative"):
        vae.loss_and_gradients(X, rng=np.random.default_rng(0), free_bits=-1.0)
    with pytest.raises(ValueError, match="ConditionalVAE is conditional: pass condition=labels"):
        MAKERS["ConditionalVAE"]().loss_and_gradients(X, rng=np.random.default_rng(0))
    with pytest.raises(TypeError):  # after the batch and its generator, the options are keyword-only
        vae.loss_and_gradients(X, np.random.default_rng(0), None, 0.5)
