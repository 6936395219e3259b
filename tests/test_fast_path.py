"""The fast path computes what the readable path computes.

minivae's training step is tuned for speed (vectorised Numba kernels, NumPy's SIMD exp and log for the Bernoulli loss,
no input gradient for the encoder's first layer). The plain-NumPy VAE of ``minivae/start_here.py`` is the readable
version of the same step: a student's float32 NumPy, one expression per formula. Trained from the same parameters on
the same data with the same noise, the two must end with the same parameters:

* in float64 to ~1e-16 (rtol 1e-12): the same arithmetic, in another order here and there;
* in float32 up to float32 rounding (rtol 2e-6, about 16 units in the last place; they agree to ~3e-7 in practice).

Also here: the same seed gives bit-identical training, outputs handed to the user are never overwritten later,
``Sequential.backward(input_grad=False)`` gives the same parameter gradients, the speed-critical kernels stay
vectorised, and all of it still works with NUMBA_DISABLE_JIT=1.
"""
import os
import platform
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from minivae import Adam, VAE
from minivae.datasets import load_mnist_test_10k
from minivae.nn import kernels, losses
from minivae.nn.layers import MLP
from minivae.start_here import PlainNumpyVAE

RTOL = {np.float64: 1e-12, np.float32: 2e-6}


@pytest.fixture(scope="module")
def digits():
    return load_mnist_test_10k().x_train[:256]  # (256, 784) float32 in [0, 1]


def train_both(x_all, dtype, steps, hidden=48, latent=6, batch=32, lr=1e-3):
    """minivae and the baseline, from minivae's initial parameters, on the same batches and noise."""
    model = VAE(784, latent_dim=latent, hidden=(hidden,), seed=0, dtype=dtype)
    opt = Adam(lr=lr)
    base = PlainNumpyVAE({k: p.copy() for k, p in model.params.items()}, lr=lr)
    rng = np.random.default_rng(1)
    losses_ = []
    for s in range(steps):
        start = (s * batch) % (len(x_all) - batch + 1)
        x = x_all[start:start + batch].astype(dtype)
        eps = rng.standard_normal((batch, latent)).astype(dtype)
        terms = model.loss_and_gradients(x, eps=eps)
        opt.step(model.params, model.grads)
        losses_.append((terms.loss, base.step(x, eps)))
    return model, base, np.array(losses_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_training_equals_the_plain_numpy_baseline(digits, dtype):
    model, base, loss_pairs = train_both(digits, dtype, steps=12)
    for key, p in model.params.items():
        q = base.params[key]
        assert p.dtype == q.dtype == np.dtype(dtype)
        err = np.abs(p - q).max() / np.abs(p).max()
        assert err < RTOL[dtype], f"{key}: relative difference {err:.2g} after 12 steps"
    np.testing.assert_allclose(loss_pairs[:, 0], loss_pairs[:, 1], rtol=RTOL[dtype])
    assert loss_pairs[-1, 0] < loss_pairs[0, 0]  # and it did train


def test_same_seed_same_bits(digits):
    """Two runs with the same seed and data end bit-identical: no reduction depends on thread scheduling."""
    runs = []
    for _ in range(2):
        model = VAE(784, latent_dim=4, hidden=(32,), seed=3)
        opt, rng = Adam(lr=1e-3), np.random.default_rng(5)
        for s in range(5):
            model.loss_and_gradients(digits[32 * s:32 * s + 32], rng=rng)
            opt.step(model.params, model.grads)
        runs.append(model.params)
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key], err_msg=key)


def test_returned_arrays_are_never_overwritten(digits):
    """encode, decode, reconstruct and elbo return arrays that later calls (or training) do not change."""
    model, opt = VAE(784, latent_dim=4, hidden=(32,)), Adam()
    x1, x2 = digits[:16], digits[16:32]
    mu, logvar = model.encode(x1)
    rec, dec = model.reconstruct(x1), model.decode(mu)
    elbo = model.elbo(x1).elbo
    kept = [a.copy() for a in (mu, logvar, rec, dec, elbo)]
    model.encode(x2)
    model.reconstruct(x2)
    model.decode(mu[::-1].copy())
    model.elbo(x2)
    model.loss_and_gradients(x2, rng=np.random.default_rng(0))
    for a, b in zip((mu, logvar, rec, dec, elbo), kept):
        np.testing.assert_array_equal(a, b)
    # and the training step itself did not write into them either (only opt.step changes the model)
    opt.step(model.params, model.grads)
    for a, b in zip((mu, logvar, rec, dec, elbo), kept):
        np.testing.assert_array_equal(a, b)


def test_backward_without_input_gradient_gives_the_same_parameter_gradients():
    rng = np.random.default_rng(0)
    net = MLP([7, 5, 3], rng=rng, dtype=np.float64)
    x, dout = rng.standard_normal((4, 7)), rng.standard_normal((4, 3))
    net.forward(x)
    dx = net.backward(dout)
    full = {k: g.copy() for k, g in net.grads.items()}
    for g in net.grads.values():
        g[...] = np.nan  # backward overwrites grads; NaN shows anything it would leave out
    net.forward(x)
    assert net.backward(dout, input_grad=False) is None
    assert dx.shape == x.shape
    for k in full:
        np.testing.assert_array_equal(net.grads[k], full[k], err_msg=k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bernoulli_loss_takes_any_layout(dtype):
    """The fast Bernoulli loss flattens its inputs; non-contiguous views must give the reference's numbers."""
    rng = np.random.default_rng(2)
    logits = (4 * rng.standard_normal((9, 6))).astype(dtype).T  # a transposed view, (6, 9)
    x = rng.random((12, 9)).astype(dtype)[::2]  # every other row, (6, 9)
    nll, dlogits = losses.bernoulli_nll(logits, x)
    e = np.exp(-np.abs(logits))
    nll_ref = (np.maximum(logits, 0) - x * logits + np.log1p(e)).sum(axis=1)  # the formula, in plain NumPy
    dlogits_ref = (np.where(logits >= 0, 1, e) / (1 + e) - x) / 6
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(nll, nll_ref, **tol)
    np.testing.assert_allclose(dlogits, dlogits_ref, **tol)
    with pytest.raises(ValueError, match="shape"):
        losses.bernoulli_nll(logits, x[:3])


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no machine code without the JIT")
@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="checks x86 instructions")
def test_speed_critical_kernels_are_vectorised():
    """Packed (vector) square roots and divisions in the float32 Adam and Bernoulli kernels.

    With Numba's default error model, a division raises ZeroDivisionError, and the test before each one keeps LLVM
    from vectorising the loop: the Adam update becomes ~12x slower. error_model="numpy" must stay.
    """
    f = np.float32
    p = np.ones(64, f)
    runs = {"adam_update": (p, p, p.copy(), p.copy(), 0.5, 0.5, 0.5, 0.5, 1, 0.5, 0.5),
            "bernoulli_nll_parts": (p, p, p, f(1), p.copy(), p.copy())}
    for name, ops in [("adam_update", ("sqrtps", "divps")), ("bernoulli_nll_parts", ("divps",))]:
        kernel = getattr(kernels, name)
        # code loaded from Numba's cache cannot be inspected: compile a fresh copy with the same options
        options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}  # njit implies nopython
        fresh = numba.njit(**options)(kernel.py_func)
        fresh(*runs[name])
        asm = "\n".join(fresh.inspect_asm().values())
        for op in ops:
            assert op in asm, f"{name}: no packed {op} (float32), so the loop is not vectorised"


def test_fast_path_without_the_jit():
    """NUMBA_DISABLE_JIT=1 (kernels as Python loops, for debugging) trains to the same numbers."""
    if numba.config.DISABLE_JIT:
        pytest.skip("already running without the JIT")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    cmd = [sys.executable, "-m", "pytest", str(Path(__file__).resolve()), "-q", "-x", "-p", "no:cacheprovider",
           "-k", "equals_the_plain_numpy_baseline_small or layout or overwritten"]
    result = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_training_equals_the_plain_numpy_baseline_small(digits, dtype):
    """The same comparison on a tiny model (a few seconds even without the JIT)."""
    model, base, loss_pairs = train_both(digits[:64], dtype, steps=3, hidden=8, latent=2, batch=8)
    for key, p in model.params.items():
        q = base.params[key]
        assert np.abs(p - q).max() / np.abs(p).max() < RTOL[dtype], key
    np.testing.assert_allclose(loss_pairs[:, 0], loss_pairs[:, 1], rtol=RTOL[dtype])
