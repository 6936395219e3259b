"""Decoding token sequences (minivae.models.sequence_decoding): greedy and sampling, beam search against an
exhaustive search, width 1 against greedy, homotopies between two sentences."""
import doctest
import itertools

import numpy as np
import pytest

from minivae.apps.latent import lerp
from minivae.datasets.text import BOS_ID, EOS_ID, PAD_ID, Vocabulary
from minivae.models import sequence_decoding, sequence_vae
from minivae.models.sequence_decoding import beam_search, decode_from_state, homotopy, next_token_log_probs
from minivae.models.sequence_vae import SequenceVAE
from minivae.nn.optim import Adam

WORDS = ["ab", "ba", "abba", "bab", "aab", "b"]
VOCAB = Vocabulary.build(WORDS)  # 6 ids: <pad> <bos> <eos> <unk> a b


def random_model(z_every_step=False, seed=0, scale=3.0):
    """An untrained model with weights large enough that its next-token distributions are far from uniform."""
    model = SequenceVAE(len(VOCAB), latent_dim=2, embed_dim=3, hidden_dim=5, seed=seed, dtype=np.float64,
                        z_every_step=z_every_step)
    for p in model.params.values():
        p *= scale
    return model


def log_prob(model, z, rows):
    """log p(y | z) of each row (R,) by teacher forcing (the training path), each row with its own z (R, L)."""
    return -model._nll_given_z(z, model._check_x(rows))[0]


def every_sequence(n_tokens):
    """All sequences of at most n_tokens tokens after <bos> over <eos> <unk> a b: ended by <eos>, or cut at n."""
    rows = []
    for n in range(1, n_tokens + 1):
        for body in itertools.product([3, 4, 5], repeat=n - 1):  # the tokens before the last
            rows.append([BOS_ID, *body, EOS_ID])
        rows.extend([BOS_ID, *body] for body in itertools.product([3, 4, 5], repeat=n_tokens) if n == n_tokens)
    width = n_tokens + 1
    return np.array([r + [PAD_ID] * (width - len(r)) for r in rows])


def n_tokens(rows):
    return (rows[:, 1:] != PAD_ID).sum(axis=1)


# -- the step and greedy -----------------------------------------------------------------------------------------------

def test_the_step_gives_the_models_own_probabilities_and_never_pad_or_bos():
    model = random_model(z_every_step=True)
    z = np.random.default_rng(0).standard_normal((3, 2))
    h0, context = model._decoder_start(z)
    log_p, h = next_token_log_probs(model, np.full(3, BOS_ID), h0, context)
    assert log_p.shape == (3, len(VOCAB)) and h.shape == (3, 5)
    assert np.isneginf(log_p[:, [PAD_ID, BOS_ID]]).all()
    rows = np.array([[BOS_ID, v] for v in range(2, 6)])  # every first token that can be generated
    for r in range(3):  # the same numbers as teacher forcing, the training path
        np.testing.assert_allclose(log_p[r, 2:], log_prob(model, np.repeat(z[r:r + 1], 4, axis=0), rows),
                                   rtol=1e-12)


@pytest.mark.parametrize("z_every_step", [False, True])
def test_greedy_picks_the_most_probable_token_at_every_step(z_every_step):
    model = random_model(z_every_step, seed=1)
    z = np.random.default_rng(1).standard_normal((4, 2))
    ids = model.decode(z, max_length=6)
    for r in range(4):  # no other token at any step has a higher probability under the same prefix
        row = ids[r, :np.argmax(ids[r] == EOS_ID) + 1] if (ids[r] == EOS_ID).any() else ids[r]
        for t in range(1, len(row)):
            alternatives = np.array([list(row[:t]) + [v] for v in range(2, 6)])
            scores = log_prob(model, np.repeat(z[r:r + 1], 4, axis=0), alternatives)
            assert scores.argmax() + 2 == row[t]


def test_sampling_is_reproducible_and_a_tiny_temperature_is_greedy():
    model = random_model(seed=2)
    z = np.random.default_rng(2).standard_normal((8, 2))
    a = model.decode(z, 10, temperature=1.0, rng=np.random.default_rng(5))
    assert np.array_equal(a, model.decode(z, 10, temperature=1.0, rng=np.random.default_rng(5)))
    assert np.array_equal(model.decode(z, 10, temperature=1e-6, rng=np.random.default_rng(5)), model.decode(z, 10))
    assert not np.isin(a[:, 1:], [BOS_ID]).any()


# -- beam search -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("z_every_step", [False, True])
@pytest.mark.parametrize("max_length", [3, 8, 30])
def test_beam_of_width_one_is_greedy(z_every_step, max_length):
    for seed in range(3):
        model = random_model(z_every_step, seed=seed)
        z = np.random.default_rng(seed).standard_normal((6, 2))
        greedy = model.decode(z, max_length)
        assert np.array_equal(beam_search(model, z, beam_width=1, max_length=max_length), greedy)
        assert np.array_equal(beam_search(model, z, 1, max_length, length_penalty=1.0), greedy)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("z_every_step", [False, True])
def test_a_beam_wider_than_every_hypothesis_finds_the_exhaustive_best(z_every_step, length_penalty):
    """With B larger than the number of sequences nothing is pruned, so beam search returns the sequence of the
    best score among all of them: each scored by teacher forcing, log p(y | z) / n ** length_penalty."""
    model = random_model(z_every_step, seed=3)
    z = np.random.default_rng(3).standard_normal((5, 2))
    candidates = every_sequence(3)  # 1 + 3 + 9 ended by <eos>, 27 cut at 3 tokens
    found = beam_search(model, z, beam_width=64, max_length=4, length_penalty=length_penalty)
    for r in range(len(z)):
        scores = log_prob(model, np.repeat(z[r:r + 1], len(candidates), axis=0), candidates)
        scores = scores / n_tokens(candidates) ** length_penalty
        best = candidates[scores.argmax()]
        assert np.array_equal(found[r, :len(best)], best[:found.shape[1]])
        assert (found[r, len(best):] == PAD_ID).all()


def test_a_wider_beam_never_does_worse_than_greedy_here_and_finished_beams_are_kept():
    model = random_model(seed=4)
    z = np.random.default_rng(4).standard_normal((40, 2))
    greedy, beam = model.decode(z, 12), beam_search(model, z, beam_width=8, max_length=12)
    g, b = log_prob(model, z, greedy), log_prob(model, z, beam)
    assert (b >= g - 1e-12).all() and (b > g + 1e-9).any()  # better somewhere, worse nowhere (for these codes)
    assert (beam[:, 0] == BOS_ID).all() and ((beam == EOS_ID).sum(axis=1) <= 1).all()


def test_beam_search_refuses_bad_arguments_in_one_line():
    model = random_model()
    z = np.zeros((2, 2))
    for kwargs, match in [({"beam_width": 0}, "beam_width must be a positive integer"),
                          ({"max_length": 0}, "max_length must be a positive integer"),
                          ({"length_penalty": -1.0}, "length_penalty must be a number >= 0")]:
        with pytest.raises(ValueError, match=match) as err:
            beam_search(model, z, **kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="z"):
        beam_search(model, np.zeros((2, 3)))


# -- homotopies --------------------------------------------------------------------------------------------------------

def test_homotopy_decodes_the_line_between_the_two_posterior_means():
    model = random_model(seed=5, scale=1.0)
    a, b = VOCAB.encode(["abba"]).ids[0], VOCAB.encode(["b"]).ids[0]
    mu_a, mu_b = model.encode(a[None])[0][0], model.encode(b[None])[0][0]
    rows = homotopy(model, a, b, n=5, max_length=12)
    assert np.array_equal(rows, model.decode(lerp(mu_a, mu_b, 5), 12))
    beams = homotopy(model, a[None], b[None], n=5, method="beam", beam_width=3, max_length=12)
    assert np.array_equal(beams, beam_search(model, lerp(mu_a, mu_b, 5), 3, 12))


def test_homotopy_ends_reconstruct_their_sentences_after_training():
    words = ["abba", "bab", "aab", "ba", "abab", "bbb"]
    ids = VOCAB.encode(words).ids
    model = SequenceVAE(len(VOCAB), latent_dim=4, embed_dim=8, hidden_dim=32, seed=0, z_every_step=True)
    opt, rng = Adam(lr=1e-2), np.random.default_rng(0)
    for _ in range(300):
        model.loss_and_gradients(ids, rng, beta=0.05)
        opt.step(model.params, model.grads)
    assert VOCAB.decode(model.reconstruct(ids)) == words  # the model has learned the six words
    for method in ("greedy", "beam"):
        rows = VOCAB.decode(homotopy(model, ids[0], ids[1], n=6, method=method))
        assert len(rows) == 6 and rows[0] == "abba" and rows[-1] == "bab", rows
        assert all(set(r) <= {"a", "b"} for r in rows)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 1}, "n, the number of points on the line, must be an integer >= 2"),
    ({"method": "sample"}, r"method must be one of \('greedy', 'beam'\)"),
])
def test_homotopy_refuses_bad_arguments_in_one_line(kwargs, match):
    model = random_model()
    a = VOCAB.encode(["ab"]).ids[0]
    with pytest.raises(ValueError, match=match) as err:
        homotopy(model, a, a, **kwargs)
    assert "\n" not in str(err.value)


def test_homotopy_wants_one_sentence_at_each_end():
    ids = VOCAB.encode(["ab", "ba"]).ids
    with pytest.raises(ValueError, match=r"ids_a must be the ids of one sentence, shape \(T,\) or \(1, T\)"):
        homotopy(random_model(), ids, ids[0])


def test_decode_from_a_zero_state_without_a_context():
    """The language model's way in: h_0 = 0, no z."""
    model = random_model(seed=6)
    ids = decode_from_state(model, np.zeros((3, 5)), None, max_length=7)
    assert ids.shape[0] == 3 and ids.shape[1] <= 7 and (ids[:, 0] == BOS_ID).all()
    assert (ids == ids[0]).all()  # the same start, greedy: the same sequence


@pytest.mark.parametrize("module", [sequence_decoding, sequence_vae])
def test_the_docstring_examples_print_what_they_say(module):
    result = doctest.testmod(module, extraglobs={"np": np, "SequenceVAE": SequenceVAE},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
