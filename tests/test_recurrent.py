"""The sequence layers as a user meets them: the GRU and the LSTM against their equations and against torch, what a
mask means, the masked token loss, the embedding, their errors, and a tiny language model that learns.

The finite-difference checks of every gradient are in tests/test_gradients.py, the kernels against their twins in
tests/test_kernels.py. Here the recurrent layers are compared with two independent computations: the equations of
their docstrings written out in plain NumPy (forward), and PyTorch in float64 with the same weights copied in
(forward and backward, skipped when torch is not installed), whose packed sequences are the same convention for
padding. Most tests run for both layers (``CELLS``): they answer the same calls.
"""
import doctest

import numpy as np
import pytest

import minivae
from minivae.nn import losses, recurrent, sequence
from minivae.nn.gradcheck import rel_error
from minivae.nn.losses import token_nll
from minivae.nn.optim import Adam
from minivae.nn.recurrent import GRU, LSTM
from minivae.nn.sequence import Embedding, SequenceLinear, mask_from_lengths

N, T, D, H, V = 4, 5, 3, 6, 7
LENGTHS = np.array([5, 2, 1, 4])  # ragged, with a sequence of length 1
CELLS = [GRU, LSTM]
cells = pytest.mark.parametrize("cls", CELLS, ids=["GRU", "LSTM"])


def setup(cls=GRU, seed=0, dtype=np.float64, lengths=LENGTHS):
    rng = np.random.default_rng(seed)
    layer = cls(D, H, rng=rng, dtype=dtype)
    x = rng.standard_normal((len(lengths), T, D)).astype(dtype)
    h0 = rng.standard_normal((len(lengths), layer.state_dim)).astype(dtype)
    return layer, x, h0, mask_from_lengths(lengths, T), rng


def sigma(a):
    return 1 / (1 + np.exp(-a))


def by_the_equations(cls, params, x, h0, mask):
    """The docstring's equations step by step, in plain NumPy, with no kernel: (outputs, last_state)."""
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh"))
    G = W_ih.shape[1] // H
    Wi, Wh, bi, bh = np.split(W_ih, G, axis=1), np.split(W_hh, G, axis=1), np.split(b_ih, G), np.split(b_hh, G)
    pre = lambda k, x_t, h: x_t @ Wi[k] + bi[k] + h @ Wh[k] + bh[k]  # noqa: E731
    h, c, outs = h0[:, :H], h0[:, H:], []
    for t in range(x.shape[1]):
        x_t, m = x[:, t], mask[:, t, None]
        if cls is GRU:
            r, z = sigma(pre(0, x_t, h)), sigma(pre(1, x_t, h))
            n = np.tanh(x_t @ Wi[2] + bi[2] + r * (h @ Wh[2] + bh[2]))
            h_new, c_new = (1 - z) * n + z * h, c
        else:
            i, f, g, o = sigma(pre(0, x_t, h)), sigma(pre(1, x_t, h)), np.tanh(pre(2, x_t, h)), sigma(pre(3, x_t, h))
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
        h, c = m * h_new + (1 - m) * h, m * c_new + (1 - m) * c
        outs.append(m * h)
    return np.stack(outs, axis=1), np.concatenate([h, c], axis=1)


# ----------------------------------------------------------------------------------------------------------------------
# The GRU's forward pass against its equations; what the mask means.
# ----------------------------------------------------------------------------------------------------------------------


@cells
def test_forward_is_the_equations_of_the_docstring(cls):
    layer, x, h0, mask, _ = setup(cls)
    out = layer.forward(x, h0, mask)
    want_out, want_last = by_the_equations(cls, layer.params, x, h0, mask)
    assert out.shape == (N, T, H) and layer.last_state.shape == (N, layer.state_dim)
    assert layer.state_dim == {GRU: H, LSTM: 2 * H}[cls]
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.last_state, want_last, rtol=1e-12, atol=1e-14)


@cells
def test_a_mask_with_gaps_is_the_equations_too(cls):
    """Not padding at the end: a state waits over a gap for its sequence's next real step; a row with no real step
    keeps h0. Only the real steps are computed, whatever the pattern."""
    layer, x, h0, _, rng = setup(cls)
    mask = np.array([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    out = layer.forward(x, h0, mask)
    want_out, want_last = by_the_equations(cls, layer.params, x, h0, mask)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.last_state, want_last, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(layer.last_state[2], h0[2])
    dx, dh0 = layer.backward(rng.standard_normal((N, T, H)), rng.standard_normal(h0.shape))
    assert not dx[~mask].any() and np.isfinite(dx).all() and np.isfinite(dh0).all()


@cells
def test_outputs_at_padding_are_zero_and_last_state_is_the_state_after_the_last_real_token(cls):
    layer, x, h0, mask, _ = setup(cls)
    out = layer.forward(x, h0, mask)
    last = layer.last_state.copy()
    assert not out[~mask].any()
    for n, length in enumerate(LENGTHS):
        np.testing.assert_array_equal(last[n, :H], out[n, length - 1])  # h; for the LSTM, c follows it


@cells
def test_each_sequence_alone_gives_what_it_gives_in_a_padded_batch(cls):
    """Run sequence n alone, cut to its length and without a mask: the same outputs, last state and gradients."""
    layer, x, h0, mask, rng = setup(cls)
    dout, dlast = rng.standard_normal((N, T, H)), rng.standard_normal(h0.shape)
    out = layer.forward(x, h0, mask)
    last = layer.last_state.copy()
    dx, dh0 = layer.backward(dout, dlast)
    grads = {k: np.zeros_like(g) for k, g in layer.grads.items()}
    for n, length in enumerate(LENGTHS):
        o = layer.forward(x[n:n + 1, :length], h0[n:n + 1])
        np.testing.assert_allclose(o[0], out[n, :length], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.last_state[0], last[n], rtol=1e-12, atol=1e-14)
        dx_n, dh0_n = layer.backward(dout[n:n + 1, :length], dlast[n:n + 1])
        np.testing.assert_allclose(dx_n[0], dx[n, :length], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(dh0_n[0], dh0[n], rtol=1e-10, atol=1e-13)
        for k in grads:
            grads[k] += layer.grads[k]
    layer.forward(x, h0, mask)
    layer.backward(dout, dlast)
    for k in grads:  # the batch's parameter gradients are the sums over its sequences
        assert rel_error(layer.grads[k], grads[k]) < 1e-12


@cells
def test_what_lies_at_padded_steps_changes_nothing(cls):
    """Other inputs and other upstream gradients at the padded steps: the same outputs and the same gradients."""
    layer, x, h0, mask, rng = setup(cls)
    dout, dlast = rng.standard_normal((N, T, H)), rng.standard_normal(h0.shape)
    out, (dx, dh0) = layer.forward(x, h0, mask), layer.backward(dout, dlast)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    x2, dout2 = x.copy(), dout.copy()
    x2[~mask] = 1e6 * rng.standard_normal((np.sum(~mask), D))
    dout2[~mask] = np.nan  # not even a NaN there is read
    np.testing.assert_array_equal(layer.forward(x2, h0, mask), out)
    dx2, dh02 = layer.backward(dout2, dlast)
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_array_equal(dh02, dh0)
    assert not dx[~mask].any()
    for k in grads:
        np.testing.assert_array_equal(layer.grads[k], grads[k])


@cells
def test_defaults_no_mask_no_h0_no_dout_no_dh_last(cls):
    layer, x, h0, _, rng = setup(cls)
    everything = np.ones((N, T), bool)
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x, np.zeros_like(h0), everything))
    np.testing.assert_array_equal(layer.forward(x, mask=np.ones((N, T), int)), layer.forward(x, mask=everything))
    dlast = rng.standard_normal(h0.shape)
    layer.forward(x)
    a = layer.backward(None, dlast)  # an encoder: only the last state is used
    b = layer.backward(np.zeros((N, T, H)), dlast)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    dx, dh0 = layer.backward(rng.standard_normal((N, T, H)))  # dh_last=None: last_state unused
    assert dx.shape == (N, T, D) and dh0.shape == h0.shape


@cells
def test_step_by_step_decoding_gives_the_outputs_of_forward_and_keeps_the_cache(cls):
    layer, x, h0, _, rng = setup(cls)
    out = layer.forward(x, h0)
    last = layer.last_state.copy()
    dout = rng.standard_normal(out.shape)
    h = h0
    for t in range(T):
        h = layer.step(x[:, t], h)
        np.testing.assert_allclose(h[:, :H], out[:, t], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, last, rtol=1e-13, atol=1e-15)
    dx, _ = layer.backward(dout)  # the steps did not touch what forward kept
    layer.forward(x, h0)
    np.testing.assert_array_equal(layer.backward(dout)[0], dx)


@cells
def test_backward_overwrites_the_gradients(cls):
    layer, x, h0, mask, rng = setup(cls)
    dout = rng.standard_normal((N, T, H))
    layer.forward(x, h0, mask)
    layer.backward(dout)
    first = {k: g.copy() for k, g in layer.grads.items()}
    arrays = {k: id(g) for k, g in layer.grads.items()}
    layer.backward(dout)
    for k in first:
        np.testing.assert_array_equal(layer.grads[k], first[k])  # not doubled
        assert id(layer.grads[k]) == arrays[k]  # the same arrays, so an optimizer may hold on to them


@cells
def test_float32_agrees_with_float64(cls):
    layer64, x, h0, mask, rng = setup(cls)
    layer32 = cls(D, H, dtype=np.float32)
    for k in layer32.params:
        layer32.params[k][...] = layer64.params[k]
    dout = rng.standard_normal((N, T, H))
    out32, out64 = layer32.forward(x.astype(np.float32), h0, mask), layer64.forward(x, h0, mask)
    assert out32.dtype == np.float32 and layer32.last_state.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-6)
    (dx32, dh32), (dx64, dh64) = layer32.backward(dout), layer64.backward(dout)
    assert dx32.dtype == dh32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for k in layer32.grads:
        assert layer32.grads[k].dtype == np.float32
        assert rel_error(layer32.grads[k], layer64.grads[k]) < 1e-5


@cells
def test_initialisation_is_torchs(cls):
    layer = cls(10, 16, rng=np.random.default_rng(1))
    G = {GRU: 3, LSTM: 4}[cls]
    assert {k: p.shape for k, p in layer.params.items()} == {"W_ih": (10, 16 * G), "W_hh": (16, 16 * G),
                                                            "b_ih": (16 * G,), "b_hh": (16 * G,)}
    for p in layer.params.values():
        assert p.dtype == np.float32 and np.abs(p).max() <= 1 / 4 and np.abs(p).max() > 0.2  # U(-1/sqrt(H), ..)


# ----------------------------------------------------------------------------------------------------------------------
# The GRU against torch.nn.GRU, float64, the same weights, padding through packed sequences.
# ----------------------------------------------------------------------------------------------------------------------


@cells
def test_forward_and_backward_equal_torch(cls):
    """torch.nn.GRU / torch.nn.LSTM in float64 with our weights, the padded batch as a packed sequence."""
    torch = pytest.importorskip("torch")
    layer, x, h0, mask, rng = setup(cls, seed=3)
    dout, dlast = rng.standard_normal((N, T, H)), rng.standard_normal(h0.shape)
    out = layer.forward(x, h0, mask)
    last = layer.last_state.copy()
    dx, dh0 = layer.backward(dout, dlast)

    ref = getattr(torch.nn, cls.__name__)(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # torch keeps (G H, D) matrices: ours transposed; the same gate order
        ref.weight_ih_l0.copy_(torch.from_numpy(layer.params["W_ih"].T))
        ref.weight_hh_l0.copy_(torch.from_numpy(layer.params["W_hh"].T))
        ref.bias_ih_l0.copy_(torch.from_numpy(layer.params["b_ih"]))
        ref.bias_hh_l0.copy_(torch.from_numpy(layer.params["b_hh"]))
    xt = torch.tensor(x, requires_grad=True)
    states = [torch.tensor(h0[None, :, k * H:(k + 1) * H], requires_grad=True) for k in range(h0.shape[1] // H)]
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(LENGTHS), batch_first=True,
                                                     enforce_sorted=False)
    out_t, last_t = ref(packed, states[0] if cls is GRU else tuple(states))
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True, total_length=T)  # 0 at padding
    last_t = torch.cat([last_t[0]] if cls is GRU else [last_t[0][0], last_t[1][0]], dim=1)
    ((out_t * torch.from_numpy(dout)).sum() + (last_t * torch.from_numpy(dlast)).sum()).backward()

    pairs = {"out": (out, out_t), "last_state": (last, last_t), "dx": (dx, xt.grad),
             "dh0": (dh0, torch.cat([s.grad[0] for s in states], dim=1)),
             "W_ih": (layer.grads["W_ih"], ref.weight_ih_l0.grad.T), "W_hh": (layer.grads["W_hh"], ref.weight_hh_l0.grad.T),
             "b_ih": (layer.grads["b_ih"], ref.bias_ih_l0.grad), "b_hh": (layer.grads["b_hh"], ref.bias_hh_l0.grad)}
    for name, (ours, theirs) in pairs.items():
        assert rel_error(ours, theirs.detach().numpy()) < 1e-13, name


# ----------------------------------------------------------------------------------------------------------------------
# Embedding, SequenceLinear, masks.
# ----------------------------------------------------------------------------------------------------------------------


def test_embedding_looks_rows_up_and_sends_gradients_back_to_them():
    rng = np.random.default_rng(0)
    emb = Embedding(V, D, rng=rng, dtype=np.float64)
    ids = np.array([[1, 3, 3, 0], [6, 1, 3, 0]])
    out = emb.forward(ids)
    np.testing.assert_array_equal(out, emb.params["W"][ids])
    dout = rng.standard_normal(out.shape)
    assert emb.backward(dout) is None
    want = np.zeros((V, D))
    for (n, t), v in np.ndenumerate(ids):
        want[v] += dout[n, t]
    np.testing.assert_allclose(emb.grads["W"], want, rtol=1e-14)
    emb.backward(dout)
    np.testing.assert_allclose(emb.grads["W"], want, rtol=1e-14)  # overwritten, not accumulated
    assert not emb.grads["W"][[2, 4, 5]].any()
    assert emb.forward(np.array([4, 4])).shape == (2, D)  # any shape of ids


def test_sequence_linear_is_a_linear_layer_on_every_step():
    rng = np.random.default_rng(0)
    layer = SequenceLinear(H, V, rng=rng, dtype=np.float64)
    x, dout = rng.standard_normal((N, T, H)), rng.standard_normal((N, T, V))
    out = layer.forward(x)
    for t in range(T):
        np.testing.assert_allclose(out[:, t], x[:, t] @ layer.params["W"] + layer.params["b"], rtol=1e-13)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, dout @ layer.params["W"].T, rtol=1e-13)
    np.testing.assert_allclose(layer.grads["b"], dout.sum(axis=(0, 1)), rtol=1e-13)
    assert layer.params is layer.linear.params and layer.grads is layer.linear.grads
    layer.backward_params(2 * dout)
    np.testing.assert_allclose(layer.grads["b"], 2 * dout.sum(axis=(0, 1)), rtol=1e-13)


def test_mask_from_lengths():
    np.testing.assert_array_equal(mask_from_lengths([2, 3]), [[True, True, False], [True, True, True]])
    assert mask_from_lengths(np.array([1]), T=3).tolist() == [[True, False, False]]
    for bad in ([0, 2], [], [[1, 2]], [1.5]):
        with pytest.raises(ValueError, match="lengths must be"):
            mask_from_lengths(bad)
    with pytest.raises(ValueError, match="does not fit in T = 2"):
        mask_from_lengths([3], T=2)


# ----------------------------------------------------------------------------------------------------------------------
# The masked token loss.
# ----------------------------------------------------------------------------------------------------------------------


def loss_inputs(seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    mask = mask_from_lengths(LENGTHS, T)
    targets = rng.integers(0, V, (N, T))
    targets[~mask] = -1  # padding, not read
    return scale * rng.standard_normal((N, T, V)), targets, mask


def test_token_nll_is_the_textbook_cross_entropy_summed_over_real_steps():
    logits, targets, mask = loss_inputs()
    nll, dlogits = token_nll(logits, targets, mask)
    p = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)  # fine at these sizes
    safe = np.where(mask, targets, 0)
    log_p = np.log(np.take_along_axis(p, safe[..., None], axis=2)[..., 0])
    np.testing.assert_allclose(nll, -(log_p * mask).sum(axis=1), rtol=1e-13)
    one_hot = np.eye(V)[safe]
    np.testing.assert_allclose(dlogits, (p - one_hot) * mask[..., None] / N, rtol=1e-12, atol=1e-16)
    assert not dlogits[~mask].any()  # exactly 0 at padding


def test_token_nll_equals_torch_cross_entropy():
    torch = pytest.importorskip("torch")
    logits, targets, mask = loss_inputs(seed=1)
    nll, dlogits = token_nll(logits, targets, mask)
    lt = torch.tensor(logits, requires_grad=True)
    per_token = torch.nn.functional.cross_entropy(lt.reshape(-1, V), torch.tensor(np.where(mask, targets, -100))
                                                  .reshape(-1), ignore_index=-100, reduction="none")
    ref = per_token.reshape(N, T).sum(axis=1)
    ref.mean().backward()
    assert rel_error(nll, ref.detach().numpy()) < 1e-14
    assert rel_error(dlogits, lt.grad.numpy()) < 1e-14


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_token_nll_is_exact_at_logits_of_1000(dtype):
    """A confidently right step costs 0 nats, a confidently wrong one 2000; nothing overflows (the max shift)."""
    logits = np.full((2, 2, 3), -1000.0, dtype)
    logits[:, :, 0] = 1000.0
    targets = np.array([[0, 0], [1, 0]])
    nll, dlogits = token_nll(logits, targets, np.array([[True, True], [True, False]]))
    assert nll.dtype == dlogits.dtype == dtype
    np.testing.assert_array_equal(nll, np.array([0.0, 2000.0], dtype))
    np.testing.assert_array_equal(dlogits[1, 0], np.array([0.5, -0.5, 0.0], dtype))  # (softmax - one_hot) / N
    assert np.isfinite(dlogits).all() and not dlogits[1, 1].any()


def test_token_nll_of_a_sequence_with_no_real_step_is_zero():
    logits, targets, mask = loss_inputs()
    mask[2] = False
    nll, dlogits = token_nll(logits, targets, mask)
    assert nll[2] == 0 and not dlogits[2].any()
    nll_all, _ = token_nll(logits, np.where(mask, targets, 0))  # mask=None: every step is real
    padded = ~mask.all(axis=1)
    assert (nll_all[padded] > nll[padded]).all() and (nll_all[~padded] == nll[~padded]).all()


# ----------------------------------------------------------------------------------------------------------------------
# Errors that say what was wrong.
# ----------------------------------------------------------------------------------------------------------------------


@cells
def test_recurrent_errors(cls):
    layer, x, h0, mask, _ = setup(cls)
    with pytest.raises(RuntimeError, match=f"{cls.__name__}.backward needs .* call forward first"):
        cls(D, H).backward(np.zeros((N, T, H)))
    with pytest.raises(ValueError, match=r"shape \(N, T, 3\).*use x\[None\]"):
        layer.forward(x[0])
    with pytest.raises(ValueError, match=r"shape \(N, T, 3\)"):
        layer.forward(np.zeros((N, T, D + 1)))
    with pytest.raises(ValueError, match=r"mask must have the shape \(N, T\) = \(4, 5\)"):
        layer.forward(x, mask=mask.T)
    with pytest.raises(ValueError, match="mask must be boolean"):
        layer.forward(x, mask=2 * mask.astype(int))
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\) = \(4, 6\)" if cls is GRU else
                       r"h0 must have shape \(N, 2H\), h and c side by side, = \(4, 12\)"):
        layer.forward(x, h0=h0[:, :2])
    with pytest.raises(TypeError, match="real numbers"):
        layer.forward(np.full((N, T, D), "a"))
    layer.forward(x, h0, mask)
    with pytest.raises(ValueError, match=r"dout must have the outputs' shape \(4, 5, 6\)"):
        layer.backward(np.zeros((N, T, D)))
    with pytest.raises(ValueError, match=r"dh_last must have shape \(N, "):
        layer.backward(None, np.zeros(H))
    with pytest.raises(ValueError, match=r"x_t must have shape \(N, 3\)"):
        layer.step(x, h0)
    with pytest.raises(ValueError, match="hidden_dim must be a positive integer"):
        cls(3, 0)


def test_embedding_sequence_linear_and_token_nll_errors():
    emb = Embedding(V, D)
    with pytest.raises(ValueError, match=r"token id 7 at index \(1, 0\) is outside the vocabulary \[0, 7\).*<unk>"):
        emb.forward(np.array([[1, 2], [7, 0]]))
    with pytest.raises(ValueError, match="token id -1"):
        emb.forward(np.array([[-1]]))
    with pytest.raises(TypeError, match="integer token ids"):
        emb.forward(np.array([[1.0, 2.0]]))
    emb.forward(np.array([[1, 2]]))
    with pytest.raises(ValueError, match="dout must have the output's shape"):
        emb.backward(np.zeros((1, 2, D + 1)))
    layer = SequenceLinear(H, V)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, T, 6\)"):
        layer.forward(np.zeros((N, H), np.float32))
    layer.forward(np.zeros((N, T, H), np.float32))
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(4, 5, 7\)"):
        layer.backward(np.zeros((N * T, V), np.float32))
    logits, targets, mask = loss_inputs()
    with pytest.raises(ValueError, match=r"target id 7 at \(sequence 0, step 1\) is outside the vocabulary \[0, 7\)"):
        bad = targets.copy()
        bad[0, 1] = V
        token_nll(logits, bad, mask)
    with pytest.raises(ValueError, match=r"mask must have the shape \(N, T\) = \(4, 5\)"):
        token_nll(logits, targets, mask[:, :3])
    with pytest.raises(ValueError, match="targets must be integer token ids"):
        token_nll(logits, targets.astype(float), mask)
    with pytest.raises(ValueError, match=r"logits must be a float array of shape \(N, T, V\)"):
        token_nll(logits[:, 0], targets, mask)


# ----------------------------------------------------------------------------------------------------------------------
# The pieces together, as a sequence model will use them; the examples of the docstrings.
# ----------------------------------------------------------------------------------------------------------------------


@cells
def test_a_tiny_language_model_starts_at_log_v_and_learns_its_sentences(cls):
    """Embedding -> GRU or LSTM -> SequenceLinear -> token_nll on 4 ragged sequences: at initialisation the loss per
    token is near log V (every token equally likely); 150 Adam steps bring it below a tenth of that."""
    rng = np.random.default_rng(0)
    emb, rnn, head = Embedding(V, 8, rng=rng), cls(8, 16, rng=rng), SequenceLinear(16, V, rng=rng)
    layers = {"emb": emb, "rnn": rnn, "head": head}
    params = {f"{n}.{k}": p for n, layer in layers.items() for k, p in layer.params.items()}
    grads = {f"{n}.{k}": g for n, layer in layers.items() for k, g in layer.grads.items()}
    tokens = rng.integers(0, V, (N, T + 1))  # inputs are tokens 0..T-1, targets the next ones
    mask = mask_from_lengths(LENGTHS, T)
    opt = Adam(lr=3e-2)
    per_token = []
    for _ in range(150):
        logits = head.forward(rnn.forward(emb.forward(tokens[:, :T]), mask=mask))
        nll, dlogits = token_nll(logits, tokens[:, 1:], mask)
        per_token.append(nll.sum() / mask.sum())
        dx, _ = rnn.backward(head.backward(dlogits))
        emb.backward(dx)
        opt.step(params, grads)
    assert abs(per_token[0] - np.log(V)) < 0.3
    assert per_token[-1] < 0.1 * np.log(V)


@pytest.mark.parametrize("module", [sequence, recurrent, losses])
def test_the_docstring_examples_print_what_they_say(module):
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_the_public_names_are_exported():
    for name in ("Embedding", "GRU", "LSTM", "SequenceLinear", "mask_from_lengths", "token_nll"):
        assert name in minivae.__all__ and getattr(minivae, name).__doc__
