"""Gradient checking by central finite differences.

A hand-written backward pass is only trusted once it agrees with the definition of the derivative. For a scalar
function f and each entry x_i,

    df/dx_i  ~=  (f(x + h e_i) - f(x - h e_i)) / (2h),

with an error of order h^2 (the first-order terms cancel; a one-sided difference would only reach order h). In
float64 with h = 1e-6 the truncation error (~h^2) and the rounding error (~1e-16 / h) are both far below 1e-8, so a
correct gradient agrees to about 1e-8 or better; a wrong one (a sign, a factor 2, a missing 1/N) is off by 1e-1 or
more. Always check in float64: in float32 the rounding error alone is about 1e-7 / h.

For a function with an array output y = f(x), we check the vector-Jacobian product that backward computes,
dx = J^T dout, through the scalar function g(x) = sum(f(x) * dout). The upstream gradient dout is *random*:
with dout = ones, errors that cancel in the sum over outputs (a gradient routed to the wrong output column, a
transposed weight with equal sums) would go unseen, and a structured dout (zeros here and there) can hide whole
rows. A random dout weighs every output differently, so each Jacobian entry matters.

``rel_error`` measures agreement relative to the size of the gradient as a whole:
max|a - b| / max(max|a|, max|b|). The entry-by-entry form |a - b| / (|a| + |b|) is popular but misleading: an entry
whose true value is 1e-12 carries finite-difference noise of the same size and would report a huge "error".
"""
import numpy as np


def rel_error(a, b):
    """max|a - b| / max(max|a|, max|b|); 0 when both are all zeros.

    >>> round(rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.000001])), 9)
    5e-07
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


def numerical_gradient(f, x, h=1e-6, indices=None):
    """Central-difference gradient of the scalar function f() with respect to the array x, perturbed in place.

    f takes no argument: it reads x (and whatever else it closes over) and returns a float. x is restored exactly
    after each perturbation. ``indices``: an optional list of flat indices to check (the rest of the result is 0);
    checking a random subset makes the check affordable for large arrays.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 arrays, got {x.dtype}; build the model with dtype=np.float64")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")
    for i in range(flat.size) if indices is None else indices:
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_vjp(f, x, dout, h=1e-6):
    """Central-difference vector-Jacobian product: the gradient of sum(f() * dout) with respect to x."""
    return numerical_gradient(lambda: float(np.sum(f() * dout)), x, h)


def check_layer(layer, x, rng, h=1e-6):
    """Compare a layer's backward pass with finite differences; return {"x": err, "<param>": err, ...}.

    x : (N, D) float64 input. The upstream gradient is random (see the module docstring).
    """
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {"x": dx, **{k: g.copy() for k, g in layer.grads.items()}}
    errors = {"x": rel_error(dx, numerical_vjp(lambda: layer.forward(x), x, dout, h))}
    for k, p in layer.params.items():
        errors[k] = rel_error(analytic[k], numerical_vjp(lambda: layer.forward(x), p, dout, h))
    return errors


def check_model(model, loss_fn, h=1e-6, max_entries=None, rng=None):
    """Compare every parameter gradient of a model with finite differences; return {param_name: rel_error}.

    loss_fn() must run ``model.loss_and_gradients(...)`` on fixed data with *frozen* noise (pass eps, not rng) and
    return the loss as a float. ``max_entries``: check at most this many random entries per parameter array (the
    others are compared as well, but only where they were checked).
    """
    loss_fn()
    analytic = {k: g.copy() for k, g in model.grads.items()}
    errors = {}
    for k, p in model.params.items():
        idx = None
        if max_entries is not None and p.size > max_entries:
            idx = (rng or np.random.default_rng(0)).choice(p.size, size=max_entries, replace=False)
        num = numerical_gradient(loss_fn, p, h, idx)
        a = analytic[k]
        if idx is not None:
            num, a = num.reshape(-1)[idx], a.reshape(-1)[idx]
        errors[k] = rel_error(a, num)
    return errors
