"""Figures of what a model produces in data space: reconstructions, samples from the prior, imputed pixels.

Each function returns a matplotlib ``Figure`` holding one picture of tiled images (``minivae.plots.images``), with
a label on the left of each row where rows mean different things (original, reconstruction, ...).
"""
import math

import numpy as np

from minivae.apps import latent
from minivae.plots.images import (MNIST_SHAPE, check_decoder_output, check_image_shape, grid_figure, label_rows,
                                  tile_images)
from minivae.validation import check_positive_int


def plot_reconstructions(model, x, n=10, image_shape=MNIST_SHAPE, condition=None):
    """The first n examples of x (top row) and their reconstructions decode(mu(x)) (bottom row).

    condition : the labels (N,) of x, for a conditional model (its encoder and decoder are told them).
    Returns a Figure with one axes holding an image of 2 * H + 1 by n * W + (n - 1) pixels.

    Example
    -------
    >>> save_figure(plot_reconstructions(vae, x_test, n=10), "reconstructions.png")
    """
    if not model.conditional:
        latent._check_model(model)
    n = check_positive_int(n, "n")
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (N, D), got shape {x.shape}")
    x = x[:n]
    labels = {} if condition is None else {"condition": np.asarray(condition)[:n]}
    h, w = check_image_shape(image_shape, x.shape[1])
    picture = tile_images(np.concatenate([x, model.reconstruct(x, **labels)]), 2, len(x), (h, w))
    fig, ax = grid_figure(picture, "Reconstructions (decoder mean at the encoder mean)", extra=(1.3, 0.5))
    label_rows(ax, ["original", "reconstruction"], h, 1)
    return fig


def plot_samples(model, rng, n=64, image_shape=MNIST_SHAPE, condition=None):
    """n new images from the generative model: z ~ N(0, I), shown as the decoder mean of p(x | z), in a grid.

    The grid has ceil(sqrt(n)) columns. A conditional model draws the classes in turn (or ``condition``, one label
    per image), and then the grid has one column per class. Returns a Figure with one axes.

    Example
    -------
    >>> save_figure(plot_samples(vae, np.random.default_rng(0), n=64), "samples.png")
    """
    if not model.probabilistic:
        raise ValueError(f"an {type(model).__name__} has no prior to sample from: plot_samples needs a VAE")
    n = check_positive_int(n, "n")
    check_decoder_output(model, image_shape)
    n_cols, title = math.ceil(math.sqrt(n)), "Samples: decoder mean at z ~ N(0, I)"
    if model.conditional:
        n_cols = model.n_classes if condition is None else n_cols
        condition = np.arange(n) % model.n_classes if condition is None else condition
        title = "Samples of each class (one per column): decoder mean at z ~ N(0, I)"
    images = model.sample(n, rng, condition=condition)  # (n, D)
    h, w = check_image_shape(image_shape, images.shape[1])
    picture = tile_images(images, math.ceil(n / n_cols), n_cols, (h, w))
    fig, _ = grid_figure(picture, title)
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
    h, w = check_image_shape(image_shape, x_true.shape[1])
    observed = np.where(mask, x_true, 0.5)
    picture = tile_images(np.concatenate([x_true, observed, x_imputed]), 3, len(x_true), (h, w))
    fig, ax = grid_figure(picture, title, extra=(1.1, 0.5))
    label_rows(ax, ["original", "observed", "imputed"], h, 1)
    return fig
