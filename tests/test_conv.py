"""Convolutions: the layers == NumPy references, the transposed conv is the conv's adjoint, gradients match finite
differences, and the ConvVAE trains end to end."""
import json

import numpy as np
import pytest

from minivae.nn import conv_kernels as ck
from minivae.nn.conv import Conv2D, ConvTranspose2D, Flatten, Unflatten
from minivae.models.conv_vae import ConvVAE
from minivae.nn.gradcheck import check_layer, check_model, rel_error

TOL = {np.float32: 1e-5, np.float64: 1e-12}

# (N, C, F, H, W, kh, kw, stride, padding, output_padding): strides 1 to 3, padding 0 to 2, odd and non-square sizes,
# non-square kernels, a 1x1 kernel, a stride larger than the kernel (inputs that no window reads), windows that lie
# entirely in the padding, output_padding below and above the padding.
CASES = [
    (2, 3, 4, 7, 6, 3, 2, 2, 1, 1),
    (1, 2, 3, 5, 5, 3, 3, 1, 0, 0),
    (3, 1, 2, 8, 9, 4, 4, 2, 1, 0),
    (2, 2, 2, 6, 7, 3, 3, 3, 2, 2),
    (2, 2, 3, 4, 4, 2, 2, 2, 0, 1),
    (2, 3, 2, 5, 4, 1, 1, 1, 0, 0),
    (1, 2, 2, 7, 7, 2, 2, 3, 0, 1),
    (2, 1, 2, 3, 3, 2, 2, 1, 2, 0),
    (1, 1, 1, 1, 1, 3, 3, 1, 1, 0),
]


def _arrays(case, dtype, rng):
    n, c, f, h, w, kh, kw, s, p, op = case
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    return x, wt, b


SQUARE = [c for c in CASES if c[5] == c[6]]  # the layers' kernels are square; im2col's need not be (below)
# ... and a ConvTranspose2D refuses a padding that cuts off its whole output (here case 7: 3 x 3 -> 0 x 0)
UPSAMPLING = [c for c in SQUARE if min(ck.conv_transpose_output_size(c[i], c[5], c[7], c[8], c[9]) for i in (3, 4))]


def conv_layer(w, b, s, p):
    """A Conv2D holding the weights w (F, C, k, k) and the bias b (None: zero), in w's dtype."""
    layer = Conv2D(w.shape[1], w.shape[0], w.shape[2], stride=s, padding=p, dtype=w.dtype)
    layer.params["W"][...] = w
    layer.params["b"][...] = 0 if b is None else b
    return layer


def transpose_layer(w, b, s, p, op):
    """A ConvTranspose2D holding the weights w (C_in, C_out, k, k) and the bias b (None: zero)."""
    layer = ConvTranspose2D(w.shape[0], w.shape[1], w.shape[2], stride=s, padding=p, output_padding=op,
                            dtype=w.dtype)
    layer.params["W"][...] = w
    layer.params["b"][...] = 0 if b is None else b
    return layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SQUARE)
def test_conv2d_layer_equals_reference(case, dtype):
    rng = np.random.default_rng(0)
    x, w, b = _arrays(case, dtype, rng)
    s, p = case[7], case[8]
    layer = conv_layer(w, b, s, p)
    out = layer.forward(x)
    ref = ck.conv2d_forward_reference(x, w, b, s, p)
    assert out.dtype == dtype and out.shape == ref.shape
    assert out.shape[2:] == (ck.conv_output_size(x.shape[2], w.shape[2], s, p),
                             ck.conv_output_size(x.shape[3], w.shape[3], s, p))
    assert rel_error(out, ref) < TOL[dtype]
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)
    assert dx.dtype == dtype
    assert rel_error(dx, ck.conv2d_backward_input_reference(dout, w, s, p, x.shape[2:])) < TOL[dtype]
    dw_ref, db_ref = ck.conv2d_backward_weights_reference(x, dout, s, p, w.shape[2:])
    assert layer.grads["W"].dtype == dtype and layer.grads["b"].dtype == dtype
    assert rel_error(layer.grads["W"], dw_ref) < TOL[dtype] and rel_error(layer.grads["b"], db_ref) < TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", UPSAMPLING)
def test_conv_transpose2d_layer_equals_reference(case, dtype):
    rng = np.random.default_rng(1)
    n, c, f, h, w_, kh, kw, s, p, op = case
    _, w, _ = _arrays(case, dtype, rng)  # (F, C, kh, kw): a transposed conv from F to C channels
    y = rng.standard_normal((n, f, h, w_)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    layer = transpose_layer(w, b, s, p, op)
    out = layer.forward(y)
    ref = ck.conv_transpose2d_forward_reference(y, w, b, s, p, op)
    assert out.shape == ref.shape == (n, c, ck.conv_transpose_output_size(h, kh, s, p, op),
                                      ck.conv_transpose_output_size(w_, kw, s, p, op))
    assert out.dtype == dtype and rel_error(out, ref) < TOL[dtype]
    dout = rng.standard_normal(out.shape).astype(dtype)
    dy = layer.backward(dout)
    assert dy.shape == y.shape
    assert rel_error(dy, ck.conv_transpose2d_backward_input_reference(dout, w, s, p)) < TOL[dtype]
    dw_ref, db_ref = ck.conv_transpose2d_backward_weights_reference(y, dout, s, p, (kh, kw))
    assert rel_error(layer.grads["W"], dw_ref) < TOL[dtype] and rel_error(layer.grads["b"], db_ref) < TOL[dtype]


def _batch_last_cols(cols):
    """The references' cols (K, N, H_out, W_out) in the kernels' batch-last layout (K, H_out, W_out, N)."""
    return np.ascontiguousarray(cols.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES[:5])
def test_im2col_col2im_kernels_equal_references(case, dtype):
    """The kernels work batch last: im2col(x (C, H, W, N)) is the reference's cols with the batch axis moved last,
    col2im likewise."""
    rng = np.random.default_rng(2)
    x, w, _ = _arrays(case, dtype, rng)
    kh, kw, s, p = w.shape[2], w.shape[3], case[7], case[8]
    cols_ref = _batch_last_cols(ck.im2col_reference(x, kh, kw, s, p))
    cols = ck.im2col(ck.batch_last(x), kh, kw, s, p, np.full(cols_ref.shape, np.nan, dtype=dtype))  # all written
    np.testing.assert_array_equal(cols, cols_ref)
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    img = ck.col2im(dcols, kh, kw, s, p, np.full(ck.batch_last(x).shape, np.nan, dtype=dtype))  # overwritten
    img_ref = ck.col2im_reference(np.ascontiguousarray(dcols.transpose(0, 3, 1, 2)), kh, kw, s, p, x.shape)
    assert rel_error(ck.batch_first(img), img_ref) < TOL[dtype]
    # col2im is the adjoint of im2col: <im2col(x), d> == <x, col2im(d)>
    lhs, rhs = np.sum(cols_ref.astype(np.float64) * dcols), np.sum(ck.batch_last(x).astype(np.float64) * img)
    assert abs(lhs - rhs) <= TOL[dtype] * np.sum(np.abs(cols_ref.astype(np.float64) * dcols))


def test_kernels_without_jit_give_the_same_answers():
    """py_func is the plain Python loop that NUMBA_DISABLE_JIT=1 runs (under that flag the kernel is py_func)."""
    im2col, col2im = (getattr(k, "py_func", k) for k in (ck.im2col, ck.col2im))
    rng = np.random.default_rng(3)
    x, w, _ = _arrays(CASES[0], np.float64, rng)
    kh, kw, s, p = 3, 2, 2, 1
    cols_ref = _batch_last_cols(ck.im2col_reference(x, kh, kw, s, p))
    x_bl = ck.batch_last(x)
    np.testing.assert_array_equal(im2col(x_bl, kh, kw, s, p, np.empty_like(cols_ref)), cols_ref)
    img = col2im(cols_ref, kh, kw, s, p, np.empty_like(x_bl))
    assert rel_error(img, ck.col2im(cols_ref, kh, kw, s, p, np.empty_like(x_bl))) < 1e-14
    img_ref = ck.col2im_reference(np.ascontiguousarray(cols_ref.transpose(0, 3, 1, 2)), kh, kw, s, p, x.shape)
    assert rel_error(ck.batch_first(img), img_ref) < 1e-14


def test_batch_last_round_trip_copies_only_when_it_must():
    """batch_first gives a view; batch_last of that view is the same memory (no copy), of NCHW data a copy."""
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    x_bl = ck.batch_last(x)
    assert x_bl.shape == (3, 4, 5, 2) and x_bl.flags.c_contiguous and not np.shares_memory(x_bl, x)
    view = ck.batch_first(x_bl)
    np.testing.assert_array_equal(view, x)
    assert np.shares_memory(view, x_bl)
    assert np.shares_memory(ck.batch_last(view), x_bl)


def test_activations_between_convolutions_keep_the_batch_last_layout():
    """A ReLU after a convolution returns its output in the same memory order, and dx in it too: the convolutions
    around it get their inputs without a copy; the values are those of the NCHW computation."""
    from minivae.nn.layers import ReLU

    rng = np.random.default_rng(8)
    conv = Conv2D(2, 3, kernel=3, stride=1, padding=1, rng=rng, dtype=np.float64)
    relu = ReLU()
    out = conv.forward(rng.standard_normal((4, 2, 5, 5)))
    assert not out.flags.c_contiguous and np.shares_memory(ck.batch_last(out), out)
    act = relu.forward(out)
    np.testing.assert_array_equal(act, np.maximum(out, 0))
    assert np.shares_memory(ck.batch_last(act), act)  # batch last already: no copy
    dout = rng.standard_normal(act.shape)
    dx = relu.backward(ck.batch_first(ck.batch_last(dout)))
    np.testing.assert_array_equal(dx, dout * (out > 0))
    assert np.shares_memory(ck.batch_last(dx), dx)
    np.testing.assert_array_equal(relu.backward(np.ascontiguousarray(dout)), dx)  # NCHW upstream: same values


@pytest.mark.parametrize("case", CASES)
def test_transposed_conv_is_the_adjoint_of_conv(case):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> with the same weights, for the references and (square
    kernels) the layers; output_padding picks the larger input sizes that the strided conv also maps to y's size."""
    rng = np.random.default_rng(4)
    n, c, f, h, w_, kh, kw, s, p, op = case
    w = rng.standard_normal((f, c, kh, kw))
    y = rng.standard_normal((n, f, h, w_))
    transposes = [lambda v: ck.conv_transpose2d_forward_reference(v, w, None, s, p, op)]
    convs = [lambda v: ck.conv2d_forward_reference(v, w, None, s, p)]
    if case in UPSAMPLING:
        transposes.append(transpose_layer(w, None, s, p, op).forward)
        convs.append(conv_layer(w, None, s, p).forward)
    for transpose in transposes:
        t = transpose(y)  # (N, C, H_t, W_t)
        x = rng.standard_normal(t.shape)
        for conv in convs:
            cx = conv(x)
            assert cx.shape == y.shape
            lhs, rhs = np.sum(cx * y), np.sum(x * t)
            assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_conv2d_by_hand():
    """A 2x2 kernel of ones sums each 2x2 window; with stride 2 and no padding the windows do not overlap."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    ones = np.ones((1, 1, 2, 2))
    for conv in (conv_layer(ones, np.array([0.5]), 2, 0).forward,
                 lambda v: ck.conv2d_forward_reference(v, ones, np.array([0.5]), 2, 0)):
        np.testing.assert_array_equal(conv(x)[0, 0], [[0 + 1 + 4 + 5 + 0.5, 2 + 3 + 6 + 7 + 0.5],
                                                      [8 + 9 + 12 + 13 + 0.5, 10 + 11 + 14 + 15 + 0.5]])
    # padding 1, stride 1: the corner output sees only x[0, 0]
    for conv in (conv_layer(ones, None, 1, 1).forward, lambda v: ck.conv2d_forward_reference(v, ones, None, 1, 1)):
        out = conv(x)
        assert out.shape == (1, 1, 5, 5) and out[0, 0, 0, 0] == 0 and out[0, 0, 4, 4] == 15


@pytest.mark.parametrize("s, p", [(1, 0), (2, 1), (3, 2)])
def test_transposed_conv_stamps_the_kernel(s, p):
    """The definition: a single 1 at input pixel (h, v) puts the kernel at rows h*s - p .., columns v*s - p .."""
    k, h, v = 3, 2, 1
    w = np.arange(1.0, 1 + k * k).reshape(1, 1, k, k)
    y = np.zeros((1, 1, 3, 3))
    y[0, 0, h, v] = 1
    expected = np.zeros((ck.conv_transpose_output_size(3, k, s, p) + 2 * p,) * 2)
    expected[h * s:h * s + k, v * s:v * s + k] = w[0, 0]
    for out in (transpose_layer(w, None, s, p, 0).forward(y), ck.conv_transpose2d_forward_reference(y, w, None, s, p)):
        np.testing.assert_array_equal(out[0, 0], expected[p:len(expected) - p, p:len(expected) - p])


def test_output_size_formulas():
    assert ck.conv_output_size(28, 4, 2, 1) == 14 and ck.conv_output_size(14, 4, 2, 1) == 7
    assert ck.conv_output_size(7, 3, 2, 0) == 3  # floor((7 - 3) / 2) + 1
    assert ck.conv_transpose_output_size(7, 4, 2, 1) == 14
    assert ck.conv_transpose_output_size(3, 3, 2, 0, output_padding=1) == 8
    for h in range(4, 12):  # the transposed conv undoes the conv's size for the right output_padding
        h_out = ck.conv_output_size(h, 3, 2, 1)
        op = h - ck.conv_transpose_output_size(h_out, 3, 2, 1)
        assert 0 <= op < 2


# ----------------------------------------------------------------------------------------------------------------------
# Layers: gradient checks (float64, random upstream gradient), shapes, errors
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_ch, out_ch, k, s, p, hw", [(2, 3, 3, 1, 0, (5, 6)), (2, 3, 4, 2, 1, (6, 7)),
                                                        (1, 2, 3, 2, 0, (7, 5)), (3, 2, 1, 1, 0, (3, 3))])
def test_conv2d_layer_gradients(in_ch, out_ch, k, s, p, hw):
    rng = np.random.default_rng(5)
    layer = Conv2D(in_ch, out_ch, k, stride=s, padding=p, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(out_ch)
    errors = check_layer(layer, rng.standard_normal((2, in_ch, *hw)), rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("in_ch, out_ch, k, s, p, op, hw", [(3, 2, 3, 1, 0, 0, (4, 5)), (2, 3, 4, 2, 1, 0, (3, 4)),
                                                            (2, 2, 3, 2, 1, 1, (4, 3)), (2, 1, 3, 3, 0, 2, (2, 3))])
def test_conv_transpose2d_layer_gradients(in_ch, out_ch, k, s, p, op, hw):
    rng = np.random.default_rng(6)
    layer = ConvTranspose2D(in_ch, out_ch, k, stride=s, padding=p, output_padding=op, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(out_ch)
    errors = check_layer(layer, rng.standard_normal((2, in_ch, *hw)), rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


def test_flatten_unflatten_gradients_and_round_trip():
    rng = np.random.default_rng(7)
    assert check_layer(Flatten(), rng.standard_normal((2, 3, 4, 5)), rng)["x"] < 1e-6
    assert check_layer(Unflatten((3, 2, 2)), rng.standard_normal((2, 12)), rng)["x"] < 1e-6
    x = rng.standard_normal((2, 3, 4, 5))
    flat = Flatten().forward(x)
    assert flat.shape == (2, 60)
    np.testing.assert_array_equal(flat[1, :20], x[1, 0].reshape(-1))  # channel 0's pixels first
    np.testing.assert_array_equal(Unflatten((3, 4, 5)).forward(flat), x)


def test_layer_shapes_and_grads_are_overwritten():
    rng = np.random.default_rng(8)
    conv = Conv2D(1, 4, 4, stride=2, padding=1, rng=rng)
    up = ConvTranspose2D(4, 1, 4, stride=2, padding=1, rng=rng)
    x = rng.random((3, 1, 28, 28)).astype(np.float32)
    h = conv.forward(x)
    assert h.shape == (3, 4, 14, 14) and h.dtype == np.float32
    assert conv.params["W"].shape == (4, 1, 4, 4) and up.params["W"].shape == (4, 1, 4, 4)
    out = up.forward(h)
    assert out.shape == (3, 1, 28, 28) and out.dtype == np.float32
    gW = up.grads["W"]
    dout = rng.standard_normal(out.shape).astype(np.float32)
    first = up.backward(dout), gW.copy()
    up.backward(dout)
    assert up.grads["W"] is gW  # the same array, so a Sequential's view of it stays valid
    np.testing.assert_array_equal(gW, first[1])  # overwritten, not accumulated
    assert conv.backward(first[0]).shape == x.shape


def test_conv2d_backward_params_fills_the_same_grads_without_dx():
    """The first layer of an encoder sees data: backward_params skips dx (its product and col2im)."""
    rng = np.random.default_rng(9)
    conv = Conv2D(2, 3, 3, stride=2, padding=1, rng=rng, dtype=np.float64)
    x = rng.random((4, 2, 9, 9))
    dout = rng.standard_normal(conv.forward(x).shape)
    conv.backward(dout)
    expected = {k: v.copy() for k, v in conv.grads.items()}
    for g in conv.grads.values():
        g[...] = np.nan
    conv.backward_params(dout)
    for k in expected:
        np.testing.assert_array_equal(conv.grads[k], expected[k])


def test_layer_errors():
    conv = Conv2D(3, 4, 3)
    with pytest.raises(ValueError, match="3 input channel"):
        conv.forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*Unflatten"):
        conv.forward(np.zeros((2, 192)))
    with pytest.raises(ValueError, match="at least 3 x 3"):
        conv.forward(np.zeros((2, 3, 2, 8)))
    conv.forward(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="gradient of the output's shape"):
        conv.backward(np.zeros((2, 4, 5, 5)))
    with pytest.raises(ValueError, match="output_padding must be smaller than stride"):
        ConvTranspose2D(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="2 input channel"):
        ConvTranspose2D(2, 1, 3).forward(np.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match="cuts off everything"):
        ConvTranspose2D(1, 1, 2, padding=1).forward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="padding must be a non-negative integer"):
        Conv2D(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match="kernel must be a positive integer"):
        Conv2D(1, 1, 0)
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        Unflatten((1, 28, 28)).forward(np.zeros((2, 783)))


# ----------------------------------------------------------------------------------------------------------------------
# ConvVAE
# ----------------------------------------------------------------------------------------------------------------------


def _small_vae(likelihood="bernoulli"):
    return ConvVAE(latent_dim=2, image_shape=(8, 8), channels=(2, 3), likelihood=likelihood, seed=1,
                   dtype=np.float64)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian_learned"])
def test_conv_vae_gradients(likelihood):
    """Every parameter of encoder and decoder against finite differences, with the noise eps frozen."""
    vae = _small_vae(likelihood)
    rng = np.random.default_rng(9)
    for k, p in vae.params.items():  # non-zero biases, so that a wrong bias gradient shows
        if k.endswith(".b"):
            p[:] = 0.1 * rng.standard_normal(p.shape)
    x, eps = rng.random((2, 64)), rng.standard_normal((2, 2))
    errors = check_model(vae, lambda: vae.loss_and_gradients(x, eps=eps, beta=0.7).loss, max_entries=25, rng=rng)
    assert len(errors) == 12  # W and b of 2 Conv2D, 2 Linear and 2 ConvTranspose2D layers
    assert max(errors.values()) < 1e-6, errors


def test_conv_vae_shapes_for_mnist():
    vae = ConvVAE(latent_dim=3)
    names = [type(layer).__name__ for layer in vae.encoder.layers + vae.decoder.layers]
    assert names == ["Unflatten", "Conv2D", "ReLU", "Conv2D", "ReLU", "Flatten", "Linear",
                     "Linear", "ReLU", "Unflatten", "ConvTranspose2D", "ReLU", "ConvTranspose2D", "Flatten"]
    assert vae.params["encoder.3.W"].shape == (64, 32, 4, 4)
    assert vae.params["encoder.6.W"].shape == (64 * 7 * 7, 6)
    assert vae.params["decoder.3.W"].shape == (64, 32, 4, 4)  # ConvTranspose2D(64, 32): (in_ch, out_ch, k, k)
    x = np.random.default_rng(0).random((4, 784))
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (4, 3) and mu.dtype == np.float32
    assert vae.reconstruct(x).shape == (4, 784)
    assert vae.sample(5, np.random.default_rng(1)).shape == (5, 784)
    assert "ConvVAE(latent_dim=3" in repr(vae)


def test_conv_vae_config_round_trip():
    vae = ConvVAE(latent_dim=2, image_shape=(8, 16), channels=(2, 3, 4), likelihood="gaussian", seed=3)
    cfg = json.loads(json.dumps(vae.config()))  # what a checkpoint stores
    assert cfg["model"] == "ConvVAE"
    again = ConvVAE.from_config(cfg)
    assert again.config() == vae.config()
    assert sorted(again.params) == sorted(vae.params)
    for k in vae.params:
        np.testing.assert_array_equal(again.params[k], vae.params[k])
    with pytest.raises(ValueError, match="not a ConvVAE"):
        ConvVAE.from_config({**cfg, "model": "VAE"})


def test_conv_vae_errors():
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvVAE(image_shape=(28, 30 - 1))
    with pytest.raises(ValueError, match="784 columns"):
        ConvVAE(latent_dim=2).encode(np.zeros((2, 100)))


def test_conv_vae_training_reduces_the_loss_and_is_deterministic():
    from minivae.nn.optim import Adam

    def run():
        vae = ConvVAE(latent_dim=2, image_shape=(8, 8), channels=(4, 8), seed=0)
        x = (np.random.default_rng(0).random((16, 64)) < 0.3).astype(np.float32)
        opt, rng, losses = Adam(lr=3e-3), np.random.default_rng(1), []
        for _ in range(40):
            losses.append(vae.loss_and_gradients(x, rng=rng).loss)
            opt.step(vae.params, vae.grads)
        return losses

    losses = run()
    assert losses[-1] < 0.9 * losses[0]
    assert losses == run()  # bitwise reproducible
