"""Tests for the applications of a trained VAE: anomaly scores and ROC curves (minivae.apps.anomaly), missing-value
imputation (minivae.apps.imputation) and synthetic data (minivae.apps.synthetic). Known answers on small cases first, then a
short demonstration on real digits."""
import os

import numpy as np
import pytest

from minivae import VAE, Adam
from minivae.apps.anomaly import anomaly_scores, roc_auc, roc_curve
from minivae.datasets import load_array_file, load_mnist_test_10k
from minivae.apps.evaluation import importance_weighted_bound
from minivae.apps.imputation import (imputation_error, impute, mean_imputation, metropolis_within_gibbs,
                                     missing_mask)
from minivae.apps.synthetic import generate, save_synthetic


# -------------------------------------------------------------------------------------------------------- ROC
def test_auc_of_known_rankings():
    labels = np.array([0, 0, 0, 1, 1])
    assert roc_auc([1, 2, 3, 4, 5], labels) == 1.0  # every anomaly above every normal example
    assert roc_auc([5, 4, 3, 2, 1], labels) == 0.0  # perfectly reversed
    assert roc_auc([7, 7, 7, 7, 7], labels) == 0.5  # all tied: chance
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75


def test_auc_equals_the_mann_whitney_statistic_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.integers(0, 5, size=60).astype(float)  # few distinct values: many ties
        labels = rng.random(60) < 0.3
        pos, neg = scores[labels], scores[~labels]
        u = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()  # every pair
        assert roc_auc(scores, labels) == pytest.approx(u / (len(pos) * len(neg)), abs=1e-12)


def test_roc_curve_shape_and_endpoints():
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    labels = np.array([1, 0, 1, 0, 0])
    fpr, tpr, thresholds = roc_curve(scores, labels)
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 2 / 3, 1])  # the tie at 0.8 is one diagonal step
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.3, 0.1])


def test_roc_rejects_bad_input():
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 2, 3], [1, 1, 1])
    with pytest.raises(ValueError, match="same length"):
        roc_auc([1, 2, 3], [0, 1])
    with pytest.raises(ValueError, match="0/1"):
        roc_auc([1, 2, 3], [0, 1, 2])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([1, np.nan, 3], [0, 1, 0])


# ------------------------------------------------------------------------------------------------ anomaly scores
def test_anomaly_scores_are_the_negative_log_likelihood_estimates():
    vae = VAE(12, latent_dim=3, hidden=(8,), dtype=np.float64, seed=0)
    x = np.random.default_rng(1).random((7, 12))
    np.testing.assert_allclose(anomaly_scores(vae, x, "elbo", rng=np.random.default_rng(2)),
                               -vae.elbo(x, rng=np.random.default_rng(2)).elbo)
    mu, _ = vae.encode(x)
    np.testing.assert_allclose(anomaly_scores(vae, x, "reconstruction"),
                               vae.likelihood.nll(vae.decoder.forward(mu), x)[0])
    np.testing.assert_allclose(anomaly_scores(vae, x, "iwae", rng=np.random.default_rng(3), k=5),
                               -importance_weighted_bound(vae, x, 5, np.random.default_rng(3)))
    with pytest.raises(ValueError, match="unknown anomaly score"):
        anomaly_scores(vae, x, "likelihood")
    with pytest.raises(TypeError, match="rng"):
        anomaly_scores(vae, x, "elbo")


# ------------------------------------------------------------------------------------------------- imputation
def test_mean_imputation_and_error_by_hand():
    x = np.array([[1.0, 10.0], [3.0, np.nan], [np.nan, 30.0]])
    mask = ~np.isnan(x)
    filled = mean_imputation(x, mask)
    np.testing.assert_array_equal(filled, [[1, 10], [3, 20], [2, 30]])  # column means of the observed values
    truth = np.array([[1.0, 10.0], [3.0, 24.0], [5.0, 30.0]])
    assert imputation_error(truth, filled, mask) == pytest.approx((4**2 + 3**2) / 2)  # missing entries only
    with pytest.raises(ValueError, match="no entry as missing"):
        imputation_error(truth, filled, np.ones((3, 2), dtype=bool))


def test_imputation_validates_the_mask():
    vae = VAE(4, latent_dim=2, hidden=(4,), seed=0)
    x = np.full((2, 4), 0.5)
    with pytest.raises(TypeError, match="boolean"):
        impute(vae, x, np.ones((2, 4), dtype=int))
    with pytest.raises(ValueError, match="same shape"):
        impute(vae, x, np.ones((2, 3), dtype=bool))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="mark it as missing"):
        impute(vae, bad, np.ones((2, 4), dtype=bool))
    with pytest.raises(ValueError, match="unknown imputation method"):
        impute(vae, x, np.ones((2, 4), dtype=bool), method="magic")
    with pytest.raises(TypeError, match="rng"):
        impute(vae, x, np.ones((2, 4), dtype=bool), method="mcmc")


@pytest.mark.parametrize("method", ["iterative", "mcmc"])
def test_imputation_keeps_observed_values_and_accepts_nan_at_missing_ones(method):
    vae = VAE(16, latent_dim=3, hidden=(8,), seed=0)  # Bernoulli
    rng = np.random.default_rng(0)
    x = rng.random((5, 16))
    mask = rng.random((5, 16)) > 0.4
    x_nan = np.where(mask, x, np.nan)
    out = impute(vae, x_nan, mask, n_iter=10, method=method, rng=np.random.default_rng(1))
    assert out.shape == (5, 16) and np.isfinite(out).all()
    np.testing.assert_array_equal(out[mask], x[mask])  # exactly, not rounded to the model's float32
    assert out[~mask].min() >= 0 and out[~mask].max() <= 1  # pixel probabilities



def test_missing_mask_halves_of_images():
    bottom = missing_mask("bottom", (3, 20), image_shape=(4, 5))
    right = missing_mask("right", (3, 20), image_shape=(4, 5))
    assert bottom.shape == right.shape == (3, 20) and bottom.dtype == bool
    np.testing.assert_array_equal(bottom.reshape(3, 4, 5)[:, :2], True)   # rows 0, 1 observed
    np.testing.assert_array_equal(bottom.reshape(3, 4, 5)[:, 2:], False)  # rows 2, 3 missing
    np.testing.assert_array_equal(right.reshape(3, 4, 5)[:, :, :2], True)
    np.testing.assert_array_equal(right.reshape(3, 4, 5)[:, :, 2:], False)  # odd width: the larger half is missing
    assert bottom.mean() == 0.5 and right.mean() == 2 / 5
    # the same bottom half as the digits demonstration below writes by hand
    np.testing.assert_array_equal(missing_mask("bottom", (2, 784), (28, 28)), np.tile(np.arange(784) < 392, (2, 1)))


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0])
def test_missing_mask_at_random_misses_the_fraction_asked(fraction):
    mask = missing_mask("random", (200, 50), fraction=fraction, rng=np.random.default_rng(0))
    assert mask.shape == (200, 50) and mask.dtype == bool
    assert abs((~mask).mean() - fraction) < 0.02  # 10,000 entries: the standard error is at most 0.005
    again = missing_mask("random", (200, 50), fraction=fraction, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(mask, again)


def test_missing_mask_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="needs images"):
        missing_mask("bottom", (2, 6))
    with pytest.raises(ValueError, match="has 6 pixels, but the data have D = 8"):
        missing_mask("right", (2, 8), image_shape=(2, 3))
    with pytest.raises(ValueError, match="unknown kind.*'bottom', 'right', 'random'"):
        missing_mask("top", (2, 6), image_shape=(2, 3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        missing_mask("random", (2, 6), fraction=1.5, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        missing_mask("random", (2, 6))


D, L, S2 = 6, 2, 0.3


def ppca(shrink=1.0, log_inflate=0.0):
    """Probabilistic PCA as a VAE (see tests/test_evaluation.py): x ~ N(b, W W^T + s2 I) exactly. With shrink = 1
    and log_inflate = 0 the encoder is the exact posterior; otherwise q is wrong (shrunk mean, wider variance)."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(D, L)))
    W, b = q * np.array([2.0, 1.0]), 0.5 * rng.normal(size=D)
    vae = VAE(D, L, hidden=(), likelihood={"name": "gaussian", "variance": S2}, dtype=np.float64)
    vae.decoder.layers[0].params["W"][...] = W.T
    vae.decoder.layers[0].params["b"][...] = b
    M = W.T @ W + S2 * np.eye(L)
    A = W @ np.linalg.inv(M)
    enc = vae.encoder.layers[0].params
    enc["W"][...] = 0.0
    enc["W"][:, :L] = shrink * A
    enc["b"][:L] = -shrink * (b @ A)
    enc["b"][L:] = np.log(S2 / np.diag(M)) + log_inflate
    return vae, b, W @ W.T + S2 * np.eye(D)


def test_mcmc_imputation_reaches_the_exact_conditional_mean_of_a_linear_gaussian_model():
    # For x ~ N(b, C) the best imputation (in mean squared error) is known in closed form:
    #     E[x_mis | x_obs] = b_mis + C_mo C_oo^{-1} (x_obs - b_obs)
    # The sampler targets p(z, x_mis | x_obs) exactly for ANY proposal q, so it must find this mean even with a
    # wrong encoder; the simple iterative scheme has no such guarantee and stays biased.
    vae, b, C = ppca(shrink=0.7, log_inflate=0.5)
    x = np.random.default_rng(1).multivariate_normal(b, C, size=100)
    mask = np.ones_like(x, dtype=bool)
    mask[:, :3] = False  # the first three coordinates are missing
    obs, mis = mask[0], ~mask[0]
    exact = b[mis] + (x[:, obs] - b[obs]) @ np.linalg.solve(C[np.ix_(obs, obs)], C[np.ix_(obs, mis)])
    x_mcmc, acceptance = metropolis_within_gibbs(vae, x, mask, np.random.default_rng(2), n_iter=1500, burn_in=100)
    rms = np.sqrt(np.mean((x_mcmc[:, mis] - exact) ** 2))  # measured 0.024: Monte Carlo error only
    assert rms < 0.06 and 0.2 < acceptance < 0.9  # measured acceptance about 0.5
    x_iter = impute(vae, x, mask, n_iter=50)
    assert np.sqrt(np.mean((x_iter[:, mis] - exact) ** 2)) > 0.15  # measured 0.23: the bias of a wrong q
    np.testing.assert_array_equal(x_mcmc[mask], x[mask])


def test_mcmc_with_the_exact_posterior_accepts_every_proposal():
    # q = p(z | x): the Metropolis-Hastings ratio is exactly 1 (up to rounding), the sampler is a plain Gibbs sampler
    vae, b, C = ppca()
    x = np.random.default_rng(1).multivariate_normal(b, C, size=20)
    mask = np.random.default_rng(2).random(x.shape) > 0.3
    _, acceptance = metropolis_within_gibbs(vae, x, mask, np.random.default_rng(3), n_iter=50)
    assert acceptance > 0.999


# ---------------------------------------------------------------------------------------------- synthetic data
def test_generate_shapes_values_and_reproducibility():
    vae = VAE(10, latent_dim=2, hidden=(8,), seed=0)
    x = generate(vae, 7, np.random.default_rng(0), batch_size=3)
    assert x.shape == (7, 10) and x.dtype == np.float32 and 0 < x.min() and x.max() < 1  # probabilities
    # batching draws the same z (the matrix products may round differently in float32, by about 1e-7)
    np.testing.assert_allclose(x, generate(vae, 7, np.random.default_rng(0)), rtol=1e-6)
    assert set(np.unique(generate(vae, 7, np.random.default_rng(0), binarize=True))) <= {0.0, 1.0}
    assert set(np.unique(generate(vae, 7, np.random.default_rng(0), draw=True))) <= {0.0, 1.0}
    gauss = VAE(10, latent_dim=2, hidden=(8,), likelihood="gaussian", seed=0)
    mean, drawn = (generate(gauss, 5, np.random.default_rng(1), draw=d) for d in (False, True))
    assert np.abs(drawn - mean).mean() > 0.5  # a draw adds noise of variance 1
    with pytest.raises(ValueError, match="positive integer"):
        generate(vae, 0, np.random.default_rng(0))


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_save_synthetic_round_trips_through_the_dataset_loader(tmp_path, suffix):
    samples = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    path = save_synthetic(tmp_path / f"fake{suffix}", samples)
    np.testing.assert_allclose(load_array_file(path), samples, rtol=1e-7)
    assert [p.name for p in tmp_path.iterdir()] == [f"fake{suffix}"]  # no temporary file left


def test_save_synthetic_with_labels(tmp_path):
    samples, labels = np.eye(3), np.array([2, 0, 1])
    with np.load(save_synthetic(tmp_path / "s.npz", samples, labels)) as f:
        np.testing.assert_array_equal(f["x"], samples)
        np.testing.assert_array_equal(f["y"], labels)
    table = load_array_file(save_synthetic(tmp_path / "s.csv", samples, labels))
    np.testing.assert_array_equal(table, np.column_stack([samples, labels]))  # the label is the last column
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "x0,x1,x2,label"
    with pytest.raises(ValueError, match="npz or .csv"):
        save_synthetic(tmp_path / "s.npy", samples, labels)
    with pytest.raises(ValueError, match="end in one of"):
        save_synthetic(tmp_path / "s.txt", samples)
    with pytest.raises(ValueError, match=r"\(N,\)"):
        save_synthetic(tmp_path / "s.npz", samples, labels[:2])


def test_save_synthetic_is_atomic(tmp_path, monkeypatch):
    path = save_synthetic(tmp_path / "s.npy", np.zeros((2, 2)))

    def crash(path, samples, labels, file):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr("minivae.apps.synthetic._write", crash)
    with pytest.raises(OSError, match="disk full"):
        save_synthetic(path, np.ones((2, 2)))
    np.testing.assert_array_equal(np.load(path), np.zeros((2, 2)))  # the old file is intact
    assert os.listdir(tmp_path) == ["s.npy"]  # and the temporary file is gone


# ------------------------------------------------------------------------------- demonstration on real digits
HELD_OUT = 5


@pytest.fixture(scope="module")
def digits_vae():
    """A small VAE trained for 300 Adam steps on 2,000 training digits that are not 5s (a few seconds)."""
    ds = load_mnist_test_10k()
    normal = ds.x_train[ds.y_train != HELD_OUT][:2000]
    vae, opt, rng = VAE(784, latent_dim=8, hidden=(128,), seed=0), Adam(lr=2e-3), np.random.default_rng(0)
    for _ in range(300):
        vae.loss_and_gradients(normal[rng.integers(0, len(normal), 100)], rng=rng)
        opt.step(vae.params, vae.grads)
    return vae, ds


def test_demo_held_out_digit_is_flagged_as_anomalous(digits_vae):
    # The test digits that are 5s (85 of 1,000) should score higher -ELBO than the others. Measured AUCs with this
    # setup, one class held out at a time (seeds 0 and 1):
    #     0: 0.90/0.92  1: 0.10/0.13  2: 0.88/0.87  3: 0.78/0.79  4: 0.71/0.70
    #     5: 0.75/0.77  6: 0.81/0.82  7: 0.59/0.63  8: 0.76/0.76  9: 0.42/0.39
    # 1s and 9s get AUC < 0.5: they have little ink, and few "on" pixels are cheap for a Bernoulli decoder, so the
    # model finds them MORE probable than the digits it was trained on (Nalisnick et al. 2019). The 5s have an
    # average amount of ink (the trivial score "sum of pixels" reaches only AUC 0.46 on them), so an AUC well above
    # 0.5 there shows that the model learned shapes, not ink. The bound 0.65 is about 3 standard errors of the AUC
    # below the measured values (the Hanley & McNeil 1982 standard error for 85 vs 915 examples is about 0.03).
    vae, ds = digits_vae
    is_five = ds.y_test == HELD_OUT
    auc = roc_auc(anomaly_scores(vae, ds.x_test, "elbo", rng=np.random.default_rng(1)), is_five)
    ink_auc = roc_auc(ds.x_test.sum(axis=1), is_five)
    assert auc > 0.65 and auc > ink_auc + 0.15


@pytest.mark.parametrize("pattern", ["random half", "bottom half"])
def test_demo_vae_imputation_beats_mean_imputation(digits_vae, pattern):
    # 100 normal test digits with half of their pixels missing, at random or the whole bottom half. Measured mean
    # squared errors (mean / iterative / mcmc): random half 0.078 / 0.048 / 0.050, bottom half 0.126 / 0.087 / 0.079.
    # The sampler accepts only 2-4 % of its proposals here: q(z | x) of a small, briefly trained encoder is a poor
    # proposal for a completed x that mixes real grey pixels with binary draws; it still beats the baseline.
    vae, ds = digits_vae
    x = ds.x_test[ds.y_test != HELD_OUT][:100]
    if pattern == "random half":
        mask = np.random.default_rng(2).random(x.shape) > 0.5
    else:
        mask = np.tile(np.arange(784) < 392, (len(x), 1))  # rows 0..13 of the 28 x 28 image observed
    baseline = imputation_error(x, mean_imputation(x, mask), mask)
    for method in ("iterative", "mcmc"):
        x_hat = impute(vae, x, mask, n_iter=100, method=method, rng=np.random.default_rng(3))
        assert imputation_error(x, x_hat, mask) < 0.85 * baseline, method
