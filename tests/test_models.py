"""Sanity checks of the models, as tests (the ones CS231n asks for before any real training), and their input checks.

(a) the loss at initialisation is what chance predicts; (b) a small VAE can overfit a tiny batch; (c) training is
reproducible from a seed; (d) the sampler and the KL term read ``logvar`` the same way (log sigma^2); (e) the API:
shapes, ELBO bookkeeping, configs; (f) bad input fails with a message that says what was wrong.
"""
import json

import numpy as np
import pytest

from minivae.nn import kl, reparam
from minivae.datasets import load_mnist_test_10k
from minivae.models import VAE, Autoencoder, ELBOTerms, LossTerms, build_model
from minivae.nn.optim import Adam, make_optimizer

LN2 = float(np.log(2))


@pytest.fixture(scope="module")
def mnist():
    """The first 256 training images of the bundled MNIST, float32 in [0, 1], shape (256, 784)."""
    return load_mnist_test_10k().x_train[:256]


# ----------------------------------------------------------------------------------------------------------------------
# (a) The loss at initialisation.
# ----------------------------------------------------------------------------------------------------------------------


def test_loss_at_initialisation_is_near_chance(mnist):
    """With logits l = 0 every pixel costs -log(1/2) = ln 2 nats, so a VAE that knows nothing scores 784 ln 2 = 543.4.

    The initial logits are small but not 0 (root mean square about 0.9 with Glorot's output layer). Expanding
    softplus(l) - x l = ln 2 + (1/2 - x) l + l^2 / 8 + O(l^4), the middle term averages out (at initialisation the
    logits do not depend on which pixels are on), so the expected loss is 784 (ln 2 + E[l^2] / 8): a little above
    543, and the test predicts by how much from the logits themselves. A wrong reduction (a mean over pixels instead of
    a sum, a missing 1/N, a sign) would be off by a factor, far outside these bands. The KL starts small, because
    mu and logvar start near 0, where q(z | x) = N(0, I) = p(z).
    """
    vae = VAE(784, latent_dim=20, hidden=(400,), seed=0, dtype=np.float32)
    eps = np.random.default_rng(0).standard_normal((len(mnist), 20), dtype=np.float32)
    terms = vae.loss_and_gradients(mnist, eps=eps)
    mu, logvar = vae.encode(mnist)
    logits = vae.decoder.forward(reparam.reparameterize(mu, logvar, eps)).astype(np.float64)
    predicted = 784 * (LN2 + np.mean(logits**2) / 8)

    assert 784 * LN2 <= terms.reconstruction < 1.25 * 784 * LN2  # 543 .. 679: near chance
    assert terms.reconstruction == pytest.approx(predicted, rel=0.015)
    assert 0 < terms.kl < 10  # nats, against ~600 for the reconstruction
    assert terms.loss == pytest.approx(terms.reconstruction + terms.kl, rel=1e-6)


# ----------------------------------------------------------------------------------------------------------------------
# (b) Overfitting a tiny batch.
# ----------------------------------------------------------------------------------------------------------------------


def test_vae_overfits_a_tiny_batch(mnist):
    """16 digits, a small VAE (784-32-4), 200 Adam steps: the negative ELBO falls from ~550 to well under a third.

    If the gradients, the optimizer or the wiring were wrong, the loss would stall or diverge instead.
    """
    x = mnist[:16]
    vae = VAE(784, latent_dim=4, hidden=(32,), seed=0)
    opt, rng = Adam(lr=1e-2), np.random.default_rng(0)
    eval_eps = np.random.default_rng(1).standard_normal((16, 4), dtype=np.float32)
    before = -vae.elbo(x, eps=eval_eps).elbo.mean()
    for _ in range(200):
        vae.loss_and_gradients(x, rng=rng)
        opt.step(vae.params, vae.grads)
    after = -vae.elbo(x, eps=eval_eps).elbo.mean()
    assert before > 500
    assert after < before / 3, (before, after)
    assert np.isfinite([p for v in vae.params.values() for p in v.ravel()]).all()


def test_autoencoder_overfits_a_tiny_batch(mnist):
    x = mnist[:16]
    ae = Autoencoder(784, latent_dim=4, hidden=(32,), seed=0)
    opt = Adam(lr=1e-2)
    before = ae.reconstruction_error(x).mean()
    for _ in range(200):
        ae.loss_and_gradients(x)
        opt.step(ae.params, ae.grads)
    assert ae.reconstruction_error(x).mean() < before / 3


# ----------------------------------------------------------------------------------------------------------------------
# (c) Reproducibility.
# ----------------------------------------------------------------------------------------------------------------------


def train_20_steps(x, seed):
    """A VAE initialised from `seed`, trained 20 Adam steps with noise drawn from default_rng(seed)."""
    vae = VAE(784, latent_dim=4, hidden=(32,), seed=seed)
    opt, rng = Adam(lr=1e-3), np.random.default_rng(seed)
    for _ in range(20):
        vae.loss_and_gradients(x, rng=rng)
        opt.step(vae.params, vae.grads)
    return vae.params


def test_same_seed_gives_bit_identical_parameters(mnist):
    x = mnist[:16]
    a, b, c = train_20_steps(x, seed=5), train_20_steps(x, seed=5), train_20_steps(x, seed=6)
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])  # bit for bit, not approximately
    assert all(not np.array_equal(a[k], c[k]) for k in a)  # another seed: every array differs


# ----------------------------------------------------------------------------------------------------------------------
# (d) The sampler and the KL use the same variance convention: logvar = log sigma^2.
# ----------------------------------------------------------------------------------------------------------------------

MU = np.array([[0.5, -1.0, 2.0]])
LOGVAR = np.array([[-1.5, 0.8, 1.6]])  # away from 0, where log sigma and log sigma^2 would coincide
M = 200_000  # samples; the Monte Carlo standard errors below are about 0.3% (variance) and 0.003 nats (KL)


def log_sigma_sampler(mu, logvar, eps):
    """Deliberately wrong: reads logvar as log sigma (the bug of a well-known NumPy VAE)."""
    return mu + np.exp(logvar) * eps


def log_sigma_kl(mu, logvar):
    """Deliberately wrong: the KL with sigma^2 = exp(2 logvar)."""
    return 0.5 * (mu**2 + np.exp(2 * logvar) - 1 - 2 * logvar).sum(axis=1)


def gaussian_log_density(z, mean, logvar):
    """log N(z | mean, diag(exp(logvar))), summed over the last axis: the *definition* of the convention."""
    return -0.5 * (np.log(2 * np.pi) + logvar + (z - mean) ** 2 / np.exp(logvar)).sum(axis=-1)


def convention_mismatches(sampler, kl_closed_form):
    """What disagrees with logvar = log sigma^2, as a list of messages (empty when sampler and KL agree with it).

    * the samples' mean and variance against mu and exp(logvar), within 5 standard errors;
    * the closed-form KL against a Monte Carlo estimate of E_q[log q(z) - log p(z)] over the sampler's own samples,
      within 5 standard errors.
    """
    eps = np.random.default_rng(0).standard_normal((M, 3))
    z = sampler(MU, LOGVAR, eps)  # (M, 3)
    problems = []
    var, target = z.var(axis=0), np.exp(LOGVAR[0])
    if np.any(np.abs(var / target - 1) > 5 * np.sqrt(2 / M)):
        problems.append(f"sample variance {var} != exp(logvar) {target}")
    if np.any(np.abs(z.mean(axis=0) - MU[0]) > 5 * np.sqrt(target / M)):
        problems.append(f"sample mean {z.mean(axis=0)} != mu {MU[0]}")
    log_ratio = gaussian_log_density(z, MU, LOGVAR) - gaussian_log_density(z, 0.0, np.zeros(3))  # (M,)
    mc, stderr = log_ratio.mean(), log_ratio.std() / np.sqrt(M)
    closed = float(kl_closed_form(MU, LOGVAR)[0])
    if abs(mc - closed) > 5 * stderr:
        problems.append(f"closed-form KL {closed:.4f} != Monte Carlo {mc:.4f} +/- {stderr:.4f}")
    return problems


def test_sampler_and_kl_use_the_same_variance_convention():
    """The two functions every model trains with (minivae.nn.reparam and minivae.nn.kl) read logvar alike."""
    assert convention_mismatches(reparam.reparameterize, lambda mu, lv: kl.kl_standard_normal(mu, lv)[0]) == []


def test_the_convention_test_catches_a_log_sigma_sampler():
    problems = convention_mismatches(log_sigma_sampler, lambda mu, lv: kl.kl_standard_normal(mu, lv)[0])
    assert any("variance" in p for p in problems) and any("Monte Carlo" in p for p in problems)


def test_the_convention_test_catches_a_log_sigma_kl():
    problems = convention_mismatches(reparam.reparameterize, log_sigma_kl)
    assert len(problems) == 1 and "Monte Carlo" in problems[0]


def test_vae_samples_z_with_variance_exp_logvar():
    """The same check through the model: its loss uses z = mu + exp(logvar / 2) eps, seen through a linear probe.

    A decoder that is the identity on z (a Gaussian likelihood over L = D dims, no hidden layer, W = I, b = 0) makes
    the reconstruction error (x - z)^2 / 2 + const, whose average over eps is (x - mu)^2 / 2 + exp(logvar) / 2."""
    vae = VAE(3, latent_dim=3, hidden=(), likelihood="gaussian", dtype=np.float64)
    vae.params["decoder.0.W"][:] = np.eye(3)
    vae.params["decoder.0.b"][:] = 0
    x = np.array([[0.3, -0.2, 1.0]])
    mu, logvar = vae.encode(x)
    eps = np.random.default_rng(0).standard_normal((M // 10, 3))
    rec = vae.elbo(np.repeat(x, len(eps), axis=0), eps=eps).reconstruction  # (M/10,)
    const = 1.5 * np.log(2 * np.pi)
    expected = 0.5 * ((x - mu) ** 2 + np.exp(logvar)).sum() + const
    assert rec.mean() == pytest.approx(expected, abs=5 * rec.std() / np.sqrt(len(rec)))


# ----------------------------------------------------------------------------------------------------------------------
# (e) The API: shapes, ELBO bookkeeping, configs.
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vae_shapes_and_dtypes(mnist, dtype):
    vae = VAE(784, latent_dim=2, hidden=(16,), dtype=dtype)
    x, rng = mnist[:5], np.random.default_rng(0)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 2) and mu.dtype == logvar.dtype == dtype
    for out in (vae.decode(mu), vae.reconstruct(x), vae.reconstruct(x, rng), vae.sample(3, rng)):
        assert out.shape[1] == 784 and out.dtype == dtype
        assert ((out >= 0) & (out <= 1)).all()  # Bernoulli means: pixel probabilities
    assert vae.sample(3, rng).shape == (3, 784)
    terms = vae.elbo(x, rng=rng)
    assert isinstance(terms, ELBOTerms)
    assert terms.elbo.shape == terms.reconstruction.shape == terms.kl.shape == (5,)
    loss = vae.loss_and_gradients(x, rng=rng)
    assert isinstance(loss, LossTerms) and isinstance(loss.loss, float)
    assert sorted(vae.grads) == sorted(vae.params)
    assert all(vae.grads[k].shape == p.shape and vae.grads[k].dtype == dtype for k, p in vae.params.items())
    assert vae.n_parameters == (784 * 16 + 16) + (16 * 4 + 4) + (2 * 16 + 16) + (16 * 784 + 784)


def test_elbo_terms_and_loss_agree(mnist):
    vae = VAE(784, latent_dim=3, hidden=(16,), seed=1)
    x = mnist[:8]
    eps = np.random.default_rng(0).standard_normal((8, 3), dtype=np.float32)
    terms = vae.elbo(x, eps=eps)
    np.testing.assert_array_equal(terms.elbo, -(terms.reconstruction + terms.kl))
    assert (terms.kl >= 0).all() and (terms.reconstruction > 0).all()
    loss = vae.loss_and_gradients(x, eps=eps)  # beta = 1: the loss is the negative ELBO, averaged
    assert loss.loss == pytest.approx(float(-terms.elbo.mean()), rel=1e-6)
    assert loss.reconstruction == pytest.approx(float(terms.reconstruction.mean()), rel=1e-6)
    assert loss.kl == pytest.approx(float(terms.kl.mean()), rel=1e-6)
    beta = vae.loss_and_gradients(x, eps=eps, beta=0.25)
    assert beta.loss == pytest.approx(loss.reconstruction + 0.25 * loss.kl, rel=1e-6)
    # without rng or eps, elbo uses a fixed generator: repeated calls agree
    np.testing.assert_array_equal(vae.elbo(x).elbo, vae.elbo(x).elbo)


def test_autoencoder_shapes(mnist):
    ae = Autoencoder(784, latent_dim=2, hidden=(16,))
    x = mnist[:5]
    assert ae.encode(x).shape == (5, 2)
    assert ae.reconstruct(x).shape == (5, 784)
    assert ae.decode(np.zeros((4, 2))).shape == (4, 784)
    err = ae.reconstruction_error(x)
    assert err.shape == (5,)
    terms = ae.loss_and_gradients(x)
    assert terms.kl == 0.0 and terms.loss == terms.reconstruction == pytest.approx(float(err.mean()), rel=1e-6)


@pytest.mark.parametrize("model", [
    lambda: VAE(10, latent_dim=3, hidden=(8, 6), likelihood={"name": "gaussian", "variance": 0.5},
                activation="tanh", seed=4, dtype=np.float64),
    lambda: VAE(10, latent_dim=2, hidden=(8,), likelihood="gaussian_learned", activation="leaky_relu", seed=2),
    lambda: Autoencoder(10, latent_dim=2, hidden=(8,), likelihood="bernoulli", activation="softplus", seed=3),
], ids=["vae_gaussian", "vae_gaussian_learned", "autoencoder"])
def test_config_round_trip(model):
    """config() is JSON; build_model(config) rebuilds the same architecture with the same initial parameters."""
    original = model()
    config = json.loads(json.dumps(original.config()))
    rebuilt = build_model(config)
    assert type(rebuilt) is type(original)
    assert rebuilt.config() == original.config()
    assert rebuilt.dtype == original.dtype and repr(rebuilt) == repr(original)
    assert sorted(rebuilt.params) == sorted(original.params)
    for k in original.params:
        np.testing.assert_array_equal(rebuilt.params[k], original.params[k])
    assert type(original).from_config(config).config() == config


def test_config_errors():
    with pytest.raises(ValueError, match="unknown model kind 'GAN'"):
        build_model({"model": "GAN", "input_dim": 4})
    with pytest.raises(ValueError, match="describes a Autoencoder, not a VAE"):
        VAE.from_config(Autoencoder(4, latent_dim=2, hidden=(3,)).config())


# ----------------------------------------------------------------------------------------------------------------------
# (f) Bad input: ValueError or TypeError, with a message that says what was wrong.
# ----------------------------------------------------------------------------------------------------------------------

X_OK = np.full((3, 6), 0.5, dtype=np.float32)


def small_vae(**kwargs):
    return VAE(6, latent_dim=2, hidden=(4,), **kwargs)


def entry_points(model):
    """Every public method that takes a batch x."""
    calls = {"encode": model.encode, "reconstruct": model.reconstruct,
             "loss_and_gradients": lambda x: model.loss_and_gradients(x, rng=np.random.default_rng(0))}
    if isinstance(model, VAE):
        calls["elbo"] = model.elbo
    else:
        calls["reconstruction_error"] = model.reconstruction_error
    return calls


BAD_X = {  # name -> (bad x, exception, words the message must contain)
    "one_dimensional": (np.full(6, 0.5), ValueError, r"must have 2 dimensions, got shape \(6,\).*x\[None, :\]"),
    "wrong_width": (np.full((3, 5), 0.5), ValueError, r"must have 6 columns .*got shape \(3, 5\)"),
    "strings": (np.array([["0.5"] * 6] * 3), TypeError, r"must hold real numbers, got an array of dtype <U3"),
    "complex": (X_OK.astype(np.complex64), TypeError, r"must hold real numbers.*complex64"),
    "objects": (np.array([[0.5] * 5 + [None]] * 3, dtype=object), TypeError, r"must hold real numbers.*object"),
    "nan": (np.where(np.arange(18).reshape(3, 6) == 7, np.nan, 0.5), ValueError,
            r"contains 1 NaN or infinite value\(s\), the first at index \(1, 1\)"),
    "inf": (np.where(np.arange(18).reshape(3, 6) == 0, np.inf, 0.5), ValueError, r"NaN or infinite.*\(0, 0\)"),
    "bytes_0_255": (np.full((3, 6), 200, dtype=np.uint8), ValueError,
                    r"must lie in \[0, 1\] for a Bernoulli likelihood, got values in \[200, 200\].*divide by 255"),
    "empty_batch": (np.zeros((0, 6)), ValueError, r"empty batch .*pass at least one example"),
}


@pytest.mark.parametrize("model", [small_vae, lambda: Autoencoder(6, latent_dim=2, hidden=(4,))],
                         ids=["vae", "autoencoder"])
@pytest.mark.parametrize("case", BAD_X)
def test_bad_x_is_refused_with_a_clear_message(model, case):
    x, error, words = BAD_X[case]
    for name, call in entry_points(model()).items():
        with pytest.raises(error, match=words):
            call(x)


def test_bad_target_is_refused():
    vae = small_vae()
    with pytest.raises(ValueError, match=r"target must lie in \[0, 1\]"):
        vae.loss_and_gradients(X_OK, rng=np.random.default_rng(0), target=X_OK * 255)
    with pytest.raises(ValueError, match=r"target must have the shape of x, \(3, 6\), got \(2, 6\)"):
        vae.loss_and_gradients(X_OK, rng=np.random.default_rng(0), target=X_OK[:2])
    ae = Autoencoder(6, latent_dim=2, hidden=(4,))
    with pytest.raises(ValueError, match=r"target must have the shape of x, \(3, 6\), got \(4, 6\)"):
        ae.loss_and_gradients(X_OK, target=np.full((4, 6), 0.5))


@pytest.mark.parametrize("eps, words", [
    (np.zeros((3, 3)), r"eps must have shape \(3, 2\) \(one row of noise per example\), got \(3, 3\)"),
    (np.zeros((2, 2)), r"eps must have shape \(3, 2\) \(one row of noise per example\), got \(2, 2\)"),
    (np.zeros((4, 2)), r"eps must have shape \(3, 2\) \(one row of noise per example\), got \(4, 2\)"),
    (np.zeros(6), r"eps must have shape \(3, 2\) \(one row of noise per example\), got \(6,\)"),
    (np.full((3, 2), np.nan), r"eps contains 6 NaN or infinite"),
], ids=["wrong_width", "too_few_rows", "too_many_rows", "one_dimensional", "nan"])
def test_eps_of_the_wrong_shape_is_refused(eps, words):
    vae = small_vae()
    with pytest.raises(ValueError, match=words):
        vae.loss_and_gradients(X_OK, eps=eps)
    with pytest.raises(ValueError, match=words):
        vae.elbo(X_OK, eps=eps)


def test_missing_noise_and_bad_latent_codes():
    vae = small_vae()
    with pytest.raises(ValueError, match="pass rng .* or eps itself"):
        vae.loss_and_gradients(X_OK)
    with pytest.raises(ValueError, match=r"z must have 2 columns"):
        vae.decode(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        vae.sample(0, np.random.default_rng(0))


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(latent_dim=0), ValueError, "latent_dim must be a positive integer, got 0"),
    (dict(latent_dim=2.5), ValueError, "latent_dim must be a positive integer, got 2.5"),
    (dict(input_dim=-1), ValueError, "input_dim must be a positive integer, got -1"),
    (dict(hidden=(4, 0)), ValueError, "hidden size must be a positive integer, got 0"),
    (dict(dtype=np.int32), TypeError, r"dtype must be float32 \(to train\) or float64 .*got int32"),
    (dict(dtype=np.float16), TypeError, "dtype must be float32 .*got float16"),
    (dict(likelihood="poisson"), ValueError, r"unknown likelihood 'poisson'; choose one of \[.*'bernoulli'"),
    (dict(likelihood={"name": "gaussian", "variance": -1.0}), ValueError, "variance must be positive, got -1.0"),
    (dict(activation="gelu"), ValueError, r"unknown activation 'gelu'; choose one of \[.*'relu'"),
    (dict(activation="gelu", hidden=()), ValueError, "unknown activation 'gelu'"),  # even with no hidden layer
], ids=["latent_dim_0", "latent_dim_float", "input_dim", "hidden_0", "int32", "float16", "likelihood",
        "variance", "activation", "activation_without_hidden"])
@pytest.mark.parametrize("cls", [VAE, Autoencoder])
def test_bad_construction_arguments(cls, kwargs, error, words):
    args = dict(input_dim=6, latent_dim=2, hidden=(4,))
    args.update(kwargs)
    with pytest.raises(error, match=words):
        cls(**args)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'; choose one of \[.*'adam'"):
        make_optimizer("adamm", lr=1e-3)
