"""The sequence layers as a user meets them: the GRU against its equations and against torch.nn.GRU, what a mask
means, the masked token loss, the embedding, their errors, and a tiny language model that learns.

The finite-difference checks of every gradient are in tests/test_gradients.py, the kernels against their twins in
tests/test_kernels.py. Here the GRU is compared with two independent computations: the equations of its docstring
written out in plain NumPy (forward), and PyTorch in float64 with the same weights copied in (forward and backward,
skipped when torch is not installed), whose packed sequences are the same convention for padding.
"""
import doctest

import numpy as np
import pytest

import minivae
from minivae.nn import losses, recurrent, sequence
from minivae.nn.gradcheck import rel_error
from minivae.nn.losses import token_nll
from minivae.nn.optim import Adam
from minivae.nn.recurrent import GRU
from minivae.nn.sequence import Embedding, SequenceLinear, mask_from_lengths

N, T, D, H, V = 4, 5, 3, 6, 7
LENGTHS = np.array([5, 2, 1, 4])  # ragged, with a sequence of length 1


def setup(seed=0, dtype=np.float64, lengths=LENGTHS):
    rng = np.random.default_rng(seed)
    gru = GRU(D, H, rng=rng, dtype=dtype)
    x = rng.standard_normal((len(lengths), T, D)).astype(dtype)
    h0 = rng.standard_normal((len(lengths), H)).astype(dtype)
    return gru, x, h0, mask_from_lengths(lengths, T), rng


def gru_by_the_equations(params, x, h0, mask):
    """The docstring's equations step by step, in plain NumPy, with no kernel: (outputs, last_state)."""
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh"))
    W_ir, W_iz, W_in = np.split(W_ih, 3, axis=1)
    W_hr, W_hz, W_hn = np.split(W_hh, 3, axis=1)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    sigma = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h, outs = h0, []
    for t in range(x.shape[1]):
        x_t, m = x[:, t], mask[:, t, None]
        r = sigma(x_t @ W_ir + b_ir + h @ W_hr + b_hr)
        z = sigma(x_t @ W_iz + b_iz + h @ W_hz + b_hz)
        n = np.tanh(x_t @ W_in + b_in + r * (h @ W_hn + b_hn))
        h = m * ((1 - z) * n + z * h) + (1 - m) * h
        outs.append(m * h)
    return np.stack(outs, axis=1), h


# ----------------------------------------------------------------------------------------------------------------------
# The GRU's forward pass against its equations; what the mask means.
# ----------------------------------------------------------------------------------------------------------------------


def test_gru_forward_is_the_equations_of_its_docstring():
    gru, x, h0, mask, _ = setup()
    out = gru.forward(x, h0, mask)
    want_out, want_last = gru_by_the_equations(gru.params, x, h0, mask)
    assert out.shape == (N, T, H) and gru.last_state.shape == (N, H)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gru.last_state, want_last, rtol=1e-12, atol=1e-14)


def test_outputs_at_padding_are_zero_and_last_state_is_the_state_after_the_last_real_token():
    gru, x, h0, mask, _ = setup()
    out = gru.forward(x, h0, mask)
    last = gru.last_state.copy()
    assert not out[~mask].any()
    for n, length in enumerate(LENGTHS):
        np.testing.assert_array_equal(last[n], out[n, length - 1])


def test_each_sequence_alone_gives_what_it_gives_in_a_padded_batch():
    """Run sequence n alone, cut to its length and without a mask: the same outputs, last state and gradients."""
    gru, x, h0, mask, rng = setup()
    dout, dlast = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))
    out = gru.forward(x, h0, mask)
    last = gru.last_state.copy()
    dx, dh0 = gru.backward(dout, dlast)
    grads = {k: np.zeros_like(g) for k, g in gru.grads.items()}
    for n, length in enumerate(LENGTHS):
        o = gru.forward(x[n:n + 1, :length], h0[n:n + 1])
        np.testing.assert_allclose(o[0], out[n, :length], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gru.last_state[0], last[n], rtol=1e-12, atol=1e-14)
        dx_n, dh0_n = gru.backward(dout[n:n + 1, :length], dlast[n:n + 1])
        np.testing.assert_allclose(dx_n[0], dx[n, :length], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(dh0_n[0], dh0[n], rtol=1e-10, atol=1e-13)
        for k in grads:
            grads[k] += gru.grads[k]
    gru.forward(x, h0, mask)
    gru.backward(dout, dlast)
    for k in grads:  # the batch's parameter gradients are the sums over its sequences
        assert rel_error(gru.grads[k], grads[k]) < 1e-12


def test_what_lies_at_padded_steps_changes_nothing():
    """Other inputs and other upstream gradients at the padded steps: the same outputs and the same gradients."""
    gru, x, h0, mask, rng = setup()
    dout, dlast = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))
    out, (dx, dh0) = gru.forward(x, h0, mask), gru.backward(dout, dlast)
    grads = {k: g.copy() for k, g in gru.grads.items()}
    x2, dout2 = x.copy(), dout.copy()
    x2[~mask] = 1e6 * rng.standard_normal((np.sum(~mask), D))
    dout2[~mask] = np.nan  # not even a NaN there is read
    np.testing.assert_array_equal(gru.forward(x2, h0, mask), out)
    dx2, dh02 = gru.backward(dout2, dlast)
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_array_equal(dh02, dh0)
    assert not dx[~mask].any()
    for k in grads:
        np.testing.assert_array_equal(gru.grads[k], grads[k])


def test_defaults_no_mask_no_h0_no_dout_no_dh_last():
    gru, x, _, _, rng = setup()
    everything = np.ones((N, T), bool)
    np.testing.assert_array_equal(gru.forward(x), gru.forward(x, np.zeros((N, H)), everything))
    np.testing.assert_array_equal(gru.forward(x, mask=np.ones((N, T), int)), gru.forward(x, mask=everything))
    dlast = rng.standard_normal((N, H))
    gru.forward(x)
    a = gru.backward(None, dlast)  # an encoder: only the last state is used
    b = gru.backward(np.zeros((N, T, H)), dlast)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    dx, dh0 = gru.backward(rng.standard_normal((N, T, H)))  # dh_last=None: last_state unused
    assert dx.shape == (N, T, D) and dh0.shape == (N, H)


def test_step_by_step_decoding_gives_the_outputs_of_forward_and_keeps_the_cache():
    gru, x, h0, _, rng = setup()
    out = gru.forward(x, h0)
    dout = rng.standard_normal(out.shape)
    h = h0
    for t in range(T):
        h = gru.step(x[:, t], h)
        np.testing.assert_allclose(h, out[:, t], rtol=1e-13, atol=1e-15)
    dx, _ = gru.backward(dout)  # the steps did not touch what forward kept
    gru.forward(x, h0)
    np.testing.assert_array_equal(gru.backward(dout)[0], dx)
    with pytest.raises(ValueError, match=r"x_t must have shape \(N, 3\)"):
        gru.step(x, h0)


def test_backward_overwrites_the_gradients():
    gru, x, h0, mask, rng = setup()
    dout = rng.standard_normal((N, T, H))
    gru.forward(x, h0, mask)
    gru.backward(dout)
    first = {k: g.copy() for k, g in gru.grads.items()}
    arrays = {k: id(g) for k, g in gru.grads.items()}
    gru.backward(dout)
    for k in first:
        np.testing.assert_array_equal(gru.grads[k], first[k])  # not doubled
        assert id(gru.grads[k]) == arrays[k]  # the same arrays, so an optimizer may hold on to them


def test_float32_agrees_with_float64():
    gru64, x, h0, mask, rng = setup()
    gru32 = GRU(D, H, dtype=np.float32)
    for k in gru32.params:
        gru32.params[k][...] = gru64.params[k]
    dout = rng.standard_normal((N, T, H))
    out32, out64 = gru32.forward(x.astype(np.float32), h0, mask), gru64.forward(x, h0, mask)
    assert out32.dtype == np.float32 and gru32.last_state.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-6)
    (dx32, dh32), (dx64, dh64) = gru32.backward(dout), gru64.backward(dout)
    assert dx32.dtype == dh32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    for k in gru32.grads:
        assert gru32.grads[k].dtype == np.float32
        assert rel_error(gru32.grads[k], gru64.grads[k]) < 1e-5


def test_initialisation_is_torchs():
    gru = GRU(10, 16, rng=np.random.default_rng(1))
    assert {k: p.shape for k, p in gru.params.items()} == {"W_ih": (10, 48), "W_hh": (16, 48), "b_ih": (48,),
                                                          "b_hh": (48,)}
    for p in gru.params.values():
        assert p.dtype == np.float32 and np.abs(p).max() <= 1 / 4 and np.abs(p).max() > 0.2  # U(-1/sqrt(H), ..)


# ----------------------------------------------------------------------------------------------------------------------
# The GRU against torch.nn.GRU, float64, the same weights, padding through packed sequences.
# ----------------------------------------------------------------------------------------------------------------------


def test_gru_equals_torch_forward_and_backward():
    torch = pytest.importorskip("torch")
    gru, x, h0, mask, rng = setup(seed=3)
    dout, dlast = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))
    out = gru.forward(x, h0, mask)
    last = gru.last_state.copy()
    dx, dh0 = gru.backward(dout, dlast)

    ref = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # torch keeps (3H, D) matrices: ours transposed; the same gate order r, z, n
        ref.weight_ih_l0.copy_(torch.from_numpy(gru.params["W_ih"].T))
        ref.weight_hh_l0.copy_(torch.from_numpy(gru.params["W_hh"].T))
        ref.bias_ih_l0.copy_(torch.from_numpy(gru.params["b_ih"]))
        ref.bias_hh_l0.copy_(torch.from_numpy(gru.params["b_hh"]))
    xt, ht = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(LENGTHS), batch_first=True,
                                                     enforce_sorted=False)
    out_t, last_t = ref(packed, ht)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True, total_length=T)  # 0 at padding
    ((out_t * torch.from_numpy(dout)).sum() + (last_t[0] * torch.from_numpy(dlast)).sum()).backward()

    pairs = {"out": (out, out_t), "last_state": (last, last_t[0]), "dx": (dx, xt.grad), "dh0": (dh0, ht.grad[0]),
             "W_ih": (gru.grads["W_ih"], ref.weight_ih_l0.grad.T), "W_hh": (gru.grads["W_hh"], ref.weight_hh_l0.grad.T),
             "b_ih": (gru.grads["b_ih"], ref.bias_ih_l0.grad), "b_hh": (gru.grads["b_hh"], ref.bias_hh_l0.grad)}
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


def test_gru_errors():
    gru, x, h0, mask, _ = setup()
    with pytest.raises(RuntimeError, match="call forward first"):
        GRU(D, H).backward(np.zeros((N, T, H)))
    with pytest.raises(ValueError, match=r"shape \(N, T, 3\).*use x\[None\]"):
        gru.forward(x[0])
    with pytest.raises(ValueError, match=r"shape \(N, T, 3\)"):
        gru.forward(np.zeros((N, T, D + 1)))
    with pytest.raises(ValueError, match=r"mask must have the shape \(N, T\) = \(4, 5\)"):
        gru.forward(x, mask=mask.T)
    with pytest.raises(ValueError, match="mask must be boolean"):
        gru.forward(x, mask=2 * mask.astype(int))
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\) = \(4, 6\)"):
        gru.forward(x, h0=h0[:, :2])
    with pytest.raises(TypeError, match="real numbers"):
        gru.forward(np.full((N, T, D), "a"))
    gru.forward(x, h0, mask)
    with pytest.raises(ValueError, match=r"dout must have the outputs' shape \(4, 5, 6\)"):
        gru.backward(np.zeros((N, T, D)))
    with pytest.raises(ValueError, match=r"dh_last must have shape \(N, H\)"):
        gru.backward(None, np.zeros(H))
    with pytest.raises(ValueError, match="hidden_dim must be a positive integer"):
        GRU(3, 0)


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


def test_a_tiny_language_model_starts_at_log_v_and_learns_its_sentences():
    """Embedding -> GRU -> SequenceLinear -> token_nll on 4 ragged sequences: at initialisation the loss per token is
    near log V (every token equally likely); 150 Adam steps bring it below a tenth of that."""
    rng = np.random.default_rng(0)
    emb, gru, head = Embedding(V, 8, rng=rng), GRU(8, 16, rng=rng), SequenceLinear(16, V, rng=rng)
    layers = {"emb": emb, "gru": gru, "head": head}
    params = {f"{n}.{k}": p for n, layer in layers.items() for k, p in layer.params.items()}
    grads = {f"{n}.{k}": g for n, layer in layers.items() for k, g in layer.grads.items()}
    tokens = rng.integers(0, V, (N, T + 1))  # inputs are tokens 0..T-1, targets the next ones
    mask = mask_from_lengths(LENGTHS, T)
    opt = Adam(lr=3e-2)
    per_token = []
    for _ in range(150):
        logits = head.forward(gru.forward(emb.forward(tokens[:, :T]), mask=mask))
        nll, dlogits = token_nll(logits, tokens[:, 1:], mask)
        per_token.append(nll.sum() / mask.sum())
        dx, _ = gru.backward(head.backward(dlogits))
        emb.backward(dx)
        opt.step(params, grads)
    assert abs(per_token[0] - np.log(V)) < 0.3
    assert per_token[-1] < 0.1 * np.log(V)


@pytest.mark.parametrize("module", [sequence, recurrent, losses])
def test_the_docstring_examples_print_what_they_say(module):
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_the_public_names_are_exported():
    for name in ("Embedding", "GRU", "SequenceLinear", "mask_from_lengths", "token_nll"):
        assert name in minivae.__all__ and getattr(minivae, name).__doc__
