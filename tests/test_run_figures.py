"""Tests for minivae.plots.run_figures: which figures a run writes for each kind of model and data. The models are
tiny and untrained: the test checks which files appear, tests/test_plots.py checks the figures themselves."""
import numpy as np
import pytest

from minivae import VAE, Autoencoder, ConditionalVAE
from minivae.datasets import Dataset
from minivae.plots.run_figures import write_run_figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HISTORY = {"epoch": [1, 2], "train_loss": [12.0, 10.0], "val_loss": [12.5, 10.5]}
ALL = ["history.png", "reconstructions.png", "samples.png", "manifold.png", "interpolation.png", "traversal.png",
       "latent_scatter.png"]


def toy_data(image_shape):
    rng = np.random.default_rng(0)
    x = rng.random((12, 16)).astype(np.float32)
    return Dataset("toy", x[:8], np.arange(8) % 3, x[8:], np.arange(4) % 3, image_shape, "toy images")


@pytest.mark.parametrize("kind, image_shape, expected", [
    ("vae", (4, 4), ALL),
    ("ae", (4, 4), ["history.png", "reconstructions.png", "latent_scatter.png"]),  # no prior to sample from
    ("vae", None, ["history.png", "latent_scatter.png"]),  # not images: no image grids
    ("cvae", (4, 4), ["history.png"]),  # its encoder and decoder also need the class
])
def test_which_figures_a_run_writes(tmp_path, kind, image_shape, expected):
    small = dict(latent_dim=2, hidden=(4,))
    model = {"vae": lambda: VAE(16, **small), "ae": lambda: Autoencoder(16, **small),
             "cvae": lambda: ConditionalVAE(16, n_classes=3, **small)}[kind]()
    paths = write_run_figures(model, toy_data(image_shape), HISTORY, tmp_path / "figures")
    assert [p.name for p in paths] == expected
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(expected)
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in paths)
