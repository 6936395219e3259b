"""Layers for batches of token sequences that are not recurrent: Embedding, SequenceLinear, and masks from lengths.

A batch of N token sequences padded at the end to a common length T is an (N, T) array of integer ids together with
a boolean mask (N, T), True at a real token and False at padding (``mask_from_lengths``). The pieces of a sequence
model around its recurrent layer (``minivae.nn.recurrent.GRU`` or ``LSTM``) are:

    ids (N, T) --Embedding--> (N, T, E) --GRU--> (N, T, H) --SequenceLinear--> logits (N, T, V) --token_nll--> (N,)

(``token_nll``, the masked cross-entropy over the vocabulary, lives with the other likelihoods in
``minivae.nn.losses``.) The interface is that of ``minivae.nn.layers``: ``forward`` keeps what backward needs,
``backward(dout)`` returns the input gradient and *overwrites* ``layer.grads``.
"""
import numpy as np

from minivae.nn import kernels
from minivae.nn.layers import Layer, Linear
from minivae.validation import check_dtype, check_positive_int


def mask_from_lengths(lengths, T=None):
    """The (N, T) mask of sequences padded at the end: mask[n, t] = t < lengths[n].

    lengths : (N,) ints >= 1    T : the padded length (default: max(lengths))

    >>> mask_from_lengths([3, 1], T=4).astype(int)
    array([[1, 1, 1, 0],
           [1, 0, 0, 0]])
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or lengths.dtype.kind not in "iu" or lengths.min() < 1:
        raise ValueError(f"lengths must be a non-empty (N,) array of integers >= 1, got {lengths!r}")
    T = int(lengths.max()) if T is None else T
    if lengths.max() > T:
        raise ValueError(f"a length of {int(lengths.max())} does not fit in T = {T} steps")
    return np.arange(T)[None, :] < lengths[:, None]


def check_mask(mask, shape):
    """mask as a C-contiguous bool array of ``shape`` (N, T); True (or 1) marks a real step, False (or 0) padding.
    None means every step is real."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"mask must have the shape (N, T) = {shape} of the sequences, got {mask.shape}")
    if mask.dtype != bool:
        if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"mask must be boolean (True for a real step, False for padding) or 0/1, got dtype "
                             f"{mask.dtype} with values {np.unique(mask)[:5]}")
        mask = mask.astype(bool)
    return np.ascontiguousarray(mask)


class Embedding(Layer):
    """A lookup table of vectors, one row per token id: ``out[n, t] = W[ids[n, t]]``.

    Shapes: ids (N, T) integers in [0, V), W (V, E), out (N, T, E). (Any shape of ids works: out is ids.shape + (E,).)

    Backward, with upstream dout (N, T, E): each row of dout goes to the row of W it was read from,

        dW[v] = sum over (n, t) with ids[n, t] = v of dout[n, t]        (V, E)

    (``kernels.scatter_add_rows``; a row that no id used gets 0). The ids are data, not a function of parameters, so
    backward returns None. A padding id at steps that a GRU or LSTM masks gets no gradient (their dx is 0 there), so
    its row stays where it was initialised.

    Initialisation: W ~ N(0, 1), as torch.nn.Embedding (the recurrent layer after it expects inputs of order 1).

    Example
    -------
    >>> emb = Embedding(10, 4, rng=np.random.default_rng(0))
    >>> out = emb.forward(np.array([[1, 2, 2], [0, 9, 9]]))
    >>> out.shape, bool((out[0, 1] == out[0, 2]).all())
    ((2, 3, 4), True)
    >>> emb.backward(np.ones_like(out)) is None, emb.grads["W"][2].tolist()   # id 2 was used twice
    (True, [2.0, 2.0, 2.0, 2.0])
    """

    def __init__(self, vocab_size, dim, rng=None, dtype=np.float32):
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.dim = check_positive_int(dim, "dim")
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(0) if rng is None else rng
        self.params = {"W": rng.standard_normal((vocab_size, dim)).astype(self.dtype)}
        self.grads = {"W": np.zeros_like(self.params["W"])}
        self.ids = None

    def forward(self, ids):
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding expects integer token ids, got an array of dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = np.argwhere((ids < 0) | (ids >= self.vocab_size))[0]
            raise ValueError(f"token id {int(ids[tuple(bad)])} at index {tuple(int(i) for i in bad)} is outside "
                             f"the vocabulary [0, {self.vocab_size}); map unknown tokens to an <unk> id first")
        self.ids = ids
        return self.params["W"][ids]  # (*ids.shape, E), a copy

    def backward(self, dout):
        if dout.shape != self.ids.shape + (self.dim,):
            raise ValueError(f"dout must have the output's shape {self.ids.shape + (self.dim,)}, got {dout.shape}")
        rows = np.ascontiguousarray(dout, dtype=self.dtype).reshape(-1, self.dim)
        kernels.scatter_add_rows(np.ascontiguousarray(self.ids).reshape(-1), rows, self.grads["W"])
        return None

    def __repr__(self):
        return f"Embedding({self.vocab_size}, {self.dim})"


class SequenceLinear(Layer):
    """The same affine map at every step: ``out[n, t] = x[n, t] @ W + b``, for (N, T, in_dim) -> (N, T, out_dim).

    A ``Linear`` layer applied to the N T rows at once: x is reshaped to (N T, in_dim), one matrix product, and the
    result reshaped back (what other libraries call TimeDistributed(Linear)). Backward likewise:

        dW = sum_{n, t} x[n, t]^T dout[n, t]    db = sum_{n, t} dout[n, t]    dx[n, t] = dout[n, t] @ W^T

    ``params`` and ``grads`` are those of the Linear layer inside (the same arrays), with its keys "W" (in_dim,
    out_dim) and "b" (out_dim,). Initialisation as ``Linear``, but the default is "glorot": this layer usually makes
    the logits of a softmax over the vocabulary, with no ReLU after it.

    Example
    -------
    >>> layer = SequenceLinear(8, 5, rng=np.random.default_rng(0))
    >>> layer.forward(np.zeros((2, 3, 8), dtype=np.float32)).shape
    (2, 3, 5)
    """

    def __init__(self, in_dim, out_dim, init="glorot", rng=None, dtype=np.float32):
        super().__init__()
        self.linear = Linear(in_dim, out_dim, init=init, rng=rng, dtype=dtype)
        self.in_dim, self.out_dim = self.linear.in_dim, self.linear.out_dim
        self.params, self.grads = self.linear.params, self.linear.grads
        self.seq_shape = None

    def forward(self, x):
        if x.ndim != 3 or x.shape[2] != self.in_dim:
            raise ValueError(f"SequenceLinear({self.in_dim}, {self.out_dim}) expects input of shape "
                             f"(N, T, {self.in_dim}), got {x.shape}")
        N, T, _ = x.shape
        self.seq_shape = (N, T)
        return self.linear.forward(np.ascontiguousarray(x).reshape(N * T, self.in_dim)).reshape(N, T, self.out_dim)

    def backward(self, dout):
        return self.linear.backward(self._rows(dout)).reshape(*self.seq_shape, self.in_dim)

    def backward_params(self, dout):
        self.linear.backward_params(self._rows(dout))

    def _rows(self, dout):
        """dout (N, T, out_dim) as the (N T, out_dim) rows of the Linear layer."""
        if dout.shape != (*self.seq_shape, self.out_dim):
            raise ValueError(f"dout must have the output's shape {(*self.seq_shape, self.out_dim)}, got {dout.shape}")
        return np.ascontiguousarray(dout).reshape(-1, self.out_dim)

    def __repr__(self):
        return f"SequenceLinear({self.in_dim}, {self.out_dim}, init={self.linear.init!r})"
