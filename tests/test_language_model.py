"""The language model baseline (minivae.models.language_model): the sequence VAE's decoder alone, its exact
log-likelihood, every gradient against finite differences, its refusals, training and sampling."""
import doctest
import itertools

import numpy as np
import pytest

from minivae.datasets.text import BOS_ID, EOS_ID, PAD_ID, Vocabulary
from minivae.models import language_model
from minivae.models.language_model import SequenceLM
from minivae.models.sequence_decoding import next_token_log_probs
from minivae.models.sequence_vae import SequenceVAE
from minivae.nn.gradcheck import check_model
from minivae.nn.optim import Adam

RAGGED = ["a", "ab", "abcab", "cba"]
VOCAB = Vocabulary.build(RAGGED)  # 0 <pad> 1 <bos> 2 <eos> 3 <unk> 4 a 5 b 6 c
BATCHES = {
    "ragged": VOCAB.encode(RAGGED).ids,
    "one_step": np.array([[BOS_ID, 4], [BOS_ID, EOS_ID], [BOS_ID, 6]]),  # T = 2: <bos> x
    "one_step_padded": np.array([[BOS_ID, EOS_ID, PAD_ID, PAD_ID], [BOS_ID, 4, 5, EOS_ID],
                                 [BOS_ID, 5, PAD_ID, PAD_ID]]),
}


def tiny(dtype=np.float64, seed=0):
    return SequenceLM(len(VOCAB), embed_dim=3, hidden_dim=4, seed=seed, dtype=dtype)


def test_shapes_and_terms():
    lm, x = tiny(), BATCHES["ragged"]
    terms = lm.loss_and_gradients(x)
    assert terms.kl == 0.0 and terms.loss == terms.reconstruction > 0
    nll = lm.reconstruction_error(x)
    assert nll.shape == (4,) and terms.loss == pytest.approx(nll.mean(), rel=1e-12)
    np.testing.assert_array_equal(lm.log_likelihood(x), -nll)
    assert sorted(lm.grads) == sorted(lm.params)
    assert lm.input_kind == "tokens" and not lm.probabilistic and lm.options == frozenset()


@pytest.mark.parametrize("batch", BATCHES)
def test_every_gradient_against_finite_differences(batch):
    """float64, ragged lengths and single steps (T = 2): every parameter < 1e-7, and none of them all zero."""
    lm, x = tiny(), BATCHES[batch]
    for p in lm.params.values():
        p *= 2
    errors = check_model(lm, lambda: lm.loss_and_gradients(x).loss)
    assert set(errors) == set(lm.params)
    assert max(errors.values()) < 1e-7, errors
    lm.loss_and_gradients(x)
    # one step from h_0 = 0 multiplies W_hh by zeros only: its gradient is exactly 0 there, and nowhere else
    zero = {"decoder.W_hh"} if batch == "one_step" else set()
    assert {k for k, g in lm.grads.items() if not g.any()} == zero


def test_it_is_the_sequence_vaes_decoder_started_from_zero():
    """The same parameter names and shapes; with the VAE's map to h_0 set to 0, the VAE's reconstruction term is
    the language model's -log p(x), whatever z."""
    lm = tiny(seed=1)
    vae = SequenceVAE(len(VOCAB), latent_dim=2, embed_dim=3, hidden_dim=4, dtype=np.float64)
    assert set(lm.params) < set(vae.params)
    assert all(vae.params[k].shape == p.shape for k, p in lm.params.items())
    for k, p in lm.params.items():
        vae.params[k][...] = p
    vae.params["to_state.W"][:] = 0
    vae.params["to_state.b"][:] = 0  # h_0 = tanh(0) = 0
    x = BATCHES["ragged"]
    eps = np.random.default_rng(0).standard_normal((4, 2))
    np.testing.assert_allclose(vae.elbo(x, eps=eps).reconstruction, lm.reconstruction_error(x), rtol=1e-12)


def test_log_likelihood_is_the_product_of_the_step_probabilities_and_sums_to_at_most_one():
    lm = tiny(seed=2)
    for p in lm.params.values():
        p *= 2
    x = BATCHES["ragged"]
    h, total = np.zeros((4, 4)), np.zeros(4)
    for t in range(1, x.shape[1]):  # one step at a time, as generation runs it
        log_p, h = next_token_log_probs(lm, x[:, t - 1], h)
        real = x[:, t] != PAD_ID
        total[real] += log_p[real, x[real, t]]
    np.testing.assert_allclose(lm.log_likelihood(x), total, rtol=1e-12)
    # a distribution over sequences: all sequences of up to 3 tokens that end in <eos> hold less than 1
    rows = [[BOS_ID, *body, EOS_ID] + [PAD_ID] * (2 - len(body))
            for n in range(3) for body in itertools.product([3, 4, 5, 6], repeat=n)]
    mass = np.exp(lm.log_likelihood(np.array(rows))).sum()
    assert 0 < mass < 1


@pytest.mark.parametrize("option, value", [("beta", 0.5), ("free_bits", 0.1), ("iw_samples", 2),
                                           ("target", np.zeros((2, 3), np.int64)), ("condition", np.array([0, 1]))])
def test_refuses_every_option_by_name_in_one_line(option, value):
    lm = tiny()
    with pytest.raises(ValueError, match=f"^SequenceLM cannot honour {option}=") as err:
        lm.loss_and_gradients(VOCAB.encode(["ab", "a"]).ids, np.random.default_rng(0), **{option: value})
    assert "\n" not in str(err.value)


def test_the_batch_as_its_own_target_is_no_target():
    lm, x = tiny(), BATCHES["ragged"]
    assert lm.loss_and_gradients(x, target=x).loss == lm.loss_and_gradients(x).loss


@pytest.mark.parametrize("x, message", [
    (np.array([[1.0, 4.0, 2.0]]), "integer token ids"),
    (np.array([1, 4, 2]), "shape"),
    (np.array([[1, 99, 2]]), "outside the vocabulary"),
    (np.array([[4, 5, 2]]), "begin with <bos>"),
    (np.array([[1, 0, 4, 2]]), "after a <pad>"),
])
def test_bad_ids_are_refused_with_a_clear_error(x, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tiny().loss_and_gradients(x)


def test_config_round_trip_and_bad_sizes():
    lm = tiny(seed=3)
    again = SequenceLM.from_config(lm.config())
    assert again.config() == lm.config() and "SequenceLM(vocab_size=7" in repr(lm)
    assert all(np.array_equal(again.params[k], p) for k, p in lm.params.items())
    with pytest.raises(ValueError, match="vocab_size must count the four special tokens"):
        SequenceLM(4)  # only <pad> <bos> <eos> <unk>


def test_training_lowers_the_nll_and_samples_are_strings():
    words = ["kalo", "mine", "ruka", "sato", "vimi", "lone", "kasa", "tovi"] * 10
    vocab = Vocabulary.build(words)
    x = vocab.encode(words).ids
    lm = SequenceLM(len(vocab), embed_dim=16, hidden_dim=32, seed=0)
    opt, rng = Adam(lr=1e-2), np.random.default_rng(0)
    before = lm.reconstruction_error(x).mean()
    for _ in range(60):
        lm.loss_and_gradients(x[rng.choice(len(x), 32, replace=False)])
        opt.step(lm.params, lm.grads)
    after = lm.reconstruction_error(x).mean()
    assert after < before - 5, (before, after)
    samples = lm.sample(6, np.random.default_rng(1), temperature=0.8, max_length=12)
    assert samples.shape[0] == 6 and samples.shape[1] <= 12 and (samples[:, 0] == BOS_ID).all()
    assert all(set(s) <= set("".join(words)) | {"<", ">", "u", "n", "k"} for s in vocab.decode(samples))
    greedy = lm.sample(3, None, temperature=0.0, max_length=12)
    assert (greedy == greedy[0]).all()  # h_0 = 0 for every row: one most probable sequence


def test_the_docstring_example_prints_what_it_says():
    result = doctest.testmod(language_model, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
