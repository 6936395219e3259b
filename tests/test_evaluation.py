"""Tests for minivae.apps.evaluation: log-sum-exp, Gaussian log densities, bits per dimension, the importance-weighted
bound (with a known answer: probabilistic PCA, whose marginal likelihood is exact) and the evaluation summary."""
import numpy as np
import pytest

from minivae import VAE
from minivae.apps.evaluation import bits_per_dim, evaluate, importance_weighted_bound
from minivae.models.iwae import log_importance_weights
from minivae.nn.losses import log_normal, log_normal_of_noise, log_standard_normal, logsumexp

LOG_2PI = np.log(2 * np.pi)


# ------------------------------------------------------------------------------------------------- logsumexp
def test_logsumexp_matches_the_naive_formula_on_moderate_values():
    a = np.random.default_rng(0).normal(size=(4, 7))
    np.testing.assert_allclose(logsumexp(a, axis=1), np.log(np.exp(a).sum(axis=1)), rtol=1e-14)
    np.testing.assert_allclose(logsumexp(a, axis=0), np.log(np.exp(a).sum(axis=0)), rtol=1e-14)


def test_logsumexp_is_stable_at_plus_and_minus_1000():
    # the naive formula gives inf (exp(1000) overflows) and -inf (exp(-1000) underflows to 0)
    assert logsumexp(np.array([1000.0, 1000.0])) == pytest.approx(1000 + np.log(2), abs=1e-12)
    assert logsumexp(np.array([-1000.0, -1000.0])) == pytest.approx(-1000 + np.log(2), abs=1e-12)
    assert logsumexp(np.array([1000.0, -1000.0])) == pytest.approx(1000.0, abs=1e-12)
    out = logsumexp(np.array([[1000.0, 999.0], [-1000.0, -1001.0]]), axis=1)
    np.testing.assert_allclose(out, [1000 + np.log1p(np.exp(-1)), -1000 + np.log1p(np.exp(-1))], rtol=1e-15)


def test_logsumexp_handles_minus_infinity():
    assert logsumexp(np.array([-np.inf, 0.0])) == 0.0  # log(0 + 1)
    with np.errstate(all="raise"):  # no warning, no NaN: a zero sum has log -inf
        assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


# ------------------------------------------------------------------------------------------ Gaussian densities
def test_log_normal_is_a_sum_of_one_dimensional_log_densities():
    rng = np.random.default_rng(1)
    x, mu, logvar = rng.normal(size=(3, 5, 4))
    expected = np.zeros(5)
    for j in range(4):  # one dimension at a time, the textbook density 1/sqrt(2 pi s2) exp(-(x - m)^2 / (2 s2))
        s2 = np.exp(logvar[:, j])
        expected += np.log(np.exp(-(x[:, j] - mu[:, j]) ** 2 / (2 * s2)) / np.sqrt(2 * np.pi * s2))
    np.testing.assert_allclose(log_normal(x, mu, logvar), expected, rtol=1e-12)


def test_log_normal_of_noise_is_log_normal_at_the_reparameterized_sample():
    rng = np.random.default_rng(4)
    mu, logvar, eps = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    z = mu + np.exp(0.5 * logvar) * eps
    np.testing.assert_allclose(log_normal_of_noise(eps, logvar), log_normal(z, mu, logvar), rtol=1e-12)


def test_log_standard_normal_is_log_normal_with_zero_mean_and_unit_variance():
    z = np.random.default_rng(2).normal(size=(6, 3))
    np.testing.assert_allclose(log_standard_normal(z), log_normal(z, 0.0, 0.0), rtol=1e-14)
    assert log_standard_normal(np.zeros((1, 2)))[0] == pytest.approx(-LOG_2PI)


def test_bits_per_dim():
    assert bits_per_dim(784 * np.log(2), 784) == pytest.approx(1.0)
    np.testing.assert_allclose(bits_per_dim(np.array([0.0, 2 * np.log(2)]), 2), [0.0, 1.0])
    with pytest.raises(ValueError, match="n_dims"):
        bits_per_dim(1.0, 0)


# ------------------------------------------------------------------------------ the known answer: probabilistic PCA
D, L, S2 = 6, 2, 0.3


def ppca_vae(posterior="exact"):
    """A linear-Gaussian VAE (probabilistic PCA, Tipping & Bishop 1999) whose log p(x) is known in closed form.

        z ~ N(0, I_L),  x | z ~ N(W z + b, s2 I_D)   =>   x ~ N(b, C),  C = W W^T + s2 I_D
        p(z | x) = N(M^{-1} W^T (x - b), s2 M^{-1}),  M = W^T W + s2 I_L

    With hidden=() each MLP is a single Linear layer: the decoder computes z @ W^T + b. W has orthogonal columns,
    so M is diagonal and the exact posterior is a diagonal Gaussian that the encoder (one Linear layer, outputs
    [mu | logvar]) can represent exactly: mu = (x - b) A with A = W M^{-1}, logvar = log(s2 / diag(M)) for every x.
    posterior="perturbed" shrinks the mean and doubles the variance: a wrong q, for which the bound is not exact.
    """
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(D, L)))
    W = q * np.array([2.0, 1.0])  # (D, L), orthogonal columns of lengths 2 and 1
    b = 0.5 * rng.normal(size=D)
    vae = VAE(D, L, hidden=(), likelihood={"name": "gaussian", "variance": S2}, dtype=np.float64)
    vae.decoder.layers[0].params["W"][...] = W.T
    vae.decoder.layers[0].params["b"][...] = b
    M = W.T @ W + S2 * np.eye(L)
    A = W @ np.linalg.inv(M)  # (D, L)
    shrink, log_inflate = (1.0, 0.0) if posterior == "exact" else (0.8, np.log(2.0))
    enc = vae.encoder.layers[0].params  # W (D, 2L), b (2L,)
    enc["W"][...] = 0.0
    enc["W"][:, :L] = shrink * A
    enc["b"][:L] = -shrink * (b @ A) + (0.0 if posterior == "exact" else 0.1)
    enc["b"][L:] = np.log(S2 / np.diag(M)) + log_inflate
    C = W @ W.T + S2 * np.eye(D)
    return vae, b, C


def exact_log_marginal(x, b, C):
    """log N(x; b, C) = -0.5 [D log(2 pi) + log det C + (x - b)^T C^{-1} (x - b)], per row, with slogdet and solve."""
    sign, logdet = np.linalg.slogdet(C)
    assert sign > 0
    d = x - b
    return -0.5 * (x.shape[1] * LOG_2PI + logdet + np.sum(d * np.linalg.solve(C, d.T).T, axis=1))


@pytest.fixture(scope="module")
def ppca_data():
    _, b, C = ppca_vae()
    x = np.random.default_rng(1).multivariate_normal(b, C, size=50)
    return x, exact_log_marginal(x, b, C)


def test_with_the_exact_posterior_the_bound_is_exact_for_every_k(ppca_data):
    # q = p(z | x) makes every weight p(x, z) / q(z | x) equal to p(x): no Monte Carlo error at all, even for K = 1
    x, log_px = ppca_data
    vae, _, _ = ppca_vae("exact")
    for k in (1, 10):
        np.testing.assert_allclose(importance_weighted_bound(vae, x, k, np.random.default_rng(k)), log_px,
                                   rtol=0, atol=1e-10)
    # the memory-bounded path (several blocks of examples, several chunks of samples, a remainder) changes nothing
    np.testing.assert_allclose(importance_weighted_bound(vae, x, 10, np.random.default_rng(0), batch_size=3),
                               log_px, rtol=0, atol=1e-10)


def test_with_a_wrong_posterior_the_bound_approaches_log_px_as_k_grows(ppca_data):
    x, log_px = ppca_data
    vae, _, _ = ppca_vae("perturbed")
    bounds = {k: importance_weighted_bound(vae, x, k, np.random.default_rng(k)) for k in (1, 10, 1000)}
    errors = {k: np.mean(np.abs(bounds[k] - log_px)) for k in bounds}  # measured: about 0.79, 0.20, 0.021 nats
    assert errors[1] > errors[10] > errors[1000]
    assert errors[1000] < 0.05
    # K = 1 is a one-sample ELBO: below log p(x) on average, here by the ELBO's gap of about 0.56 nats (measured
    # with the closed-form KL); with 20 draws per example the standard error of the mean is about 0.08 nats
    k1 = importance_weighted_bound(vae, np.repeat(x, 20, axis=0), 1, np.random.default_rng(0))
    assert k1.mean() < log_px.mean() - 0.3


def test_k1_bound_is_a_one_sample_elbo_with_the_same_noise():
    # log w = log p(x | z) - [log q(z | x) - log p(z)] with z = mu + sigma eps: the reconstruction term is the one of
    # model.elbo for the same eps; the KL term is estimated by Monte Carlo (model.elbo uses the closed form).
    vae = VAE(12, latent_dim=3, hidden=(8,), likelihood="bernoulli", dtype=np.float64, seed=3)
    x = np.random.default_rng(4).random((5, 12))
    bound = importance_weighted_bound(vae, x, k=1, rng=np.random.default_rng(7))
    eps = np.random.default_rng(7).standard_normal((5, 3))  # the noise the bound drew, example by example
    terms = vae.elbo(x, eps=eps)
    mu, logvar = vae.encode(x)
    z = mu + np.exp(0.5 * logvar) * eps
    kl_mc = log_normal(z, mu, logvar) - log_standard_normal(z)
    np.testing.assert_allclose(bound, -terms.reconstruction - kl_mc, rtol=1e-12)
    np.testing.assert_allclose(bound, importance_weighted_bound(vae, x, eps=eps[:, None, :]), rtol=1e-15)


def test_k1_bound_averages_to_the_elbo():
    vae = VAE(12, latent_dim=3, hidden=(8,), likelihood="bernoulli", dtype=np.float64, seed=3)
    x = np.repeat(np.random.default_rng(4).random((1, 12)), 20000, axis=0)  # one example, 20000 draws of z
    bound = importance_weighted_bound(vae, x, k=1, rng=np.random.default_rng(8))
    elbo = vae.elbo(x, rng=np.random.default_rng(9)).elbo
    standard_error = np.sqrt(bound.var() / len(x) + elbo.var() / len(x))
    assert abs(bound.mean() - elbo.mean()) < 4 * standard_error


def test_bound_grows_with_k_on_average_for_a_random_vae():
    vae = VAE(20, latent_dim=4, hidden=(16,), likelihood="bernoulli", dtype=np.float64, seed=5)
    x = (np.random.default_rng(6).random((40, 20)) > 0.5).astype(float)
    means = [importance_weighted_bound(vae, x, k, np.random.default_rng(k)).mean() for k in (1, 10, 100)]
    assert means[0] < means[1] < means[2]


def test_log_importance_weights_shape_and_float32_model():
    vae = VAE(10, latent_dim=2, hidden=(8,), seed=0)  # float32: the weights are still computed in float64
    x = np.random.default_rng(0).random((3, 10)).astype(np.float32)
    eps = np.random.default_rng(1).standard_normal((3, 4, 2), dtype=np.float32)
    log_w = log_importance_weights(vae, x, eps)
    assert log_w.shape == (3, 4) and log_w.dtype == np.float64 and np.isfinite(log_w).all()


def test_bound_rejects_bad_arguments():
    vae = VAE(10, latent_dim=2, hidden=(8,), seed=0)
    x = np.zeros((3, 10))
    with pytest.raises(ValueError, match="positive integer"):
        importance_weighted_bound(vae, x, k=0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        importance_weighted_bound(vae, x, k=5)
    with pytest.raises(ValueError, match=r"\(N, K, L\)"):
        importance_weighted_bound(vae, x, eps=np.zeros((3, 2)))


# ---------------------------------------------------------------------------------------------------- evaluate
def test_evaluate_reports_consistent_numbers(ppca_data):
    x, log_px = ppca_data
    vae, _, _ = ppca_vae("perturbed")
    result = evaluate(vae, x, np.random.default_rng(0), k=500)
    assert result["neg_elbo"] == pytest.approx(result["reconstruction"] + result["kl"])
    assert result["neg_iw_bound"] < result["neg_elbo"]  # the IW bound is tighter
    assert result["neg_iw_bound"] == pytest.approx(-log_px.mean(), abs=0.05)
    assert result["bits_per_dim"] == pytest.approx(result["neg_iw_bound"] / (D * np.log(2)))
    assert result["active_units"] == 2 and result["n_examples"] == 50 and result["k"] == 500
    no_iw = evaluate(vae, x, np.random.default_rng(0))
    assert "neg_iw_bound" not in no_iw
    assert no_iw["bits_per_dim"] == pytest.approx(no_iw["neg_elbo"] / (D * np.log(2)))


def test_evaluate_counts_active_units_of_a_vae_with_a_dead_unit():
    vae = VAE(8, latent_dim=3, hidden=(), dtype=np.float64, seed=0)
    vae.encoder.layers[0].params["W"][:, 1] = 0.0  # the mean of unit 1 no longer depends on x
    x = np.random.default_rng(0).random((100, 8))
    assert evaluate(vae, x, np.random.default_rng(0))["active_units"] == 2
