"""Every Numba kernel of minivae.nn.kernels and minivae.nn.recurrent_kernels against its NumPy reference twin ("two
paths, one truth").

Each kernel runs on the same inputs as its reference, in float32 and float64, and the two must agree:

* on random inputs of ordinary size, and
* on corner cases: zeros, huge values (+/-1000, +/-1e30), the extremes of the dtype (largest, smallest normal,
  subnormal), a single element or a single row, and NaN.

A NaN in the input must come out as NaN (not as a silent 0 or 1): the divergence guard of the trainer can only see
what the kernels let through. That is why ``fastmath`` is banned from the kernels, and why a kernel written
``x if x > 0 else 0`` (which turns NaN into 0) fails here.

Tolerances. In float64 the kernel and its reference do the same arithmetic, sometimes in another order or form
(sqrt(exp(lv)) vs exp(lv / 2), a loop sum vs NumPy's pairwise sum), so they agree to a few units in the last place:
rtol = 1e-12. In float32 a kernel may keep some intermediates in float64 where NumPy stays in float32; they agree to
a few float32 ulps (1 ulp = 1.2e-7 relative): rtol = 1e-5. The absolute floor atol only matters for results that are
exactly or nearly 0.

The last test runs this file again in a fresh interpreter with NUMBA_DISABLE_JIT=1, where every kernel is the plain
Python loop it is written as: the debugging mode must give the same answers.
"""
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from minivae.nn import kernels as K
from minivae.nn import losses
from minivae.nn import recurrent_kernels as RK

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
ALPHA = 0.1  # LeakyReLU slope in the tests (larger than the default 0.01, so a wrong slope shows)


def assert_agree(got, want, dtype, overflow=False):
    """Same shape and dtype, equal within the dtype's tolerance, NaN and infinities at the same places.

    overflow=True: where the reference overflowed (inf, or NaN from inf - inf), the kernel only has to be non-finite
    too; whether it is inf or NaN there depends on whether an intermediate was float32 or float64.
    """
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    assert got.dtype == want.dtype == np.dtype(dtype), (got.dtype, want.dtype)
    if overflow:
        bad = ~np.isfinite(want)
        np.testing.assert_array_equal(np.isfinite(got), ~bad, err_msg="non-finite at different places")
        got, want = got[~bad], want[~bad]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg="NaN at different places")
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want), err_msg="infinity at different places")
    np.testing.assert_allclose(got, want, equal_nan=True, **TOL[dtype])


# ----------------------------------------------------------------------------------------------------------------------
# The kernels and their references, as pairs of functions of the same inputs.
# ----------------------------------------------------------------------------------------------------------------------

# Elementwise kernels: run(x, dout) for a flat x and upstream gradient dout. Backward kernels that read the cached
# *output* (tanh, sigmoid) get the reference forward output, as the layers give them.
ELEMENTWISE = {
    "relu_forward": (lambda x, d: K.relu_forward(x, np.empty_like(x)),
                     lambda x, d: K.relu_forward_reference(x)),
    "relu_backward": (lambda x, d: K.relu_backward(x, d, np.empty_like(x)),
                      lambda x, d: K.relu_backward_reference(x, d)),
    "leaky_relu_forward": (lambda x, d: K.leaky_relu_forward(x, x.dtype.type(ALPHA), np.empty_like(x)),
                           lambda x, d: K.leaky_relu_forward_reference(x, x.dtype.type(ALPHA))),
    "leaky_relu_backward": (lambda x, d: K.leaky_relu_backward(x, d, x.dtype.type(ALPHA), np.empty_like(x)),
                            lambda x, d: K.leaky_relu_backward_reference(x, d, x.dtype.type(ALPHA))),
    "tanh_backward": (lambda x, d: K.tanh_backward(np.tanh(x), d, np.empty_like(x)),
                      lambda x, d: K.tanh_backward_reference(np.tanh(x), d)),
    "sigmoid_forward": (lambda x, d: K.sigmoid_forward(x, np.empty_like(x)),
                        lambda x, d: K.sigmoid_reference(x)),
    "sigmoid_backward": (lambda x, d: K.sigmoid_backward(K.sigmoid_reference(x), d, np.empty_like(x)),
                         lambda x, d: K.sigmoid_backward_reference(K.sigmoid_reference(x), d)),
    "softplus_forward": (lambda x, d: K.softplus_forward(x, np.empty_like(x)),
                         lambda x, d: K.softplus_reference(x)),
    "softplus_backward": (lambda x, d: K.softplus_backward(x, d, np.empty_like(x)),
                          lambda x, d: K.softplus_backward_reference(x, d)),
}
# The other kernels have tests of their own below.
OTHER_KERNELS = {"column_sum", "scatter_add_rows", "bernoulli_nll_parts", "logsumexp_rows", "adam_update"}
RECURRENT_KERNELS = {"gru_forward_step", "gru_backward_step", "lstm_forward_step", "lstm_backward_step"}


def kernel_names(module=K):
    """The public kernels defined in ``module``: its functions that are not ``*_reference`` twins."""
    names = set()
    for name, obj in vars(module).items():
        func = getattr(obj, "py_func", obj)  # a Numba dispatcher wraps the Python function
        if not name.startswith("_") and not name.endswith("_reference") and inspect.isfunction(func) \
                and func.__module__ == module.__name__:
            names.add(name)
    return names


def test_every_kernel_is_tested_here():
    """A kernel added to the kernel modules without a test in this file fails here, instead of going untested."""
    assert kernel_names(K) == set(ELEMENTWISE) | OTHER_KERNELS
    assert kernel_names(RK) == RECURRENT_KERNELS


def test_kernels_are_cached_and_never_fastmath():
    """@njit(cache=True) everywhere (a later process reuses the compiled code); fastmath nowhere (NaN must show).
    The private helpers that kernels call (_sigmoid_scalar, the GRU's _sigmoid and _tanh) are held to it too."""
    if numba.config.DISABLE_JIT:
        pytest.skip("with NUMBA_DISABLE_JIT=1 the kernels are plain Python functions")
    for module in (K, RK):
        jitted = {n: f for n, f in vars(module).items() if isinstance(f, numba.core.registry.CPUDispatcher)}
        assert kernel_names(module) <= set(jitted)
        for name, kernel in jitted.items():
            assert not isinstance(kernel._cache, numba.core.caching.NullCache), f"{name} is not cache=True"
            assert not kernel.targetoptions.get("fastmath"), f"{name} uses fastmath"
            assert kernel.targetoptions.get("error_model") == "numpy", f"{name} lacks error_model='numpy'"


# ----------------------------------------------------------------------------------------------------------------------
# Inputs: random and corner cases. Each maker returns (x, dout) as flat arrays of the dtype.
# ----------------------------------------------------------------------------------------------------------------------


def extremes(dtype):
    """Both signs of: the largest finite value, the smallest normal, the smallest subnormal, and 0."""
    fi = np.finfo(dtype)
    sub = np.nextafter(dtype(0), dtype(1))
    return np.array([fi.max, -fi.max, fi.tiny, -fi.tiny, sub, -sub, 0.0, -0.0], dtype=dtype)


def input_random(rng, dtype):
    return 3 * rng.standard_normal(64).astype(dtype), rng.standard_normal(64).astype(dtype)


def input_zeros(rng, dtype):
    return np.zeros(16, dtype), rng.standard_normal(16).astype(dtype)


def input_huge(rng, dtype):
    x = np.array([1000, -1000, 1e30, -1e30, 88.0, -88.0, 710.0, -710.0], dtype=dtype)
    return x, rng.standard_normal(x.size).astype(dtype)


def input_extremes(rng, dtype):
    x = extremes(dtype)
    return x, rng.permutation(x)  # extreme upstream gradients too, paired with other extremes


def input_one_element(rng, dtype):
    return np.array([0.7], dtype), np.array([-1.3], dtype)


def input_nan(rng, dtype):
    x = rng.standard_normal(8).astype(dtype)
    x[2] = np.nan
    dout = rng.standard_normal(8).astype(dtype)
    dout[5] = np.nan
    x[5] = -1.0  # a NaN upstream gradient at a point where relu is flat must still come out NaN
    return x, dout


INPUTS = {"random": input_random, "zeros": input_zeros, "huge": input_huge, "extremes": input_extremes,
          "one_element": input_one_element, "nan": input_nan}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_kernel_equals_reference(name, inputs, dtype):
    kernel, reference = ELEMENTWISE[name]
    x, dout = INPUTS[inputs](np.random.default_rng(0), dtype)
    with np.errstate(all="ignore"):  # the references overflow on purpose in the corner cases (exp(1000))
        want = reference(x.copy(), dout.copy())
        got = kernel(x.copy(), dout.copy())
    assert_agree(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_kernel_propagates_nan(name, dtype):
    """NaN in the forward input gives NaN out; NaN in the upstream gradient gives NaN in dx (not a silent 0)."""
    kernel, _ = ELEMENTWISE[name]
    x = np.array([-1.0, 0.5, 2.0], dtype)
    dout = np.ones(3, dtype)
    if name.endswith("_forward"):
        x[0] = np.nan
        assert np.isnan(kernel(x, dout)[0])
    else:
        dout[0] = np.nan  # x = -1 there: even where the derivative is 0 the NaN must come through
        assert np.isnan(kernel(x, dout)[0])
    assert np.isfinite(kernel(x, dout)[1:]).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_elementwise_kernels_keep_huge_values_finite(dtype):
    """The overflow-free forms: sigmoid and softplus at +/-1000 and +/-1e30 give the exact limits, no inf or NaN."""
    x = np.array([1000, -1000, 1e30, -1e30], dtype)
    np.testing.assert_array_equal(K.sigmoid_forward(x, np.empty_like(x)), np.array([1, 0, 1, 0], dtype))
    np.testing.assert_array_equal(K.softplus_forward(x, np.empty_like(x)), np.array([1000, 0, 1e30, 0], dtype))
    np.testing.assert_array_equal(K.softplus_backward(x, np.ones_like(x), np.empty_like(x)), [1, 0, 1, 0])


# ----------------------------------------------------------------------------------------------------------------------
# column_sum: the bias gradient.
# ----------------------------------------------------------------------------------------------------------------------


def matrix_cases(rng, dtype):
    """(N, M) arrays: random, zeros, one row, one element, huge, extremes (one per row), NaN."""
    huge = np.array([[1000, -1000, 1e30], [-1e30, 1000, 1e30], [1.0, -1000, -1e30]], dtype)
    nan = rng.standard_normal((4, 3)).astype(dtype)
    nan[2, 1] = np.nan
    return {
        "random": rng.standard_normal((13, 5)).astype(dtype),
        "zeros": np.zeros((4, 3), dtype),
        "one_row": rng.standard_normal((1, 6)).astype(dtype),
        "one_element": np.array([[-2.5]], dtype),
        "huge": huge,
        "extremes": extremes(dtype).reshape(-1, 1) * np.ones((1, 2), dtype),
        "nan": nan,
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_column_sum_equals_reference(dtype):
    for case, dout in matrix_cases(np.random.default_rng(1), dtype).items():
        out = np.full(dout.shape[1], 123.0, dtype)  # garbage first: the kernel must overwrite, not accumulate
        with np.errstate(all="ignore"):
            want = K.column_sum_reference(dout)
        K.column_sum(dout, out)
        assert_agree(out, want, dtype)
        if case == "nan":
            assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()


# ----------------------------------------------------------------------------------------------------------------------
# scatter_add_rows: the embedding's gradient.
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_scatter_add_rows_equals_reference(dtype):
    """Repeated ids add up, ids never used get 0 (the kernel overwrites, never accumulates into old values), NaN and
    huge rows reach exactly their own id."""
    rng = np.random.default_rng(4)
    huge = np.array([[1e30, -1000.0], [1e30, 1000.0], [-1e30, 0.0]], dtype)
    nan = rng.standard_normal((5, 3)).astype(dtype)
    nan[3, 1] = np.nan
    cases = {
        "random": (rng.integers(0, 6, 40), rng.standard_normal((40, 4)).astype(dtype), 9),  # ids 6..8 unused
        "one_row": (np.array([2]), rng.standard_normal((1, 5)).astype(dtype), 3),
        "all_one_id": (np.zeros(7, np.int64), rng.standard_normal((7, 2)).astype(dtype), 2),
        "huge": (np.array([0, 0, 1]), huge, 2),
        "nan": (np.array([0, 1, 2, 1, 0]), nan, 4),
        "int32_ids": (rng.integers(0, 3, 10).astype(np.int32), rng.standard_normal((10, 3)).astype(dtype), 3),
    }
    for case, (ids, rows, n_out) in cases.items():
        out = np.full((n_out, rows.shape[1]), 123.0, dtype)  # garbage first
        with np.errstate(all="ignore"):
            want = K.scatter_add_rows_reference(ids, rows, n_out)
        K.scatter_add_rows(ids, rows, out)
        assert_agree(out, want, dtype)
        if case == "nan":
            assert np.isnan(out[1, 1]) and np.isfinite(np.delete(out.reshape(-1), 1 * 3 + 1)).all()


# ----------------------------------------------------------------------------------------------------------------------
# Bernoulli negative log-likelihood from logits.
# ----------------------------------------------------------------------------------------------------------------------


def bernoulli_formula(logits, x, scale):
    """The loss as the textbook writes it, in plain NumPy: (nll per example (N,), scale * (sigma(logits) - x))."""
    nll = (np.maximum(logits, 0) - x * logits + np.log1p(np.exp(-np.abs(logits)))).sum(axis=1)
    return nll, scale * (K.sigmoid_reference(logits) - x)


def bernoulli_both(logits, x):
    """(the library's losses.bernoulli_nll, which runs the kernel; the formula) with scale = 1/N."""
    scale = logits.dtype.type(1.0 / len(logits))
    with np.errstate(all="ignore"):
        return losses.bernoulli_nll(logits, x), bernoulli_formula(logits, x, scale)


def bernoulli_cases(rng, dtype):
    """(logits, x) pairs: random with grey and binary x, zero logits, huge and extreme logits, tiny sizes."""
    big = np.array([[1000, -1000, 1000, -1000, 1e30, -1e30, 1e30]], dtype)
    fi = np.finfo(dtype)
    return {
        "random_grey": (4 * rng.standard_normal((6, 9)).astype(dtype), rng.random((6, 9)).astype(dtype)),
        "random_binary": (4 * rng.standard_normal((6, 9)).astype(dtype),
                          (rng.random((6, 9)) < 0.3).astype(dtype)),
        "zero_logits": (np.zeros((3, 5), dtype), rng.random((3, 5)).astype(dtype)),
        "huge": (np.repeat(big, 3, axis=0), np.array([[0, 1, 1, 0, 0, 1, 0.5]] * 2 + [[0.5] * 7], dtype)),
        "extremes": (np.array([[fi.max, -fi.max, fi.tiny, -fi.tiny]], dtype), np.array([[1, 0, 1, 0]], dtype)),
        "one_element": (np.array([[0.3]], dtype), np.array([[1.0]], dtype)),
        "one_row": (rng.standard_normal((1, 9)).astype(dtype), rng.random((1, 9)).astype(dtype)),
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", ["random_grey", "random_binary", "zero_logits", "huge", "extremes", "one_element",
                                  "one_row"])
def test_bernoulli_nll_equals_reference(case, dtype):
    logits, x = bernoulli_cases(np.random.default_rng(2), dtype)[case]
    (nll, dlogits), (nll_ref, dlogits_ref) = bernoulli_both(logits, x)
    assert_agree(nll, nll_ref, dtype)
    assert_agree(dlogits, dlogits_ref, dtype)
    if case != "extremes":  # fi.max minus x * fi.max is finite, but the row sum of two of them may overflow
        assert np.isfinite(nll).all() and np.isfinite(dlogits).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_bernoulli_nll_is_exact_at_logits_of_1000(dtype):
    """softplus(l) - x l at l = +/-1000 is exactly 1000 (confidently wrong) or 0 (confidently right), per entry.

    A naive -x log(sigmoid(l)) - (1 - x) log(1 - sigmoid(l)) gives inf or NaN here (log(0), and 0 * inf).
    """
    d = 5
    wrong = (np.array([[1000.0] * d, [-1000.0] * d], dtype), np.array([[0.0] * d, [1.0] * d], dtype))
    right = (np.array([[1000.0] * d, [-1000.0] * d], dtype), np.array([[1.0] * d, [0.0] * d], dtype))
    for (logits, x), nats, grad in [(wrong, 1000.0 * d, [1.0, -1.0]), (right, 0.0, [0.0, 0.0])]:
        (nll, dlogits), (nll_ref, dlogits_ref) = bernoulli_both(logits, x)
        for n_, g_ in [(nll, dlogits), (nll_ref, dlogits_ref), losses.bernoulli_nll(logits, x)]:
            np.testing.assert_array_equal(n_, np.array([nats, nats], dtype))
            # gradient of the batch mean: (sigmoid(l) - x) / N with N = 2 rows
            np.testing.assert_array_equal(g_, np.array(grad, dtype)[:, None] / 2 * np.ones((1, d), dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_bernoulli_nll_propagates_nan(dtype):
    """A NaN logit or target makes that example's loss NaN and leaves the other examples alone."""
    rng = np.random.default_rng(3)
    for where in ("logits", "x"):
        logits, x = rng.standard_normal((3, 4)).astype(dtype), rng.random((3, 4)).astype(dtype)
        (logits if where == "logits" else x)[1, 2] = np.nan
        (nll, dlogits), (nll_ref, dlogits_ref) = bernoulli_both(logits, x)
        assert_agree(nll, nll_ref, dtype)
        assert_agree(dlogits, dlogits_ref, dtype)
        assert np.isnan(nll[1]) and np.isfinite(nll[[0, 2]]).all()
        assert np.isnan(dlogits[1, 2]) and np.isnan(dlogits).sum() == 1


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", ["random_grey", "random_binary", "zero_logits", "huge", "extremes", "one_element",
                                  "one_row", "nan"])
def test_bernoulli_nll_parts_equals_reference(case, dtype):
    """The fast path's kernel: given e = exp(-|l|) from NumPy, the per-entry loss and the gradient."""
    rng = np.random.default_rng(7)
    if case == "nan":
        logits, x = rng.standard_normal((3, 4)).astype(dtype), rng.random((3, 4)).astype(dtype)
        logits[1, 2], x[2, 0] = np.nan, np.nan
    else:
        logits, x = bernoulli_cases(rng, dtype)[case]
    scale = dtype(1.0 / len(logits))
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(logits))
        want = K.bernoulli_nll_parts_reference(logits, x, e, scale)
        got = np.empty_like(logits), np.empty_like(logits)
        K.bernoulli_nll_parts(logits.reshape(-1), x.reshape(-1), e.reshape(-1), scale,
                              got[0].reshape(-1), got[1].reshape(-1))
        # and the parts add up to the textbook loss
        nll_ref, dlogits_ref = bernoulli_formula(logits, x, scale)
    for a, b in zip(got, want):
        assert_agree(a, b, dtype)
    assert_agree(got[0].sum(axis=1), nll_ref, dtype, overflow=case == "extremes")
    assert_agree(got[1], dlogits_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_bernoulli_nll_parts_takes_log1p_within_3_ulps(dtype):
    """With x = 0 and l < 0 an entry's loss is log1p(e) alone, e = exp(l). The kernel's series must give log1p(e)
    within 3 ulps for every e from 1 (l = 0, the series' slowest case) down to where e underflows, including
    the e for which 1 + e rounds to 1 (where log(1 + e) would say 0); so must the library's loss, row by row."""
    fi = np.finfo(dtype)
    logits = -np.concatenate([np.linspace(0, 1, 2000), np.geomspace(1, 80 if dtype == np.float32 else 700, 2000)])
    logits = logits.astype(dtype).reshape(40, 100)
    x = np.zeros_like(logits)
    e = np.exp(-np.abs(logits))
    assert (1 + e == 1).sum() > 500  # the rounding that log(1 + e) would suffer does happen here
    want = np.log1p(e.astype(np.longdouble))
    got = np.empty_like(logits), np.empty_like(logits)
    K.bernoulli_nll_parts(logits.reshape(-1), x.reshape(-1), e.reshape(-1), dtype(1), got[0].reshape(-1),
                          got[1].reshape(-1))
    ulps = np.abs(got[0].astype(np.longdouble) - want) / np.spacing(want.astype(dtype)).astype(np.longdouble)
    assert ulps.max() <= 3, ulps.max()
    nll, _ = losses.bernoulli_nll(logits, x)
    np.testing.assert_allclose(nll, want.sum(axis=1).astype(dtype), rtol=8 * fi.eps)


# ----------------------------------------------------------------------------------------------------------------------
# Log-sum-exp of rows.
# ----------------------------------------------------------------------------------------------------------------------


def logsumexp_rows_cases(rng):
    """Rows spread over 0 to 2,000 nats (many terms below the kernel's cut at 50), near +/-1e300, of one entry,
    with -inf entries, all -inf, with +inf, with NaN (first, in the middle, beside +inf)."""
    spread = rng.uniform(-2000, 0, (6, 300)) + rng.uniform(-1000, 1000, (6, 1))
    close = rng.normal(0, 3, (4, 300))  # every term counts
    odd = np.zeros((7, 5))
    odd[0] = [-np.inf, 1.0, -np.inf, 2.0, -np.inf]
    odd[1] = -np.inf
    odd[2] = [1.0, np.inf, 3.0, -np.inf, 0.0]
    odd[3] = [np.nan, 1.0, 2.0, 3.0, 4.0]
    odd[4] = [1.0, 2.0, np.nan, 3.0, 4.0]
    odd[5] = [np.inf, np.nan, 1.0, 1.0, 1.0]
    odd[6] = [1e300, 1e300, -1e300, 0.0, 1e300]
    return {"spread": spread, "close": close, "one_column": rng.normal(size=(5, 1)), "odd": odd}


@pytest.mark.parametrize("case", ["spread", "close", "one_column", "odd"])
def test_logsumexp_rows_equals_reference(case):
    """The kernel skips the terms 50 below their row's largest: no difference a float64 sum can show."""
    a = logsumexp_rows_cases(np.random.default_rng(5))[case]
    with np.errstate(all="ignore"):
        want = K.logsumexp_rows_reference(a)
        got = K.logsumexp_rows(a, np.empty(len(a)))
    assert_agree(got, want, np.float64)
    if case == "spread":
        assert ((a - a.max(axis=1, keepdims=True)) < -50).mean() > 0.9  # the cut was taken, and changed nothing
    if case == "odd":
        assert np.isnan(got[[3, 4, 5]]).all() and got[1] == -np.inf and got[2] == np.inf


# ----------------------------------------------------------------------------------------------------------------------
# Adam update.
# ----------------------------------------------------------------------------------------------------------------------


def adam_both(p, grads, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, l2=0.0, decoupled=0.0):
    """Run the kernel and the reference for len(grads) steps from the same p; return both (p, m, v)."""
    kp, km, kv = p.copy(), np.zeros_like(p), np.zeros_like(p)
    rp, rm, rv = p.copy(), np.zeros_like(p), np.zeros_like(p)
    with np.errstate(all="ignore"):
        for t, g in enumerate(grads, start=1):
            K.adam_update(kp, g, km, kv, lr, beta1, beta2, eps, t, l2, decoupled)
            K.adam_update_reference(rp, g, rm, rv, lr, beta1, beta2, eps, t, l2, decoupled)
    return (kp, km, kv), (rp, rm, rv)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("decay", [{}, {"l2": 0.1}, {"decoupled": 0.1}, {"l2": 0.05, "decoupled": 0.02}],
                         ids=["no_decay", "l2", "decoupled", "both"])
def test_adam_update_equals_reference_over_several_steps(dtype, decay):
    rng = np.random.default_rng(6)
    p = rng.standard_normal(50).astype(dtype)
    grads = [rng.standard_normal(50).astype(dtype) * s for s in (1.0, 0.1, 3.0, 1e-3, 1.0)]
    got, want = adam_both(p, grads, **decay)
    for a, b in zip(got, want):
        assert_agree(a, b, dtype)
    assert not np.array_equal(got[0], p)  # it did move


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_adam_update_corner_cases(dtype):
    fi = np.finfo(dtype)
    p = np.array([0.5, -2.0, 3.0, 1.0, 0.0, 7.0], dtype)
    # Zero, huge, tiny and subnormal gradients, and one so large that (1 - b2) g^2 overflows (v = inf: step 0).
    # Not fi.max or sqrt(fi.max): near the top of the range the reference's m / (1 - b1^t) or v / (1 - b2^t) can
    # overflow where the kernel's rearranged form does not, and then they disagree without either being wrong.
    overflowing = 1e200 if dtype is np.float64 else 1e35
    g = np.array([0.0, 1e30, -1e30, overflowing, fi.tiny, np.nextafter(dtype(0), dtype(1))], dtype)
    got, want = adam_both(p, [g, g, g])
    for a, b in zip(got, want):
        assert_agree(a, b, dtype)
    assert got[0][0] == p[0]  # a zero gradient leaves the parameter exactly where it was
    # one element
    got, want = adam_both(np.array([1.5], dtype), [np.array([-0.2], dtype)] * 2)
    for a, b in zip(got, want):
        assert_agree(a, b, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_adam_update_propagates_nan(dtype):
    p = np.array([1.0, 2.0, 3.0], dtype)
    g = np.array([0.1, np.nan, -0.2], dtype)
    (kp, km, kv), (rp, rm, rv) = adam_both(p, [g])
    for a, b in [(kp, rp), (km, rm), (kv, rv)]:
        assert_agree(a, b, dtype)
        assert np.isnan(a[1]) and np.isfinite(a[[0, 2]]).all()


# ----------------------------------------------------------------------------------------------------------------------
# The GRU and LSTM steps (minivae.nn.recurrent_kernels): each kernel against its twin, forward and backward, on
# batches with masked rows, one row of one unit, saturated gates (pre-activations of +/-50 and +/-1000) and NaN.
# ----------------------------------------------------------------------------------------------------------------------

GATES = {"gru": 3, "lstm": 4}  # gate blocks


def step_inputs(cell, rng, dtype, n=6, h=5, scale=1.0, mask=None):
    """Everything one forward and one backward step read, as the layers hand them over: gi, gh (n, G h), b_hh,
    h_prev (and c_prev), mask; dout, rec and the carries for backward. scale multiplies the pre-activations."""
    arr = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    G = GATES[cell]
    fwd = dict(gi=(scale * arr(n, G * h)).astype(dtype), gh=(scale * arr(n, G * h)).astype(dtype), b_hh=arr(G * h),
               h_prev=np.tanh(arr(n, h)))
    bwd = dict(dout=arr(n, h), rec=arr(n, h))
    if cell == "gru":
        bwd["carry"] = arr(n, h)
    else:
        fwd["c_prev"] = arr(n, h)
        bwd.update(carry_h=arr(n, h), carry_c=arr(n, h))
    fwd["mask"] = np.array([True, False] * n)[:n] if mask is None else np.asarray(mask, bool)
    return fwd, bwd


def step_both(cell, fwd, bwd, dtype):
    """Run the forward and backward kernels and their twins on the same inputs (the backward step reads the gates
    that the reference forward step kept); returns ({name: kernel's array}, {name: twin's array})."""
    n, h = fwd["h_prev"].shape
    garbage = lambda width: np.full((n, width), 123.0, dtype)  # noqa: E731  (the kernels must overwrite it)
    with np.errstate(all="ignore"):
        if cell == "gru":
            names_f, names_b = ["h", "out", "gates"], ["dgi", "dgh", "carry"]
            want = RK.gru_forward_step_reference(**fwd)
            got = (garbage(h), garbage(h), garbage(4 * h))
            RK.gru_forward_step(*fwd.values(), *got)
            gates = want[2]
            want += RK.gru_backward_step_reference(bwd["dout"], bwd["rec"], bwd["carry"], gates, fwd["h_prev"],
                                                   fwd["mask"])
            back = (garbage(3 * h), garbage(3 * h), bwd["carry"].copy())
            RK.gru_backward_step(bwd["dout"], bwd["rec"], back[2], gates, fwd["h_prev"], fwd["mask"], *back[:2])
        else:
            names_f, names_b = ["h", "c", "out", "gates"], ["da", "carry_h", "carry_c"]
            want = RK.lstm_forward_step_reference(**fwd)
            got = (garbage(h), garbage(h), garbage(h), garbage(5 * h))
            RK.lstm_forward_step(*fwd.values(), *got)
            gates = want[3]
            want += RK.lstm_backward_step_reference(bwd["dout"], bwd["rec"], bwd["carry_h"], bwd["carry_c"], gates,
                                                    fwd["c_prev"], fwd["mask"])
            back = (garbage(4 * h), bwd["carry_h"].copy(), bwd["carry_c"].copy())
            RK.lstm_backward_step(bwd["dout"], bwd["rec"], back[1], back[2], gates, fwd["c_prev"], fwd["mask"],
                                  back[0])
    names = names_f + names_b
    return dict(zip(names, got + back)), dict(zip(names, want))


STEP_CASES = {
    "random": dict(),
    "all_real": dict(mask=[True] * 6),
    "all_padding": dict(mask=[False] * 6),
    "one_row_one_unit": dict(n=1, h=1, mask=[True]),
    "one_row_padding": dict(n=1, h=3, mask=[False]),
    "saturated_50": dict(scale=50.0),
    "saturated_1000": dict(scale=1000.0),
    "tiny_preactivations": dict(scale=1e-7),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", STEP_CASES)
@pytest.mark.parametrize("cell", GATES)
def test_recurrent_step_kernels_equal_reference(cell, case, dtype):
    fwd, bwd = step_inputs(cell, np.random.default_rng(8), dtype, **STEP_CASES[case])
    got, want = step_both(cell, fwd, bwd, dtype)
    for name in want:
        assert_agree(got[name], want[name], dtype)
    pad = ~fwd["mask"]
    np.testing.assert_array_equal(got["h"][pad], fwd["h_prev"][pad])  # the state goes through padding unchanged
    if cell == "lstm":
        np.testing.assert_array_equal(got["c"][pad], fwd["c_prev"][pad])
    gradients = ["dgi", "dgh"] if cell == "gru" else ["da"]
    assert not any(got[name][pad].any() for name in ["out", "gates"] + gradients)
    if case.startswith("saturated"):  # gates of exactly 0 or 1, nothing overflows
        assert np.isfinite(got["h"]).all() and np.abs(got["h"]).max() <= 1
        assert all(np.isfinite(got[name]).all() for name in gradients)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("cell", GATES)
def test_recurrent_step_kernels_propagate_nan(cell, dtype):
    """A NaN input of a real row makes that row's state NaN, and a NaN upstream gradient of a real row that row's
    gradients NaN; the other rows stay finite. A padded row does not read its input or upstream gradient."""
    fwd, bwd = step_inputs(cell, np.random.default_rng(9), dtype, n=4, h=3, mask=[True, True, False, True])
    fwd["gi"][1, 4] = np.nan  # row 1, a unit of the second gate
    fwd["gi"][2, 0] = np.nan  # row 2 is padding
    bwd["dout"][3, 2] = np.nan
    bwd["dout"][2, 1] = np.nan  # padding: not read
    got, want = step_both(cell, fwd, bwd, dtype)
    for name in want:
        assert_agree(got[name], want[name], dtype)
    grad, carry = ("dgi", "carry") if cell == "gru" else ("da", "carry_c")
    assert np.isnan(got["h"][1]).any() and np.isfinite(got["h"][[0, 2, 3]]).all()
    assert np.isnan(got[grad][3]).any() and np.isnan(got[carry][3]).any()
    assert np.isfinite(got[carry][2]).all() and np.isfinite(got[grad][[0, 2]]).all()


@numba.njit(cache=False)
def _exp_parts_loop(v, exp, expm1, sig, tnh):
    """Calls the private helpers of the GRU kernels, as the kernels do (jitted, so the float32 or float64 version
    is chosen by type), on every entry of v."""
    one = v.dtype.type(1)
    for i in range(v.size):
        scale, p = RK._exp_parts(-abs(v[i]))
        exp[i] = scale + scale * p
        expm1[i] = (scale - one) + scale * p
        sig[i] = RK._sigmoid(v[i], one)
        tnh[i] = RK._tanh(v[i], one)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_the_arithmetic_exp_sigmoid_and_tanh_are_within_3_ulp(dtype):
    """exp(-|v|), expm1(-|v|), sigma(v) and tanh(v) of the GRU kernels against np.exp, np.expm1, the sigmoid twin
    and np.tanh computed in float64, in units in the last place (ulp) of dtype, over the whole range (tiny, ordinary,
    near the underflow limit, +/-inf, NaN). Measured on a sweep ten times denser: exp and expm1 within 1.2 ulp,
    sigmoid within 2, tanh within 2.5 (float32) and 3 (float64)."""
    fi = np.finfo(dtype)
    lo = 87.0 if dtype is np.float32 else 708.0
    v = np.concatenate([np.linspace(-lo, lo, 20001), np.geomspace(1e-30, 1, 2001), -np.geomspace(1e-30, 1, 2001),
                        [0.0, -0.0, fi.tiny, 1e-45 if dtype is np.float32 else 5e-324]]).astype(dtype)
    got = [np.empty_like(v) for _ in range(4)]
    _exp_parts_loop(v, *got)
    x = -np.abs(v.astype(np.float64))
    want = [np.exp(x), np.expm1(x), K.sigmoid_reference(v.astype(np.float64)), np.tanh(v.astype(np.float64))]
    for name, g, w in zip(["exp", "expm1", "sigmoid", "tanh"], got, want):
        normal = np.abs(w) >= fi.tiny  # below it the helpers flush to 0 (documented); compare in absolute terms
        ulps = np.abs(g[normal] - w[normal]) / np.spacing(np.abs(w[normal]).astype(dtype))
        assert ulps.max() <= 3, f"{name}: {ulps.max():.1f} ulp at v = {v[normal][ulps.argmax()]}"
        assert np.abs(g[~normal] - w[~normal]).max(initial=0) <= fi.tiny
    special = np.array([np.inf, -np.inf, np.nan], dtype)
    out = [np.empty_like(special) for _ in range(4)]
    _exp_parts_loop(special, *out)
    np.testing.assert_array_equal(out[0], [0, 0, np.nan])  # exp(-inf) = 0
    np.testing.assert_array_equal(out[1], [-1, -1, np.nan])
    np.testing.assert_array_equal(out[2], [1, 0, np.nan])
    np.testing.assert_array_equal(out[3], [1, -1, np.nan])


# ----------------------------------------------------------------------------------------------------------------------
# The debugging mode: NUMBA_DISABLE_JIT=1 turns the kernels into Python loops; they must still agree.
# ----------------------------------------------------------------------------------------------------------------------


def test_disable_jit_mode_passes_this_file():
    if numba.config.DISABLE_JIT:
        pytest.skip("already running without the JIT")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    cmd = [sys.executable, "-m", "pytest", str(Path(__file__).resolve()), "-q", "-x", "-p", "no:cacheprovider",
           "-k", "not disable_jit"]
    result = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
