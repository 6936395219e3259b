"""Evaluating models of token sequences: the importance-weighted bound of a SequenceVAE (whose log-weights come from
the bound's one home, minivae.models.iwae) and the scores per token of ``evaluate``."""
import numpy as np
import pytest

from minivae.apps.evaluation import evaluate, importance_weighted_bound, nats_per_token
from minivae.datasets.text import Vocabulary
from minivae.models.iwae import log_importance_weights
from minivae.models.sequence_vae import SequenceVAE
from minivae.nn.losses import log_normal_of_noise, log_standard_normal, logsumexp

WORDS = ["a", "ab", "abcab", "cba", "bb", "cab"]
VOCAB = Vocabulary.build(WORDS)
IDS = VOCAB.encode(WORDS).ids  # (6, 7): ragged, padded at the end


def model(z_every_step=False, seed=0):
    m = SequenceVAE(len(VOCAB), latent_dim=3, embed_dim=4, hidden_dim=6, seed=seed, dtype=np.float64,
                    z_every_step=z_every_step)
    for p in m.params.values():
        p *= 2  # an untrained model whose posterior is far from the prior, so that K matters
    return m


@pytest.mark.parametrize("z_every_step", [False, True])
def test_k1_bound_is_the_one_sample_elbo_with_the_same_noise(z_every_step):
    """log w = log p(x | z) - [log q(z | x) - log p(z)]: the reconstruction term of model.elbo for the same eps, and
    a Monte Carlo KL in place of the closed form. The bound draws its noise example by example, in row order."""
    m = model(z_every_step)
    bound = importance_weighted_bound(m, IDS, k=1, rng=np.random.default_rng(7))
    eps = np.random.default_rng(7).standard_normal((len(IDS), 3))
    terms = m.elbo(IDS, eps=eps)
    mu, logvar = m.encode(IDS)
    kl_mc = log_normal_of_noise(eps, logvar) - log_standard_normal(mu + np.exp(0.5 * logvar) * eps)
    np.testing.assert_allclose(bound, -terms.reconstruction - kl_mc, rtol=1e-12)
    np.testing.assert_allclose(bound, importance_weighted_bound(m, IDS, eps=eps[:, None, :]), rtol=1e-15)


def test_k1_bound_averages_to_the_elbo():
    m = model()
    x = np.repeat(IDS[2:3], 4000, axis=0)  # one sequence, 4000 draws of z
    bound = importance_weighted_bound(m, x, k=1, rng=np.random.default_rng(8))
    elbo = m.elbo(x, rng=np.random.default_rng(9)).elbo
    standard_error = np.sqrt(bound.var() / len(x) + elbo.var() / len(x))
    assert abs(bound.mean() - elbo.mean()) < 4 * standard_error


def test_the_bound_grows_with_k():
    m = model(seed=1)
    x = np.repeat(IDS, 10, axis=0)  # 60 sequences
    means = [importance_weighted_bound(m, x, k, np.random.default_rng(k)).mean() for k in (1, 10, 100)]
    assert means[0] < means[1] < means[2], means
    assert means[2] - means[0] > 0.1  # by more than the noise: the posterior is far from exact


@pytest.mark.parametrize("z_every_step", [False, True])
def test_with_the_prior_as_posterior_the_bound_is_the_log_mean_of_the_likelihoods(z_every_step):
    """q(z | x) = p(z) = N(0, I) (the encoder's head set to 0): log w_k = log p(x | z_k), z_k = eps_k, so
    L_K = log (1/K) sum_k p(x | eps_k), each p(x | eps_k) from the model's one-sample ELBO at that noise."""
    m = model(z_every_step)
    m.params["to_gaussian.W"][:] = 0
    m.params["to_gaussian.b"][:] = 0
    K = 5
    eps = np.random.default_rng(3).standard_normal((len(IDS), K, 3))
    log_px_given_z = np.stack([-m.elbo(IDS, eps=eps[:, j]).reconstruction for j in range(K)], axis=1)  # (N, K)
    np.testing.assert_allclose(log_importance_weights(m, IDS, eps), log_px_given_z, rtol=1e-12)
    by_hand = np.log(np.mean(np.exp(log_px_given_z), axis=1))
    np.testing.assert_allclose(importance_weighted_bound(m, IDS, eps=eps), by_hand, rtol=1e-12)
    np.testing.assert_allclose(logsumexp(log_px_given_z, axis=1) - np.log(K), by_hand, rtol=1e-12)


def test_padding_and_memory_blocks_change_nothing():
    m = model()
    eps = np.random.default_rng(0).standard_normal((len(IDS), 4, 3))
    wide = np.concatenate([IDS, np.zeros((len(IDS), 5), IDS.dtype)], axis=1)
    np.testing.assert_allclose(importance_weighted_bound(m, wide, eps=eps),
                               importance_weighted_bound(m, IDS, eps=eps), rtol=1e-12)
    # a budget of T - 1 decoder steps is one sequence and one sample per pass: the noise is drawn in the same order
    one_at_a_time = importance_weighted_bound(m, IDS, k=4, rng=np.random.default_rng(5), batch_size=IDS.shape[1] - 1)
    np.testing.assert_allclose(
        one_at_a_time, importance_weighted_bound(m, IDS, eps=np.random.default_rng(5).standard_normal((6, 4, 3))),
        rtol=1e-12)


def test_training_on_the_bound_is_still_refused():
    with pytest.raises(ValueError, match="SequenceVAE cannot honour iw_samples=4: it trains on the ELBO only"):
        model().loss_and_gradients(IDS, np.random.default_rng(0), iw_samples=4)


def test_nats_per_token():
    ids = np.array([[1, 5, 6, 2], [1, 2, 0, 0]])  # 3 + 1 tokens after <bos>
    assert nats_per_token(np.array([6.0, 2.0]), ids) == 2.0
    with pytest.raises(ValueError, match="one value per sequence"):
        nats_per_token(np.array([1.0]), ids)


def test_evaluate_a_sequence_vae_reports_scores_per_token():
    m = model()
    x = np.repeat(IDS, 5, axis=0)
    result = evaluate(m, x, np.random.default_rng(0), k=50)
    n_tokens = int((x[:, 1:] != 0).sum())
    assert result["n_tokens"] == n_tokens and result["n_examples"] == len(x) and result["k"] == 50
    assert result["neg_elbo"] == pytest.approx(result["reconstruction"] + result["kl"])
    assert result["neg_iw_bound"] < result["neg_elbo"]
    assert result["nll_per_token"] == pytest.approx(result["neg_iw_bound"] * len(x) / n_tokens, rel=1e-12)
    assert result["perplexity"] == pytest.approx(np.exp(result["nll_per_token"]), rel=1e-12)
    assert "bits_per_dim" not in result and 0 <= result["active_units"] <= 3
    no_iw = evaluate(m, x, np.random.default_rng(0))
    assert no_iw["nll_per_token"] == pytest.approx(no_iw["neg_elbo"] * len(x) / n_tokens, rel=1e-12)


def test_evaluate_a_language_model_reports_its_exact_nll():
    from minivae.models.language_model import SequenceLM

    lm = SequenceLM(len(VOCAB), embed_dim=4, hidden_dim=6, dtype=np.float64)
    x = np.repeat(IDS, 3, axis=0)
    result = evaluate(lm, x, np.random.default_rng(0), batch_size=4)
    assert result["neg_log_likelihood"] == pytest.approx(-lm.log_likelihood(x).mean(), rel=1e-12)
    assert result["nll_per_token"] == pytest.approx(-lm.log_likelihood(x).sum() / result["n_tokens"], rel=1e-12)
    assert result["perplexity"] == pytest.approx(np.exp(result["nll_per_token"]))
    assert result["k"] is None and result["n_examples"] == len(x) and "neg_elbo" not in result


def test_evaluate_refuses_a_model_without_a_likelihood():
    from minivae import Autoencoder

    with pytest.raises(ValueError, match="Autoencoder has no likelihood p"):
        evaluate(Autoencoder(4, 2, (3,)), np.zeros((2, 4)), np.random.default_rng(0))
