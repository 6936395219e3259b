"""Tests for minivae.plots: every figure function returns a Figure with the expected axes and image data, tiling is
exact, and save_figure writes a complete PNG atomically. The models are tiny and untrained: the tests check the
plumbing, a person checks the looks."""
import os

import numpy as np
import pytest
from matplotlib.figure import Figure

from minivae import VAE
from minivae.apps.latent import grid_values
from minivae.plots import (
    plot_history, plot_interpolation, plot_latent_manifold, plot_latent_scatter, plot_reconstructions, plot_roc,
    plot_samples, plot_traversal, save_figure, tile_images,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def vae2():
    return VAE(784, latent_dim=2, hidden=(16,))


@pytest.fixture(scope="module")
def vae5():
    return VAE(784, latent_dim=5, hidden=(16,))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((40, 784)).astype(np.float32), rng.integers(0, 3, size=40)


def the_image(fig):
    """The one AxesImage of a single-image figure, as an array; checks that there is exactly one."""
    (ax,) = fig.axes
    (image,) = ax.get_images()
    array = np.asarray(image.get_array())
    assert np.isfinite(array).all()
    return array


def tiled_size(count, size=28, pad=1):
    return count * size + (count - 1) * pad


# ---------------------------------------------------------------------------------------------------- tile_images
def test_tile_images_places_each_image_row_by_row():
    images = np.arange(5 * 6, dtype=np.float64).reshape(5, 6)  # five 2 x 3 images
    out = tile_images(images, 2, 3, image_shape=(2, 3), pad=1, pad_value=-1)
    assert out.shape == (2 * 2 + 1, 3 * 3 + 2)
    np.testing.assert_array_equal(out[0:2, 0:3], images[0].reshape(2, 3))
    np.testing.assert_array_equal(out[0:2, 8:11], images[2].reshape(2, 3))
    np.testing.assert_array_equal(out[3:5, 4:7], images[4].reshape(2, 3))
    np.testing.assert_array_equal(out[2], -1)  # the padding row
    np.testing.assert_array_equal(out[:, 3], -1)  # a padding column
    np.testing.assert_array_equal(out[3:5, 8:11], -1)  # the empty sixth cell


def test_tile_images_without_padding_and_from_3d_input():
    images = np.random.default_rng(1).random((4, 28, 28))
    out = tile_images(images, 2, 2, pad=0)
    assert out.shape == (56, 56)
    np.testing.assert_array_equal(out[28:, :28], images[2])


@pytest.mark.parametrize("args, match", [
    ((np.zeros((7, 784)), 2, 3), "do not fit"),
    ((np.zeros((2, 784)), 1, 2, (28, 27)), "image_shape"),
    ((np.zeros((0, 784)), 1, 1), "non-empty"),
    ((np.zeros((1, 784)), 1, 1, (28, 28), -1), "pad"),
])
def test_tile_images_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        tile_images(*args)


# --------------------------------------------------------------------------------------------- model figures
def test_latent_manifold_image_size_and_ticks(vae2):
    fig = plot_latent_manifold(vae2, n=20)
    assert isinstance(fig, Figure)
    assert the_image(fig).shape == (tiled_size(20), tiled_size(20))
    ax = fig.axes[0]
    labels = [float(t.get_text()) for t in ax.get_xticklabels()]
    assert labels[0] == pytest.approx(grid_values(20)[0], abs=0.01) and labels == sorted(labels)
    y_labels = [float(t.get_text()) for t in ax.get_yticklabels()]
    assert y_labels == sorted(y_labels, reverse=True)  # the top row has the largest z


def test_latent_manifold_of_a_higher_dimensional_model_is_a_labelled_slice(vae5):
    fig = plot_latent_manifold(vae5, n=5, dims=(1, 3))
    assert the_image(fig).shape == (tiled_size(5), tiled_size(5))
    ax = fig.axes[0]
    assert "slice" in ax.get_title() and "1" in ax.get_xlabel() and "3" in ax.get_ylabel()


def test_latent_scatter_has_one_legend_entry_per_label(vae5, data):
    x, y = data
    fig = plot_latent_scatter(vae5, x, y, dims=(2, 4))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == len(x)


def test_latent_scatter_without_labels_and_with_subsampling(vae2, data):
    x, _ = data
    fig = plot_latent_scatter(vae2, x, max_points=15)
    ax = fig.axes[0]
    assert ax.get_legend() is None and len(ax.collections) == 1
    assert len(ax.collections[0].get_offsets()) == 15


def test_reconstructions_two_rows(vae2, data):
    fig = plot_reconstructions(vae2, data[0], n=10)
    image = the_image(fig)
    assert image.shape == (tiled_size(2), tiled_size(10))
    np.testing.assert_allclose(image[:28, :28], data[0][0].reshape(28, 28))  # the original, upright


def test_samples_grid(vae2):
    fig = plot_samples(vae2, np.random.default_rng(0), n=10)  # 4 columns, 3 rows
    assert the_image(fig).shape == (tiled_size(3), tiled_size(4))


def test_interpolation_two_rows(vae5, data):
    x, _ = data
    fig = plot_interpolation(vae5, x[0], x[1], n=7)
    assert the_image(fig).shape == (tiled_size(2), tiled_size(7))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["linear", "spherical"]


def test_traversal_one_row_per_dimension(vae5, data):
    x, _ = data
    assert the_image(plot_traversal(vae5, x[0])).shape == (tiled_size(5), tiled_size(9))
    fig = plot_traversal(vae5, x[0], dims=[0, 3], values=np.linspace(-2, 2, 4))
    assert the_image(fig).shape == (tiled_size(2), tiled_size(4))


def test_figures_check_image_shape(vae2, data):
    with pytest.raises(ValueError, match="image_shape"):
        plot_reconstructions(vae2, data[0], image_shape=(28, 29))
    with pytest.raises(ValueError, match="image_shape"):
        plot_latent_manifold(vae2, n=3, image_shape=(14, 14))


# ------------------------------------------------------------------------------------------- history and ROC
FULL_HISTORY = {
    "epoch": [1, 2, 3],
    "train_loss": [200.0, 150.0, 140.0], "train_reconstruction": [190.0, 135.0, 122.0], "train_kl": [10.0, 15, 18],
    "val_loss": [190.0, None, 139.0], "val_reconstruction": [181.0, None, 121.0], "val_kl": [9.0, None, 18.0],
    "active_units": [2, 3, None],
}


def test_history_has_three_panels_plus_active_units():
    fig = plot_history(FULL_HISTORY)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    loss_ax = fig.axes[0]
    assert loss_ax.get_ylabel() == "nats per example"
    train, val = loss_ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(val.get_xdata(), [1, 3])  # the None is skipped, not plotted as 0
    np.testing.assert_array_equal(val.get_ydata(), [190.0, 139.0])


def test_history_handles_missing_keys():
    fig = plot_history({"train_loss": [3.0, 2.0], "train_kl": [1.0, 1.5]})
    assert len(fig.axes) == 3
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), [1, 2])  # epochs numbered from 1
    assert not fig.axes[1].get_lines() and "no data" in fig.axes[1].texts[0].get_text()
    assert len(plot_history({}).axes) == 3


def test_history_rejects_unequal_lengths_and_non_dicts():
    with pytest.raises(ValueError, match="same length"):
        plot_history({"train_loss": [1.0, 2.0], "val_loss": [1.0]})
    with pytest.raises(TypeError, match="dict"):
        plot_history([1.0, 2.0])


def test_roc_curve():
    fpr, tpr = np.array([0.0, 0.1, 0.5, 1.0]), np.array([0.0, 0.6, 0.9, 1.0])
    fig = plot_roc(fpr, tpr, auc=0.81)
    (ax,) = fig.axes
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), fpr)
    assert "0.810" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        plot_roc([0.0, 2.0], [0.0, 1.0])


# ---------------------------------------------------------------------------------------------------- saving
def test_save_figure_writes_a_png_and_leaves_no_temporary_file(tmp_path):
    fig = plot_roc([0.0, 1.0], [0.0, 1.0])
    path = tmp_path / "figures" / "roc.png"
    assert save_figure(fig, path, dpi=40) == path
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert os.listdir(path.parent) == ["roc.png"]
    save_figure(fig, path, dpi=40)  # overwriting works too
    assert os.listdir(path.parent) == ["roc.png"]


def test_save_figure_cleans_up_after_an_error(tmp_path):
    with pytest.raises(ValueError):
        save_figure(plot_roc([0.0, 1.0], [0.0, 1.0]), tmp_path / "roc.notaformat")
    assert os.listdir(tmp_path) == []
    with pytest.raises(TypeError, match="Figure"):
        save_figure("not a figure", tmp_path / "x.png")
