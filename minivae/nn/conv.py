"""Convolutional layers for images: Conv2D, ConvTranspose2D, and the reshapes Flatten and Unflatten between them.

The interface is that of ``minivae.nn.layers`` (``forward`` caches, ``backward`` returns dx and *overwrites*
``layer.grads``; ``params`` and ``grads`` are dicts of arrays), so these layers go into a ``Sequential`` next to
Linear and ReLU. Images are NCHW: (N, C, H, W). The arithmetic, with its formulas, lives in
``minivae.nn.conv_kernels``, which works batch last, (C, H, W, N): a convolution returns an (N, C, H, W) view of
batch-last memory, which the next convolution (and an activation between them) takes without a copy.

A convolutional encoder downsamples with stride-2 Conv2D layers; the decoder upsamples with stride-2
ConvTranspose2D layers, which are the exact adjoints (transposes) of such convolutions and undo their change of size:
with kernel 4, stride 2, padding 1 a Conv2D halves an even H, and a ConvTranspose2D doubles it back.
"""
import numpy as np

from minivae.nn import conv_kernels as ck
from minivae.nn.layers import Layer
from minivae.validation import check_dtype, check_positive_int


def _check_non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_images(layer, x, channels):
    """x must be (N, channels, H, W)."""
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        shape = getattr(x, "shape", None)
        raise ValueError(f"{layer!r} expects images of shape (N, C, H, W) with C = {channels}, got shape {shape}; "
                         "put an Unflatten layer before it to turn (N, C*H*W) rows into images")
    if x.shape[1] != channels:
        raise ValueError(f"{layer!r} expects {channels} input channel(s), got shape {x.shape} "
                         f"({x.shape[1]} channels); check the previous layer's out_ch")


def _check_upstream(layer, dout, expected_shape):
    if dout.shape != expected_shape:
        raise ValueError(f"{layer!r}.backward expects a gradient of the output's shape {expected_shape}, "
                         f"got {dout.shape}")


class Conv2D(Layer):
    """2-D convolution ``out = conv2d(x, W) + b`` (cross-correlation, as in PyTorch's Conv2d).

    Shapes: x (N, in_ch, H, W), W (out_ch, in_ch, k, k), b (out_ch,), out (N, out_ch, H_out, W_out) with
    H_out = floor((H + 2 padding - k) / stride) + 1 (the same for W).

        out[n, f, oh, ow] = b[f] + sum_{c, i, j} W[f, c, i, j] * xpad[n, c, oh*stride + i, ow*stride + j]

    Backward, with upstream dout (N, out_ch, H_out, W_out):
        dW[f, c, i, j] = sum_{n, oh, ow} dout[n, f, oh, ow] * xpad[n, c, oh*stride + i, ow*stride + j]
        db[f]          = sum_{n, oh, ow} dout[n, f, oh, ow]
        dx             = conv_transpose2d(dout, W)          (the adjoint of the convolution, see conv_kernels)

    Initialisation: He, W ~ N(0, 2 / fan_in) with fan_in = in_ch * k * k (the numbers summed into one output);
    biases zero.

    Example
    -------
    >>> conv = Conv2D(1, 8, kernel=4, stride=2, padding=1, rng=np.random.default_rng(0))
    >>> conv.forward(np.zeros((5, 1, 28, 28), dtype=np.float32)).shape
    (5, 8, 14, 14)
    """

    def __init__(self, in_ch, out_ch, kernel, stride=1, padding=0, rng=None, dtype=np.float32):
        super().__init__()
        self.in_ch = check_positive_int(in_ch, "in_ch")
        self.out_ch = check_positive_int(out_ch, "out_ch")
        self.kernel = check_positive_int(kernel, "kernel")
        self.stride = check_positive_int(stride, "stride")
        self.padding = _check_non_negative_int(padding, "padding")
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(0) if rng is None else rng
        fan_in = in_ch * kernel * kernel
        W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(out_ch, in_ch, kernel, kernel))
        self.params = {"W": W.astype(self.dtype), "b": np.zeros(out_ch, dtype=self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.x_shape, self.cols = None, None

    def output_size(self, h, w):
        """(H_out, W_out) for an (h, w) input."""
        return (ck.conv_output_size(h, self.kernel, self.stride, self.padding),
                ck.conv_output_size(w, self.kernel, self.stride, self.padding))

    def forward(self, x):
        _check_images(self, x, self.in_ch)
        h, w = x.shape[2:]
        if min(h, w) + 2 * self.padding < self.kernel:
            raise ValueError(f"{self!r} needs images of at least {self.kernel - 2 * self.padding} x "
                             f"{self.kernel - 2 * self.padding} pixels (kernel {self.kernel}, padding "
                             f"{self.padding}), got {h} x {w}; use a smaller kernel or more padding")
        self.x_shape = x.shape
        x_bl = ck.batch_last(x)  # (in_ch, H, W, N)
        self.cols = ck.im2col_batch(x_bl, self.kernel, self.kernel, self.stride, self.padding)  # kept for dW
        return ck.batch_first(ck.conv2d_from_cols(self.cols, self.params["W"], self.params["b"]))

    def backward(self, dout):
        dout_bl = self.backward_params(dout)
        n, c, h, w = self.x_shape
        return ck.batch_first(ck.conv2d_input_grad(dout_bl, self.params["W"], self.stride, self.padding, (c, h, w, n)))

    def backward_params(self, dout):
        """dW and db only (the input is the data): no dx, so no col2im. Returns dout batch last for dx."""
        n, _, h, w = self.x_shape
        _check_upstream(self, dout, (n, self.out_ch, *self.output_size(h, w)))
        dout_bl = ck.batch_last(dout)
        dW, db = ck.conv2d_weight_grad(self.cols, dout_bl)
        self.grads["W"][...] = dW.reshape(self.grads["W"].shape)
        self.grads["b"][...] = db
        return dout_bl

    def __repr__(self):
        return (f"Conv2D({self.in_ch}, {self.out_ch}, kernel={self.kernel}, stride={self.stride}, "
                f"padding={self.padding})")


class ConvTranspose2D(Layer):
    """Transposed 2-D convolution (PyTorch's ConvTranspose2d): the adjoint of a Conv2D, used to upsample.

    Shapes: x (N, in_ch, H, W), W (in_ch, out_ch, k, k) (PyTorch's layout: the weights of the Conv2D from out_ch
    to in_ch channels that this layer is the transpose of), b (out_ch,), out (N, out_ch, H_out, W_out) with
    H_out = (H - 1) stride - 2 padding + k + output_padding, where 0 <= output_padding < stride.

    Forward: every input pixel stamps the kernel, scaled by its value, onto the output at stride ``stride``;
    the stamps add up where they overlap, ``padding`` rows/columns are cut off each side, b is added:

        out[n, f, h*stride + i - padding, v*stride + j - padding] += W[c, f, i, j] * x[n, c, h, v]

    Backward, with upstream dout (N, out_ch, H_out, W_out):
        dx = conv2d(dout, W)                                       (stride, padding; no bias)
        dW[c, f, i, j] = sum_{n, h, v} x[n, c, h, v] * doutpad[n, f, h*stride + i, v*stride + j]
        db[f] = sum_{n, oh, ow} dout[n, f, oh, ow]

    Initialisation: He, W ~ N(0, 2 / fan_in) with fan_in = in_ch * k * k / stride^2, the average number of stamps
    (input pixels times channels) that reach one output pixel; biases zero.

    Example
    -------
    >>> up = ConvTranspose2D(8, 1, kernel=4, stride=2, padding=1, rng=np.random.default_rng(0))
    >>> up.forward(np.zeros((5, 8, 14, 14), dtype=np.float32)).shape
    (5, 1, 28, 28)
    """

    def __init__(self, in_ch, out_ch, kernel, stride=1, padding=0, output_padding=0, rng=None, dtype=np.float32):
        super().__init__()
        self.in_ch = check_positive_int(in_ch, "in_ch")
        self.out_ch = check_positive_int(out_ch, "out_ch")
        self.kernel = check_positive_int(kernel, "kernel")
        self.stride = check_positive_int(stride, "stride")
        self.padding = _check_non_negative_int(padding, "padding")
        self.output_padding = _check_non_negative_int(output_padding, "output_padding")
        if self.output_padding >= self.stride:
            raise ValueError(f"output_padding must be smaller than stride ({stride}), got {output_padding}: "
                             "it only chooses among the stride input sizes that a strided Conv2D maps to one size")
        self.dtype = check_dtype(dtype)
        rng = np.random.default_rng(0) if rng is None else rng
        fan_in = max(in_ch * kernel * kernel / stride**2, 1.0)
        W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(in_ch, out_ch, kernel, kernel))
        self.params = {"W": W.astype(self.dtype), "b": np.zeros(out_ch, dtype=self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.x_bl = None

    def output_size(self, h, w):
        """(H_out, W_out) for an (h, w) input."""
        k, s, p, op = self.kernel, self.stride, self.padding, self.output_padding
        return ck.conv_transpose_output_size(h, k, s, p, op), ck.conv_transpose_output_size(w, k, s, p, op)

    def forward(self, x):
        _check_images(self, x, self.in_ch)
        h_out, w_out = self.output_size(*x.shape[2:])
        if min(h_out, w_out) < 1:
            raise ValueError(f"{self!r} maps {x.shape[2]} x {x.shape[3]} images to {h_out} x {w_out}: the padding "
                             "cuts off everything; use less padding or larger inputs")
        self.x_bl = ck.batch_last(x)  # (in_ch, H, W, N): the input as a matrix, kept for dW
        W = self.params["W"]  # as the weights (in_ch, out_ch, k, k) of the Conv2D(out_ch -> in_ch) it transposes
        out = ck.conv2d_input_grad(self.x_bl, W, self.stride, self.padding, (self.out_ch, h_out, w_out, len(x)))
        out += self.params["b"][:, None, None, None]
        return ck.batch_first(out)

    def backward(self, dout):
        _, h, w, n = self.x_bl.shape
        _check_upstream(self, dout, (n, self.out_ch, *self.output_size(h, w)))
        dout_bl = ck.batch_last(dout)
        cols = ck.im2col_batch(dout_bl, self.kernel, self.kernel, self.stride, self.padding)  # (out_ch k k, H, W, N)
        dW, _ = ck.conv2d_weight_grad(cols, self.x_bl)  # the Conv2D's dW with x played by dout, dout by x
        self.grads["W"][...] = dW.reshape(self.grads["W"].shape)
        self.grads["b"][...] = dout_bl.reshape(self.out_ch, -1).sum(axis=1)
        return ck.batch_first(ck.conv2d_from_cols(cols, self.params["W"], None))  # dx = conv2d(dout, W)

    def __repr__(self):
        return (f"ConvTranspose2D({self.in_ch}, {self.out_ch}, kernel={self.kernel}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding})")


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), row-major (channel 0's pixels first); backward reshapes dout back.

    Example
    -------
    >>> Flatten().forward(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    """

    def forward(self, x):
        if x.ndim < 2:
            raise ValueError(f"Flatten expects a batch of shape (N, ...) with at least 2 dimensions, got {x.shape}")
        self.shape = x.shape
        return np.ascontiguousarray(x).reshape(len(x), -1)

    def backward(self, dout):
        return np.ascontiguousarray(dout).reshape(self.shape)


class Unflatten(Layer):
    """(N, prod(shape)) -> (N, *shape), e.g. Unflatten((1, 28, 28)) turns MNIST rows into images; backward
    flattens dout back.

    Example
    -------
    >>> Unflatten((1, 28, 28)).forward(np.zeros((2, 784))).shape
    (2, 1, 28, 28)
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(check_positive_int(s, "Unflatten shape entry") for s in shape)
        self.size = int(np.prod(self.shape))

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.size:
            raise ValueError(f"{self!r} expects rows of shape (N, {self.size}) (= {' x '.join(map(str, self.shape))})"
                             f", got shape {x.shape}")
        return np.ascontiguousarray(x).reshape(len(x), *self.shape)

    def backward(self, dout):
        return np.ascontiguousarray(dout).reshape(len(dout), self.size)

    def __repr__(self):
        return f"Unflatten({self.shape})"
