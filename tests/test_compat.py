"""What version 0.1.0 wrote and named keeps working: its checkpoints load and compute the same numbers, its public
names import from ``minivae``, and its package paths (minivae.models, minivae.datasets, minivae.training,
minivae.plots) still hold their names. The checkpoints in tests/data/v0.1.0 were written by 0.1.0 (see its README)."""
import json
from pathlib import Path

import numpy as np
import pytest

import minivae
from minivae import Trainer, load_checkpoint, load_dataset

DATA = Path(__file__).resolve().parent / "data" / "v0.1.0"
EXPECTED = json.loads((DATA / "expected.json").read_text())

NAMES_0_1_0 = [
    "Linear", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softplus", "Sequential", "MLP", "Conv2D", "ConvTranspose2D",
    "Flatten", "Unflatten", "bernoulli_nll", "categorical_nll", "gaussian_nll", "gaussian_nll_learned_variance",
    "kl_standard_normal", "Bernoulli", "Categorical", "Gaussian", "GaussianLearnedVariance", "Mixed",
    "make_likelihood", "reparameterize", "reparameterize_backward", "VAE", "Autoencoder", "ConvVAE", "ConditionalVAE",
    "ELBOTerms", "LossTerms", "build_model", "SGD", "Adagrad", "RMSProp", "Adam", "AdamW", "clip_grad_norm",
    "make_optimizer", "check_layer", "check_model", "numerical_gradient", "rel_error", "Dataset", "load_dataset",
    "load_mnist_test_10k", "TrainConfig", "Trainer", "TrainingDiverged", "load_checkpoint", "save_checkpoint",
    "bits_per_dim", "importance_weighted_bound", "anomaly_scores", "roc_auc", "roc_curve", "impute",
    "mean_imputation", "generate", "save_synthetic", "TabularEncoder", "read_csv_table", "write_csv_table",
]


def test_every_public_name_of_0_1_0_still_imports_from_minivae():
    missing = [name for name in NAMES_0_1_0 if not hasattr(minivae, name)]
    assert missing == []
    assert set(NAMES_0_1_0) <= set(minivae.__all__)


def test_the_package_paths_of_0_1_0_still_hold_their_names():
    from minivae.datasets import Dataset, binarize_dynamic, load_mnist_test_10k  # noqa: F401
    from minivae.models import VAE, Autoencoder, build_model  # noqa: F401
    from minivae.plots import plot_samples, tile_images  # noqa: F401
    from minivae.training import TrainConfig, Trainer  # noqa: F401


@pytest.mark.parametrize("name", ["vae", "ae", "conv", "cvae"])
def test_checkpoints_of_0_1_0_load_and_compute_the_same_losses(name):
    ckpt = load_checkpoint(DATA / f"{name}.npz")
    x = np.load(DATA / "x.npy")
    eps = np.random.default_rng(6).standard_normal((6, 2)).astype(np.float32)
    model = ckpt.model
    if name == "ae":
        loss = model.reconstruction_error(x)
    else:
        loss = -model.elbo(x, eps=eps, condition=np.arange(6) % 3 if name == "cvae" else None).elbo
    # float32, and the KL is now summed in float32 by NumPy where 0.1.0 summed it in float64: a few ulps
    np.testing.assert_allclose(loss, EXPECTED[name]["per_example_loss"], rtol=2e-6)
    assert ckpt.rng.random() == EXPECTED[name]["next_uniform"]  # the generator's state, exactly
    assert ckpt.epoch == 1 and ckpt.optimizer.t == 2


def test_a_0_1_0_training_run_loads_resumes_and_scores_the_same():
    ckpt = load_checkpoint(DATA / "cli-train.npz")
    x = load_dataset("mnist-test-10k").x_test[:20]
    eps = np.random.default_rng(6).standard_normal((20, 2)).astype(np.float32)
    np.testing.assert_allclose(-ckpt.model.elbo(x, eps=eps).elbo,
                               EXPECTED["cli-train"]["per_example_loss_first_20_test"], rtol=2e-6)
    trainer = Trainer.from_checkpoint(DATA / "cli-train.npz")
    assert trainer.config.beta == 0.5 and trainer.config.binarize == "dynamic" and trainer.epoch == 1
