"""minivae/start_here.py, the VAE in one file of plain NumPy, computes what the library computes.

From the same seed: the same initial parameters (exactly), and after an epoch of training, the library's Trainer and
start_here's ``train`` hold the same parameters up to rounding (they draw the same shuffles and the same noise in the
same order; the arithmetic differs only in its order here and there).
"""
import subprocess
import sys

import numpy as np
import pytest

from minivae import VAE, TrainConfig, Trainer
from minivae.datasets import load_mnist_test_10k
from minivae.start_here import PlainNumpyVAE, init_params, train

RTOL = {np.float64: 1e-11, np.float32: 5e-6}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_same_seed_same_initial_parameters(dtype):
    library = VAE(784, latent_dim=3, hidden=(16,), seed=7, dtype=dtype).params
    one_file = init_params(784, hidden=16, latent_dim=3, seed=7, dtype=dtype)
    assert sorted(library) == sorted(one_file)  # the same names, the library's
    for name in library:
        np.testing.assert_array_equal(library[name], one_file[name], err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_an_epoch_of_training_gives_the_same_parameters(dtype):
    x = load_mnist_test_10k().x_train[:320].astype(dtype)
    model = VAE(784, latent_dim=3, hidden=(24,), seed=2, dtype=dtype)
    history = Trainer(model, TrainConfig(epochs=1, batch_size=64, lr=1e-3, seed=4, quiet=True)).fit(x)
    vae = PlainNumpyVAE(init_params(784, hidden=24, latent_dim=3, seed=2, dtype=dtype), lr=1e-3)
    losses = train(vae, x, epochs=1, batch_size=64, seed=4)
    for name, p in model.params.items():
        q = vae.params[name]
        err = np.abs(p - q).max() / np.abs(p).max()
        assert err < RTOL[dtype], f"{name}: relative difference {err:.2g} after one epoch"
    assert losses[0] == pytest.approx(history["train_loss"][0], rel=RTOL[dtype])
    assert not np.array_equal(vae.params["encoder.0.W"], init_params(784, 24, 3, seed=2, dtype=dtype)["encoder.0.W"])


def test_it_runs_as_a_script(tmp_path):
    """``python -m minivae.start_here`` trains on the bundled digits and prints what it learned, epoch by epoch."""
    out = subprocess.run([sys.executable, "-m", "minivae.start_here", "--epochs", "2", "--examples", "1000"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("mean training loss (negative ELBO)" in line for line in lines)
    first, second = (float(line.split()[-4]) for line in lines)
    assert second < first < 784 * np.log(2)  # below the loss of a coin flip per pixel, and falling
