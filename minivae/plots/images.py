"""Drawing images and saving figures: the grid of images every picture-figure shows, and ``save_figure``.

Nothing in minivae.plots shows or saves a figure by itself: a script saves it with ``save_figure(fig, "out.png")``,
and a notebook displays the returned figure when it is the last expression of a cell (run ``%matplotlib inline``
once at the top of the notebook, or import matplotlib.pyplot, so that Jupyter knows how to draw a Figure; without it
a cell prints only "<Figure size ...>"). The figures are built with ``matplotlib.figure.Figure`` directly, not with
``pyplot``, so there is no global "current figure": the functions work the same without a display (on a server, in
CI) and in notebooks, and a figure is freed as soon as it is no longer referenced.

Images are rows of a data matrix, (N, D) with D = H * W, reshaped to ``image_shape`` = (H, W) (default (28, 28),
MNIST) row by row and drawn in grey with the origin at the top left, so digits stand upright. Several images are
drawn as ONE picture, tiled by ``tile_images`` with thin separating lines. The other helpers here size a figure to
such a picture, draw it, and label its rows and columns of tiles.
"""
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from minivae.fileio import atomic_write
from minivae.validation import check_positive_int

MNIST_SHAPE = (28, 28)


def check_image_shape(image_shape, d):
    """image_shape must be (H, W) with H * W = d, the number of values per image. Returns (H, W) as ints."""
    try:
        h, w = (int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be a pair (height, width), got {image_shape!r}") from None
    if h < 1 or w < 1 or h * w != d:
        raise ValueError(f"image_shape {tuple(image_shape)} holds {h * w} pixels, but each image has {d} values; "
                         f"pass the shape of your images, e.g. image_shape=(28, 28) for D = 784")
    return h, w


def check_decoder_output(model, image_shape):
    """If the model states its data size D (``input_dim``), image_shape must hold D pixels."""
    d = getattr(model, "input_dim", None)
    if d is not None:
        check_image_shape(image_shape, d)


def tile_images(images, n_rows, n_cols, image_shape=MNIST_SHAPE, pad=1, pad_value=None):
    """Arrange images in a grid and return it as one 2-D array, filled row by row (like text).

        out[r * (H + pad) : r * (H + pad) + H,  c * (W + pad) : c * (W + pad) + W] = images[r * n_cols + c]

    images : (N, H * W) or (N, H, W) with N <= n_rows * n_cols (empty cells are filled with pad_value)
    n_rows, n_cols : the grid    image_shape : (H, W)    pad : pixels between neighbouring images (none outside)
    pad_value : the colour of the padding and of empty cells; default the midpoint of the images' range (mid grey)
    Returns (n_rows * H + (n_rows - 1) * pad, n_cols * W + (n_cols - 1) * pad), float64.

    Example
    -------
    >>> tile_images(np.zeros((6, 784)), 2, 3).shape
    (57, 86)
    """
    n_rows, n_cols = check_positive_int(n_rows, "n_rows"), check_positive_int(n_cols, "n_cols")
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"pad must be a non-negative integer number of pixels, got {pad!r}")
    images = np.asarray(images, dtype=np.float64)
    if images.ndim not in (2, 3) or len(images) == 0:
        raise ValueError(f"images must be a non-empty array of shape (N, H * W) or (N, H, W), got {images.shape}")
    h, w = check_image_shape(image_shape, int(np.prod(images.shape[1:])))
    if len(images) > n_rows * n_cols:
        raise ValueError(f"{len(images)} images do not fit in a {n_rows} x {n_cols} grid; "
                         f"pass at most {n_rows * n_cols} images or a larger grid")
    images = images.reshape(len(images), h, w)
    if pad_value is None:
        pad_value = (np.nanmin(images) + np.nanmax(images)) / 2
    out = np.full((n_rows * h + (n_rows - 1) * pad, n_cols * w + (n_cols - 1) * pad), pad_value, dtype=np.float64)
    for k, image in enumerate(images):
        r, c = divmod(k, n_cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = image
    return out


def tile_centres(count, size, pad):
    """Pixel coordinates (count,) of the centres of ``count`` tiles of ``size`` pixels separated by ``pad``."""
    return np.arange(count) * (size + pad) + (size - 1) / 2


def show_picture(ax, picture, vmin=None, vmax=None):
    """Draw a tiled picture (H, W) in grey, pixels as squares, without ticks or frame. Returns the AxesImage.

    The grey scale is fixed to [0, 1] when the picture lies in it (pixel probabilities, so that 0.5 always looks
    the same), else it spans the picture's own range.
    """
    lo, hi = float(np.min(picture)), float(np.max(picture))
    if vmin is None or vmax is None:
        vmin, vmax = (0.0, 1.0) if lo >= 0 and hi <= 1 else (lo, hi)
    image = ax.imshow(picture, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def label_rows(ax, labels, size, pad):
    """Write one label to the left of each row of tiles (tiles of ``size`` pixels separated by ``pad``)."""
    ax.set_yticks(tile_centres(len(labels), size, pad), labels)
    ax.tick_params(axis="y", length=0)


def new_figure(width, height):
    """An empty Figure of width x height inches with constrained layout (no pyplot, no global state)."""
    return Figure(figsize=(width, height), layout="constrained")


def grid_figure(picture, title, inches_per_pixel=1 / 50, extra=(0.4, 0.5)):
    """A figure with one axes sized to the picture (about 0.56 inch per 28 pixel tile); returns (fig, ax).

    ``extra`` is the room in inches, (width, height), added for the title and the labels.
    """
    height, width = picture.shape
    fig = new_figure(width * inches_per_pixel + extra[0], height * inches_per_pixel + extra[1])
    ax = fig.add_subplot()
    show_picture(ax, picture)
    ax.set_title(title, fontsize=10)
    return fig, ax


def save_figure(fig, path, dpi=100):
    """Write a figure to ``path`` atomically; the format follows the file ending (.png, .pdf, .svg, ...).

    The figure is written to a temporary file in the same folder and then moved over ``path`` with os.replace, so
    a reader never sees half a file and an error leaves no temporary file behind. Missing folders are created.
    Returns the path.

    Example
    -------
    >>> save_figure(plot_samples(vae, np.random.default_rng(0)), "figures/samples.png")
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    suffix = os.path.splitext(os.fspath(path))[1]
    fmt = suffix[1:].lower() if suffix else "png"
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi)
    return Path(path)
