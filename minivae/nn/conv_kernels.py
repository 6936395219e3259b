"""2-D convolution and transposed convolution over NCHW arrays: NumPy references and the fast path the layers run.

Shapes
------
x (N, C, H, W): N images of C channels, H rows, W columns ("NCHW", as in PyTorch).
Conv2D weights w (F, C, kh, kw) and bias b (F,); F is the number of output channels.

Conv2D (cross-correlation, as every deep-learning library computes it) with stride s and zero padding p::

    out[n, f, oh, ow] = b[f] + sum_{c, i, j} w[f, c, i, j] * xp[n, c, oh*s + i, ow*s + j]

where xp is x with p zeros added on every side. One output pixel is the dot product of the kernel with one window of
the padded input; the windows start every s pixels, so the output size is

    H_out = floor((H + 2p - kh) / s) + 1          (the same for W with kw)

Backward, with upstream dout (N, F, H_out, W_out):
    dw[f, c, i, j] = sum_{n, oh, ow} dout[n, f, oh, ow] * xp[n, c, oh*s + i, ow*s + j]
    db[f]          = sum_{n, oh, ow} dout[n, f, oh, ow]
    dx             = every dout[n, :, oh, ow] sent back through the kernel to the window it came from
                     (dxp[n, c, oh*s + i, ow*s + j] += w[f, c, i, j] * dout[n, f, oh, ow]), then the padding cut off.

Transposed convolution (PyTorch's ConvTranspose2d) is *defined* as the input-gradient of a convolution: it maps a
(C_in, H, W) image to a (C_out, H_out, W_out) one by stamping, for every input pixel, the kernel scaled by that pixel
onto the output at stride s, then cutting p rows/columns off every side. Its weights w have shape
(C_in, C_out, kh, kw): the weights of the Conv2D from C_out to C_in channels whose input-gradient it is (PyTorch's
layout too). Hence the exact adjointness, for every x and y of the right shapes and the same w::

    < conv2d(x, w), y >  ==  < x, conv_transpose2d(y, w) >        (both without bias)

Its output size is an input size of that conv:

    H_out = (H - 1) * s - 2p + kh + output_padding,       0 <= output_padding < s

Because of the floor, a stride-s conv maps s consecutive input sizes to the same H; output_padding picks one of them
(it adds rows at the bottom and columns at the right). The same duality gives the transposed conv's backward pass
for free:

    conv_transpose2d forward           = conv2d backward w.r.t. its input
    conv_transpose2d backward w.r.t. y = conv2d forward (without bias)
    conv_transpose2d backward w.r.t. w = conv2d backward w.r.t. w, with the roles of x and dout exchanged

How the fast path works (im2col, batch last)
--------------------------------------------
A direct seven-deep loop in Numba is short to write but about ten times slower than what follows on the 28x28
ConvVAE. Instead ``im2col`` (a Numba kernel) copies every kernel-sized window of x into a column of a matrix, and the
convolution of the whole batch is one matrix product, done by BLAS. The fast path keeps images *batch last*,
(C, H, W, N) ("CHWN", as cuda-convnet did): for one channel and pixel, the N images' values are N numbers side by
side. With cols laid out the same way, (C*kh*kw, H_out, W_out, N),

    cols[(c*kh + i)*kw + j, oh, ow, :] = x[c, oh*s + i - p, ow*s + j - p, :]        (zeros on the padding)

so im2col copies runs of N contiguous numbers (a loop the compiler vectorises), and the products read and write
batch-last arrays directly, with the matrices (F, C*kh*kw) for w and (C*kh*kw, H_out*W_out*N) for cols:

    out    = w.reshape(F, C*kh*kw) @ cols                        (F, H_out, W_out, N): batch last again
    dw     = dout @ cols^T                                       (F, C*kh*kw): the sum over images and pixels
    dcols  = w.reshape(F, C*kh*kw)^T @ dout;  dx = col2im(dcols)

One large product instead of N small ones keeps BLAS at its fast inner loops, and one layer's output is the next
one's input with no change of layout. The layers take and give NCHW arrays, as PyTorch does, but what a convolution
returns is an (N, C, H, W) *view* of batch-last memory (``batch_first``); the next convolution gets it back without a
copy (``batch_last``), and so do the activations between them (``minivae.nn.layers``, which keep their input's
layout). Only Flatten, Unflatten and the data pay for a copy into the other order. The layers keep cols from the
forward pass for dw: one im2col per convolution and step.

``col2im`` (the other Numba kernel) is the adjoint of im2col: it adds every column back onto the window it was copied
from (windows overlap when s < kh, so entries add up). The kernels only copy memory. They are serial: a parallel
loop (``prange`` over the channels) and the channels split between two threads were no faster in the training step
on two threads (``bench/README.md``, "The convolutional VAE", what was tried).
``cache=True``, no fastmath; ``NUMBA_DISABLE_JIT=1`` runs them as Python loops.

``name_reference`` is the readable NumPy version (short loops over pixels or kernel offsets, with np.einsum); the fast
path is the building blocks (batch_last, im2col_batch, conv2d_from_cols, conv2d_input_grad, conv2d_weight_grad,
batch_first), which the layers of ``minivae.nn.conv`` compose themselves, keeping cols and the batch-last input for
their backward pass. ``tests/test_conv.py`` holds each layer equal to the references, and each Numba kernel to its own.
"""
import numpy as np
from numba import njit

# ----------------------------------------------------------------------------------------------------------------------
# Output sizes
# ----------------------------------------------------------------------------------------------------------------------


def conv_output_size(size, kernel, stride, padding):
    """H_out = floor((H + 2p - k) / s) + 1; below 1 when the padded input is smaller than the kernel.

    >>> conv_output_size(28, kernel=4, stride=2, padding=1)
    14
    """
    return (size + 2 * padding - kernel) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding, output_padding=0):
    """H_out = (H - 1) s - 2p + k + output_padding: the inverse of conv_output_size.

    >>> conv_transpose_output_size(14, kernel=4, stride=2, padding=1)
    28
    """
    return (size - 1) * stride - 2 * padding + kernel + output_padding


def _pad(x, padding):
    """Zero-pad the two spatial axes of (N, C, H, W) by ``padding`` on every side."""
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


# ----------------------------------------------------------------------------------------------------------------------
# im2col and its adjoint col2im. The references work on NCHW images, with cols (C*kh*kw, N, H_out, W_out):
#   cols[(c*kh + i)*kw + j, n, oh, ow] = xp[n, c, oh*s + i, ow*s + j]      (0 where the window reaches the padding)
# The two Numba kernels are the same with the batch axis last, in the images and in cols.
# ----------------------------------------------------------------------------------------------------------------------


def im2col_reference(x, kh, kw, stride, padding):
    """x (N, C, H, W) -> cols (C*kh*kw, N, H_out, W_out): every window of the padded x as a column.

    For a kernel offset (i, j), the entries xp[:, :, oh*s + i, ow*s + j] over all (oh, ow) are one strided slice.
    """
    n, c, h, w = x.shape
    h_out, w_out = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    xp = _pad(x, padding).transpose(1, 0, 2, 3)  # (C, N, H + 2p, W + 2p)
    cols = np.empty((c, kh, kw, n, h_out, w_out), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[:, :, i:i + stride * (h_out - 1) + 1:stride, j:j + stride * (w_out - 1) + 1:stride]
    return cols.reshape(c * kh * kw, n, h_out, w_out)


def col2im_reference(cols, kh, kw, stride, padding, image_shape):
    """The adjoint of im2col: cols (C*kh*kw, N, H_out, W_out) -> (N, C, H, W), overlapping windows added up."""
    n, c, h, w = image_shape
    _, _, h_out, w_out = cols.shape
    cols = cols.reshape(c, kh, kw, n, h_out, w_out)
    xp = np.zeros((c, n, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i:i + stride * (h_out - 1) + 1:stride, j:j + stride * (w_out - 1) + 1:stride] += cols[:, i, j]
    return xp[:, :, padding:padding + h, padding:padding + w].transpose(1, 0, 2, 3)


def batch_last(a):
    """(N, C, H, W) -> (C, H, W, N), contiguous: the layout of the fast path. No copy when ``a`` is a view of
    batch-last memory (``batch_first``), as the convolutions return."""
    return np.ascontiguousarray(np.asarray(a).transpose(1, 2, 3, 0))


def batch_first(a):
    """(C, H, W, N) -> an (N, C, H, W) view of the same memory (nothing copied): what the layers return."""
    return a.transpose(3, 0, 1, 2)


@njit(cache=True)
def im2col(x, kh, kw, stride, padding, cols):
    """x (C, H, W, N) -> cols (C*kh*kw, H_out, W_out, N), overwritten: for every row (c, i, j) and output pixel
    (oh, ow), the N values of input pixel (oh*s + i - p, ow*s + j - p) of channel c, or N zeros on the padding.
    Written in order; the innermost loop copies N contiguous numbers."""
    n_ch, h, w, n = x.shape
    h_out, w_out = cols.shape[1], cols.shape[2]
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                for oh in range(h_out):
                    ih = oh * stride + i - padding
                    for ow in range(w_out):
                        iw = ow * stride + j - padding
                        dst = cols[r, oh, ow]
                        if 0 <= ih < h and 0 <= iw < w:
                            src = x[c, ih, iw]
                            for k in range(n):
                                dst[k] = src[k]
                        else:
                            dst[:] = 0
    return cols


@njit(cache=True)
def col2im(cols, kh, kw, stride, padding, x):
    """cols (C*kh*kw, H_out, W_out, N) -> x (C, H, W, N), overwritten: x zeroed, then every column added back onto
    its window, in the order of im2col (entries that fall on the padding are dropped). One channel's rows of cols go
    onto that channel's H*W*N numbers, which stay in cache."""
    n_ch, h, w, n = x.shape
    h_out, w_out = cols.shape[1], cols.shape[2]
    x[:] = 0
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                for oh in range(h_out):
                    ih = oh * stride + i - padding
                    if ih < 0 or ih >= h:
                        continue
                    for ow in range(w_out):
                        iw = ow * stride + j - padding
                        if 0 <= iw < w:
                            src, dst = cols[r, oh, ow], x[c, ih, iw]
                            for k in range(n):
                                dst[k] += src[k]
    return x


def im2col_batch(x_bl, kh, kw, stride, padding):
    """Allocate cols (C*kh*kw, H_out, W_out, N) and run the kernel on the batch-last images x_bl (C, H, W, N)."""
    c, h, w, n = x_bl.shape
    h_out, w_out = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    cols = np.empty((c * kh * kw, h_out, w_out, n), dtype=x_bl.dtype)
    return im2col(x_bl, kh, kw, stride, padding, cols)


# ----------------------------------------------------------------------------------------------------------------------
# Conv2D: forward, backward w.r.t. the input, backward w.r.t. the weights and bias.
# ----------------------------------------------------------------------------------------------------------------------


def conv2d_forward_reference(x, w, b, stride, padding):
    """out[n, f, oh, ow] = b[f] + <w[f], window (oh, ow) of the padded x>.   x (N, C, H, W), w (F, C, kh, kw),
    b (F,) or None -> out (N, F, H_out, W_out). One loop step per output pixel."""
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    h_out, w_out = conv_output_size(h, kh, stride, padding), conv_output_size(wd, kw, stride, padding)
    xp = _pad(x, padding)
    out = np.zeros((n, f, h_out, w_out), dtype=x.dtype)
    for oh in range(h_out):
        for ow in range(w_out):
            window = xp[:, :, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw]  # (N, C, kh, kw)
            out[:, :, oh, ow] = np.einsum("ncij,fcij->nf", window, w)
    if b is not None:
        out += b[:, None, None]
    return out


def conv2d_backward_input_reference(dout, w, stride, padding, input_size):
    """dx (N, C, H, W) for input_size = (H, W): each dout[n, :, oh, ow] sent back through w onto its window."""
    n, _, h_out, w_out = dout.shape
    _, c, kh, kw = w.shape
    h, wd = input_size
    dxp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=dout.dtype)
    for oh in range(h_out):
        for ow in range(w_out):
            dxp[:, :, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw] += np.einsum(
                "nf,fcij->ncij", dout[:, :, oh, ow], w)
    return dxp[:, :, padding:padding + h, padding:padding + wd]


def conv2d_backward_weights_reference(x, dout, stride, padding, kernel_size):
    """dw (F, C, kh, kw) = sum over n and output pixels of dout[n, f, oh, ow] * window; db (F,) = sum of dout."""
    kh, kw = kernel_size
    _, f, h_out, w_out = dout.shape
    xp = _pad(x, padding)
    dw = np.zeros((f, x.shape[1], kh, kw), dtype=x.dtype)
    for oh in range(h_out):
        for ow in range(w_out):
            window = xp[:, :, oh * stride:oh * stride + kh, ow * stride:ow * stride + kw]
            dw += np.einsum("nf,ncij->fcij", dout[:, :, oh, ow], window)
    return dw, dout.sum(axis=(0, 2, 3))


def conv2d_from_cols(cols, w, b):
    """out (F, H_out, W_out, N) = W (F, C*kh*kw) @ cols (C*kh*kw, H_out*W_out*N) + b (F,) or None: one product for
    the whole batch, batch last like cols."""
    f = w.shape[0]
    k, h_out, w_out, n = cols.shape
    out = np.matmul(w.reshape(f, k), cols.reshape(k, -1)).reshape(f, h_out, w_out, n)
    if b is not None:
        out += b[:, None, None, None]
    return out


def conv2d_input_grad(dout_bl, w, stride, padding, image_shape):
    """dx (C, H, W, N) = col2im(W^T (C*kh*kw, F) @ dout (F, H_out*W_out*N)), all batch last; image_shape is
    dx's (C, H, W, N)."""
    f, c, kh, kw = w.shape
    dcols = np.matmul(w.reshape(f, c * kh * kw).T, dout_bl.reshape(f, -1))  # (C*kh*kw, H_out*W_out*N)
    x = np.empty(image_shape, dtype=dout_bl.dtype)
    return col2im(dcols.reshape(c * kh * kw, *dout_bl.shape[1:]), kh, kw, stride, padding, x)


def conv2d_weight_grad(cols, dout_bl):
    """dw = dout (F, H_out*W_out*N) @ cols^T (H_out*W_out*N, C*kh*kw), summed over images and output pixels in one
    product, as (F, C*kh*kw); db (F,) = the sum of dout. dout batch last, (F, H_out, W_out, N)."""
    f = dout_bl.shape[0]
    dout_rows = dout_bl.reshape(f, -1)
    return np.matmul(dout_rows, cols.reshape(cols.shape[0], -1).T), dout_rows.sum(axis=1)


# ----------------------------------------------------------------------------------------------------------------------
# ConvTranspose2D (weights w (C_in, C_out, kh, kw)). The references stamp the kernel once per input pixel, the
# definition; the layer composes the Conv2D blocks above, by the duality in the module docstring.
# ----------------------------------------------------------------------------------------------------------------------


def _canvas(h, wd, kh, kw, stride, h_out, w_out, padding):
    """The size of the uncropped canvas the kernel is stamped on: large enough for every stamp and for the crop."""
    return max((h - 1) * stride + kh, padding + h_out), max((wd - 1) * stride + kw, padding + w_out)


def conv_transpose2d_forward_reference(y, w, b, stride, padding, output_padding=0):
    """out (N, C_out, H_out, W_out): for every input pixel (h, v), the kernel scaled by y[n, :, h, v] is added at
    rows h*s .. h*s + kh - 1 and columns v*s .. of a canvas; then p rows/columns are cut off each side, and b added.
    y (N, C_in, H, W), w (C_in, C_out, kh, kw), b (C_out,) or None."""
    n, _, h, wd = y.shape
    _, c_out, kh, kw = w.shape
    h_out = conv_transpose_output_size(h, kh, stride, padding, output_padding)
    w_out = conv_transpose_output_size(wd, kw, stride, padding, output_padding)
    full = np.zeros((n, c_out, *_canvas(h, wd, kh, kw, stride, h_out, w_out, padding)), dtype=y.dtype)
    for ih in range(h):
        for iw in range(wd):
            full[:, :, ih * stride:ih * stride + kh, iw * stride:iw * stride + kw] += np.einsum(
                "nc,cfij->nfij", y[:, :, ih, iw], w)
    out = full[:, :, padding:padding + h_out, padding:padding + w_out].copy()
    if b is not None:
        out += b[:, None, None]
    return out


def _uncrop(dout, h, wd, kh, kw, stride, padding):
    """Place dout (N, C, H_out, W_out) into a zero canvas at offset (p, p): the adjoint of the forward's crop."""
    n, c, h_out, w_out = dout.shape
    full = np.zeros((n, c, *_canvas(h, wd, kh, kw, stride, h_out, w_out, padding)), dtype=dout.dtype)
    full[:, :, padding:padding + h_out, padding:padding + w_out] = dout
    return full


def conv_transpose2d_backward_input_reference(dout, w, stride, padding):
    """dy[n, c, h, v] = <w[c], the (h, v) stamp region of dout>, dout (N, C_out, H_out, W_out) -> (N, C_in, H, W).

    The input size is H = floor((H_out + 2p - kh) / s) + 1 (exact because output_padding < s)."""
    _, _, h_out, w_out = dout.shape
    _, _, kh, kw = w.shape
    h, wd = conv_output_size(h_out, kh, stride, padding), conv_output_size(w_out, kw, stride, padding)
    full = _uncrop(dout, h, wd, kh, kw, stride, padding)
    dy = np.zeros((dout.shape[0], w.shape[0], h, wd), dtype=dout.dtype)
    for ih in range(h):
        for iw in range(wd):
            dy[:, :, ih, iw] = np.einsum("nfij,cfij->nc",
                                         full[:, :, ih * stride:ih * stride + kh, iw * stride:iw * stride + kw], w)
    return dy


def conv_transpose2d_backward_weights_reference(y, dout, stride, padding, kernel_size):
    """dw (C_in, C_out, kh, kw) = sum over n and input pixels of y[n, c, h, v] * stamp region of dout; db (C_out,)."""
    kh, kw = kernel_size
    n, c_in, h, wd = y.shape
    full = _uncrop(dout, h, wd, kh, kw, stride, padding)
    dw = np.zeros((c_in, dout.shape[1], kh, kw), dtype=y.dtype)
    for ih in range(h):
        for iw in range(wd):
            dw += np.einsum("nc,nfij->cfij", y[:, :, ih, iw],
                            full[:, :, ih * stride:ih * stride + kh, iw * stride:iw * stride + kw])
    return dw, dout.sum(axis=(0, 2, 3))
