"""Figures of the latent space: the decoded manifold, the encoder means, interpolations and traversals.

Each function takes a trained model (and data) and returns a matplotlib ``Figure``; the latent-space arithmetic
(grids of codes, lerp and slerp, traversals) is in ``minivae.apps.latent``, the drawing helpers and ``save_figure``
in ``minivae.plots.images``.
"""
import matplotlib
import numpy as np

from minivae.apps import latent
from minivae.plots.images import (MNIST_SHAPE, check_decoder_output, check_image_shape, grid_figure, label_rows,
                                  new_figure, tile_centres, tile_images)
from minivae.validation import check_positive_int


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
    check_decoder_output(model, image_shape)
    d0, d1 = latent._check_dims(dims, model.latent_dim)
    codes = latent.grid_codes(n, (d0, d1), model.latent_dim, base, extent)  # (n*n, L)
    images = model.decode(codes)  # (n*n, D)
    h, w = check_image_shape(image_shape, images.shape[1])
    picture = tile_images(images, n, n, (h, w))
    if model.latent_dim == 2:
        title = "Decoder mean over the latent grid"
    else:
        rest = "base code" if base is not None else "0"
        title = f"2-D slice of the {model.latent_dim}-D latent space (other dims = {rest})"
    fig, ax = grid_figure(picture, title, inches_per_pixel=1 / 70, extra=(0.9, 0.9))
    values = latent.grid_values(n, extent)
    shown = _some_ticks(n)
    ax.set_xticks(tile_centres(n, w, 1)[shown], [f"{v:.2f}" for v in values[shown]], fontsize=8)
    ax.set_yticks(tile_centres(n, h, 1)[shown], [f"{v:.2f}" for v in values[::-1][shown]], fontsize=8)
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

    fig = new_figure(6.4, 5.4)
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


def plot_interpolation(model, x0, x1, n=10, image_shape=MNIST_SHAPE):
    """Decoded images on the way from mu(x0) to mu(x1): linear (top row) and spherical (bottom row).

    See ``latent.interpolate``; the first and last columns decode the two examples' own codes.
    Returns a Figure with one axes holding an image of 2 * H + 1 by n * W + (n - 1) pixels.

    Example
    -------
    >>> save_figure(plot_interpolation(vae, x_test[0], x_test[1]), "interpolation.png")
    """
    check_decoder_output(model, image_shape)
    rows = [latent.interpolate(model, x0, x1, n, method) for method in ("linear", "spherical")]  # 2 x (n, D)
    h, w = check_image_shape(image_shape, rows[0].shape[1])
    picture = tile_images(np.concatenate(rows), 2, n, (h, w))
    fig, ax = grid_figure(picture, "Interpolation between two encoder means", extra=(1.0, 0.5))
    label_rows(ax, ["linear", "spherical"], h, 1)
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
    check_decoder_output(model, image_shape)
    values = np.linspace(-3.0, 3.0, 9) if values is None else np.asarray(values, dtype=np.float64)
    dims = list(range(model.latent_dim)) if dims is None else [latent._check_dim(d, model.latent_dim) for d in dims]
    if not dims:
        raise ValueError("dims must name at least one latent dimension")
    base = latent.encoder_means(model, latent._one_example(x, "x"))[0]  # (L,)
    rows = [latent.traverse(model, base, d, values) for d in dims]  # len(dims) x (K, D)
    h, w = check_image_shape(image_shape, rows[0].shape[1])
    picture = tile_images(np.concatenate(rows), len(dims), len(values), (h, w))
    fig, ax = grid_figure(picture, "Traversals: one latent coordinate set to each value, the others fixed",
                          extra=(0.9, 0.8))
    label_rows(ax, [f"$z_{{{d}}}$" for d in dims], h, 1)
    ax.set_xticks(tile_centres(len(values), w, 1), [f"{v:.2g}" for v in values], fontsize=8)
    ax.tick_params(axis="x", length=0)
    ax.set_xlabel("value of the coordinate")
    return fig
