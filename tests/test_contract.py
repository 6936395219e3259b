"""The model contract (minivae.models.base): every model kind with every training option either trains a step or
is refused with one ValueError naming the model and the option, by the model itself and by the Trainer before it
starts; what a model can do is declared (options, probabilistic, conditional, input_kind), and the declarations are
true. Each model reads the data of its input_kind: float vectors, or token ids for the sequence models."""
import numpy as np
import pytest

from minivae import Autoencoder, ConditionalVAE, ConvVAE, SequenceLM, SequenceVAE, TrainConfig, Trainer, VAE
from minivae.datasets.text import Vocabulary
from minivae.models import MODEL_KINDS, NEUTRAL, build_model

N, D = 6, 16  # 16 = a 4 x 4 image for the ConvVAE
X = np.random.default_rng(0).random((N, D))
LABELS = np.arange(N) % 3
WORDS = ["ab", "ba", "abca", "c", "cab", "b"]  # N words of lengths 1 to 4: a ragged batch of ids
VOCAB = Vocabulary.build(WORDS)
IDS = VOCAB.encode(WORDS).ids  # (N, T)

MAKERS = {
    "VAE": lambda: VAE(D, latent_dim=2, hidden=(5,), seed=0),
    "Autoencoder": lambda: Autoencoder(D, latent_dim=2, hidden=(5,), seed=0),
    "ConvVAE": lambda: ConvVAE(latent_dim=2, image_shape=(4, 4), channels=(2,), seed=0),
    "ConditionalVAE": lambda: ConditionalVAE(D, latent_dim=2, hidden=(5,), n_classes=3, seed=0),
    "SequenceVAE": lambda: SequenceVAE(len(VOCAB), latent_dim=2, embed_dim=3, hidden_dim=4, token_dropout=0.2,
                                       seed=0),
    "SequenceLM": lambda: SequenceLM(len(VOCAB), embed_dim=3, hidden_dim=4, seed=0),
}
DATA = {"vectors": X, "tokens": IDS}  # input_kind -> a batch of that kind
KIND_OF = {kind: make().input_kind for kind, make in MAKERS.items()}


def non_neutral(option, x):
    """Each option with a value that is not neutral, for a model that reads batches like x."""
    return {"beta": 0.5, "free_bits": 0.1, "target": x[::-1].copy(), "iw_samples": 3, "condition": LABELS}[option]


def test_every_model_kind_is_in_the_table():
    assert set(MAKERS) == set(MODEL_KINDS)
    assert set(DATA) == set(KIND_OF.values())
    assert {option for option in NEUTRAL if non_neutral(option, X) is not None} == set(NEUTRAL)


@pytest.mark.parametrize("option", NEUTRAL)
@pytest.mark.parametrize("kind", MAKERS)
def test_every_option_trains_a_step_or_is_refused_by_name(kind, option):
    model = MAKERS[kind]()
    x = DATA[model.input_kind]
    kwargs = {option: non_neutral(option, x)}
    if model.conditional and option != "condition":
        kwargs["condition"] = LABELS  # a conditional model always needs its labels
    before = {k: p.copy() for k, p in model.params.items()}
    if option in model.options:
        terms = model.loss_and_gradients(x, rng=np.random.default_rng(1), **kwargs)
        assert np.isfinite(terms.loss)
        assert all(np.isfinite(g).all() for g in model.grads.values())
        assert any(np.any(g != 0) for g in model.grads.values())
    else:
        with pytest.raises(ValueError, match=rf"^{kind} cannot honour {option}=") as err:
            model.loss_and_gradients(x, rng=np.random.default_rng(1), **kwargs)
        assert "\n" not in str(err.value)
    assert all(np.array_equal(before[k], p) for k, p in model.params.items())  # the model call never steps


@pytest.mark.parametrize("kind", MAKERS)
def test_the_batch_itself_as_target_is_accepted_by_every_model(kind):
    """The Trainer passes target=x when it does not corrupt the batch: every model takes it as no target."""
    model = MAKERS[kind]()
    x = DATA[model.input_kind]
    labels = {"condition": LABELS} if model.conditional else {}
    with_x = model.loss_and_gradients(x, rng=np.random.default_rng(1), target=x, **labels)
    without = model.loss_and_gradients(x, rng=np.random.default_rng(1), **labels)
    assert with_x == without


CONFIGS = {  # a TrainConfig setting, the option it asks of the model
    "beta": (dict(beta=0.5), "beta"),
    "warm-up": (dict(warmup_steps=10), "beta"),
    "free_bits": (dict(free_bits=0.1), "free_bits"),
    "corruption": (dict(corruption=0.3), "target"),
    "iw_samples": (dict(iw_samples=3), "iw_samples"),
}


def trainer_cases():
    """Every (kind, setting)."""
    for kind in MAKERS:
        for setting in CONFIGS:
            yield pytest.param(kind, setting, id=f"{kind}-{setting}")


@pytest.mark.parametrize("kind, setting", trainer_cases())
def test_the_trainer_refuses_before_training_starts_or_trains(kind, setting):
    config, option = CONFIGS[setting]
    model = MAKERS[kind]()
    labels = LABELS if model.conditional else None
    if option in model.options:
        trainer = Trainer(model, TrainConfig(epochs=1, batch_size=3, quiet=True, **config))
        history = trainer.fit(DATA[model.input_kind], y_train=labels)
        assert np.isfinite(history["train_loss"][0]) and trainer.step == 2
    else:
        refused = "warmup_steps" if setting == "warm-up" else option
        with pytest.raises(ValueError, match=rf"^{kind} cannot honour {refused}="):
            Trainer(model, TrainConfig(epochs=1, quiet=True, **config))


@pytest.mark.parametrize("kind", MAKERS)
def test_the_declarations_are_true(kind):
    model = MAKERS[kind]()
    assert model.probabilistic == hasattr(model, "elbo")  # a prior and a posterior: an ELBO
    assert not model.probabilistic or (hasattr(model, "encode") and hasattr(model, "sample"))  # (the LM samples too)
    assert model.options <= set(NEUTRAL)
    assert ("condition" in model.options) == model.conditional
    # input_kind: the model trains on that kind of batch and refuses the other with a clear error
    assert model.input_kind in DATA
    labels = {"condition": LABELS} if model.conditional else {}
    x = DATA[model.input_kind]
    assert np.isfinite(model.loss_and_gradients(x, rng=np.random.default_rng(0), **labels).loss)
    other = IDS if model.input_kind == "vectors" else X
    with pytest.raises((ValueError, TypeError), match="must hold integer token ids|must have 16 columns") as err:
        model.loss_and_gradients(other, rng=np.random.default_rng(0), **labels)
    assert "\n" not in str(err.value)
    # non-probabilistic models report their reconstruction error (for the LM: its exact -log p(x)) per example
    assert model.reconstruction_error(x, **labels).shape == (N,)


@pytest.mark.parametrize("kind", MAKERS)
def test_every_kind_rebuilds_from_its_config(kind):
    model = MAKERS[kind]()
    rebuilt = build_model(model.config())
    assert type(rebuilt) is type(model) and rebuilt.config() == model.config()
    assert all(np.array_equal(rebuilt.params[k], p) for k, p in model.params.items())


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


@pytest.mark.parametrize("kind", MAKERS)
def test_every_kind_goes_through_a_checkpoint(kind, tmp_path):
    from minivae import load_checkpoint, save_checkpoint

    model = MAKERS[kind]()
    for p in model.params.values():
        p += 0.125  # not the initial values, which a rebuilt model would have anyway
    loaded = load_checkpoint(save_checkpoint(tmp_path / f"{kind}.npz", model)).model
    assert type(loaded) is type(model) and loaded.config() == model.config()
    assert all(np.array_equal(loaded.params[k], p) for k, p in model.params.items())
