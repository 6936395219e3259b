"""Figures: each function takes arrays or a model and returns a matplotlib ``Figure``.

Nothing here shows or saves a figure by itself: a script saves it with ``save_figure(fig, "out.png")``, and a
notebook displays the returned figure when it is the last expression of a cell (run ``%matplotlib inline`` once at
the top of the notebook, or import matplotlib.pyplot, so that Jupyter knows how to draw a Figure; without it a cell
prints only "<Figure size ...>"). The figures are built with ``matplotlib.figure.Figure`` directly, not with
``pyplot``, so there is no global "current figure": the functions work the same without a display (on a server, in
CI) and in notebooks, and a figure is freed as soon as it is no longer referenced.

Images are rows of a data matrix, (N, D) with D = H * W, reshaped to ``image_shape`` = (H, W) (default (28, 28),
MNIST) row by row and drawn in grey with the origin at the top left, so digits stand upright. Several images are
drawn as ONE picture, tiled by ``tile_images`` with thin separating lines.
"""
import math
import os
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from minivae.apps import latent
from minivae.fileio import atomic_write
from minivae.validation import check_positive_int

MNIST_SHAPE = (28, 28)


# -- tiling and drawing images ----------------------------------------------------------------------------------------

def _check_image_shape(image_shape, d):
    """image_shape must be (H, W) with H * W = d, the number of values per image."""
    try:
        h, w = (int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be a pair (height, width), got {image_shape!r}") from None
    if h < 1 or w < 1 or h * w != d:
        raise ValueError(f"image_shape {tuple(image_shape)} holds {h * w} pixels, but each image has {d} values; "
                         f"pass the shape of your images, e.g. image_shape=(28, 28) for D = 784")
    return h, w


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
    h, w = _check_image_shape(image_shape, int(np.prod(images.shape[1:])))
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


def _tile_centres(count, size, pad):
    """Pixel coordinates of the centres of ``count`` tiles of ``size`` pixels separated by ``pad``."""
    return np.arange(count) * (size + pad) + (size - 1) / 2


def _show(ax, picture, vmin=None, vmax=None):
    """Draw a tiled picture in grey, pixels as squares, without ticks or frame. Returns the AxesImage.

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


def _row_labels(ax, labels, size, pad):
    """Write one label to the left of each row of tiles."""
    ax.set_yticks(_tile_centres(len(labels), size, pad), labels)
    ax.tick_params(axis="y", length=0)


def _figure(width, height):
    return Figure(figsize=(width, height), layout="constrained")


def _grid_figure(picture, title, inches_per_pixel=1 / 50, extra=(0.4, 0.5)):
    """A figure with one axes sized to the picture (about 0.56 inch per 28 pixel tile)."""
    height, width = picture.shape
    fig = _figure(width * inches_per_pixel + extra[0], height * inches_per_pixel + extra[1])
    ax = fig.add_subplot()
    _show(ax, picture)
    ax.set_title(title, fontsize=10)
    return fig, ax


def _check_decoder_output(model, image_shape):
    d = getattr(model, "input_dim", None)
    if d is not None:
        _check_image_shape(image_shape, d)


# -- figures of a model -----------------------------------------------------------------------------------------------

def plot_latent_manifold(model, n=20, dims=(0, 1), image_shape=MNIST_SHAPE, base=None, extent=0.95):
    """The learned manifold: the decoder's mean image at every code of an n x n grid (Kingma & Welling 2013, Fig. 4).

    The grid is ``latent.grid_codes``: coordinates equally spaced in probability under the prior N(0, 1)
    (inverse Gaussian CDF of a linear grid spanning ``extent`` of the mass), z[dims[0]] to the right and z[dims[1]]
    upwards. For latent_dim > 2 it is a 2-D slice through the latent space, with the other coordinates at ``base``
    (default 0); the title says so. The tick labels give the z values of the tiles.

    Returns a Figure with one axes holding an image of n * H + (n - 1) pixels by n * W + (n - 1).

    Example
    -------
    >>> save_figure(plot_latent_manifold(vae, n=20), "manifold.png")
    """
    latent._check_model(model)
    _check_decoder_output(model, image_shape)
    d0, d1 = latent._check_dims(dims, model.latent_dim)
    codes = latent.grid_codes(n, (d0, d1), model.latent_dim, base, extent)  # (n*n, L)
    images = model.decode(codes)  # (n*n, D)
    h, w = _check_image_shape(image_shape, images.shape[1])
    picture = tile_images(images, n, n, (h, w))
    if model.latent_dim == 2:
        title = "Decoder mean over the latent grid"
    else:
        rest = "base code" if base is not None else "0"
        title = f"2-D slice of the {model.latent_dim}-D latent space (other dims = {rest})"
    fig, ax = _grid_figure(picture, title, inches_per_pixel=1 / 70, extra=(0.9, 0.9))
    values = latent.grid_values(n, extent)
    shown = _some_ticks(n)
    ax.set_xticks(_tile_centres(n, w, 1)[shown], [f"{v:.2f}" for v in values[shown]], fontsize=8)
    ax.set_yticks(_tile_centres(n, h, 1)[shown], [f"{v:.2f}" for v in values[::-1][shown]], fontsize=8)
    ax.set_xlabel(f"$z_{{{d0}}}$")
    ax.set_ylabel(f"$z_{{{d1}}}$")
    return fig


def _some_ticks(n, most=7):
    """Indices of at most ``most`` evenly spread tiles, symmetric about the middle, always the first and the last."""
    k = min(n, most if n % 2 else most - 1)  # odd n: an odd count, so that the middle tile (z = 0) is labelled
    first_half = np.rint(np.linspace(0, n - 1, k)).astype(int)[:(k + 1) // 2]
    return np.unique(np.concatenate([first_half, n - 1 - first_half]))


def plot_latent_scatter(model, x, y=None, dims=(0, 1), max_points=5000):
    """The encoder means mu(x) of a dataset, as points in the plane of two latent dimensions.

    With labels y (N,), each class gets a colour of the ``tab10`` palette and a legend entry; without, one colour.
    At most ``max_points`` examples are drawn, evenly spaced through x (deterministic). The prior N(0, I) puts
    95% of its mass within 1.96 of 0 on each axis; a well-trained VAE fills roughly that square.

    Returns a Figure with one axes, equal aspect.

    Example
    -------
    >>> save_figure(plot_latent_scatter(vae, x_test, y_test), "latent.png")
    """
    latent._check_model(model)
    if model.latent_dim < 2:
        raise ValueError("a scatter plot needs a latent space of at least 2 dimensions, got latent_dim=1")
    d0, d1 = latent._check_dims(dims, model.latent_dim)
    max_points = check_positive_int(max_points, "max_points")
    x = np.asarray(x)
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise ValueError(f"y must hold one label per example, shape ({len(x)},), got {y.shape}")
    if len(x) > max_points:
        keep = np.linspace(0, len(x) - 1, max_points).astype(int)
        x, y = x[keep], (None if y is None else y[keep])
    means = latent.encoder_means(model, x)  # (N, L)

    fig = _figure(6.4, 5.4)
    ax = fig.add_subplot()
    size = 4 if len(means) > 1000 else 10
    if y is None:
        ax.scatter(means[:, d0], means[:, d1], s=size, color="tab:blue", alpha=0.6, linewidths=0)
    else:
        classes = np.unique(y)
        cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "turbo"].resampled(max(len(classes), 1))
        for k, label in enumerate(classes):
            pick = y == label
            ax.scatter(means[pick, d0], means[pick, d1], s=size, color=cmap(k), alpha=0.6, linewidths=0,
                       label=str(label))
        ax.legend(title="label", markerscale=8 / np.sqrt(size), loc="center left", bbox_to_anchor=(1.01, 0.5),
                  frameon=False, fontsize=8)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f"$\\mu_{{{d0}}}(x)$")
    ax.set_ylabel(f"$\\mu_{{{d1}}}(x)$")
    ax.set_title(f"Encoder means of {len(means)} examples", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def plot_reconstructions(model, x, n=10, image_shape=MNIST_SHAPE):
    """The first n examples of x (top row) and their reconstructions decode(mu(x)) (bottom row).

    Returns a Figure with one axes holding an image of 2 * H + 1 by n * W + (n - 1) pixels.

    Example
    -------
    >>> save_figure(plot_reconstructions(vae, x_test, n=10), "reconstructions.png")
    """
    latent._check_model(model)
    n = check_positive_int(n, "n")
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (N, D), got shape {x.shape}")
    x = x[:n]
    h, w = _check_image_shape(image_shape, x.shape[1])
    picture = tile_images(np.concatenate([x, model.reconstruct(x)]), 2, len(x), (h, w))
    fig, ax = _grid_figure(picture, "Reconstructions (decoder mean at the encoder mean)", extra=(1.3, 0.5))
    _row_labels(ax, ["original", "reconstruction"], h, 1)
    return fig


def plot_imputation(x_true, mask, x_imputed, n=10, image_shape=MNIST_SHAPE, title="Imputation"):
    """Three rows for the first n examples: the originals, what was observed (missing pixels shown mid-grey), and
    the imputed images.

    x_true, x_imputed : (N, D)    mask : (N, D) bool, True where observed. Returns a Figure with one axes.
    """
    x_true, x_imputed, mask = np.asarray(x_true)[:n], np.asarray(x_imputed)[:n], np.asarray(mask, dtype=bool)[:n]
    if not (x_true.shape == x_imputed.shape == mask.shape) or x_true.ndim != 2:
        raise ValueError(f"x_true, mask and x_imputed must have one shape (N, D), got {x_true.shape}, {mask.shape} "
                         f"and {x_imputed.shape}")
    h, w = _check_image_shape(image_shape, x_true.shape[1])
    observed = np.where(mask, x_true, 0.5)
    picture = tile_images(np.concatenate([x_true, observed, x_imputed]), 3, len(x_true), (h, w))
    fig, ax = _grid_figure(picture, title, extra=(1.1, 0.5))
    _row_labels(ax, ["original", "observed", "imputed"], h, 1)
    return fig


def plot_samples(model, rng, n=64, image_shape=MNIST_SHAPE):
    """n new images from the generative model: z ~ N(0, I), shown as the decoder mean of p(x | z), in a grid.

    The grid has ceil(sqrt(n)) columns. Returns a Figure with one axes.

    Example
    -------
    >>> save_figure(plot_samples(vae, np.random.default_rng(0), n=64), "samples.png")
    """
    if not hasattr(model, "sample"):
        raise TypeError(f"plot_samples needs a model with a prior to sample from (a VAE), got {type(model).__name__}")
    n = check_positive_int(n, "n")
    _check_decoder_output(model, image_shape)
    images = model.sample(n, rng)  # (n, D)
    h, w = _check_image_shape(image_shape, images.shape[1])
    n_cols = math.ceil(math.sqrt(n))
    picture = tile_images(images, math.ceil(n / n_cols), n_cols, (h, w))
    fig, _ = _grid_figure(picture, "Samples: decoder mean at z ~ N(0, I)")
    return fig


def plot_interpolation(model, x0, x1, n=10, image_shape=MNIST_SHAPE):
    """Decoded images on the way from mu(x0) to mu(x1): linear (top row) and spherical (bottom row).

    See ``latent.interpolate``; the first and last columns decode the two examples' own codes.
    Returns a Figure with one axes holding an image of 2 * H + 1 by n * W + (n - 1) pixels.

    Example
    -------
    >>> save_figure(plot_interpolation(vae, x_test[0], x_test[1]), "interpolation.png")
    """
    _check_decoder_output(model, image_shape)
    rows = [latent.interpolate(model, x0, x1, n, method) for method in ("linear", "spherical")]  # 2 x (n, D)
    h, w = _check_image_shape(image_shape, rows[0].shape[1])
    picture = tile_images(np.concatenate(rows), 2, n, (h, w))
    fig, ax = _grid_figure(picture, "Interpolation between two encoder means", extra=(1.0, 0.5))
    _row_labels(ax, ["linear", "spherical"], h, 1)
    return fig


def plot_traversal(model, x, dims=None, values=None, image_shape=MNIST_SHAPE):
    """Latent traversals from the encoder mean of one example: one row per latent dimension.

    Row j shows ``latent.traverse(model, mu(x), dims[j], values)``: the code mu(x) with coordinate dims[j] set to
    each value (default np.linspace(-3, 3, 9)) and the others kept. dims defaults to every latent dimension.
    Returns a Figure with one axes holding an image of len(dims) rows by len(values) columns of tiles.

    Example
    -------
    >>> save_figure(plot_traversal(vae, x_test[0]), "traversal.png")
    """
    latent._check_model(model)
    _check_decoder_output(model, image_shape)
    values = np.linspace(-3.0, 3.0, 9) if values is None else np.asarray(values, dtype=np.float64)
    dims = list(range(model.latent_dim)) if dims is None else [latent._check_dim(d, model.latent_dim) for d in dims]
    if not dims:
        raise ValueError("dims must name at least one latent dimension")
    base = latent.encoder_means(model, latent._one_example(x, "x"))[0]  # (L,)
    rows = [latent.traverse(model, base, d, values) for d in dims]  # len(dims) x (K, D)
    h, w = _check_image_shape(image_shape, rows[0].shape[1])
    picture = tile_images(np.concatenate(rows), len(dims), len(values), (h, w))
    fig, ax = _grid_figure(picture, "Traversals: one latent coordinate set to each value, the others fixed",
                           extra=(0.9, 0.8))
    _row_labels(ax, [f"$z_{{{d}}}$" for d in dims], h, 1)
    ax.set_xticks(_tile_centres(len(values), w, 1), [f"{v:.2g}" for v in values], fontsize=8)
    ax.tick_params(axis="x", length=0)
    ax.set_xlabel("value of the coordinate")
    return fig


# -- figures of numbers -----------------------------------------------------------------------------------------------

_HISTORY_PANELS = (("loss", "Loss (negative ELBO)"), ("reconstruction", "Reconstruction"), ("kl", "KL"))


def _history_column(history, key, length):
    """history[key] as a float array with NaN where the value is missing or None (all NaN if the key is absent)."""
    column = history.get(key)
    if column is None:
        return np.full(length, np.nan)
    return np.array([np.nan if v is None else float(v) for v in column], dtype=np.float64)


def plot_history(history):
    """Training curves: loss, reconstruction and KL, each for the training and the validation set, per epoch.

    history : dict of equal-length lists, keys "epoch", "train_loss", "train_reconstruction", "train_kl",
    "val_loss", "val_reconstruction", "val_kl" and "active_units". Any key may be missing and any value None
    (validation every few epochs, say); curves connect the values that are there. Without "epoch" the epochs are
    numbered 1, 2, .... All terms are batch means, in nats per example.

    Returns a Figure with three axes, plus a fourth (active units) when "active_units" has values.

    Example
    -------
    >>> save_figure(plot_history(trainer.history), "history.png")
    """
    if not isinstance(history, dict):
        raise TypeError(f"history must be a dict of lists (keys such as 'train_loss'), got {type(history).__name__}")
    lengths = {k: len(v) for k, v in history.items() if v is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"every list in history must have the same length, got {lengths}")
    length = next(iter(lengths.values()), 0)
    epochs = _history_column(history, "epoch", length)
    if "epoch" not in history or np.isnan(epochs).any():
        epochs = np.arange(1, length + 1, dtype=np.float64)
    active = _history_column(history, "active_units", length)
    has_active = bool(np.isfinite(active).any())

    n_panels = 3 + has_active
    fig = _figure(3.6 * n_panels, 3.4)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    for ax, (term, title) in zip(axes, _HISTORY_PANELS):
        drawn = 0
        for split, style in (("train", "-"), ("val", "--")):
            values = _history_column(history, f"{split}_{term}", length)
            there = np.isfinite(values)
            if there.any():
                ax.plot(epochs[there], values[there], style, marker="o", markersize=3,
                        label="training" if split == "train" else "validation")
                drawn += 1
        _finish_panel(ax, title, "nats per example", drawn)
    if has_active:
        there = np.isfinite(active)
        axes[3].plot(epochs[there], active[there], "-", marker="o", markersize=3, color="tab:green")
        axes[3].set_ylim(0, np.nanmax(active) + 1)
        axes[3].yaxis.set_major_locator(MaxNLocator(integer=True))
        _finish_panel(axes[3], "Active units (Var of mu > 0.01)", "latent units", 0)
    return fig


def _finish_panel(ax, title, ylabel, n_curves):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if n_curves:
        ax.legend(fontsize=8, frameon=False)
    elif not ax.lines:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")


def plot_roc(fpr, tpr, auc=None):
    """A receiver operating characteristic curve, e.g. of an anomaly score (such as the negative ELBO).

    fpr, tpr : (K,) false and true positive rates in [0, 1], in the order of decreasing threshold
    auc : the area under the curve, written in the legend if given.
    The dotted diagonal is a score that ranks at random (AUC 0.5). Returns a Figure with one axes.

    Example
    -------
    >>> save_figure(plot_roc(fpr, tpr, auc=0.93), "roc.png")
    """
    fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    if fpr.ndim != 1 or fpr.shape != tpr.shape or len(fpr) < 2:
        raise ValueError(f"fpr and tpr must be 1-D arrays of the same length >= 2, got shapes {fpr.shape} and "
                         f"{tpr.shape}")
    for name, rate in (("fpr", fpr), ("tpr", tpr)):
        if not np.isfinite(rate).all() or rate.min() < 0 or rate.max() > 1:
            raise ValueError(f"{name} must hold rates in [0, 1], got values in [{rate.min():g}, {rate.max():g}]")
    fig = _figure(4.6, 4.4)
    ax = fig.add_subplot()
    label = "ROC" if auc is None else f"ROC (AUC = {float(auc):.3f})"
    ax.plot(fpr, tpr, color="tab:blue", label=label)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance (AUC = 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


# -- saving -----------------------------------------------------------------------------------------------------------

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
