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

How the fast path works (im2col)
--------------------------------
A direct seven-deep loop in Numba is short to write but, in NCHW layout, about ten times slower than what follows
on the 28x28 ConvVAE. Instead ``im2col`` (a Numba kernel) copies every kernel-sized window of x into a column of a
matrix cols (C*kh*kw, N, H_out, W_out), the columns of all N images side by side; the convolution is then one matrix
product for the whole batch, done by BLAS, with dout taken channel-major, (F, N, H_out, W_out) (``channel_major``):

    out    = w.reshape(F, C*kh*kw) @ cols                       (F, N*H_out*W_out), then back to (N, F, H_out, W_out)
    dw     = dout @ cols^T                                      (F, C*kh*kw): the sum over images and pixels
    dcols  = w.reshape(F, C*kh*kw)^T @ dout;  dx = col2im(dcols)

One large product instead of N small ones (one per image) keeps BLAS at its fast inner loops, and dw needs no copy
of cols into another order. The layers keep cols from the forward pass for dw: one im2col per convolution and step.

``col2im`` (the other Numba kernel) is the adjoint of im2col: it adds every column back onto the window it was copied
from (windows overlap when s < kh, so entries add up). The kernels are serial. They only copy memory, but that is a
quarter of the ConvVAE's training step on one thread (``bench/conv_step.py --profile``); a parallel loop (``prange``
over the channels) measured 2-7x slower with two threads, Numba's thread pool competing for the cores with the BLAS
threads, which spin between products. ``cache=True``, no fastmath; ``NUMBA_DISABLE_JIT=1`` runs them as Python loops.

``name_reference`` is the readable NumPy version (short loops over pixels or kernel offsets, with np.einsum); the fast
path is the building blocks (im2col_batch, channel_major, conv2d_from_cols, conv2d_input_grad, conv2d_weight_grad),
which the layers of ``minivae.nn.conv`` compose themselves, keeping cols and the channel-major input for their
backward pass. ``tests/test_conv.py`` holds each layer equal to the references, and each Numba kernel to its own.
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
# im2col and its adjoint col2im: the two Numba kernels. The columns of the whole batch sit side by side, so that one
# matrix product serves every image:
#   cols[(c*kh + i)*kw + j, n, oh, ow] = xp[n, c, oh*s + i, ow*s + j]      (0 where the window reaches the padding)
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


@njit(cache=True)
def _window_starts(h_out, w_out, stride, wp):
    """start[oh * w_out + ow] = oh*s*wp + ow*s: where window (oh, ow) begins in a padded plane of width wp, stored
    flat (row after row); kernel offset (i, j) is then at start + i*wp + j."""
    start = np.empty(h_out * w_out, dtype=np.int64)
    for oh in range(h_out):
        for ow in range(w_out):
            start[oh * w_out + ow] = oh * stride * wp + ow * stride
    return start


@njit(cache=True)
def im2col(x, kh, kw, stride, padding, cols):
    """x (N, C, H, W) -> cols (C*kh*kw, N, H_out, W_out), overwritten. The padded batch is copied once,
    channel-major, planes flat; then cols is written in order: row r = (c, i, j) gathers every image's H_out*W_out
    entries from its plane at the window starts + offset (sequential writes; one channel's planes stay in cache)."""
    n_img, n_ch, h, w = x.shape
    h_out, w_out = cols.shape[2], cols.shape[3]
    hp, wp = h + 2 * padding, w + 2 * padding
    start = _window_starts(h_out, w_out, stride, wp)
    n_pix = h_out * w_out
    out = cols.reshape((cols.shape[0], n_img, n_pix))
    xp = np.zeros((n_ch, n_img, hp * wp), dtype=x.dtype)  # the padded batch
    for n in range(n_img):
        for c in range(n_ch):
            for ih in range(h):
                for iw in range(w):
                    xp[c, n, (ih + padding) * wp + iw + padding] = x[n, c, ih, iw]
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                offset = i * wp + j
                rows = out[(c * kh + i) * kw + j]
                for n in range(n_img):
                    plane, dst = xp[c, n], rows[n]
                    for p in range(n_pix):
                        dst[p] = plane[start[p] + offset]
    return cols


@njit(cache=True)
def col2im(cols, kh, kw, stride, padding, x):
    """cols (C*kh*kw, N, H_out, W_out) -> x (N, C, H, W), overwritten: each column added back onto its window,
    channel by channel: the channel's N padded planes zeroed, its rows of cols added at the window starts + offset in
    order, the inside of the planes copied to x (entries that fall on the padding are dropped)."""
    n_img, n_ch, h, w = x.shape
    h_out, w_out = cols.shape[2], cols.shape[3]
    hp, wp = h + 2 * padding, w + 2 * padding
    start = _window_starts(h_out, w_out, stride, wp)
    n_pix = h_out * w_out
    src_rows = cols.reshape((cols.shape[0], n_img, n_pix))
    xp = np.empty((n_img, hp * wp), dtype=x.dtype)  # one channel of the padded batch
    for c in range(n_ch):
        xp[:] = 0
        for i in range(kh):
            for j in range(kw):
                offset = i * wp + j
                rows = src_rows[(c * kh + i) * kw + j]
                for n in range(n_img):
                    plane, src = xp[n], rows[n]
                    for p in range(n_pix):
                        plane[start[p] + offset] += src[p]
        for n in range(n_img):
            for ih in range(h):
                for iw in range(w):
                    x[n, c, ih, iw] = xp[n, (ih + padding) * wp + iw + padding]
    return x


def im2col_batch(x, kh, kw, stride, padding):
    """Allocate cols (C*kh*kw, N, H_out, W_out) and run the kernel; x is made contiguous first so Numba compiles one
    version per dtype."""
    x = np.ascontiguousarray(x)
    n, c, h, w = x.shape
    h_out, w_out = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    cols = np.empty((c * kh * kw, n, h_out, w_out), dtype=x.dtype)
    return im2col(x, kh, kw, stride, padding, cols)


def channel_major(a):
    """(N, C, H, W) -> (C, N, H, W), contiguous: the layout of cols' batch axes, in which a batch of images is one
    matrix (C, N*H*W) whose columns line up with those of cols."""
    return np.ascontiguousarray(np.asarray(a).transpose(1, 0, 2, 3))


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
    """out (N, F, H_out, W_out) = W (F, C*kh*kw) @ cols (C*kh*kw, N*H_out*W_out), one product for the whole batch,
    put back in NCHW order, plus b (F,) or None."""
    f = w.shape[0]
    k, n, h_out, w_out = cols.shape
    out_cm = np.matmul(w.reshape(f, k), cols.reshape(k, -1)).reshape(f, n, h_out, w_out)  # channel-major
    out = np.empty((n, f, h_out, w_out), dtype=cols.dtype)
    if b is None:
        out[...] = out_cm.transpose(1, 0, 2, 3)
    else:
        np.add(out_cm.transpose(1, 0, 2, 3), b[:, None, None], out=out)
    return out


def conv2d_input_grad(dout_cm, w, stride, padding, image_shape):
    """dx (N, C, H, W) = col2im(W^T (C*kh*kw, F) @ dout (F, N*H_out*W_out)), dout given channel-major
    (F, N, H_out, W_out) (``channel_major``); image_shape = (N, C, H, W)."""
    f, c, kh, kw = w.shape
    dcols = np.matmul(w.reshape(f, c * kh * kw).T, dout_cm.reshape(f, -1))  # (C*kh*kw, N*H_out*W_out)
    x = np.empty(image_shape, dtype=dout_cm.dtype)
    return col2im(dcols.reshape(c * kh * kw, *dout_cm.shape[1:]), kh, kw, stride, padding, x)


def conv2d_weight_grad(cols, dout_cm):
    """dw = dout (F, N*H_out*W_out) @ cols^T (N*H_out*W_out, C*kh*kw), summed over images and output pixels in one
    product, as (F, C*kh*kw); db (F,) = the sum of dout. dout given channel-major (F, N, H_out, W_out)."""
    f = dout_cm.shape[0]
    dout_rows = dout_cm.reshape(f, -1)
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
