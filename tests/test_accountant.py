"""The privacy accountant (minivae.privacy.accountant): the published anchors, Google's dp-accounting on a grid, the
integral the series expand, the closed forms, monotonicity, the two inverse functions, and every refused input."""
import doctest
import itertools
import math

import numpy as np
import pytest

import minivae.privacy.accountant as accountant
from minivae.privacy.accountant import (DEFAULT_ORDERS, SIGMA_RTOL, epsilon, epsilon_from_rdp, noise_multiplier_for,
                                        rdp_sampled_gaussian, steps_for)

DELTA = 1e-5
MNIST_256 = dict(q=256 / 60000, sigma=1.1, steps=14062)  # 60 epochs of MNIST, expected batch 256
MNIST_250 = dict(q=250 / 60000, sigma=1.3, steps=3600)  # 15 epochs of MNIST, expected batch 250

# The grid against dp-accounting: sampling rates from tiny to full batch (0.1: with sigma <= 1 the series of the
# orders 1.1 to 1.6 do not converge in 1,000 terms and both accountants leave them out), noise from little to much,
# one step to many (one step of q = 1e-4, sigma = 3 is (0, delta)-DP by the KL bound: epsilon 0 in both).
GRID_Q = (1e-4, 256 / 60000, 0.02, 0.1, 1.0)
GRID_SIGMA = (0.6, 1.0, 3.0)
GRID_STEPS = (1, 20_000)
GRID_DELTA = (1e-3, 1e-5, 1e-8)


def test_the_two_anchors_measured_with_dp_accounting():
    # Hard-coded on purpose: the values of issue 13, measured with dp-accounting's RDP accountant (delta = 1e-5).
    assert epsilon(delta=DELTA, **MNIST_256)[0] == pytest.approx(2.597, abs=1e-3)
    assert epsilon(delta=DELTA, **MNIST_250)[0] == pytest.approx(0.942, abs=1e-3)


def test_the_default_orders_are_dp_accountings():
    rdp_module = pytest.importorskip("dp_accounting.rdp.rdp_privacy_accountant")
    assert list(DEFAULT_ORDERS) == list(rdp_module.DEFAULT_RDP_ORDERS)
    assert len(DEFAULT_ORDERS) == 156 and min(DEFAULT_ORDERS) == 1.1 and max(DEFAULT_ORDERS) == 1024


@pytest.fixture(scope="module")
def dp_accounting_grid():
    """Each setting of the grid, as dp-accounting's RdpAccountant sees it after composing PoissonSampledDpEvent(q,
    GaussianDpEvent(sigma)) `steps` times: (q, sigma, steps, our RDP per order, its RDP, {delta: its (eps, order)})."""
    dp_accounting = pytest.importorskip("dp_accounting")
    rows = []
    for q, sigma in itertools.product(GRID_Q, GRID_SIGMA):
        one_step = rdp_sampled_gaussian(q, sigma, 1)  # T steps: T times it (test_rdp_composes_linearly_in_the_steps)
        reference, composed = dp_accounting.rdp.RdpAccountant(), 0
        for steps in GRID_STEPS:
            reference.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)),
                              steps - composed)
            composed = steps
            answers = {delta: reference.get_epsilon_and_optimal_order(delta) for delta in GRID_DELTA}
            rows.append((q, sigma, steps, steps * one_step, reference.rdp, answers))
    return rows


def test_epsilon_equals_dp_accountings_rdp_accountant_on_a_grid(dp_accounting_grid):
    worst = 0.0
    for q, sigma, steps, rdp, _, answers in dp_accounting_grid:
        for delta, (ref_eps, ref_order) in answers.items():
            eps, order = epsilon_from_rdp(DEFAULT_ORDERS, rdp, delta)
            assert order == ref_order, (q, sigma, steps, delta)
            assert (eps == 0) == (ref_eps == 0), (q, sigma, steps, delta)
            worst = max(worst, abs(eps - ref_eps) / max(ref_eps, 1e-300))
    assert worst < 1e-9  # measured: 1.1e-11 (both sum the same series; the rest is rounding)
    assert epsilon(0.1, 1.0, 1000, 1e-5) == epsilon_from_rdp(DEFAULT_ORDERS, rdp_sampled_gaussian(0.1, 1.0, 1000), 1e-5)


def test_the_rdp_of_each_order_equals_dp_accountings(dp_accounting_grid):
    for q, sigma, steps, ours, theirs, _ in dp_accounting_grid:
        assert np.array_equal(np.isinf(ours), np.isinf(theirs)), (q, sigma)  # the same orders left out
        # Where the RDP is 1e-10 (q = 1e-4, sigma = 3), both carry a rounding of 1e-17 in log A = log(1 + 1e-10):
        # hence atol (measured on this grid: at most 3.9e-9 relative; 3e-8 at sigma = 20, where the RDP is 1e-11).
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-17 * steps)


def _rdp_by_integration(q, sigma, alpha):
    """log(A_alpha) / (alpha - 1) with A_alpha = integral of mu0 (mu / mu0)^alpha, by the trapezoid rule in float64."""
    z = np.linspace(-14 * sigma, 14 * sigma + alpha + 10, 400_001)
    log_ratio = alpha * np.logaddexp(np.log1p(-q), np.log(q) + (2 * z - 1) / (2 * sigma**2))  # log (mu / mu0)^alpha
    log_f = -z**2 / (2 * sigma**2) - np.log(sigma * np.sqrt(2 * np.pi)) + log_ratio
    top = log_f.max()
    return (top + np.log(np.trapezoid(np.exp(log_f - top), z))) / (alpha - 1)


@pytest.mark.parametrize("q, sigma", [(0.05, 1.0), (0.01, 0.8), (0.2, 2.0)])
def test_the_series_against_the_integral_they_expand(q, sigma):
    integers, fractions = [2, 3, 8, 20], [1.5, 2.5, 4.5, 8.1]
    exact = np.array([_rdp_by_integration(q, sigma, a) for a in integers])
    np.testing.assert_allclose(rdp_sampled_gaussian(q, sigma, 1, integers), exact, rtol=1e-10)  # measured: 3e-14
    # The fractional series sum |C(alpha, k)|: an upper bound, loose at low orders (measured: 8% to 73% above the
    # integral at alpha = 1.5, 0.02% to 0.09% at 4.5, at most 1.6e-6 at 8.1).
    exact = np.array([_rdp_by_integration(q, sigma, a) for a in fractions])
    ours = rdp_sampled_gaussian(q, sigma, 1, fractions)
    assert np.all(ours >= exact * (1 - 1e-10))
    assert np.all(ours[2:] <= exact[2:] * 1.001) and np.all(ours <= exact * 1.8)


def test_full_batch_is_the_gaussian_mechanism_and_no_sampling_costs_nothing():
    orders = [1.5, 2, 7.3, 64, 1024]
    for sigma, steps in [(0.7, 1), (1.3, 250), (4.0, 10_000)]:
        expected = steps * np.array(orders) / (2 * sigma**2)
        np.testing.assert_allclose(rdp_sampled_gaussian(1.0, sigma, steps, orders), expected, rtol=1e-15)
        assert np.all(rdp_sampled_gaussian(0.0, sigma, steps, orders) == 0)
        assert epsilon(0.0, sigma, steps, DELTA) == (0.0, 1.1)
    # q just below 1 tends to the closed form (integer orders, by the binomial sum)
    close = rdp_sampled_gaussian(1 - 1e-9, 1.3, 1, [2, 11, 63])
    np.testing.assert_allclose(close, np.array([2, 11, 63]) / (2 * 1.3**2), rtol=2e-9)
    assert np.all(rdp_sampled_gaussian(0.01, 1.0, 0) == 0) and epsilon(0.01, 1.0, 0, DELTA)[0] == 0


def test_rdp_composes_linearly_in_the_steps():
    one = rdp_sampled_gaussian(0.01, 1.2, 1)
    assert np.array_equal(rdp_sampled_gaussian(0.01, 1.2, 777), 777 * one)  # exactly: steps_for relies on it


def test_the_two_conversions():
    orders = np.array(DEFAULT_ORDERS)
    rdp = rdp_sampled_gaussian(MNIST_256["q"], MNIST_256["sigma"], MNIST_256["steps"])
    tight, order = epsilon_from_rdp(orders, rdp, DELTA)
    standard, standard_order = epsilon_from_rdp(orders, rdp, DELTA, conversion="standard")
    assert tight == pytest.approx(2.597, abs=1e-3) and tight < standard
    i, j = list(orders).index(order), list(orders).index(standard_order)
    a, b = orders[i], orders[j]
    assert tight == pytest.approx(rdp[i] + math.log((a - 1) / a) - (math.log(DELTA) + math.log(a)) / (a - 1), rel=1e-14)
    assert standard == pytest.approx(rdp[j] - math.log(DELTA) / (b - 1), rel=1e-14)
    assert epsilon_from_rdp([2.0, 3.0], [math.inf, math.inf], DELTA)[0] == math.inf


def test_epsilon_falls_with_more_noise_and_rises_with_more_steps():
    by_sigma = [epsilon(0.01, sigma, 1000, DELTA)[0] for sigma in (0.5, 0.7, 1.0, 1.5, 2.0, 4.0, 16.0)]
    assert all(a > b for a, b in zip(by_sigma, by_sigma[1:])), by_sigma
    by_steps = [epsilon(0.01, 1.0, steps, DELTA)[0] for steps in (1, 10, 100, 1000, 10_000, 100_000)]
    assert all(a < b for a, b in zip(by_steps, by_steps[1:])), by_steps
    by_delta = [epsilon(0.01, 1.0, 1000, delta)[0] for delta in (1e-3, 1e-5, 1e-7, 1e-9)]
    assert all(a < b for a, b in zip(by_delta, by_delta[1:])), by_delta


@pytest.mark.parametrize("target", [0.5, 2.0, 6.0])
def test_noise_multiplier_for_is_the_least_sigma_within_the_target(target):
    q, steps = MNIST_256["q"], MNIST_256["steps"]
    sigma = noise_multiplier_for(target, DELTA, q, steps)
    assert epsilon(q, sigma, steps, DELTA)[0] <= target
    assert epsilon(q, sigma / (1 + SIGMA_RTOL), steps, DELTA)[0] > target  # slightly less noise is over budget
    assert epsilon(q, sigma, steps, DELTA)[0] == pytest.approx(target, rel=1e-3)


def test_noise_multiplier_for_inverts_the_anchor():
    target = epsilon(delta=DELTA, **MNIST_256)[0]
    sigma = noise_multiplier_for(target, DELTA, MNIST_256["q"], MNIST_256["steps"])
    assert 1.1 <= sigma <= 1.1 * (1 + SIGMA_RTOL)


def test_noise_multiplier_for_refuses_targets_outside_the_range_of_sigma():
    with pytest.raises(ValueError, match="out of reach: even sigma = 1000"):
        noise_multiplier_for(0.01, DELTA, q=1.0, steps=10**7)
    with pytest.raises(ValueError, match="met even by sigma = 0.1"):
        noise_multiplier_for(1000.0, DELTA, q=0.01, steps=10)
    with pytest.raises(ValueError, match="no example is used"):
        noise_multiplier_for(1.0, DELTA, q=0.0, steps=100)


@pytest.mark.parametrize("q, sigma, target", [(256 / 60000, 1.1, 2.597), (0.01, 1.0, 1.0), (1.0, 5.0, 2.0)])
def test_steps_for_is_the_largest_count_within_the_budget(q, sigma, target):
    steps = steps_for(target, DELTA, q, sigma)
    assert steps >= 1
    assert epsilon(q, sigma, steps, DELTA)[0] <= target < epsilon(q, sigma, steps + 1, DELTA)[0]


def test_steps_for_is_zero_when_one_step_is_over_budget_and_refuses_q_zero_or_a_budget_without_end():
    assert steps_for(0.01, DELTA, q=0.5, sigma=0.5) == 0
    with pytest.raises(ValueError, match="q = 0"):
        steps_for(1.0, DELTA, q=0.0, sigma=1.0)
    with pytest.raises(ValueError, match="more than 1e[+]12 steps"):
        steps_for(1.0, DELTA, q=1e-12, sigma=1000.0)  # the RDP of one step is 0 to the last digit


def test_the_rdp_is_never_negative_even_below_its_rounding():
    assert np.all(rdp_sampled_gaussian(1e-12, 1000.0, 1) >= 0)


@pytest.mark.parametrize("call, message", [
    (lambda: epsilon(-0.1, 1.0, 10, DELTA), "q must lie in"),
    (lambda: epsilon(1.5, 1.0, 10, DELTA), "q must lie in"),
    (lambda: epsilon(math.nan, 1.0, 10, DELTA), "q must lie in"),
    (lambda: epsilon(0.1, 0.0, 10, DELTA), "sigma must be a positive"),
    (lambda: epsilon(0.1, -1.0, 10, DELTA), "sigma must be a positive"),
    (lambda: epsilon(0.1, math.inf, 10, DELTA), "sigma must be a positive"),
    (lambda: epsilon(0.1, 1.0, -1, DELTA), "steps must be a whole number"),
    (lambda: epsilon(0.1, 1.0, 10.0, DELTA), "steps must be a whole number"),
    (lambda: epsilon(0.1, 1.0, 2.5, DELTA), "steps must be a whole number"),
    (lambda: epsilon(0.1, 1.0, True, DELTA), "steps must be a whole number"),
    (lambda: epsilon(0.1, 1.0, 10, 0.0), "delta must lie strictly between 0 and 1"),
    (lambda: epsilon(0.1, 1.0, 10, 1.0), "delta must lie strictly between 0 and 1"),
    (lambda: epsilon(0.1, 1.0, 10, -1e-5), "delta must lie strictly between 0 and 1"),
    (lambda: epsilon(0.1, 1.0, 10, DELTA, orders=[0.5, 2]), "orders must be"),
    (lambda: epsilon(0.1, 1.0, 10, DELTA, orders=[]), "orders must be"),
    (lambda: epsilon_from_rdp([2, 3], [0.1], DELTA), "one value per order"),
    (lambda: epsilon_from_rdp([2, 3], [0.1, -0.2], DELTA), "must be >= 0"),
    (lambda: epsilon_from_rdp([2, 3], [0.1, 0.2], DELTA, conversion="loose"), "conversion must be one of"),
    (lambda: noise_multiplier_for(0.0, DELTA, 0.01, 100), "target epsilon must be a positive"),
    (lambda: noise_multiplier_for(-1.0, DELTA, 0.01, 100), "target epsilon must be a positive"),
    (lambda: noise_multiplier_for(1.0, 2.0, 0.01, 100), "delta must lie"),
    (lambda: noise_multiplier_for(1.0, DELTA, 1.01, 100), "q must lie in"),
    (lambda: noise_multiplier_for(1.0, DELTA, 0.01, 10.5), "steps must be a whole number"),
    (lambda: steps_for(0.0, DELTA, 0.01, 1.0), "target epsilon must be a positive"),
    (lambda: steps_for(math.inf, DELTA, 0.01, 1.0), "target epsilon must be a positive"),
    (lambda: steps_for(1.0, 0.0, 0.01, 1.0), "delta must lie"),
    (lambda: steps_for(1.0, DELTA, 0.01, 0.0), "sigma must be a positive"),
])
def test_bad_input_is_refused_in_one_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_the_module_examples_run():
    result = doctest.testmod(accountant, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0
