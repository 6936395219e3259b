"""Numba-jitted hot loops, each next to the plain NumPy reference it must equal.

Why kernels at all? NumPy evaluates ``sigmoid(l) - x`` or an Adam update one operation at a time, allocating a
temporary array for each step. A jitted loop does the same arithmetic in one pass over memory with no temporaries.
Everything here is elementwise or a simple reduction; the matrix products stay in NumPy (BLAS is already fast).

Conventions
-----------
* ``name_reference(...)`` is the readable NumPy version; it returns new arrays.
* ``name(...)`` is the Numba kernel; it writes into ``out`` arrays that the caller allocates.
* Kernels take float32 or float64 arrays; scalar arguments must be passed with the array's dtype
  (``x.dtype.type(0.9)``), because mixing float64 scalars into a float32 loop makes Numba promote and slows it.
* ``cache=True`` everywhere (a later process loads the compiled code from disk); ``fastmath`` nowhere, because
  NaN and infinity must propagate and be seen by the divergence guard.
* ``error_model="numpy"`` everywhere: a division by zero gives inf or NaN, as in NumPy, instead of raising
  ZeroDivisionError. Raising needs a test and a branch before every division, and that branch is what stops LLVM
  from vectorising a loop (computing 8 or 16 entries per instruction): with it, the Adam loop below runs on one
  entry at a time, about 12x slower. The results are the same IEEE arithmetic; only the error handling differs.
* Every loop is serial. A ``prange`` loop would start Numba's thread pool, which then competes for the cores with
  the BLAS threads of the matrix products; the serial loops are vectorised, bit-reproducible and fast enough.
* ``NUMBA_DISABLE_JIT=1`` turns every kernel into the plain Python loop it is written as: slow, but it runs, and the
  tests check that it gives the same answers.
* What Numba cannot vectorise are calls to exp and log: it has no vector versions of them (without Intel's SVML
  library), so each one costs a scalar library call. Where a hot loop needs them for every entry (the Bernoulli
  loss of the decoder output), the caller computes them with NumPy's ufuncs, which are vectorised, and hands them
  to the kernel (see ``bernoulli_nll_parts``). Not every ufunc is: on a CPU without AVX-512, NumPy's exp runs on
  vectors and its log1p one entry at a time (8x slower than exp on a 128 x 784 float32 array; with AVX-512 NumPy
  takes both from Intel's SVML), so the kernel computes log1p itself, from a series of multiplications and
  additions that LLVM vectorises on any CPU.

Check what LLVM made of a kernel with ``kernel.inspect_asm()``: vector instructions on packed floats (``vsqrtps``,
``vdivps``, ``ymm``/``zmm`` registers) mean the loop is vectorised, scalar ones (``vsqrtss``) mean it is not.

The tests in ``tests/test_kernels.py`` hold each pair equal on random and corner-case inputs.
"""
import numpy as np
from numba import njit

# ----------------------------------------------------------------------------------------------------------------------
# Activations. Forward kernels read x (flat, contiguous) and write out; backward kernels read what the forward pass
# cached (x or out) and the upstream gradient dout, and write dx.
# ----------------------------------------------------------------------------------------------------------------------


def relu_forward_reference(x):
    """relu(x) = max(x, 0)."""
    return np.maximum(x, 0)


def relu_backward_reference(x, dout):
    """d relu / dx = 1 where x > 0, else 0 (we take 0 at the kink)."""
    return dout * (x > 0)


@njit(cache=True, error_model="numpy")
def relu_forward(x, out):
    for i in range(x.size):
        # "0 if x <= 0 else x", not "x if x > 0 else 0": a NaN input must give NaN (as np.maximum does), not 0
        out[i] = 0 if x[i] <= 0 else x[i]
    return out


@njit(cache=True, error_model="numpy")
def relu_backward(x, dout, dx):
    for i in range(x.size):
        # 0 * dout rather than 0: a NaN or infinite upstream gradient stays visible, as in dout * (x > 0)
        dx[i] = dout[i] if x[i] > 0 else 0 * dout[i]
    return dx


def leaky_relu_forward_reference(x, alpha):
    """leaky_relu(x) = x if x > 0 else alpha * x."""
    return np.where(x > 0, x, alpha * x)


def leaky_relu_backward_reference(x, dout, alpha):
    """d leaky_relu / dx = 1 if x > 0 else alpha."""
    return np.where(x > 0, dout, alpha * dout)


@njit(cache=True, error_model="numpy")
def leaky_relu_forward(x, alpha, out):
    for i in range(x.size):
        out[i] = x[i] if x[i] > 0 else alpha * x[i]
    return out


@njit(cache=True, error_model="numpy")
def leaky_relu_backward(x, dout, alpha, dx):
    for i in range(x.size):
        dx[i] = dout[i] if x[i] > 0 else alpha * dout[i]
    return dx


# tanh has no forward kernel: the Tanh layer calls NumPy's np.tanh(x, out=out). NumPy's float32 tanh is a vectorised
# (SIMD) ufunc; a Numba loop can only call the scalar C library tanh for each entry (see the module docstring on exp
# and log). Measured on 3.2 million float32 entries: np.tanh about 1,000 million entries per second, the Numba loop
# about 27 million, so in a 784-200-200-50 tanh VAE the loop was 30% of a training epoch. In float64 both are the
# scalar library call.


def tanh_backward_reference(out, dout):
    """d tanh / dx = 1 - tanh(x)^2, written with the cached output."""
    return dout * (1 - out * out)


@njit(cache=True, error_model="numpy")
def tanh_backward(out, dout, dx):
    for i in range(out.size):
        dx[i] = dout[i] * (1 - out[i] * out[i])
    return dx


def sigmoid_reference(x):
    """sigma(x) = 1 / (1 + exp(-x)), evaluated without overflow for large |x|.

    For x >= 0 use 1 / (1 + exp(-x)); for x < 0 use exp(x) / (1 + exp(x)). Both only ever exponentiate a
    non-positive number, so exp never overflows.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward_reference(out, dout):
    """d sigma / dx = sigma(x) (1 - sigma(x)), written with the cached output."""
    return dout * out * (1 - out)


@njit(cache=True, error_model="numpy")
def _sigmoid_scalar(v):
    if v >= 0:
        return 1 / (1 + np.exp(-v))
    e = np.exp(v)
    return e / (1 + e)


@njit(cache=True, error_model="numpy")
def sigmoid_forward(x, out):
    for i in range(x.size):
        out[i] = _sigmoid_scalar(x[i])
    return out


@njit(cache=True, error_model="numpy")
def sigmoid_backward(out, dout, dx):
    for i in range(out.size):
        dx[i] = dout[i] * out[i] * (1 - out[i])
    return dx


def softplus_reference(x):
    """softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) (the second form never overflows)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_backward_reference(x, dout):
    """d softplus / dx = sigma(x)."""
    return dout * sigmoid_reference(x)


@njit(cache=True, error_model="numpy")
def _softplus_scalar(v):
    return max(v, 0) + np.log1p(np.exp(-abs(v)))


@njit(cache=True, error_model="numpy")
def softplus_forward(x, out):
    for i in range(x.size):
        out[i] = _softplus_scalar(x[i])
    return out


@njit(cache=True, error_model="numpy")
def softplus_backward(x, dout, dx):
    for i in range(x.size):
        dx[i] = dout[i] * _sigmoid_scalar(x[i])
    return dx


# ----------------------------------------------------------------------------------------------------------------------
# Bias gradient: the column sums of the upstream gradient, db_j = sum_n dout[n, j].
# ----------------------------------------------------------------------------------------------------------------------


def column_sum_reference(dout):
    """(N, M) -> (M,): sum over the batch axis."""
    return dout.sum(axis=0)


@njit(cache=True, error_model="numpy")
def column_sum(dout, out):
    """Row by row, so memory is read in order; out must be (M,) and is overwritten."""
    n, m = dout.shape
    for j in range(m):
        out[j] = 0
    for i in range(n):
        for j in range(m):
            out[j] += dout[i, j]
    return out


# ----------------------------------------------------------------------------------------------------------------------
# The gradient of a row lookup (minivae.nn.sequence.Embedding, out[k] = W[ids[k]]): each row of the upstream gradient
# is added to the row of W it was read from, dW[v] = sum_{k : ids[k] = v} dout[k]. np.add.at does this, but entry by
# entry through its general indexing machinery: measured with 1280 rows (64 sequences of 20 tokens), 100x slower than
# the loop below for rows of 64 into 30 ids, 16x for rows of 300 into 10,000 ids (where zeroing dW is most of the
# loop's time).
# ----------------------------------------------------------------------------------------------------------------------


def scatter_add_rows_reference(ids, rows, n_out):
    """ids (K,) ints in [0, n_out), rows (K, E) -> (n_out, E): the rows added up by id (0 for an id never seen)."""
    out = np.zeros((n_out, rows.shape[1]), rows.dtype)
    np.add.at(out, ids, rows)
    return out


@njit(cache=True, error_model="numpy")
def scatter_add_rows(ids, rows, out):
    """out (V, E) is overwritten: zeroed, then out[ids[k]] += rows[k] for k in order. ids must be in [0, V)."""
    out[:] = 0
    for k in range(ids.size):
        o, r = out[ids[k]], rows[k]
        for j in range(r.size):
            o[j] += r[j]
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Bernoulli negative log-likelihood from logits, with its gradient (the formula's home is minivae.nn.losses.bernoulli_nll,
# which calls this kernel):
#   nll_n = sum_d [ softplus(l_nd) - x_nd * l_nd ]           (= -log Bernoulli(x | sigma(l)), also for grey x in [0, 1])
#   d nll_n / d l_nd = sigma(l_nd) - x_nd
# softplus(l) - x l is written max(l, 0) - x l + log1p(exp(-|l|)): no log(0), no overflow, even at l = +/-1000.
# ----------------------------------------------------------------------------------------------------------------------

# The loss in parts, for speed. NumPy computes e = exp(-|l|) for every entry with its vectorised ufunc; the kernel
# does all the rest in one pass, and the row sums (the per-example nll) are NumPy's pairwise sums of the entries:
#   log1p(e) = 2 atanh(s) = 2 (s + s^3 / 3 + s^5 / 5 + ...),      s = e / (2 + e)  in [0, 1/3]
#   nll_nd   = max(l, 0) - x l + log1p(e)          (= softplus(l) - x l)
#   dlogits  = scale * (sigma(l) - x),   sigma(l) = 1 / (1 + e) if l >= 0 else e / (1 + e)
# Why the series: on a CPU without AVX-512, NumPy's log1p is not vectorised (a scalar call per entry, 1 ms of a 5 ms
# training step at 784-400-20, batch 128), and log(1 + e) would lose the digits of a small e where 1 + e rounds to 1
# (with AVX-512, NumPy's log1p is vectorised too; how the two compare there is not measured). The series has
# neither problem: it is multiplications and additions, and it never forms 1 + e. Since 1 + e = (1 + s) / (1 - s),
# log1p(e) = log(1 + s) - log(1 - s) = 2 atanh(s). With s^2 <= 1/9 the terms shrink ninefold each: after the 17
# taken here (through s^33 / 33) the rest is below 9^-17 / 35 = 1.7e-18 of the sum, under float64's rounding.
# Measured: within 3 ulps of log1p in float32 and in float64, over a million e in [0, 1] and down to 1e-300.
# The gradient does not use this term at all.
ATANH_TERMS = 17


def bernoulli_nll_parts_reference(logits, x, e, scale):
    """Returns (per-entry nll (N, D), scale * (sigma(logits) - x) (N, D)), given e = exp(-|logits|)."""
    nll_entries = np.maximum(logits, 0) - x * logits + np.log1p(e)
    sigma = np.where(logits >= 0, 1, e) / (1 + e)
    return nll_entries, scale * (sigma - x)


@njit(cache=True, error_model="numpy")
def bernoulli_nll_parts(logits, x, e, scale, nll_entries, dlogits):
    """Flat arrays of one size and dtype: writes nll_entries and dlogits. Vectorised (no exp or log inside)."""
    f = logits.dtype.type  # a bare 1 is an int64: float32 math would become float64
    zero, one, two = f(0), f(1), f(2)
    for i in range(logits.size):
        l, ei = logits[i], e[i]
        s = ei / (two + ei)
        s2 = s * s
        series = zero  # 2 (1 + s^2 / 3 + s^4 / 5 + ...), by Horner's rule from the last term
        for k in range(ATANH_TERMS - 1, -1, -1):  # a constant count: LLVM unrolls it and vectorises the outer loop
            series = series * s2 + f(2.0 / (2 * k + 1))
        nll_entries[i] = max(l, zero) - x[i] * l + s * series  # s * series = log1p(e)
        sigma = (one if l >= 0 else ei) / (one + ei)
        dlogits[i] = scale * (sigma - x[i])
    return nll_entries, dlogits


# ----------------------------------------------------------------------------------------------------------------------
# Log-sum-exp of each row of a float64 matrix (the formula's home is minivae.nn.losses.logsumexp; this is its fast path
# for the mutual-information estimate, minivae.apps.evaluation, which takes it over 2,000 x 2,000 log-densities every
# epoch):
#   out_r = m_r + log sum_j exp(a_rj - m_r),      m_r = max_j a_rj
# On a CPU without AVX-512, NumPy's float64 exp runs one entry at a time (about 5 ns each), and most of the time goes
# to terms that cannot matter (with AVX-512 NumPy's exp is vectorised, and this kernel has no such advantage): a
# term with a_rj - m_r < -50 is below e^-50 = 2e-22 of the largest (which is 1), so all C of them together move the
# sum by less than C * 2e-22, below float64's rounding of a sum >= 1 (1.1e-16) for C < 500,000. The kernel skips
# their exp (on a VAE after three epochs, four terms in five). A row with a NaN gives NaN, with +inf gives +inf, of
# all -inf gives -inf.
# ----------------------------------------------------------------------------------------------------------------------


def logsumexp_rows_reference(a):
    """(R, C) -> (R,) float64: every term taken, by the formula's home (imported here, not at the top of this file,
    because minivae.nn.losses imports this module)."""
    from minivae.nn.losses import logsumexp

    return logsumexp(a, axis=1)


@njit(cache=True, error_model="numpy")
def logsumexp_rows(a, out):
    """a (R, C) float64, C >= 1; writes out (R,). Skips the terms more than 50 below their row's largest."""
    rows, cols = a.shape
    kept = np.empty(cols)
    for r in range(rows):
        m = a[r, 0]
        for j in range(1, cols):
            v = a[r, j]
            if v > m or v != v:  # v != v: a NaN, which the row's result must be
                m = v
                if v != v:
                    break
        if m != m or m == np.inf or m == -np.inf:  # NaN; +inf (the sum is inf); all -inf (the sum is 0)
            out[r] = m
            continue
        # The terms that count, gathered into kept[:n] without a branch: an "if" around the exp, true for a fifth
        # of the terms in no order the processor can predict, mispredicts so often that this is 2.2x faster.
        n = 0
        for j in range(cols):
            shifted = a[r, j] - m  # not a[r, j] > m - 50: at m = 1e300, m - 50 rounds to m and nothing would pass
            kept[n] = shifted  # always written; kept only if n moves past it
            n += shifted > -50.0
        total = 0.0
        for j in range(n):
            total += np.exp(kept[j])
        out[r] = m + np.log(total)
    return out


# ----------------------------------------------------------------------------------------------------------------------
# The Adam update of one parameter array, in place (Kingma & Ba 2015, Algorithm 1), with the two kinds of weight decay:
# L2 (added to the gradient, as torch.optim.Adam) and decoupled (Loshchilov & Hutter 2019, as torch.optim.AdamW).
# The optimizer that calls it is minivae.nn.optim.Adam / AdamW.
#   g <- g + l2 * p                                       (L2 weight decay: the gradient of 0.5 * l2 * |p|^2)
#   p <- p - lr * decoupled * p                           (decoupled weight decay)
#   m <- b1 m + (1 - b1) g
#   v <- b2 v + (1 - b2) g^2
#   p <- p - lr * (m / bc1) / (sqrt(v / bc2) + eps),      bc1 = 1 - b1^t,  bc2 = 1 - b2^t
# ----------------------------------------------------------------------------------------------------------------------


def adam_update_reference(p, g, m, v, lr, beta1, beta2, eps, t, l2=0.0, decoupled=0.0):
    """Adam step t (t = 1, 2, ...) as in the paper; updates p, m, v (arrays of one shape) in place, returns them."""
    g = g + l2 * p
    p -= lr * decoupled * p
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return p, m, v


@njit(cache=True, error_model="numpy")
def adam_update(p, g, m, v, lr, beta1, beta2, eps, t, l2, decoupled):
    """Flat arrays p, g, m, v of one dtype; the settings are Python floats and t the step number (an int).

    The loop computes the same update rearranged, as PyTorch does, so that each bias correction is one scalar
    computed once (in float64, then rounded to the arrays' dtype, see the module docstring):

        p <- p * decay - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps)
        decay = 1 - lr * decoupled,   step_size = lr / bc1,   inv_sqrt_bc2 = 1 / sqrt(bc2)

    (divide m / bc1 and v / bc2 out of the paper's last line to see it). error_model="numpy" lets LLVM vectorise the
    sqrt and the division: with the default error model the same loop is about 12x slower.
    """
    f = p.dtype.type
    bc1, bc2 = 1.0 - beta1**t, 1.0 - beta2**t
    b1, b2, one_minus_b1, one_minus_b2 = f(beta1), f(beta2), f(1.0 - beta1), f(1.0 - beta2)
    step_size, inv_sqrt_bc2 = f(lr / bc1), f(1.0 / np.sqrt(bc2))
    decay, l2_, eps_ = f(1.0 - lr * decoupled), f(l2), f(eps)
    for i in range(p.size):
        gi = g[i] + l2_ * p[i]
        mi = b1 * m[i] + one_minus_b1 * gi
        vi = b2 * v[i] + one_minus_b2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay - step_size * mi / (np.sqrt(vi) * inv_sqrt_bc2 + eps_)
    return p, m, v
