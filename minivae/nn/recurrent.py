"""The GRU and the LSTM over batches of sequences, with backpropagation through time written by hand.

Shapes: a batch of sequences is (N, T, D): N sequences of T steps of D features; the hidden state is (N, H). A mask
(N, T) of booleans says which steps are real tokens (True) and which are padding (False), for sequences of different
lengths padded at the end to a common T.

The interface is that of ``minivae.nn.layers`` with a state added, the same for both layers:

    out = layer.forward(x, h0=None, mask=None)     x (N, T, D), h0 (N, S) -> out (N, T, H), layer.last_state (N, S)
    dx, dh0 = layer.backward(dout, dh_last=None)   dout (N, T, H), dh_last (N, S) -> (N, T, D), (N, S)
    h = layer.step(x_t, h)                         (N, D), (N, S) -> (N, S): one step, for decoding

where S = ``layer.state_dim`` is H for the GRU and 2H for the LSTM, whose state is its hidden state and its cell side
by side, [h | c]. backward *overwrites* ``layer.grads``, whose keys are those of ``layer.params``: "W_ih" (D, G H),
"W_hh" (H, G H), "b_ih", "b_hh" (G H,), G = 3 gate blocks for the GRU, 4 for the LSTM. A recurrent layer returns a
pair from backward, so it does not go into a ``Sequential``; a sequence model calls it directly (see the examples).
The gate arithmetic of one step runs in the kernels of ``minivae.nn.recurrent_kernels``; the matrix products in
NumPy (BLAS). Only the real steps are computed (``_Packing``): a padded step costs nothing, as in torch's packed
sequences.

References: Cho et al. (2014), "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
Translation", eq. 5-8; Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", with the forget gate of Gers et al.
(2000). Both in PyTorch's form (``torch.nn.GRU``, ``torch.nn.LSTM``; in the GRU the reset gate multiplies
h W_hn + b_hn, after the product), so that a test can copy the same weights into torch and compare.
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


class _Packing:
    """Where the real steps of a masked batch are: the P pairs (n, t) with mask[n, t] True, in time-major order.

    Only real steps are computed. Step t's input projections, recurrent product and gate arithmetic run on the n_t
    sequences that have a real token there (a sequence padded at the end drops out of the batch after its last
    token, as in torch's packed sequences), so padding costs nothing. Arrays of real steps are *packed*, (P, ...):
    step by step, each step's rows side by side, the sequences in order.

    rows, steps : (P,) the sequence and the step of each packed row: ``a[rows, steps]`` packs an (N, T, ...) array
    blocks : for each step with a real token, (its sequences (n_t,), the slice of its packed rows)
    """

    def __init__(self, mask):
        self.shape = mask.shape  # (N, T)
        self.steps, self.rows = np.nonzero(mask.T)  # mask.T (T, N): time-major
        ends = np.cumsum(np.bincount(self.steps, minlength=mask.shape[1]))
        self.blocks = [(self.rows[a:b], slice(a, b)) for a, b in zip([0, *ends[:-1]], ends) if b > a]

    def unpack(self, a):
        """Packed rows (P, K) -> (N, T, K), 0 at the padded steps."""
        out = np.zeros(self.shape + a.shape[1:], a.dtype)
        out[self.rows, self.steps] = a
        return out


class _Recurrent(Layer):
    """What the GRU and the LSTM share: G gate blocks of H units, the parameters, the checks, the packing.

    Parameters W_ih (D, G H), W_hh (H, G H), b_ih, b_hh (G H,), every entry ~ U(-k, k), k = 1 / sqrt(H), as torch.
    The loops over time work on packed arrays (``_Packing``), so that the rows of step t are one contiguous block.
    """
    n_gates = None  # G, set by the subclass
    state_blocks = 1  # the state is state_blocks * H wide

    def __init__(self, input_dim, hidden_dim, rng=None, dtype=np.float32):
        super().__init__()
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.state_dim = self.state_blocks * self.hidden_dim
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(0) if rng is None else rng
        k, GH = 1.0 / np.sqrt(hidden_dim), self.n_gates * hidden_dim
        shapes = {"W_ih": (input_dim, GH), "W_hh": (hidden_dim, GH), "b_ih": (GH,), "b_hh": (GH,)}
        self.params = {name: rng.uniform(-k, k, size=s).astype(self.dtype) for name, s in shapes.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.last_state = None
        self._cache = None

    def _begin_forward(self, x, h0, mask):
        """Checks; the packing of the real steps (``_Packing``), the input projections of the P real steps (P, G H) in
        one product, their inputs (P, D) and the initial state (N, S)."""
        x = check_sequences(x, self.input_dim, "x", self.dtype)
        N, T, _ = x.shape
        pack = _Packing(check_mask(mask, (N, T)))
        x_p = x[pack.rows, pack.steps]  # (P, D): the inputs of the real steps, time-major
        gi = x_p @ self.params["W_ih"]  # (P, D) @ (D, G H)
        gi += self.params["b_ih"]
        h0 = np.zeros((N, self.state_dim), self.dtype) if h0 is None else self._check_state(h0, N, "h0")
        return pack, x_p, gi, h0

    def _begin_backward(self, dout, dh_last):
        """Checks; the upstream gradient of the P real steps (P, H) (zeros for None) and dL/d last_state (N, S)."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs the arrays that forward keeps: call forward "
                               "first")
        pack, H = self._cache[0], self.hidden_dim
        N, T = pack.shape
        if dout is None:
            dout_p = np.zeros((len(pack.rows), H), self.dtype)
        else:
            dout = np.asarray(dout)
            if dout.shape != (N, T, H):
                raise ValueError(f"dout must have the outputs' shape {(N, T, H)}, got {dout.shape}")
            dout_p = np.asarray(dout[pack.rows, pack.steps], dtype=self.dtype)  # padded steps are not read
        if dh_last is None:
            return dout_p, np.zeros((N, self.state_dim), self.dtype)
        return dout_p, self._check_state(dh_last, N, "dh_last").copy()

    def _weight_gradients(self, x_p, h_prev, f, g):
        """dW_ih = X^T f, dW_hh = H_prev^T g, db_ih = sum f, db_hh = sum g over the P real steps; returns dx (N, T, D).
        x_p (P, D), h_prev (P, H) the states each real step read, f and g (P, G H)."""
        np.matmul(x_p.T, f, out=self.grads["W_ih"])  # (D, P) @ (P, G H)
        np.matmul(h_prev.T, g, out=self.grads["W_hh"])  # (H, P) @ (P, G H)
        kernels.column_sum(f, self.grads["b_ih"])
        kernels.column_sum(g, self.grads["b_hh"])
        return self._cache[0].unpack(f @ self.params["W_ih"].T)  # (P, G H) @ (G H, D), 0 at padding

    def _check_state(self, h, n, name):
        h = np.asarray(h)
        if h.shape != (n, self.state_dim):
            what = "(N, H)" if self.state_blocks == 1 else "(N, 2H), h and c side by side,"
            raise ValueError(f"{name} must have shape {what} = {(n, self.state_dim)}, got {h.shape}")
        return np.ascontiguousarray(h, dtype=self.dtype)

    def _check_step_input(self, x_t, h):
        x_t = np.asarray(x_t)
        if x_t.ndim != 2 or x_t.shape[1] != self.input_dim:
            raise ValueError(f"x_t must have shape (N, {self.input_dim}), got {x_t.shape}")
        x_t = np.ascontiguousarray(x_t, dtype=self.dtype)
        return x_t, self._check_state(h, len(x_t), "h")

    def __repr__(self):
        return f"{type(self).__name__}({self.input_dim}, {self.hidden_dim})"


class GRU(_Recurrent):
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

    so the input projections of all steps are one matrix product (P, D) @ (D, 3H) before the loop (P <= N T, the
    number of real steps), and each step has one product h_{t-1} @ W_hh, (n_t, H) @ (H, 3H), over the n_t sequences
    with a real token at step t. Initialisation as torch: every weight and bias ~ U(-k, k), k = 1 / sqrt(H).

    Masks. Where mask[n, t] is False the state is carried through unchanged and the output is 0::

        h_t = m_t * h_new + (1 - m_t) * h_{t-1},      out_t = m_t * h_t

    With padding at the end, ``last_state`` = h_T is then each sequence's state after its last real token. The
    output 0 at padding is what torch's packed sequences give (``pad_packed_sequence``), and it makes a padded step
    contribute nothing to whatever reads the outputs, even a loss that forgot the mask; the carried state is in
    ``last_state``, where a model reads it. Any pattern of True and False works, not only padding at the end. A
    padded step is not computed at all: each sequence's latest state waits in an (N, H) array until its next real
    step reads it, so padding costs no arithmetic (the equation above is what results).

    The state is h itself: h0, last_state, dh_last and dh0 are (N, H), and ``state_dim`` is H (the LSTM's is 2H).

    Backpropagation through time. Write dh_t for the whole dL/dh_t and a~ for a gate's pre-activation. h_t is used
    by out_t, by step t + 1 directly (through z_{t+1} * h_t) and by step t + 1's product h_t W_hh, so, going back::

        dh_t  = m_t dout_t + c_{t+1} + g_{t+1} W_hh^T       (c_{T+1} = dh_last, g_{T+1} = 0)
        dn~_t = dh_t * (1 - z_t) * (1 - n_t^2)              (dh/dn = 1 - z;  tanh' = 1 - tanh^2)
        dz~_t = dh_t * (h_{t-1} - n_t) * z_t (1 - z_t)      (dh/dz = h_{t-1} - n;  sigma' = sigma (1 - sigma))
        dr~_t = dn~_t * (h_{t-1} W_hn + b_hn) * r_t (1 - r_t)
        f_t   = [dr~_t | dz~_t | dn~_t]                     (N, 3H): dL/d(x_t W_ih + b_ih)
        g_t   = [dr~_t | dz~_t | dn~_t * r_t]               (N, 3H): dL/d(h_{t-1} W_hh + b_hh)
        c_t   = dh_t * z_t                                  (the direct path to h_{t-1})

    and at a padded step f_t = g_t = 0, c_t = dh_t (the state went straight through; nothing is computed there, the
    gradient waits for the sequence's previous real step). Then, summed over all steps and sequences (single matrix
    products over the P rows of the real steps)::

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

    n_gates = 3

    def forward(self, x, h0=None, mask=None):
        """x (N, T, D), h0 (N, H) or None (zeros), mask (N, T) bool or None (all steps real) -> outputs (N, T, H).

        Also sets ``self.last_state`` (N, H): h_T, the state after each sequence's last real step. x and h0 are
        converted to the layer's dtype.
        """
        pack, x_p, gi, h0 = self._begin_forward(x, h0, mask)  # gi (P, 3H): the input projections of the real steps
        (N, H), P = h0.shape, len(gi)
        h = h0.copy()  # (N, H): each sequence's state after its latest real step
        h_prev = np.empty((P, H), self.dtype)  # the state each real step read, packed
        h_new = np.empty((P, H), self.dtype)  # the state it made, packed
        gates = np.empty((P, 4 * H), self.dtype)  # [r | z | n | hn] of every real step
        gh, real = np.empty((N, 3 * H), self.dtype), np.ones(N, bool)
        W_hh, b_hh = self.params["W_hh"], self.params["b_hh"]
        for seqs, rows in pack.blocks:  # step t: the n_t sequences with a real token, and their packed rows
            n = len(seqs)
            np.take(h, seqs, axis=0, out=h_prev[rows], mode="clip")  # (n_t, H)
            np.matmul(h_prev[rows], W_hh, out=gh[:n])  # (n_t, H) @ (H, 3H)
            # every packed row is a real step (real = True), so the new state and the output are the same rows
            rk.gru_forward_step(gi[rows], gh[:n], b_hh, h_prev[rows], real[:n], h_new[rows], h_new[rows], gates[rows])
            h[seqs] = h_new[rows]
        self._cache = (pack, x_p, h_prev, gates)
        self.last_state = h
        return pack.unpack(h_new)  # (N, T, H), 0 at padding

    def backward(self, dout, dh_last=None):
        """dout (N, T, H) = dL/d outputs (None: the outputs are not used), dh_last (N, H) = dL/d last_state (None: 0)
        -> (dx (N, T, D), dh0 (N, H)); overwrites grads["W_ih"], ["W_hh"], ["b_ih"], ["b_hh"]."""
        dout_p, carry = self._begin_backward(dout, dh_last)  # carry (N, H): c_{T+1} = dh_last
        pack, x_p, h_prev, gates = self._cache
        (P, H), N = h_prev.shape, len(carry)
        rec = np.zeros((N, H), self.dtype)  # g W_hh^T of each sequence's next real step
        c, q = np.empty((N, H), self.dtype), np.empty((N, H), self.dtype)  # the rows of carry and rec at step t
        f = np.empty((P, 3 * H), self.dtype)  # dL/d(x_t W_ih + b_ih), packed
        g = np.empty((P, 3 * H), self.dtype)  # dL/d(h_{t-1} W_hh + b_hh), packed
        real = np.ones(N, bool)
        W_hh_T = np.ascontiguousarray(self.params["W_hh"].T)  # a copy: BLAS runs (N, 3H) @ (3H, H) faster on it
        for seqs, rows in reversed(pack.blocks):
            n = len(seqs)
            np.take(carry, seqs, axis=0, out=c[:n], mode="clip")
            np.take(rec, seqs, axis=0, out=q[:n], mode="clip")
            rk.gru_backward_step(dout_p[rows], q[:n], c[:n], gates[rows], h_prev[rows], real[:n], f[rows], g[rows])
            carry[seqs] = c[:n]
            np.matmul(g[rows], W_hh_T, out=q[:n])  # (n_t, 3H) @ (3H, H)
            rec[seqs] = q[:n]
        dx = self._weight_gradients(x_p, h_prev, f, g)
        return dx, carry + rec  # dh0 = c_1 + g_1 W_hh^T

    def step(self, x_t, h):
        """One step for decoding (greedy, sampling, beam search): x_t (N, D), h (N, H) -> the next state (N, H).

        The same arithmetic as one step of ``forward`` (every row a real token), but nothing is kept for backward,
        so it can run between a forward and its backward without disturbing them.
        """
        x_t, h = self._check_step_input(x_t, h)
        gi = x_t @ self.params["W_ih"] + self.params["b_ih"]  # (N, 3H)
        h_next, out, gates = np.empty_like(h), np.empty_like(h), np.empty((len(h), 4 * self.hidden_dim), self.dtype)
        rk.gru_forward_step(gi, h @ self.params["W_hh"], self.params["b_hh"], h, np.ones(len(h), bool), h_next, out,
                            gates)
        return h_next


class LSTM(_Recurrent):
    """Long short-term memory over (N, T, D) sequences, with a mask: the same calls as ``GRU``.

    At each step t, with x_t (N, D), the previous hidden state h_{t-1} and cell c_{t-1} (N, H) (PyTorch's equations)::

        i_t = sigma(x_t W_ii + b_ii + h_{t-1} W_hi + b_hi)          input gate      (N, H)
        f_t = sigma(x_t W_if + b_if + h_{t-1} W_hf + b_hf)          forget gate     (N, H)
        g_t = tanh(x_t W_ig + b_ig + h_{t-1} W_hg + b_hg)           candidate cell  (N, H)
        o_t = sigma(x_t W_io + b_io + h_{t-1} W_ho + b_ho)          output gate     (N, H)
        c_t = f_t * c_{t-1} + i_t * g_t                              cell            (N, H)
        h_t = o_t * tanh(c_t)                                        hidden state    (N, H)

    W_ih (D, 4H) = [W_ii | W_if | W_ig | W_io], W_hh (H, 4H) likewise, b_ih and b_hh (4H,): the blocks in torch's
    order i, f, g, o (torch.nn.LSTM's ``weight_ih_l0`` is our W_ih transposed). Initialisation as torch, U(-k, k),
    k = 1 / sqrt(H); some start the forget gate open instead (Jozefowicz et al. 2015): ``params["b_ih"][H:2 * H] = 1``.

    The state. An LSTM carries two (N, H) arrays from step to step; here they travel side by side as one state
    (N, 2H) = [h | c], so that the LSTM answers the calls of the GRU: h0, last_state, dh_last and dh0 are (N, 2H) and
    ``state_dim`` is 2H (a model that maps z to an initial state only needs state_dim). The outputs are the h_t.

    Masks as in the GRU: at a padded step h and c are carried through unchanged and the output is 0.

    Backpropagation through time. Write dh_t, dc_t for the whole dL/dh_t, dL/dc_t and a_t (N, 4H) for the
    pre-activations x_t W_ih + b_ih + h_{t-1} W_hh + b_hh. h_t reaches the loss through out_t and through a_{t+1};
    c_t through h_t and through c_{t+1} = f_{t+1} * c_t + ...; so, going back::

        dh_t = m_t dout_t + da_{t+1} W_hh^T                        (da_{T+1} = 0, plus the h half of dh_last)
        dc_t = f_{t+1} * dc_{t+1} + dh_t * o_t * (1 - tanh(c_t)^2)  (f_{T+1} dc_{T+1} = the c half of dh_last)
        da_t = [dc_t g_t i_t (1 - i_t) | dc_t c_{t-1} f_t (1 - f_t) | dc_t i_t (1 - g_t^2) | dh_t tanh(c_t) o_t (1-o_t)]

    (dc/di = g, dc/df = c_{t-1}, dc/dg = i, dh/do = tanh(c), each times its gate's own derivative). At a padded step
    da_t = 0 and dh, dc pass straight to step t - 1. Then over the P rows of the real steps::

        dW_ih = sum_t x_t^T da_t    dW_hh = sum_t h_{t-1}^T da_t    db_ih = db_hh = sum_{t, n} da_t   dx_t = da_t W_ih^T
        dh0 = [da_1 W_hh^T | f_1 * dc_1]

    Example
    -------
    >>> lstm = LSTM(3, 4, rng=np.random.default_rng(0), dtype=np.float64)
    >>> out = lstm.forward(np.ones((2, 5, 3)), mask=np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool))
    >>> out.shape, lstm.state_dim, lstm.last_state.shape               # the state is [h | c]
    ((2, 5, 4), 8, (2, 8))
    >>> dx, dh0 = lstm.backward(np.ones_like(out))
    >>> dx.shape, dh0.shape
    ((2, 5, 3), (2, 8))
    """
    n_gates = 4
    state_blocks = 2  # [h | c]

    def forward(self, x, h0=None, mask=None):
        """x (N, T, D), h0 (N, 2H) = [h | c] or None (zeros), mask (N, T) or None -> outputs (N, T, H).

        Also sets ``self.last_state`` (N, 2H) = [h_T | c_T], each sequence's state after its last real step.
        """
        pack, x_p, gi, h0 = self._begin_forward(x, h0, mask)  # gi (P, 4H): the input projections of the real steps
        N, P, H = len(h0), len(gi), self.hidden_dim
        h, c = h0[:, :H].copy(), h0[:, H:].copy()  # (N, H) each: the state after each sequence's latest real step
        h_prev, c_prev = np.empty((P, H), self.dtype), np.empty((P, H), self.dtype)  # what each real step read
        h_new, c_new = np.empty((P, H), self.dtype), np.empty((N, H), self.dtype)  # what it made
        gates = np.empty((P, 5 * H), self.dtype)  # [i | f | g | o | tanh(c)] of every real step
        gh, real = np.empty((N, 4 * H), self.dtype), np.ones(N, bool)
        W_hh, b_hh = self.params["W_hh"], self.params["b_hh"]
        for seqs, rows in pack.blocks:  # step t: the n_t sequences with a real token, and their packed rows
            n = len(seqs)
            np.take(h, seqs, axis=0, out=h_prev[rows], mode="clip")
            np.take(c, seqs, axis=0, out=c_prev[rows], mode="clip")
            np.matmul(h_prev[rows], W_hh, out=gh[:n])  # (n_t, H) @ (H, 4H)
            # every packed row is a real step (real = True), so the new state h and the output are the same rows
            rk.lstm_forward_step(gi[rows], gh[:n], b_hh, h_prev[rows], c_prev[rows], real[:n], h_new[rows], c_new[:n],
                                 h_new[rows], gates[rows])
            h[seqs], c[seqs] = h_new[rows], c_new[:n]
        self._cache = (pack, x_p, h_prev, c_prev, gates)
        self.last_state = np.concatenate([h, c], axis=1)
        return pack.unpack(h_new)  # (N, T, H), 0 at padding

    def backward(self, dout, dh_last=None):
        """dout (N, T, H) = dL/d outputs (None: unused), dh_last (N, 2H) = dL/d last_state (None: 0)
        -> (dx (N, T, D), dh0 (N, 2H)); overwrites grads["W_ih"], ["W_hh"], ["b_ih"], ["b_hh"]."""
        dout_p, carry = self._begin_backward(dout, dh_last)
        pack, x_p, h_prev, c_prev, gates = self._cache
        (P, H), N = h_prev.shape, len(carry)
        carry_h, carry_c = np.ascontiguousarray(carry[:, :H]), np.ascontiguousarray(carry[:, H:])
        rec = np.zeros((N, H), self.dtype)  # da W_hh^T of each sequence's next real step
        ch, cc, q = (np.empty((N, H), self.dtype) for _ in range(3))  # the rows of carry_h, carry_c, rec at step t
        da = np.empty((P, 4 * H), self.dtype)  # dL/da_t, for both products and both biases, packed
        real = np.ones(N, bool)
        W_hh_T = np.ascontiguousarray(self.params["W_hh"].T)
        for seqs, rows in reversed(pack.blocks):
            n = len(seqs)
            for full, part in ((carry_h, ch), (carry_c, cc), (rec, q)):
                np.take(full, seqs, axis=0, out=part[:n], mode="clip")
            rk.lstm_backward_step(dout_p[rows], q[:n], ch[:n], cc[:n], gates[rows], c_prev[rows], real[:n], da[rows])
            carry_h[seqs], carry_c[seqs] = ch[:n], cc[:n]
            np.matmul(da[rows], W_hh_T, out=q[:n])  # (n_t, 4H) @ (4H, H)
            rec[seqs] = q[:n]
        dx = self._weight_gradients(x_p, h_prev, da, da)
        return dx, np.concatenate([carry_h + rec, carry_c], axis=1)

    def step(self, x_t, h):
        """One step for decoding: x_t (N, D), h (N, 2H) = [h | c] -> the next state (N, 2H); keeps nothing."""
        x_t, h = self._check_step_input(x_t, h)
        H, n = self.hidden_dim, len(x_t)
        h_prev, c_prev = np.ascontiguousarray(h[:, :H]), np.ascontiguousarray(h[:, H:])
        gi = x_t @ self.params["W_ih"] + self.params["b_ih"]  # (N, 4H)
        h_next, c_next, out = (np.empty((n, H), self.dtype) for _ in range(3))
        rk.lstm_forward_step(gi, h_prev @ self.params["W_hh"], self.params["b_hh"], h_prev, c_prev, np.ones(n, bool),
                             h_next, c_next, out, np.empty((n, 5 * H), self.dtype))
        return np.concatenate([h_next, c_next], axis=1)
