"""The gate arithmetic of one time step of the GRU and the LSTM, forward and backward, as Numba kernels beside their
NumPy twins.

The layers that call them are ``minivae.nn.recurrent.GRU`` and ``LSTM``; their docstrings derive the formulas. A
step splits into matrix products, which stay in NumPy (BLAS), and everything elementwise in between, which is one
kernel call here (the GRU's names; the LSTM's are alike, with 4H columns):

    forward step t:   gh = h_{t-1} @ W_hh                        (NumPy, (N, H) @ (H, 3H))
                      gru_forward_step(gi_t, gh, b_hh, ...)       -> h_t, the output, the gates kept for backward
    backward step t:  gru_backward_step(dout_t, rec, carry, ...)  -> the gradients of the pre-activations
                      rec = dgh_t @ W_hh^T                       (NumPy, (N, 3H) @ (3H, H), used at step t - 1)

Gate blocks are in PyTorch's orders: r, z, n for the GRU (columns [0, H) of a (N, 3H) array are the reset gate,
[H, 2H) the update gate, [2H, 3H) the candidate), i, f, g, o for the LSTM. What a forward step keeps for backward:
GRU ``gates`` (N, 4H) = [r | z | n | hn] with hn = h_{t-1} W_hn + b_hn; LSTM ``gates`` (N, 5H) =
[i | f | g | o | tanh(c)].

Masks: ``mask`` (N,) is True where the step is a real token. A row whose mask is False is not computed at all: its
state is copied (h_t = h_{t-1}, and c_t = c_{t-1}), its output and gates are 0, and backward passes its state
gradient straight through with no gate gradient. The upstream gradient of a padded step is not read (the output
there is the constant 0).

Conventions as in ``minivae.nn.kernels``: ``name_reference`` is the readable NumPy twin and returns new arrays;
``name`` is the kernel and writes into arrays the caller allocates; ``cache=True``, ``error_model="numpy"``, no
fastmath (a NaN must come through), serial loops, constants made in the arrays' dtype (a bare ``1`` is an int64 and
would turn float32 arithmetic into float64). The sigmoid is the overflow-free form of ``kernels.sigmoid_reference``.
``tests/test_kernels.py`` holds each pair equal on random inputs, masked rows, huge pre-activations and NaN.
"""
import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from minivae.nn.kernels import sigmoid_reference


def gru_forward_step_reference(gi, gh, b_hh, h_prev, mask):
    """One GRU step in NumPy.

    gi (N, 3H) = x_t W_ih + b_ih;  gh (N, 3H) = h_{t-1} W_hh (without b_hh);  b_hh (3H,);  h_prev (N, H);  mask (N,)

        r  = sigma(gi_r + gh_r + b_hr)          z = sigma(gi_z + gh_z + b_hz)
        hn = gh_n + b_hn                        n = tanh(gi_n + r * hn)
        h  = (1 - z) * n + z * h_prev   where mask, h_prev elsewhere

    Returns h (N, H), out (N, H) (h where mask, 0 elsewhere), gates (N, 4H) = [r | z | n | hn] (0 where not mask).
    """
    H = h_prev.shape[1]
    r = sigmoid_reference(gi[:, :H] + gh[:, :H] + b_hh[:H])
    z = sigmoid_reference(gi[:, H:2 * H] + gh[:, H:2 * H] + b_hh[H:2 * H])
    hn = gh[:, 2 * H:] + b_hh[2 * H:]
    n = np.tanh(gi[:, 2 * H:] + r * hn)
    h_new = (1 - z) * n + z * h_prev
    m = mask[:, None]
    zero = np.zeros((), h_prev.dtype)
    return (np.where(m, h_new, h_prev), np.where(m, h_new, zero),
            np.where(m, np.concatenate([r, z, n, hn], axis=1), zero))


def gru_backward_step_reference(dout, rec, carry, gates, h_prev, mask):
    """The backward pass of one GRU step in NumPy.

    dout (N, H): dL/d out_t;  rec (N, H): dgh_{t+1} @ W_hh^T;  carry (N, H): the rest of dL/dh_t from step t + 1
    (or dL/d last_state at the last step);  gates, h_prev, mask: as the forward step kept them.

        dh    = dout + carry + rec                          (dL/dh_t, all paths)
        dn~   = dh * (1 - z) * (1 - n^2)                    (n~ = gi_n + r * hn, the candidate's pre-activation)
        dz~   = dh * (h_prev - n) * z * (1 - z)
        dr~   = dn~ * hn * r * (1 - r)
        dgi   = [dr~ | dz~ | dn~]                           (N, 3H): dL/d(x_t W_ih + b_ih)
        dgh   = [dr~ | dz~ | dn~ * r]                       (N, 3H): dL/d(h_{t-1} W_hh + b_hh)
        carry = dh * z                                      (the direct path to h_{t-1}; the other is dgh @ W_hh^T)

    Where mask is False: dh = carry + rec (dout is not read), dgi = dgh = 0, carry = dh.
    Returns dgi (N, 3H), dgh (N, 3H), carry (N, H) (new arrays).
    """
    H = h_prev.shape[1]
    r, z, n, hn = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    m = mask[:, None]
    zero = np.zeros((), h_prev.dtype)
    dh = np.where(m, dout, zero) + carry + rec
    dn_pre = dh * (1 - z) * (1 - n * n)
    dz_pre = dh * (h_prev - n) * z * (1 - z)
    dr_pre = dn_pre * hn * r * (1 - r)
    dgi = np.where(m, np.concatenate([dr_pre, dz_pre, dn_pre], axis=1), zero)
    dgh = np.where(m, np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1), zero)
    return dgi, dgh, np.where(m, dh * z, dh)


def lstm_forward_step_reference(gi, gh, b_hh, h_prev, c_prev, mask):
    """One LSTM step in NumPy.

    gi (N, 4H) = x_t W_ih + b_ih;  gh (N, 4H) = h_{t-1} W_hh (without b_hh);  b_hh (4H,);  h_prev, c_prev (N, H)

        a = gi + gh + b_hh,  blocks i, f, g, o:   i, f, o = sigma(a_i), sigma(a_f), sigma(a_o),   g = tanh(a_g)
        c = f * c_prev + i * g,    h = o * tanh(c)        where mask; h_prev and c_prev elsewhere

    Returns h, c, out (N, H) (h where mask, 0 elsewhere), gates (N, 5H) = [i | f | g | o | tanh(c)] (0 where not mask).
    """
    H = h_prev.shape[1]
    a = gi + gh + b_hh
    i, f, o = (sigmoid_reference(a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * H:3 * H])
    c_new = f * c_prev + i * g
    tc = np.tanh(c_new)
    h_new = o * tc
    m, zero = mask[:, None], np.zeros((), h_prev.dtype)
    return (np.where(m, h_new, h_prev), np.where(m, c_new, c_prev), np.where(m, h_new, zero),
            np.where(m, np.concatenate([i, f, g, o, tc], axis=1), zero))


def lstm_backward_step_reference(dout, rec, carry_h, carry_c, gates, c_prev, mask):
    """The backward pass of one LSTM step in NumPy.

    dout (N, H): dL/d out_t;  rec (N, H): da_{t+1} @ W_hh^T;  carry_h, carry_c (N, H): the rest of dL/dh_t and
    dL/dc_t from step t + 1;  gates, c_prev, mask: as the forward step kept them (tc = tanh(c_t)).

        dh = dout + carry_h + rec                                   (dL/dh_t, all paths)
        dc = carry_c + dh * o * (1 - tc^2)                          (dL/dc_t, all paths)
        da = [dc g i (1 - i) | dc c_prev f (1 - f) | dc i (1 - g^2) | dh tc o (1 - o)]     (N, 4H): dL/da_t
        carry_h = 0,  carry_c = dc * f                              (h_{t-1} is only read through h_{t-1} W_hh)

    Where mask is False: da = 0, carry_h = carry_h + rec (dout is not read), carry_c unchanged.
    Returns da (N, 4H), carry_h, carry_c (N, H) (new arrays).
    """
    H = c_prev.shape[1]
    i, f, g, o, tc = (gates[:, k * H:(k + 1) * H] for k in range(5))
    m, zero = mask[:, None], np.zeros((), c_prev.dtype)
    dh = np.where(m, dout, zero) + carry_h + rec
    dc = carry_c + dh * o * (1 - tc * tc)
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                         dh * tc * o * (1 - o)], axis=1)
    return np.where(m, da, zero), np.where(m, zero, dh), np.where(m, dc * f, carry_c)


# ----------------------------------------------------------------------------------------------------------------------
# exp, sigmoid and tanh with arithmetic only, so that LLVM vectorises the loops that call them.
#
# Numba turns np.exp and np.tanh in a loop into one call of the C library per entry (it has no vector versions of
# them without Intel's SVML). Measured on the GRU's step (N = 64, H = 256, float32) that is 0.9 ms per step, three
# times the step's matrix product; NumPy's ufuncs are vectorised, but calling them would split the step into five
# calls. So exp is computed here the way a C library computes it, with + - * and the bits of a float (the whole
# forward step then takes 0.08 ms):
#
#     exp(v) = 2^k exp(r),    k = round(v / ln 2),    r = v - k ln 2,  |r| <= ln(2) / 2
#
# * k ln 2 is subtracted in two parts, ln 2 = LN2_HI + LN2_LO, where LN2_HI has so few bits that k * LN2_HI is exact
#   (Cody & Waite 1980): r is then exact to the last bit;
# * exp(r) - 1 = r + r^2/2! + ... is its Taylor polynomial, to r^7 in float32 and r^13 in float64 (the first term
#   left out is below half a unit in the last place on |r| <= ln(2) / 2);
# * 2^k is the float whose exponent field is k + bias (127 in float32, 1023 in float64) and whose mantissa is 0.
#
# _exp_parts(v) returns (2^k, exp(r) - 1), from which exp(v) = 2^k + 2^k (exp(r) - 1), accurate to a relative unit
# in the last place even where exp(v) is tiny (sigma(-30) needs that), and exp(v) - 1 = (2^k - 1) + 2^k (exp(r) - 1),
# accurate even where exp(v) is close to 1 (tanh(1e-6) needs that; 1 - exp(v) would lose half the digits). Only
# v <= 0 is needed (sigma and tanh only exponentiate -|a|); below the log of the smallest normal number (-87.3 in
# float32, -708.4 in float64) exp(v) is returned as 0, NaN stays NaN. tests/test_kernels.py compares them with np.exp,
# np.expm1 and np.tanh in float64.
#
# The float32 and float64 versions differ in their constants, so the jitted code picks one by the type of v at
# compile time (numba.extending.overload, as numba does for its own np.exp); with NUMBA_DISABLE_JIT=1 the plain
# Python _exp_parts picks it with isinstance. Either way the same arithmetic runs.
# ----------------------------------------------------------------------------------------------------------------------

def _taylor(dtype, degree):
    """The coefficients 1/degree!, ..., 1/2!, 1/1! of exp(r) - 1, highest first (for Horner's rule), in dtype."""
    return tuple(dtype(1.0 / math.factorial(n)) for n in range(degree, 0, -1))


# float32: lo = log of the smallest normal float32; LN2_HI = 355/512 has 9 bits, k has at most 7 (Cephes' split).
_LO_F32, _LOG2E_F32 = np.float32(-87.33655), np.float32(1.4426950408889634)
_LN2_HI_F32, _LN2_LO_F32 = np.float32(0.693359375), np.float32(-2.12194440e-4)
_TAYLOR_F32, _ZERO_F32, _BIAS_F32, _SHIFT_F32 = _taylor(np.float32, 7), np.float32(0), np.int32(127), np.int32(23)
# float64: lo = log of the smallest normal float64; LN2_HI has 32 bits, k at most 11 (fdlibm's split).
_LO_F64, _LOG2E_F64 = -708.3964185322641, 1.4426950408889634
_LN2_HI_F64, _LN2_LO_F64 = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_TAYLOR_F64, _ZERO_F64, _BIAS_F64, _SHIFT_F64 = _taylor(np.float64, 13), 0.0, np.int64(1023), np.int64(52)


def _exp_parts_f32(v):
    x = v if v >= _LO_F32 else _LO_F32  # below lo (and NaN): compute at lo, replaced below
    k = np.rint(x * _LOG2E_F32)
    r = (x - k * _LN2_HI_F32) - k * _LN2_LO_F32
    p = _ZERO_F32
    for c in _TAYLOR_F32:
        p = (p + c) * r  # Horner: ((c7 r + c6) r + ... + c1) r = exp(r) - 1
    scale = np.int32((np.int32(k) + _BIAS_F32) << _SHIFT_F32).view(np.float32)  # 2^k
    return (scale if v >= _LO_F32 else (_ZERO_F32 if v < _LO_F32 else v)), p


def _exp_parts_f64(v):
    x = v if v >= _LO_F64 else _LO_F64
    k = np.rint(x * _LOG2E_F64)
    r = (x - k * _LN2_HI_F64) - k * _LN2_LO_F64
    p = _ZERO_F64
    for c in _TAYLOR_F64:
        p = (p + c) * r
    scale = np.int64((np.int64(k) + _BIAS_F64) << _SHIFT_F64).view(np.float64)
    return (scale if v >= _LO_F64 else (_ZERO_F64 if v < _LO_F64 else v)), p


def _exp_parts(v):
    """(2^k, exp(r) - 1) with exp(v) = 2^k (1 + (exp(r) - 1)), for a float32 or float64 v <= 0 (see above)."""
    return _exp_parts_f32(v) if isinstance(v, np.float32) else _exp_parts_f64(v)


@overload(_exp_parts, jit_options={"error_model": "numpy"})
def _exp_parts_by_type(v):
    return _exp_parts_f32 if v == types.float32 else _exp_parts_f64


@njit(cache=True, error_model="numpy")
def _sigmoid(a, one):
    """sigma(a) = 1 / (1 + e) for a >= 0, e / (1 + e) below, e = exp(-|a|) (the form of kernels.sigmoid_reference)."""
    scale, p = _exp_parts(-abs(a))
    e = scale + scale * p
    return one / (one + e) if a >= 0 else e / (one + e)


@njit(cache=True, error_model="numpy")
def _tanh(a, one):
    """tanh(|a|) = (1 - e) / (1 + e) = -em1 / (2 + em1), e = exp(-2|a|), em1 = e - 1 = expm1(-2|a|); odd in a."""
    scale, p = _exp_parts(-(abs(a) + abs(a)))
    em1 = (scale - one) + scale * p
    t = -em1 / (one + one + em1)
    return t if a >= 0 else -t


# ----------------------------------------------------------------------------------------------------------------------
# The kernels. Each row of the batch is handled by a few short loops over its H entries rather than one long loop
# body: a loop that reads and writes many arrays makes LLVM check at run time that none of them overlap, and past a
# handful of arrays it gives up vectorising. A row's arrays are a few kB, so the extra passes stay in the L1 cache.
# ----------------------------------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def gru_forward_step(gi, gh, b_hh, h_prev, mask, h, out, gates):
    """One GRU step: reads gi, gh (N, 3H), b_hh (3H,), h_prev (N, H), mask (N,) bool; writes h, out (N, H) and
    gates (N, 4H) = [r | z | n | hn] (see ``gru_forward_step_reference``). h must not be h_prev."""
    n_rows, H = h_prev.shape
    one, zero = h.dtype.type(1), h.dtype.type(0)
    b_n = b_hh[2 * H:]
    for i in range(n_rows):
        g, a, gt, hp, hi, oi = gi[i], gh[i], gates[i], h_prev[i], h[i], out[i]
        if not mask[i]:  # padding: the state goes through, the output and the gates are 0
            for j in range(H):
                hi[j] = hp[j]
                oi[j] = zero
            for j in range(4 * H):
                gt[j] = zero
            continue
        for j in range(2 * H):  # r and z side by side: gates[:, :2H] = sigma(gi + gh + b_hh)
            gt[j] = _sigmoid(g[j] + a[j] + b_hh[j], one)
        r, z, n, hn = gt[:H], gt[H:2 * H], gt[2 * H:3 * H], gt[3 * H:]
        g_n, a_n = g[2 * H:], a[2 * H:]
        for j in range(H):  # hn = h_{t-1} W_hn + b_hn,  n = tanh(gi_n + r * hn)
            hn[j] = a_n[j] + b_n[j]
        for j in range(H):
            n[j] = _tanh(g_n[j] + r[j] * hn[j], one)
        for j in range(H):  # h = (1 - z) * n + z * h_{t-1}
            hi[j] = (one - z[j]) * n[j] + z[j] * hp[j]
        for j in range(H):
            oi[j] = hi[j]
    return h


@njit(cache=True, error_model="numpy")
def gru_backward_step(dout, rec, carry, gates, h_prev, mask, dgi, dgh):
    """The backward pass of one GRU step (see ``gru_backward_step_reference``): reads dout, rec (N, H), gates
    (N, 4H), h_prev (N, H), mask (N,); writes dgi, dgh (N, 3H); carry (N, H) is read and overwritten in place."""
    n_rows, H = h_prev.shape
    one, zero = h_prev.dtype.type(1), h_prev.dtype.type(0)
    for i in range(n_rows):
        gt, hp, c, d, q, dgi_i, dgh_i = gates[i], h_prev[i], carry[i], dout[i], rec[i], dgi[i], dgh[i]
        if not mask[i]:  # padding: dL/dh_{t-1} = dL/dh_t, no gate gradients, dout not read
            for j in range(H):
                c[j] = c[j] + q[j]
            for j in range(3 * H):
                dgi_i[j] = zero
                dgh_i[j] = zero
            continue
        r, z, n, hn = gt[:H], gt[H:2 * H], gt[2 * H:3 * H], gt[3 * H:]
        dr, dz, dn = dgi_i[:H], dgi_i[H:2 * H], dgi_i[2 * H:]
        for j in range(H):  # dh = dout + carry + rec, kept in carry for now
            c[j] = d[j] + c[j] + q[j]
        for j in range(H):  # dn~ = dh (1 - z) (1 - n^2)
            dn[j] = c[j] * (one - z[j]) * (one - n[j] * n[j])
        for j in range(H):  # dz~ = dh (h_{t-1} - n) z (1 - z)
            dz[j] = c[j] * (hp[j] - n[j]) * z[j] * (one - z[j])
        for j in range(H):  # dr~ = dn~ hn r (1 - r)
            dr[j] = dn[j] * hn[j] * r[j] * (one - r[j])
        for j in range(2 * H):  # dgh = [dr~ | dz~ | dn~ r]
            dgh_i[j] = dgi_i[j]
        for j in range(H):
            dgh_i[2 * H + j] = dn[j] * r[j]
        for j in range(H):  # the direct path to h_{t-1}
            c[j] = c[j] * z[j]
    return carry


@njit(cache=True, error_model="numpy")
def lstm_forward_step(gi, gh, b_hh, h_prev, c_prev, mask, h, c, out, gates):
    """One LSTM step: reads gi, gh (N, 4H), b_hh (4H,), h_prev, c_prev (N, H), mask (N,); writes h, c, out (N, H)
    and gates (N, 5H) = [i | f | g | o | tanh(c)] (see ``lstm_forward_step_reference``)."""
    n_rows, H = h_prev.shape
    one, zero = h.dtype.type(1), h.dtype.type(0)
    for row in range(n_rows):
        p, q, gt, hp, cp, hi, ci, oi = gi[row], gh[row], gates[row], h_prev[row], c_prev[row], h[row], c[row], out[row]
        if not mask[row]:  # padding: the state goes through, the output and the gates are 0
            for j in range(H):
                hi[j] = hp[j]
                ci[j] = cp[j]
                oi[j] = zero
            for j in range(5 * H):
                gt[j] = zero
            continue
        for j in range(2 * H):  # i and f side by side
            gt[j] = _sigmoid(p[j] + q[j] + b_hh[j], one)
        for j in range(2 * H, 3 * H):  # g
            gt[j] = _tanh(p[j] + q[j] + b_hh[j], one)
        for j in range(3 * H, 4 * H):  # o
            gt[j] = _sigmoid(p[j] + q[j] + b_hh[j], one)
        i, f, g, o, tc = gt[:H], gt[H:2 * H], gt[2 * H:3 * H], gt[3 * H:4 * H], gt[4 * H:]
        for j in range(H):  # c = f * c_{t-1} + i * g
            ci[j] = f[j] * cp[j] + i[j] * g[j]
        for j in range(H):
            tc[j] = _tanh(ci[j], one)
        for j in range(H):  # h = o * tanh(c)
            hi[j] = o[j] * tc[j]
        for j in range(H):
            oi[j] = hi[j]
    return h


@njit(cache=True, error_model="numpy")
def lstm_backward_step(dout, rec, carry_h, carry_c, gates, c_prev, mask, da):
    """The backward pass of one LSTM step (see ``lstm_backward_step_reference``): reads dout, rec (N, H), gates
    (N, 5H), c_prev (N, H), mask (N,); writes da (N, 4H); carry_h and carry_c (N, H) are read and overwritten."""
    n_rows, H = c_prev.shape
    one, zero = c_prev.dtype.type(1), c_prev.dtype.type(0)
    for row in range(n_rows):
        gt, cp, ch, cc, d, q, dr = gates[row], c_prev[row], carry_h[row], carry_c[row], dout[row], rec[row], da[row]
        if not mask[row]:  # padding: dL/dh_{t-1} = dL/dh_t, dL/dc_{t-1} = dL/dc_t, no gate gradients
            for j in range(H):
                ch[j] = ch[j] + q[j]
            for j in range(4 * H):
                dr[j] = zero
            continue
        i, f, g, o, tc = gt[:H], gt[H:2 * H], gt[2 * H:3 * H], gt[3 * H:4 * H], gt[4 * H:]
        da_i, da_f, da_g, da_o = dr[:H], dr[H:2 * H], dr[2 * H:3 * H], dr[3 * H:]
        for j in range(H):  # dh = dout + carry_h + rec, kept in carry_h for now
            ch[j] = d[j] + ch[j] + q[j]
        for j in range(H):  # dc = carry_c + dh o (1 - tanh(c)^2), kept in carry_c
            cc[j] = cc[j] + ch[j] * o[j] * (one - tc[j] * tc[j])
        for j in range(H):
            da_i[j] = cc[j] * g[j] * i[j] * (one - i[j])
        for j in range(H):
            da_f[j] = cc[j] * cp[j] * f[j] * (one - f[j])
        for j in range(H):
            da_g[j] = cc[j] * i[j] * (one - g[j] * g[j])
        for j in range(H):
            da_o[j] = ch[j] * tc[j] * o[j] * (one - o[j])
        for j in range(H):  # the direct paths to step t - 1
            cc[j] = cc[j] * f[j]
            ch[j] = zero
    return carry_h
