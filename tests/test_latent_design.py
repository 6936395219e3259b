"""Tests for minivae.apps.latent_design: the property predictor, the ascent in latent space, the decoded path and its
table. Nothing here needs chemistry: the properties are known functions of z, and the decoder is a tiny SequenceVAE.

Gradient checks are in float64 with central differences (h = 1e-6): a correct gradient agrees to about 1e-9 (measured
here: 2e-10 to 1e-9), and the bound 1e-7 is the one the sequence models are held to in tests/test_gradients.py (whose
sweep checks the predictor too, to its bound of 1e-6).
"""
import doctest

import numpy as np
import pytest

import minivae.apps.latent_design as latent_design
from minivae import SequenceVAE
from minivae.apps.latent_design import (FitHistory, PropertyPredictor, decode_path, design_table, latent_ascent,
                                        latent_objective, markdown_design_table, r_squared)
from minivae.datasets.text import Vocabulary
from minivae.nn.gradcheck import check_model, numerical_gradient, numerical_vjp, rel_error

GRAD_TOL = 1e-7
C = np.array([1.0, -0.5])  # the centre of the quadratic property below


def quadratic(z):
    """y = -||z - C||^2, largest at C."""
    return -np.sum((np.asarray(z) - C) ** 2, axis=-1)


class Quadratic:
    """A predictor that is exactly y = -||z - C||^2: predict and input_gradient in closed form, to test the ascent
    without the error of a fitted network."""

    latent_dim = 2

    def predict(self, z):
        return quadratic(z)

    def input_gradient(self, z):
        return -2.0 * (np.asarray(z) - C)


@pytest.fixture(scope="module")
def codes():
    return np.random.default_rng(0).standard_normal((2000, 2))


@pytest.fixture(scope="module")
def fitted_quadratic():
    """A network fitted to y = -||z - C||^2 on 2,000 codes of N(0, I)."""
    z = np.random.default_rng(1).standard_normal((2000, 2))
    predictor = PropertyPredictor(2, hidden=(64, 64), seed=0)
    history = predictor.fit(z, quadratic(z), epochs=50, seed=0)
    assert history.validation_r2 > 0.99
    return predictor


# -- gradients --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mse_gradients_match_finite_differences(activation):
    """Every parameter gradient of the MSE, with a standardization that is not the identity (m = 2, s = 3)."""
    rng = np.random.default_rng(3)
    predictor = PropertyPredictor(3, hidden=(6, 5), activation=activation, seed=1)
    predictor.y_mean, predictor.y_std = 2.0, 3.0
    z, y = rng.standard_normal((8, 3)), 2.0 + 3.0 * rng.standard_normal(8)
    errors = check_model(predictor, lambda: predictor.loss_and_gradients(z, y)[0])
    assert set(errors) == set(predictor.params) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}
    assert max(errors.values()) < GRAD_TOL, errors


def test_the_mse_is_the_mean_squared_standardized_residual():
    predictor = PropertyPredictor(2, hidden=(4,))
    predictor.y_mean, predictor.y_std = 1.0, 2.0
    z, y = np.random.default_rng(4).standard_normal((5, 2)), np.arange(5.0)
    mse, grads = predictor.loss_and_gradients(z, y)
    assert grads is predictor.grads
    assert mse == pytest.approx(np.mean(((predictor.predict(z) - y) / 2.0) ** 2), rel=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_input_gradient_matches_finite_differences_of_predict(activation):
    """In the target's units (s = 2.5), row by row: the rows are weighted at random, so that a gradient that leaked
    from one row into another would be seen."""
    rng = np.random.default_rng(5)
    predictor = PropertyPredictor(3, hidden=(7, 5), activation=activation, seed=2)
    predictor.y_mean, predictor.y_std = -1.0, 2.5
    z, weights = rng.standard_normal((6, 3)), rng.standard_normal(6)
    analytic = predictor.input_gradient(z) * weights[:, None]
    assert rel_error(analytic, numerical_vjp(lambda: predictor.predict(z), z, weights)) < GRAD_TOL
    single = numerical_gradient(lambda: float(predictor.predict(z[:1])[0]), z[:1])  # one row, no weighting
    assert rel_error(predictor.input_gradient(z[:1]), single) < GRAD_TOL


# -- fitting ----------------------------------------------------------------------------------------------------------

def test_fit_learns_a_smooth_function(codes):
    """y = sin(z_0) + z_1^2 on 2,000 codes of N(0, I), 200 held out. Measured: validation R^2 = 0.9988 with these
    seeds, and 0.9951 to 0.9995 over seeds 0..9 of the network and the split; a least-squares line reaches 0.11 (it
    cannot see z_1^2). The bound 0.99 (1% of the variance left unexplained) is below every seed measured."""
    y = np.sin(codes[:, 0]) + codes[:, 1] ** 2
    predictor = PropertyPredictor(2, hidden=(64, 64), seed=0)
    history = predictor.fit(codes, y, epochs=50, seed=0)
    assert isinstance(history, FitHistory)
    assert len(history.train_mse) == len(history.validation_mse) == 50
    assert history.train_mse[-1] < 0.05 * history.train_mse[0]
    assert history.validation_r2 > 0.99
    assert predictor.y_mean == pytest.approx(np.mean(y), abs=0.1) and predictor.y_std > 1  # E[y] = 1; std(y) is 1.52


def test_predicting_the_mean_scores_one():
    """The sanity check of the standardization: with the output layer set to zero, h = 0 and f = m, and the MSE in
    standardized units on the data it was fitted on is mean(y~^2) = 1 exactly."""
    rng = np.random.default_rng(6)
    z, y = rng.standard_normal((40, 2)), 5.0 + 3.0 * rng.standard_normal(40)
    predictor = PropertyPredictor(2, hidden=(8,))
    history = predictor.fit(z, y, epochs=2, validation_fraction=0.0)
    assert history.validation_mse == [] and np.isnan(history.validation_r2)
    predictor.params["2.W"][...] = 0
    predictor.params["2.b"][...] = 0
    np.testing.assert_allclose(predictor.predict(z), np.full(40, np.mean(y)), rtol=1e-12)
    assert predictor.loss_and_gradients(z, y)[0] == pytest.approx(1.0, rel=1e-12)


def test_config_and_params_rebuild_the_predictor():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((30, 3))
    predictor = PropertyPredictor(3, hidden=(5, 4), activation="relu", seed=3)
    predictor.fit(z, z[:, 0] * 4 + 10, epochs=3)
    again = PropertyPredictor.from_config(predictor.config(), predictor.params)
    np.testing.assert_array_equal(again.predict(z), predictor.predict(z))
    assert again.params["0.W"] is not predictor.params["0.W"]  # copied
    with pytest.raises(ValueError, match="pass the params saved with this config"):
        PropertyPredictor.from_config({**predictor.config(), "hidden": [5]}, predictor.params)


def test_r_squared():
    y = np.array([1.0, 2.0, 3.0])
    assert r_squared(y, y) == 1.0
    assert r_squared(np.full(3, 2.0), y) == 0.0
    assert r_squared(np.array([1.0, 2.0, 4.0]), y) == 0.5
    assert np.isnan(r_squared(y, np.ones(3)))


# -- the ascent -------------------------------------------------------------------------------------------------------
# g(z) = -||z - C||^2 - w ||z||^2 / 2, so grad g = -2 (z - C) - w z, which is 0 at z* = 2 C / (2 + w) (C / (1 + w)
# for the property -||z - C||^2 / 2): the prior pulls the optimum of the property, C, towards 0. The Hessian of g is
# -(2 + w) I, so each plain step scales the distance to z* by (1 - eta (2 + w)).

def test_ascent_on_the_exact_quadratic_follows_the_algebra():
    w, eta, z0 = 1.0, 0.05, np.array([-1.0, 1.0])
    optimum = 2 * C / (2 + w)
    path = latent_ascent(Quadratic(), z0, steps=40, step_size=eta, prior_weight=w)
    assert path.shape == (41, 2)
    np.testing.assert_array_equal(path[0], z0)
    expected = optimum + (1 - eta * (2 + w)) ** np.arange(41)[:, None] * (z0 - optimum)
    np.testing.assert_allclose(path, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("w", [1.0, 0.5])
def test_ascent_on_a_fitted_predictor_reaches_the_known_optimum(fitted_quadratic, w):
    """From a start 2.1 (w = 1) or 2.3 (w = 0.5) away from z*, 200 steps end within 0.1 of it; measured 0.021 and
    0.025 (the fitted network's error, not the ascent's). The objective on the path rises at every step, up to
    rounding (about 1e-14) once the path has settled."""
    optimum = 2 * C / (2 + w)
    path = latent_ascent(fitted_quadratic, np.array([-1.0, 1.0]), steps=200, step_size=0.05, prior_weight=w)
    assert np.linalg.norm(path[-1] - optimum) < 0.1
    g = latent_objective(fitted_quadratic, path, prior_weight=w)
    assert (np.diff(g) > -1e-12).all()
    assert g[-1] - g[0] > 5  # w = 1: from -7.15 to -0.46 (the true g goes from -7.25 to its maximum -0.42)
    assert np.diff(g)[:20].min() > 0  # strictly, while the path moves


def test_minimize_goes_the_other_way(fitted_quadratic):
    z0 = np.array([-1.0, 1.0])
    up = latent_ascent(fitted_quadratic, z0, steps=30, step_size=0.05)
    down = latent_ascent(fitted_quadratic, z0, steps=30, step_size=0.05, minimize=True)
    assert (np.diff(fitted_quadratic.predict(up)) > 0).all()
    assert (np.diff(fitted_quadratic.predict(down)) < 0).all()
    assert np.linalg.norm(down[-1] - C) > np.linalg.norm(z0 - C) > np.linalg.norm(up[-1] - C)
    assert (np.diff(latent_objective(fitted_quadratic, down, minimize=True)) > 0).all()


def test_minimize_is_the_ascent_of_the_negated_property():
    class Negated(Quadratic):
        def predict(self, z):
            return -super().predict(z)

        def input_gradient(self, z):
            return -super().input_gradient(z)

    z0 = np.array([0.3, 0.2])
    np.testing.assert_array_equal(latent_ascent(Negated(), z0, steps=10, minimize=True, prior_weight=3.0),
                                  latent_ascent(Quadratic(), z0, steps=10, prior_weight=3.0))


def test_the_prior_weight_pulls_the_path_towards_zero():
    ends = [np.linalg.norm(latent_ascent(Quadratic(), np.zeros(2), steps=100, prior_weight=w)[-1])
            for w in (0.0, 1.0, 4.0)]
    np.testing.assert_allclose(ends, [np.linalg.norm(2 * C / (2 + w)) for w in (0.0, 1.0, 4.0)], rtol=1e-9)


def test_ascent_refuses_bad_inputs():
    q = Quadratic()
    bad = [({"z0": np.zeros((2, 2))}, ValueError, r"z0 must be one code of shape \(L,\)"),
           ({"z0": np.zeros(3)}, ValueError, "z0 has 3 dimension"),
           ({"z0": np.array([np.nan, 0.0])}, ValueError, "NaN or infinite"),
           ({"step_size": 0.0}, ValueError, "step_size must be a positive number"),
           ({"prior_weight": -1.0}, ValueError, "prior_weight must be a number >= 0"),
           ({"step_size": 2.0, "prior_weight": 0.5}, ValueError, "step_size x prior_weight is 1: .* smaller than 1"),
           ({"steps": 0}, ValueError, "steps must be a positive integer")]
    for kwargs, error, message in bad:
        with pytest.raises(error, match=message) as info:
            latent_ascent(q, **{"z0": np.zeros(2), **kwargs})
        assert "\n" not in str(info.value)
    class PredictOnly:
        predict = Quadratic.predict

    with pytest.raises(TypeError, match="got PredictOnly without 'input_gradient'"):
        latent_ascent(PredictOnly(), np.zeros(2))
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="diverged at step .*smaller step_size"):
        latent_ascent(q, np.ones(2), steps=2000, step_size=1.5, prior_weight=0.0)  # each step doubles |z - z*|
    assert latent_ascent(q, np.zeros((1, 2)), steps=1).shape == (2, 2)  # a batch of one is one code


# -- decoding and the table -------------------------------------------------------------------------------------------

def test_decode_path_gives_one_string_per_step():
    vocab = Vocabulary.build(["abcd", "dcba"])
    assert len(vocab) == 8
    model = SequenceVAE(len(vocab), latent_dim=2, embed_dim=3, hidden_dim=5, seed=0)
    path = latent_ascent(Quadratic(), np.array([-2.0, 2.0]), steps=6, step_size=0.2)
    texts = decode_path(model, path, vocab.decode, max_length=6)
    assert len(texts) == 7 and all(isinstance(t, str) and len(t) <= 5 for t in texts)  # <bos> takes one place
    assert texts == [vocab.decode(model.decode(path[k:k + 1], 6))[0] for k in range(7)]  # greedy, row by row
    with pytest.raises(ValueError, match="to_text must return one string per row"):
        decode_path(model, path, lambda ids: ["x"], max_length=6)
    with pytest.raises(ValueError, match=r"path must be codes of shape \(S, L\)"):
        decode_path(model, path[0], vocab.decode)


def test_design_table_rows_and_summary():
    strings = ["CCO", "CCO", "C1CC1", "C(", "CCN"]
    predicted = [0.1, 0.2, 0.3, 0.4, 0.5]
    actual = [1.0, 1.0, 3.0, None, 3.0]
    rows, summary = design_table(strings, predicted, actual)
    assert rows[3] == {"step": 3, "predicted": 0.4, "actual": None, "valid": False, "string": "C("}
    assert [r["valid"] for r in rows] == [True, True, True, False, True]
    assert summary == {"steps": 4, "start_predicted": 0.1, "start_actual": 1.0, "best_actual": 3.0, "best_step": 2,
                       "valid_fraction": 0.8, "distinct_valid": 3}
    low = design_table(strings, predicted, actual, minimize=True)[1]
    assert (low["best_actual"], low["best_step"]) == (1.0, 0)
    none = design_table(["(", ")"], [0.0, 1.0], [None, None])[1]
    assert none["best_actual"] is none["best_step"] is none["start_actual"] is None
    assert none["valid_fraction"] == 0.0 and none["distinct_valid"] == 0


def test_markdown_design_table():
    rows, summary = design_table(["C*C", "", "C|C"], [1.0, 2.0, 3.0], [0.5, None, 0.25])
    text = markdown_design_table(rows, summary)
    lines = text.splitlines()
    assert lines[0] == ("From 0.500 (predicted 1.000) to a best of 0.500 at step 0; 67% of the 3 codes decode to "
                        "valid strings, 2 distinct.")
    assert lines[2] == "| step | predicted | actual | valid | string |"
    assert lines[4:] == ["| 0 | 1.000 | 0.500 | yes | `C*C` |", "| 1 | 2.000 | - | no | *(empty)* |",
                         "| 2 | 3.000 | 0.250 | yes | `C\\|C` |"]


def test_design_table_refuses_bad_inputs():
    with pytest.raises(ValueError, match="one entry per step; got 2, \\(3,\\) and 2"):
        design_table(["a", "b"], [1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"actual\[1\] is nan; mark an invalid string with None"):
        design_table(["a", "b"], [1.0, 2.0], [1.0, float("nan")])
    with pytest.raises(ValueError, match="predicted contains 1 NaN"):
        design_table(["a", "b"], [1.0, np.inf], [1.0, 2.0])


# -- bad inputs to the predictor --------------------------------------------------------------------------------------

def test_fit_refuses_bad_inputs_with_one_line_errors():
    rng = np.random.default_rng(8)
    z, y = rng.standard_normal((20, 2)), rng.standard_normal(20)
    z_nan, y_inf = z.copy(), y.copy()
    z_nan[3, 1], y_inf[5] = np.nan, np.inf
    predictor = PropertyPredictor(2, hidden=(4,))
    bad = [((z_nan, y), "z contains 1 NaN or infinite value"),
           ((z, y_inf), "y contains 1 NaN or infinite value"),
           ((z, y[:19]), "z has 20 rows but y has 19 values; pass one property value per code"),
           ((z[:9], y[:9]), "fitting needs at least 10 codes with their property, got 9"),
           ((z, np.full(20, 2.5)), r"y is constant \(2.5 in every row\)"),
           ((z, y[:, None]), r"y must be one real number per code, shape \(N,\)"),
           ((z[:, :1], y), r"z must have 2 columns")]
    for args, message in bad:
        with pytest.raises(ValueError, match=message) as info:
            predictor.fit(*args, epochs=1)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"validation_fraction must lie in \[0, 0.5\]"):
        predictor.fit(z, y, epochs=1, validation_fraction=0.7)
    order = np.random.default_rng(0).permutation(20)  # fit's first draw with seed=0: order[:2] is the validation part
    y_one = np.zeros(20)
    y_one[order[0]] = 1.0  # the one row that differs is held out, so the training y is constant
    with pytest.raises(ValueError, match="y is constant on the training part"):
        predictor.fit(z, y_one, epochs=1, seed=0)


def test_the_module_examples_run():
    result = doctest.testmod(latent_design, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
