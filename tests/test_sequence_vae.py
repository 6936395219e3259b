"""The sequence VAE: shapes, ragged masks, every gradient against finite differences, refusals, training, decoding."""
import numpy as np
import pytest

from minivae.datasets.text import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary
from minivae.models.sequence_vae import SequenceVAE
from minivae.nn.gradcheck import check_model
from minivae.nn.optim import Adam

RAGGED = ["a", "ab", "abcab", "cba"]  # lengths 3 to 7 with <bos> and <eos>: padding in all but one row
VOCAB = Vocabulary.build(RAGGED)  # ids: 0 <pad>, 1 <bos>, 2 <eos>, 3 <unk>, then a, b, c
BATCHES = {  # id batches for the gradient checks: ragged, and sequences of one real step after <bos>
    "ragged": VOCAB.encode(RAGGED).ids,
    "one_step": np.array([[BOS_ID, 4], [BOS_ID, EOS_ID], [BOS_ID, 6]]),  # T = 2: <bos> x, no padding
    "one_step_padded": np.array([[BOS_ID, EOS_ID, PAD_ID, PAD_ID], [BOS_ID, 4, 5, EOS_ID],
                                 [BOS_ID, 5, PAD_ID, PAD_ID]]),
}


def made_up_words(n, seed=0):
    """n short words of made-up syllables (the test's own corpus)."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi"]
    return ["".join(rng.choice(syllables, size=rng.integers(1, 4))) for _ in range(n)]


def tiny(vocab, dtype=np.float64, **kw):
    return SequenceVAE(len(vocab), latent_dim=2, embed_dim=3, hidden_dim=4, dtype=dtype, **kw)


def test_shapes_and_terms():
    vocab = Vocabulary.build(RAGGED)
    x = vocab.encode(RAGGED).ids
    model = tiny(vocab)
    terms = model.loss_and_gradients(x, np.random.default_rng(0))
    assert np.isfinite(terms.loss) and terms.kl >= 0 and terms.reconstruction > 0
    assert sorted(model.grads) == sorted(model.params)
    assert all(model.grads[k].shape == p.shape for k, p in model.params.items())
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (4, 2)
    e = model.elbo(x)
    assert e.elbo.shape == e.reconstruction.shape == e.kl.shape == (4,)
    np.testing.assert_allclose(e.elbo, -(e.reconstruction + e.kl))
    assert model.reconstruction_error(x).shape == (4,)


@pytest.mark.parametrize("z_every_step", [False, True])
def test_padding_changes_nothing(z_every_step):
    """A sequence's loss and code do not depend on how much padding the batch adds after it."""
    vocab = Vocabulary.build(RAGGED)
    model = tiny(vocab, z_every_step=z_every_step)
    x = vocab.encode(RAGGED).ids  # T = 7
    wider = np.concatenate([x, np.full((4, 3), PAD_ID)], axis=1)
    eps = np.random.default_rng(1).standard_normal((4, 2))
    np.testing.assert_allclose(model.elbo(x, eps=eps).elbo, model.elbo(wider, eps=eps).elbo, rtol=1e-12)
    alone = vocab.encode(["a"]).ids  # T = 3
    np.testing.assert_allclose(model.encode(alone)[0], model.encode(x)[0][:1], rtol=1e-12)
    np.testing.assert_allclose(model.elbo(alone, eps=eps[:1]).elbo, model.elbo(x, eps=eps).elbo[:1], rtol=1e-12)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("z_every_step", [False, True])
@pytest.mark.parametrize("free_bits", [0.0, 0.05])
def test_every_gradient_against_finite_differences(free_bits, z_every_step, batch):
    """float64, token dropout frozen (drop=) as the noise is (eps=): every parameter < 1e-7, for ragged lengths and
    for sequences of a single step (T = 2: <bos> x), with z at the start only or at every step too."""
    x = BATCHES[batch]
    model = tiny(VOCAB, token_dropout=0.3, z_every_step=z_every_step)
    for k, p in model.params.items():
        if not k.startswith("to_state"):  # not the map to h_0: a saturated tanh(h_0) leaves tiny gradients
            p *= 2  # weights of order 1: the gates away from their linear middle, so that every path matters
    rng = np.random.default_rng(0)
    eps = rng.standard_normal((len(x), 2))
    drop = rng.random((len(x), x.shape[1] - 1)) < 0.3
    errors = check_model(model, lambda: model.loss_and_gradients(x, eps=eps, drop=drop, beta=0.7,
                                                                 free_bits=free_bits).loss)
    assert set(errors) == set(model.params)
    assert max(errors.values()) < 1e-7, errors
    model.loss_and_gradients(x, eps=eps, drop=drop, beta=0.7, free_bits=free_bits)
    assert all(np.any(g != 0) for g in model.grads.values())  # no vacuous check of an all-zero gradient


def test_z_every_step_widens_the_decoder_input_and_feeds_z_at_every_step():
    model = tiny(VOCAB, z_every_step=True)
    E, L = model.embed_dim, model.latent_dim
    assert model.params["decoder.W_ih"].shape[0] == E + L
    assert tiny(VOCAB).params["decoder.W_ih"].shape[0] == E
    x = BATCHES["ragged"]
    # z reaches the decoder at every step: with the initial-state path cut (W_s = 0, b_s = 0: h_0 = 0 for every z),
    # the reconstruction still depends on z, and only through the extra input columns
    model.params["to_state.W"][:] = 0
    model.params["to_state.b"][:] = 0
    eps = np.random.default_rng(0).standard_normal((4, 2))
    a, b = model.elbo(x, eps=eps).reconstruction, model.elbo(x, eps=eps + 1).reconstruction
    assert np.all(np.abs(a - b) > 1e-6)
    model.params["decoder.W_ih"][E:] = 0
    a, b = model.elbo(x, eps=eps).reconstruction, model.elbo(x, eps=eps + 1).reconstruction
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_z_every_step_is_in_the_config_and_the_repr():
    model = tiny(VOCAB, z_every_step=True)
    assert model.config()["z_every_step"] is True and "z_every_step=True" in repr(model)
    again = SequenceVAE.from_config(model.config())
    assert again.z_every_step and all(np.array_equal(again.params[k], p) for k, p in model.params.items())
    assert SequenceVAE.from_config({k: v for k, v in tiny(VOCAB).config().items()}).z_every_step is False
    with pytest.raises(ValueError, match="z_every_step must be True or False"):
        tiny(VOCAB, z_every_step="yes")


def test_token_dropout_replaces_inputs_by_unk_never_bos_or_pad():
    vocab = Vocabulary.build(RAGGED)
    x = vocab.encode(RAGGED).ids
    model = tiny(vocab, token_dropout=0.5)
    inputs = model._token_drop(x[:, :-1].copy(), None, np.ones((4, x.shape[1] - 1), bool))
    assert (inputs[:, 0] == BOS_ID).all()
    assert ((inputs == PAD_ID) == (x[:, :-1] == PAD_ID)).all()
    assert (inputs[(x[:, :-1] != PAD_ID) & (x[:, :-1] != BOS_ID)] == UNK_ID).all()
    # the same rng gives the same loss; dropping changes it; without rng nor drop it is refused
    a = model.loss_and_gradients(x, np.random.default_rng(3)).loss
    assert a == model.loss_and_gradients(x, np.random.default_rng(3)).loss
    eps = np.zeros((4, 2))
    none = model.loss_and_gradients(x, eps=eps, drop=np.zeros((4, x.shape[1] - 1), bool)).loss
    every = model.loss_and_gradients(x, eps=eps, drop=np.ones((4, x.shape[1] - 1), bool)).loss
    assert none != every
    with pytest.raises(ValueError, match="drop="):
        model.loss_and_gradients(x, eps=eps)


@pytest.mark.parametrize("option, value", [("target", np.zeros((2, 3), np.int64)), ("iw_samples", 5),
                                           ("condition", np.array([0, 1]))])
def test_refuses_what_it_cannot_honour_in_one_line(option, value):
    vocab = Vocabulary.build(RAGGED)
    model = tiny(vocab)
    with pytest.raises(ValueError, match=f"SequenceVAE cannot honour {option}=") as err:
        model.loss_and_gradients(vocab.encode(["ab", "a"]).ids, np.random.default_rng(0), **{option: value})
    assert "\n" not in str(err.value)
    model.check_options(beta=0.5, free_bits=0.1)  # honoured


@pytest.mark.parametrize("x, message", [
    (np.array([[1.0, 4.0, 2.0]]), "integer token ids"),
    (np.array([1, 4, 2]), "shape"),
    (np.array([[1, 99, 2]]), "outside the vocabulary"),
    (np.array([[4, 5, 2]]), "begin with <bos>"),
    (np.array([[1, 0, 4, 2]]), "after a <pad>"),
])
def test_bad_ids_are_refused_with_a_clear_error(x, message):
    model = tiny(Vocabulary.build(RAGGED))
    with pytest.raises((ValueError, TypeError), match=message):
        model.loss_and_gradients(x, np.random.default_rng(0))


def test_config_round_trip_gives_the_same_model():
    vocab = Vocabulary.build(RAGGED)
    model = tiny(vocab, token_dropout=0.25)
    again = SequenceVAE.from_config(model.config())
    assert again.config() == model.config()
    assert all(np.array_equal(again.params[k], p) for k, p in model.params.items())


def test_training_lowers_the_loss_and_greedy_decoding_gives_strings():
    words = made_up_words(200)
    vocab = Vocabulary.build(words)
    x = vocab.encode(words).ids
    model = SequenceVAE(len(vocab), latent_dim=4, embed_dim=16, hidden_dim=32, token_dropout=0.2, seed=0)
    opt, rng = Adam(lr=1e-2), np.random.default_rng(0)
    eval_eps = np.zeros((len(x), 4), np.float32)
    before = model.elbo(x, eps=eval_eps).elbo.mean()
    for step in range(100):
        batch = x[rng.choice(len(x), size=32, replace=False)]
        model.loss_and_gradients(batch, rng, beta=min(1.0, step / 50))
        opt.step(model.params, model.grads)
    after = model.elbo(x, eps=eval_eps).elbo.mean()
    assert after > before + 5, (before, after)  # nats per word: about -15 at initialisation, -5 after
    strings = vocab.decode(model.decode(np.zeros((3, 4)), max_length=20))
    assert len(strings) == 3 and all(isinstance(s, str) for s in strings)
    assert all(set(s) <= set("".join(words)) for s in strings)
    sampled = model.sample(5, np.random.default_rng(1), temperature=0.8, max_length=20)
    assert sampled.shape[0] == 5 and sampled.shape[1] <= 20 and (sampled[:, 0] == BOS_ID).all()
    rows = vocab.decode(sampled)
    assert all(isinstance(s, str) for s in rows)


def test_decode_stops_at_eos_and_pads_after_it():
    vocab = Vocabulary.build(RAGGED)
    model = tiny(vocab)
    model.output.params["b"][:] = -10.0
    model.output.params["b"][EOS_ID] = 10.0  # <eos> is always the most probable token
    ids = model.decode(np.zeros((2, 2)), max_length=8)
    assert ids.tolist() == [[BOS_ID, EOS_ID], [BOS_ID, EOS_ID]]
    assert vocab.decode(ids) == ["", ""]
