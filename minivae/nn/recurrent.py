"""The GRU over batches of sequences, with backpropagation through time written by hand.

Shapes: a batch of sequences is (N, T, D): N sequences of T steps of D features; the hidden state is (N, H). A mask
(N, T) of booleans says which steps are real tokens (True) and which are padding (False), for sequences of different
lengths padded at the end to a common T.

The interface is that of ``minivae.nn.layers`` with a state added: ``forward(x, h0=None, mask=None)`` returns the
outputs and keeps ``last_state``; ``backward(dout, dh_last=None)`` returns ``(dx, dh0)`` and *overwrites*
``layer.grads``; ``step(x_t, h)`` advances a state by one step, for decoding. A GRU returns a pair from backward, so
it does not go into a ``Sequential``; a sequence model calls it directly (see the example of ``GRU``). The gate arithmetic of one step runs in the kernels of
``minivae.nn.recurrent_kernels``; the matrix products in NumPy (BLAS).

Reference: Cho et al. (2014), "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
Translation", eq. 5-8, in PyTorch's form (``torch.nn.GRU``: the reset gate multiplies h W_hn + b_hn, after the
product), so that a test can copy the same weights into torch.nn.GRU and compare.
"""
import numpy as np

from minivae.nn import kernels
from minivae.nn import recurrent_kernels as rk
from minivae.nn.layers import Layer
from minivae.nn.sequence import check_mask
from minivae.validation import check_dtype, check_positive_int


def check_sequences(x, width, name, dtype):
    """x as a C-contiguous (N, T, width) array of dtype, or a ValueError that says what shape was expected."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {x.dtype}")
    if x.ndim != 3 or x.shape[2] != width or x.shape[0] == 0 or x.shape[1] == 0:
        hint = " (one sequence? use x[None] to make a batch of one)" if x.ndim == 2 else ""
        raise ValueError(f"{name} must have shape (N, T, {width}) with N, T >= 1, got {x.shape}{hint}")
    return np.ascontiguousarray(x, dtype=dtype)


class GRU(Layer):
    """A gated recurrent unit over (N, T, D) sequences, with a mask for sequences of different lengths.

    At each step t, with x_t (N, D) and the previous state h_{t-1} (N, H) (PyTorch's equations, sigma the logistic
    sigmoid, * the entrywise product)::

        r_t = sigma(x_t W_ir + b_ir + h_{t-1} W_hr + b_hr)          reset gate      (N, H)
        z_t = sigma(x_t W_iz + b_iz + h_{t-1} W_hz + b_hz)          update gate     (N, H)
        n_t = tanh(x_t W_in + b_in + r_t * (h_{t-1} W_hn + b_hn))   candidate       (N, H)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}                        new state       (N, H)

    The three gates share one weight matrix per input, their blocks side by side in the order r, z, n (as in
    torch.nn.GRU, whose ``weight_ih_l0`` is our ``W_ih`` transposed)::

        W_ih (D, 3H) = [W_ir | W_iz | W_in]     b_ih (3H,) = [b_ir | b_iz | b_in]
        W_hh (H, 3H) = [W_hr | W_hz | W_hn]     b_hh (3H,) = [b_hr | b_hz | b_hn]

    so the input projections of all T steps are one matrix product (N T, D) @ (D, 3H) before the loop, and each step
    has one product h_{t-1} @ W_hh, (N, H) @ (H, 3H). Initialisation as torch: every weight and bias ~ U(-k, k),
    k = 1 / sqrt(H).

    Masks. Where mask[n, t] is False the state is carried through unchanged and the output is 0::

        h_t = m_t * h_new + (1 - m_t) * h_{t-1},      out_t = m_t * h_t

    With padding at the end, ``last_state`` = h_T is then each sequence's state after its last real token. The
    output 0 at padding is what torch's packed sequences give (``pad_packed_sequence``), and it makes a padded step
    contribute nothing to whatever reads the outputs, even a loss that forgot the mask; the carried state is in
    ``last_state``, where a model reads it. Any pattern of True and False works, not only padding at the end.

    Backpropagation through time. Write dh_t for the whole dL/dh_t and a~ for a gate's pre-activation. h_t is used
    by out_t, by step t + 1 directly (through z_{t+1} * h_t) and by step t + 1's product h_t W_hh, so, going back::

        dh_t  = m_t dout_t + c_{t+1} + g_{t+1} W_hh^T       (c_{T+1} = dh_last, g_{T+1} = 0)
        dn~_t = dh_t * (1 - z_t) * (1 - n_t^2)              (dh/dn = 1 - z;  tanh' = 1 - tanh^2)
        dz~_t = dh_t * (h_{t-1} - n_t) * z_t (1 - z_t)      (dh/dz = h_{t-1} - n;  sigma' = sigma (1 - sigma))
        dr~_t = dn~_t * (h_{t-1} W_hn + b_hn) * r_t (1 - r_t)
        f_t   = [dr~_t | dz~_t | dn~_t]                     (N, 3H): dL/d(x_t W_ih + b_ih)
        g_t   = [dr~_t | dz~_t | dn~_t * r_t]               (N, 3H): dL/d(h_{t-1} W_hh + b_hh)
        c_t   = dh_t * z_t                                  (the direct path to h_{t-1})

    and at a padded step f_t = g_t = 0, c_t = dh_t (the state went straight through). Then, summed over all steps
    and sequences (single matrix products over the N T rows)::

        dW_ih = sum_t x_t^T f_t        db_ih = sum_{t, n} f_t       dx_t = f_t W_ih^T
        dW_hh = sum_t h_{t-1}^T g_t    db_hh = sum_{t, n} g_t       dh0  = c_1 + g_1 W_hh^T

    Parameters
    ----------
    input_dim : D    hidden_dim : H    rng : numpy Generator for the initialisation    dtype : float32 or float64

    Example
    -------
    >>> gru = GRU(3, 4, rng=np.random.default_rng(0), dtype=np.float64)
    >>> x = np.ones((2, 5, 3))                                  # 2 sequences of 5 steps
    >>> mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)  # the second has length 2
    >>> out = gru.forward(x, mask=mask)                         # (N, T, H)
    >>> out.shape, gru.last_state.shape, bool(out[1, 2:].any())
    ((2, 5, 4), (2, 4), False)
    >>> dx, dh0 = gru.backward(np.ones_like(out), dh_last=np.zeros((2, 4)))
    >>> dx.shape, dh0.shape, sorted(gru.grads)
    ((2, 5, 3), (2, 4), ['W_hh', 'W_ih', 'b_hh', 'b_ih'])
    """

    def __init__(self, input_dim, hidden_dim, rng=None, dtype=np.float32):
        super().__init__()
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(0) if rng is None else rng
        k, H = 1.0 / np.sqrt(hidden_dim), hidden_dim
        shapes = {"W_ih": (input_dim, 3 * H), "W_hh": (H, 3 * H), "b_ih": (3 * H,), "b_hh": (3 * H,)}
        self.params = {name: rng.uniform(-k, k, size=s).astype(self.dtype) for name, s in shapes.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.last_state = None
        self._cache = None

    def forward(self, x, h0=None, mask=None):
        """x (N, T, D), h0 (N, H) or None (zeros), mask (N, T) bool or None (all steps real) -> outputs (N, T, H).

        Also sets ``self.last_state`` (N, H): h_T, the state after each sequence's last real step.
        """
        D, H = self.input_dim, self.hidden_dim
        x = check_sequences(x, D, "x", self.dtype)
        N, T, _ = x.shape
        mask_tm = np.ascontiguousarray(check_mask(mask, (N, T)).T)  # (T, N): each step's rows contiguous
        W_ih, W_hh, b_ih, b_hh = (self.params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh"))
        # Time-major from here on: step t is the contiguous block [t] of every array.
        x_tm = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(T * N, D)
        gi = (x_tm @ W_ih).reshape(T, N, 3 * H)  # the input projections of all steps: one product
        gi += b_ih
        states = np.empty((T + 1, N, H), self.dtype)  # states[t] = h_t, states[0] = h0
        states[0] = 0 if h0 is None else self._check_state(h0, N, "h0")
        out_tm = np.empty((T, N, H), self.dtype)
        gates = np.empty((T, N, 4 * H), self.dtype)  # [r | z | n | hn] of every step
        gh = np.empty((N, 3 * H), self.dtype)
        for t in range(T):
            np.matmul(states[t], W_hh, out=gh)  # (N, H) @ (H, 3H)
            rk.gru_forward_step(gi[t], gh, b_hh, states[t], mask_tm[t], states[t + 1], out_tm[t], gates[t])
        self._cache = (x_tm, states, gates, mask_tm)
        self.last_state = states[T]
        return np.ascontiguousarray(out_tm.transpose(1, 0, 2))  # (N, T, H)

    def backward(self, dout, dh_last=None):
        """dout (N, T, H) = dL/d outputs (None: the outputs are not used), dh_last (N, H) = dL/d last_state (None: 0)
        -> (dx (N, T, D), dh0 (N, H)); overwrites grads["W_ih"], ["W_hh"], ["b_ih"], ["b_hh"]."""
        if self._cache is None:
            raise RuntimeError("GRU.backward needs the arrays that forward keeps: call forward first")
        x_tm, states, gates, mask_tm = self._cache
        T, N, H = gates.shape[0], gates.shape[1], self.hidden_dim
        if dout is None:
            dout_tm = np.zeros((T, N, H), self.dtype)
        else:
            dout = np.asarray(dout)
            if dout.shape != (N, T, H):
                raise ValueError(f"dout must have the outputs' shape {(N, T, H)}, got {dout.shape}")
            dout_tm = np.ascontiguousarray(dout.transpose(1, 0, 2), dtype=self.dtype)
        carry = np.zeros((N, H), self.dtype) if dh_last is None else self._check_state(dh_last, N, "dh_last").copy()
        rec = np.zeros((N, H), self.dtype)  # g_{t+1} W_hh^T
        f = np.empty((T, N, 3 * H), self.dtype)  # dL/d(x_t W_ih + b_ih)
        g = np.empty((T, N, 3 * H), self.dtype)  # dL/d(h_{t-1} W_hh + b_hh)
        W_hh_T = np.ascontiguousarray(self.params["W_hh"].T)  # a copy: BLAS runs (N, 3H) @ (3H, H) faster on it
        for t in range(T - 1, -1, -1):
            rk.gru_backward_step(dout_tm[t], rec, carry, gates[t], states[t], mask_tm[t], f[t], g[t])
            np.matmul(g[t], W_hh_T, out=rec)  # (N, 3H) @ (3H, H)
        dh0 = carry + rec
        f, g = f.reshape(T * N, 3 * H), g.reshape(T * N, 3 * H)
        np.matmul(x_tm.T, f, out=self.grads["W_ih"])  # (D, T N) @ (T N, 3H)
        np.matmul(states[:T].reshape(T * N, H).T, g, out=self.grads["W_hh"])  # (H, T N) @ (T N, 3H)
        kernels.column_sum(f, self.grads["b_ih"])
        kernels.column_sum(g, self.grads["b_hh"])
        dx = (f @ self.params["W_ih"].T).reshape(T, N, self.input_dim)
        return np.ascontiguousarray(dx.transpose(1, 0, 2)), dh0

    def step(self, x_t, h):
        """One step for decoding (greedy, sampling, beam search): x_t (N, D), h (N, H) -> the next state (N, H).

        The same arithmetic as one step of ``forward`` (every row a real token), but nothing is kept for backward,
        so it can run between a forward and its backward without disturbing them.
        """
        x_t = np.asarray(x_t)
        if x_t.ndim != 2 or x_t.shape[1] != self.input_dim:
            raise ValueError(f"x_t must have shape (N, {self.input_dim}), got {x_t.shape}")
        x_t = np.ascontiguousarray(x_t, dtype=self.dtype)
        h = self._check_state(h, len(x_t), "h")
        gi = x_t @ self.params["W_ih"] + self.params["b_ih"]  # (N, 3H)
        h_next, out, gates = np.empty_like(h), np.empty_like(h), np.empty((len(h), 4 * self.hidden_dim), self.dtype)
        rk.gru_forward_step(gi, h @ self.params["W_hh"], self.params["b_hh"], h, np.ones(len(h), bool), h_next, out,
                            gates)
        return h_next

    def _check_state(self, h, n, name):
        h = np.asarray(h)
        if h.shape != (n, self.hidden_dim):
            raise ValueError(f"{name} must have shape (N, H) = {(n, self.hidden_dim)}, got {h.shape}")
        return np.ascontiguousarray(h, dtype=self.dtype)

    def __repr__(self):
        return f"GRU({self.input_dim}, {self.hidden_dim})"
