"""Tests for the categorical and mixed (tabular) likelihoods, and for the losses behind them.

Every gradient is checked against central finite differences in float64 (see minivae.nn.gradcheck): a correct
gradient agrees to about 1e-9, a wrong one (a sign, a missing 1/N, a block at the wrong offset) is off by 1e-1.
"""
import json

import numpy as np
import pytest

from minivae.nn.gradcheck import check_model, numerical_gradient, rel_error
from minivae.models.likelihoods import (
    LIKELIHOODS, Bernoulli, Categorical, Gaussian, GaussianLearnedVariance, Mixed, from_one_hot, make_likelihood,
    to_one_hot,
)
from minivae.nn.losses import categorical_nll, gaussian_nll_learned_variance, log_softmax_blocks
from minivae.models import VAE

TOL = 1e-6  # the preamble's bound for a float64 gradient check; correct gradients reach about 1e-9 here

TABLE = [{"type": "gaussian", "size": 2, "name": "height"}, {"type": "categorical", "size": 3, "name": "colour"},
         {"type": "gaussian", "size": 1}, {"type": "categorical", "size": 2}]  # x: 2 + 3 + 1 + 2 = 8 columns


def random_probabilities(rng, n, p, k):
    """(n, p*k) with each block a random probability vector (no zeros), float64."""
    w = rng.random((n, p, k)) + 0.05
    return (w / w.sum(axis=2, keepdims=True)).reshape(n, p * k)


def random_table(rng, n, columns=TABLE):
    """Rows of a Mixed table: standard normal numbers for Gaussian columns, one-hot codes for categorical ones."""
    parts = [rng.standard_normal((n, c["size"])) if c["type"] == "gaussian"
             else to_one_hot(rng.integers(0, c["size"], n), c["size"], np.float64) for c in columns]
    return np.concatenate(parts, axis=1)


def naive_categorical_nll(logits, x, k):
    """The textbook formula, without the max shift (fine for moderate logits): -sum x log(exp(l) / sum exp(l))."""
    e = np.exp(logits.reshape(len(logits), -1, k))
    p = e / e.sum(axis=2, keepdims=True)
    return -(x.reshape(p.shape) * np.log(p)).sum(axis=(1, 2))


# ------------------------------------------------------------------------------------------------ categorical_nll
def test_categorical_nll_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 12)) * 3
    x = to_one_hot(rng.integers(0, 4, (5, 3)), 4, np.float64)
    nll, _ = categorical_nll(logits, x, 4)
    assert nll.shape == (5,)
    np.testing.assert_allclose(nll, naive_categorical_nll(logits, x, 4), rtol=1e-12)
    # uniform logits: each of the P = 3 blocks costs log K
    np.testing.assert_allclose(categorical_nll(np.zeros((2, 12)), x[:2], 4)[0], 3 * np.log(4), rtol=1e-12)


def test_log_softmax_blocks_gives_probabilities_and_rejects_a_bad_block_size():
    logits = np.random.default_rng(1).standard_normal((3, 10))
    p = np.exp(log_softmax_blocks(logits, 5))
    assert p.shape == (3, 2, 5)
    np.testing.assert_allclose(p.sum(axis=2), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="not a multiple of the block size 4"):
        log_softmax_blocks(logits, 4)


@pytest.mark.parametrize("targets", ["one-hot", "probabilities"])
def test_categorical_nll_gradient(targets):
    rng = np.random.default_rng(2)
    n, p, k = 4, 3, 5
    logits = rng.standard_normal((n, p * k)) * 2
    x = (to_one_hot(rng.integers(0, k, (n, p)), k, np.float64) if targets == "one-hot"
         else random_probabilities(rng, n, p, k))
    _, dlogits = categorical_nll(logits, x, k)
    num = numerical_gradient(lambda: float(categorical_nll(logits, x, k)[0].mean()), logits)
    assert rel_error(dlogits, num) < TOL


def test_categorical_nll_is_finite_and_right_for_huge_logits():
    # block 0: the right class has logit +1000, the others -1000 -> nll ~ 0; block 1: the right class has -1000 while
    # another has +1000 -> nll = 2000 (exactly the logit gap). A naive exp() would give inf / nan.
    logits = np.array([[1000.0, -1000.0, -1000.0, -1000.0, 1000.0, -1000.0]])
    x = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    for dtype in (np.float32, np.float64):
        nll, dlogits = categorical_nll(logits.astype(dtype), x.astype(dtype), 3)
        assert np.isfinite(nll).all() and np.isfinite(dlogits).all() and nll.dtype == dtype
        np.testing.assert_allclose(nll, [2000.0], rtol=1e-6)
        np.testing.assert_allclose(dlogits, [[0, 0, 0, -1, 1, 0]], atol=1e-6)


# --------------------------------------------------------------------------------------------- one-hot helpers
def test_one_hot_round_trip_for_labels_and_discretised_pixels():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 7)
    codes = to_one_hot(labels, 4)
    assert codes.shape == (7, 4) and codes.dtype == np.float32 and (codes.sum(axis=1) == 1).all()
    assert from_one_hot(codes, 4)[:, 0].tolist() == labels.tolist()
    # images with K = 8 grey levels: (N, P) levels -> (N, P*8) one-hot -> back
    x = rng.random((5, 6))
    levels = np.minimum((x * 8).astype(int), 7)
    codes = to_one_hot(levels, 8, np.float64)
    assert codes.shape == (5, 48) and codes.dtype == np.float64
    assert (from_one_hot(codes, 8) == levels).all()
    Categorical(8).check_target(codes)


def test_one_hot_errors():
    with pytest.raises(TypeError, match="integers"):
        to_one_hot(np.array([0.0, 1.5]), 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        to_one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="shape"):
        to_one_hot(np.zeros((2, 2, 2), dtype=int), 3)
    with pytest.raises(ValueError, match=r"\(N, P\*3\)"):
        from_one_hot(np.zeros((2, 4)), 3)


# ---------------------------------------------------------------------------------------------------- Categorical
def test_categorical_likelihood_gradient_mean_and_config():
    rng = np.random.default_rng(4)
    lik = Categorical(block_size=3)
    out = rng.standard_normal((5, 6))
    x = to_one_hot(rng.integers(0, 3, (5, 2)), 3, np.float64)
    lik.check_target(x)
    nll, dout = lik.nll(out, x)
    assert rel_error(dout, numerical_gradient(lambda: float(lik.nll(out, x)[0].mean()), out)) < TOL
    mean = lik.mean(out)
    assert mean.shape == (5, 6) and np.allclose(mean.reshape(5, 2, 3).sum(axis=2), 1.0)
    assert lik.n_outputs(6) == 6
    again = make_likelihood(json.loads(json.dumps(lik.config())))
    assert isinstance(again, Categorical) and again.block_size == 3
    assert make_likelihood({"name": "categorical", "block_size": 7}).block_size == 7


def test_categorical_mean_is_finite_for_huge_logits():
    out = np.array([[1000.0, -1000.0, 0.0, -1000.0]], dtype=np.float32)
    lik = Categorical(2)
    np.testing.assert_allclose(lik.mean(out), [[1, 0, 1, 0]], atol=1e-6)
    assert lik.sample(out, np.random.default_rng(0)).tolist() == [[1, 0, 1, 0]]


def test_categorical_samples_are_one_hot_with_the_softmax_frequencies():
    lik = Categorical(3)
    p = np.array([0.2, 0.5, 0.3])
    out = np.tile(np.log(p), (20000, 1))  # 20,000 draws of one block
    draws = lik.sample(out, np.random.default_rng(5))
    assert draws.shape == (20000, 3) and draws.dtype == out.dtype
    assert set(np.unique(draws)) <= {0.0, 1.0} and (draws.sum(axis=1) == 1).all()
    # each frequency has a standard error sqrt(p (1 - p) / 20000) <= 0.0036; 0.015 is more than 4 of them
    np.testing.assert_allclose(draws.mean(axis=0), p, atol=0.015)


def test_categorical_target_validation():
    lik = Categorical(3)
    with pytest.raises(ValueError, match="must sum to 1.*row 1, block 0"):
        lik.check_target(np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="one-hot blocks.*values in"):
        lik.check_target(np.array([[2.0, -1.0, 0.0]]))
    with pytest.raises(ValueError, match="not a multiple of the block size K = 3"):
        lik.check_target(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="not a multiple"):
        lik.n_outputs(10)
    with pytest.raises(ValueError, match="block_size"):
        Categorical(1)
    with pytest.raises(TypeError, match="block_size"):
        make_likelihood("categorical")  # K is required
    lik.check_target(random_probabilities(np.random.default_rng(0), 4, 2, 3))  # probability vectors are allowed


# --------------------------------------------------------------------------------------------------------- Mixed
def test_mixed_layout_and_nll_is_the_sum_of_its_columns():
    rng = np.random.default_rng(6)
    lik = Mixed(TABLE)
    assert lik.data_dim == 8 and lik.n_outputs(8) == 2 * 2 + 3 + 2 * 1 + 2  # = 11
    out = rng.standard_normal((4, 11))
    x = random_table(rng, 4)
    lik.check_target(x)
    nll, _ = lik.nll(out, x)
    # by hand: decoder outputs [m0 m1 lv0 lv1 | l l l | m lv | l l], data [x0 x1 | one-hot 3 | x | one-hot 2]
    expected = (gaussian_nll_learned_variance(out[:, 0:2], out[:, 2:4], x[:, 0:2])[0]
                + categorical_nll(out[:, 4:7], x[:, 2:5], 3)[0]
                + gaussian_nll_learned_variance(out[:, 7:8], out[:, 8:9], x[:, 5:6])[0]
                + categorical_nll(out[:, 9:11], x[:, 6:8], 2)[0])
    np.testing.assert_allclose(nll, expected, rtol=1e-12)


def test_mixed_gradient_including_clamped_log_variances():
    rng = np.random.default_rng(7)
    lik = Mixed(TABLE, min_logvar=-3.0, max_logvar=3.0)
    out = rng.standard_normal((5, 11))
    out[0, 2], out[1, 8] = 4.5, -4.0  # two log-variances outside the clamp: their gradient is 0 on both sides
    x = random_table(rng, 5)
    nll, dout = lik.nll(out, x)
    assert dout[0, 2] == 0 and dout[1, 8] == 0
    num = numerical_gradient(lambda: float(lik.nll(out, x)[0].mean()), out)
    assert rel_error(dout, num) < TOL


def test_mixed_mean_sample_config_and_stability():
    rng = np.random.default_rng(8)
    lik = Mixed(TABLE)
    out = rng.standard_normal((6, 11)) * 1000  # huge logits and log-variances beyond the clamp
    x = random_table(rng, 6)
    nll, dout = lik.nll(out, x)
    assert np.isfinite(nll).all() and np.isfinite(dout).all()
    mean, draw = lik.mean(out), lik.sample(out, rng)
    assert mean.shape == draw.shape == (6, 8)
    np.testing.assert_array_equal(mean[:, 0:2], out[:, 0:2])  # Gaussian columns: the predicted means
    lik.check_target(draw)  # categorical columns of a draw are one-hot
    assert (draw[:, 2:5].sum(axis=1) == 1).all() and (draw[:, 6:8].sum(axis=1) == 1).all()
    again = make_likelihood(json.loads(json.dumps(lik.config())))
    assert isinstance(again, Mixed) and again.columns == lik.columns and again.config() == lik.config()
    np.testing.assert_array_equal(again.nll(out, x)[0], nll)


def test_mixed_validation_errors():
    lik = Mixed(TABLE)
    x = random_table(np.random.default_rng(9), 3)
    x[1, 2:5] = [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="'colour'.*must sum to 1"):
        lik.check_target(x)
    with pytest.raises(ValueError, match="must have 8 columns"):
        lik.check_target(x[:, :7])
    with pytest.raises(ValueError, match="take 8 columns of x, but the data has 9"):
        lik.n_outputs(9)
    with pytest.raises(ValueError, match="choose 'gaussian'"):
        Mixed([{"type": "poisson", "size": 1}])
    with pytest.raises(ValueError, match="number of categories"):
        Mixed([{"type": "categorical", "size": 1}])
    with pytest.raises(ValueError, match="unknown key"):
        Mixed([{"type": "gaussian", "size": 1, "sigma": 2}])
    with pytest.raises(TypeError, match="must be a dict"):
        Mixed(["gaussian"])
    with pytest.raises(ValueError, match="non-empty list"):
        Mixed([])


def test_the_table_knows_every_likelihood_and_the_old_ones_are_unchanged():
    assert {"bernoulli", "gaussian", "gaussian_learned", "categorical", "mixed"} <= set(LIKELIHOODS)
    assert isinstance(make_likelihood("bernoulli"), Bernoulli)
    assert make_likelihood({"name": "gaussian", "variance": 2.0}).config() == Gaussian(2.0).config()
    assert make_likelihood("gaussian_learned").config() == GaussianLearnedVariance().config()


# ------------------------------------------------------------------------------------ whole VAE, every parameter
@pytest.mark.parametrize("likelihood", [{"name": "categorical", "block_size": 3}, {"name": "mixed", "columns": TABLE}])
def test_vae_gradient_with_the_new_likelihoods(likelihood):
    rng = np.random.default_rng(10)
    n, latent = 4, 2
    if likelihood["name"] == "categorical":
        x = to_one_hot(rng.integers(0, 3, (n, 3)), 3, np.float64)  # 3 positions over an alphabet of 3
    else:
        x = random_table(rng, n)
    vae = VAE(x.shape[1], latent_dim=latent, hidden=(5,), likelihood=likelihood, activation="tanh", seed=1,
              dtype=np.float64)
    eps = rng.standard_normal((n, latent))  # frozen noise: the loss is then a deterministic function of the params
    errors = check_model(vae, lambda: vae.loss_and_gradients(x, eps=eps, beta=0.7).loss)
    assert set(errors) == set(vae.params)
    assert max(errors.values()) < TOL, errors
    # the per-example ELBO agrees with the loss it came from
    terms = vae.elbo(x, eps=eps)
    assert np.isclose(-terms.elbo.mean(), vae.loss_and_gradients(x, eps=eps).loss)


def test_mixed_null_block_leaves_out_the_placeholder_of_a_null_value():
    """A Gaussian column with a [value, null] block: where x says null, its term (and its gradient) is left out."""
    rng = np.random.default_rng(11)
    columns = [{"type": "gaussian", "size": 1, "name": "age", "null_block": 1},
               {"type": "categorical", "size": 2, "name": "age is null"}, {"type": "categorical", "size": 3}]
    lik = Mixed(columns, min_logvar=-3.0)
    null = np.array([False, True, False, True, True, False])
    x = np.concatenate([np.where(null, 0.0, rng.standard_normal(6))[:, None],
                        to_one_hot(null.astype(int), 2, np.float64), to_one_hot(rng.integers(0, 3, 6), 3, np.float64)],
                       axis=1)
    out = rng.standard_normal((6, lik.n_outputs(6)))
    nll, dout = lik.nll(out, x)
    plain = Mixed([{k: v for k, v in c.items() if k != "null_block"} for c in columns], min_logvar=-3.0)
    gaussian = gaussian_nll_learned_variance(out[:, 0:1], np.clip(out[:, 1:2], -3.0, 10.0), x[:, 0:1])[0]
    np.testing.assert_allclose(nll, plain.nll(out, x)[0] - np.where(null, gaussian, 0.0), rtol=1e-12)
    assert (dout[null, 0:2] == 0).all() and (dout[~null, 0:2] != 0).all()
    num = numerical_gradient(lambda: float(lik.nll(out, x)[0].mean()), out)
    assert rel_error(dout, num) < TOL
    assert make_likelihood(json.loads(json.dumps(lik.config()))).columns == lik.columns
    for bad in (0, 2, 5, True):  # itself, a categorical of size 3, out of range, not an index
        with pytest.raises(ValueError, match="null_block"):
            Mixed([dict(columns[0], null_block=bad), *columns[1:]])
