"""How much of its latent space a model uses: the mutual information I(x; z) (minivae.apps.evaluation) against values
derived by hand, its bound log N, and the active units of a SequenceVAE (minivae.apps.latent)."""
import numpy as np
import pytest

from minivae import VAE, Autoencoder, ConditionalVAE
from minivae.apps.evaluation import evaluate, latent_use, mutual_information
from minivae.apps.latent import active_units
from minivae.datasets.text import Vocabulary
from minivae.models.sequence_vae import SequenceVAE


class Posteriors:
    """A 'model' whose q(z | x_n) is N(MU[n], diag(exp(LOGVAR[n]))): example n is the input [[n]]."""

    probabilistic, conditional = True, False

    def __init__(self, mu, logvar):
        self.mu, self.logvar = np.asarray(mu, float), np.asarray(logvar, float)
        self.latent_dim = self.mu.shape[1]

    def encode(self, x):
        n = np.asarray(x)[:, 0]
        return self.mu[n], self.logvar[n]

    def decode(self, z):
        return z


def examples(n):
    return np.arange(n)[:, None]


@pytest.mark.parametrize("n_samples", [1, 4])
def test_the_same_posterior_for_every_example_carries_nothing(n_samples):
    """Every q(z | x_n) equal: log q(z | x_m) = log of the mixture, each term 0."""
    mu, logvar = np.tile([[0.3, -1.2]], (7, 1)), np.tile([[0.5, -0.7]], (7, 1))
    mi = mutual_information(Posteriors(mu, logvar), examples(7), np.random.default_rng(0), n_samples)
    assert abs(mi) < 1e-12


@pytest.mark.parametrize("n_samples", [1, 3])
def test_two_unit_gaussians_a_distance_d_apart_by_hand(n_samples):
    """q1 = N(0, 1), q2 = N(d, 1), one dimension. A code z ~ q1 contributes log q1(z) - log((q1(z) + q2(z)) / 2)
    = log 2 - log(1 + q2(z) / q1(z)), with q2 / q1 = exp(d z - d^2 / 2); for z = d + e ~ q2, q1 / q2 at z is
    exp(-d e - d^2 / 2). The estimate is the mean of these terms over the codes drawn."""
    d = 1.5
    eps = np.random.default_rng(11).standard_normal((2, n_samples, 1))[..., 0]  # the draws the estimate makes
    from_q1 = np.log(2) - np.log1p(np.exp(d * eps[0] - d * d / 2))
    from_q2 = np.log(2) - np.log1p(np.exp(-d * eps[1] - d * d / 2))
    by_hand = np.concatenate([from_q1, from_q2]).mean()
    model = Posteriors([[0.0], [d]], [[0.0], [0.0]])
    assert mutual_information(model, examples(2), np.random.default_rng(11), n_samples) == pytest.approx(by_hand,
                                                                                                          rel=1e-12)


def test_posteriors_that_do_not_overlap_reach_log_n():
    N = 9
    mu = 100.0 * np.stack([np.arange(N), -np.arange(N)], axis=1)  # 100 apart, standard deviations of 0.37
    mi = mutual_information(Posteriors(mu, np.full((N, 2), -2.0)), examples(N), np.random.default_rng(0))
    assert mi == pytest.approx(np.log(N), abs=1e-12)


def test_never_above_log_n():
    rng = np.random.default_rng(1)
    for _ in range(200):
        N, L = int(rng.integers(2, 30)), int(rng.integers(1, 5))
        mu = rng.standard_normal((N, L)) * 10 ** rng.uniform(-2, 2)
        logvar = rng.uniform(-8, 2, (N, L))
        mi = mutual_information(Posteriors(mu, logvar), examples(N), rng, int(rng.integers(1, 4)))
        assert mi <= np.log(N) + 1e-12


def test_the_blocks_of_codes_change_nothing():
    """1500 examples in 2 dimensions are scored in blocks of 699 codes; by hand, all 1500 x 1500 at once."""
    rng = np.random.default_rng(2)
    N = 1500
    mu, logvar = rng.standard_normal((N, 2)), rng.uniform(-3, 0, (N, 2))
    z = mu + np.exp(0.5 * logvar) * np.random.default_rng(3).standard_normal((N, 1, 2))[:, 0]
    log_q = -0.5 * (np.log(2 * np.pi) + logvar[None] + (z[:, None] - mu[None]) ** 2 / np.exp(logvar[None])).sum(-1)
    top = log_q.max(axis=1, keepdims=True)
    mixture = (top + np.log(np.exp(log_q - top).mean(axis=1, keepdims=True)))[:, 0]
    by_hand = np.mean(np.diag(log_q) - mixture)
    mi = mutual_information(Posteriors(mu, logvar), examples(N), np.random.default_rng(3))
    assert mi == pytest.approx(by_hand, rel=1e-10)


WORDS = ["ab", "ba", "abca", "c", "cab", "b", "bac", "cc"]
VOCAB = Vocabulary.build(WORDS)
IDS = VOCAB.encode(WORDS).ids


def sequence_vae(seed=0):
    model = SequenceVAE(len(VOCAB), latent_dim=3, embed_dim=4, hidden_dim=6, seed=seed, dtype=np.float64)
    for p in model.params.values():
        p *= 3
    return model


def test_a_sequence_vae_whose_posterior_is_the_prior_carries_nothing_and_others_something():
    model = sequence_vae()
    mi = mutual_information(model, IDS, np.random.default_rng(0), n_samples=5)
    assert 0 < mi <= np.log(len(IDS))
    model.params["to_gaussian.W"][:] = 0  # q(z | x) = N(b_mu, exp(b_logvar)) for every x
    assert abs(mutual_information(model, IDS, np.random.default_rng(0))) < 1e-12


def test_active_units_of_a_sequence_vae_through_its_encoder():
    model = sequence_vae(seed=1)
    count, variances = active_units(model, IDS)
    np.testing.assert_allclose(variances, model.encode(IDS)[0].var(axis=0), rtol=1e-12)
    assert count == int((variances > 0.01).sum()) == 3
    model.params["to_gaussian.W"][:, 1] = 0  # the mean of unit 1 no longer depends on x
    count, variances = active_units(model, IDS)
    assert count == 2 and variances[1] == 0


def test_evaluate_reports_the_mutual_information():
    vae = VAE(8, latent_dim=3, hidden=(5,), seed=0, dtype=np.float64)
    vae.params["encoder.2.W"] *= 10  # means far apart for different x: a clearly positive I(x; z)
    x = np.random.default_rng(0).random((50, 8))
    result = evaluate(vae, x, np.random.default_rng(0))
    assert 1 < result["mutual_information"] <= np.log(50)
    assert 0 <= evaluate(sequence_vae(), IDS, np.random.default_rng(0))["mutual_information"] <= np.log(len(IDS))


@pytest.mark.parametrize("model, x, rng, kwargs, error, match", [
    (Autoencoder(4, 2, (3,)), np.zeros((3, 4)), np.random.default_rng(0), {}, ValueError,
     "Autoencoder has no posterior"),
    (ConditionalVAE(4, 2, (3,), n_classes=2), np.zeros((3, 4)), np.random.default_rng(0), {}, ValueError,
     "ConditionalVAE has no posterior q\\(z \\| x\\) without labels"),
    (VAE(4, 2, (3,)), np.zeros((3, 4)), 0, {}, TypeError, "rng must be a numpy Generator"),
    (VAE(4, 2, (3,)), np.zeros((1, 4)), np.random.default_rng(0), {}, ValueError, "at least 2 examples"),
    (VAE(4, 2, (3,)), np.zeros((3, 4)), np.random.default_rng(0), {"n_samples": 0}, ValueError,
     "n_samples must be a positive integer"),
])
def test_bad_input_is_refused_in_one_line(model, x, rng, kwargs, error, match):
    with pytest.raises(error, match=match) as err:
        mutual_information(model, x, rng, **kwargs)
    assert "\n" not in str(err.value)


def test_latent_use_gives_the_two_numbers_of_one_encoder_pass():
    """The trainer's per-epoch report encodes the examples once for both numbers: the same values, to the last bit,
    as active_units and mutual_information computed apart, each with its own encoder pass."""
    model = VAE(12, latent_dim=3, hidden=(8,), seed=1)
    x = np.random.default_rng(2).random((2500, 12)).astype(np.float32)
    active, mi = latent_use(model, x, seed=4)
    assert active == active_units(model, x[:2000])[0]
    assert mi == mutual_information(model, x[:2000], np.random.default_rng(4))
    assert latent_use(Autoencoder(12, latent_dim=3, hidden=(8,)), x) == (None, None)
