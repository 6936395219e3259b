"""minivae: a from-scratch, educational Variational Autoencoder library.

NumPy layers with hand-written backward passes, Numba kernels for the elementwise hot loops, every gradient checked
against finite differences. Start with::

    from minivae import VAE, Adam
    vae = VAE(784, latent_dim=2)
    opt = Adam(lr=1e-3)
    terms = vae.loss_and_gradients(x_batch, rng)   # negative ELBO, fills vae.grads
    opt.step(vae.params, vae.grads)

The modules, one idea each: layers, losses, reparam, likelihoods, models, optim, gradcheck, kernels (Numba),
datasets, training, checkpoint, plots, cli.
"""
from minivae.version import __version__  # noqa: E402,F401


def _check_versions():
    """Fail early, with a message a student can act on, if numpy and numba do not fit together."""
    import numpy

    try:
        import numba
    except ImportError as err:  # numba refuses to import with a numpy it does not support
        raise ImportError(
            f"minivae needs numba, which failed to import with numpy {numpy.__version__}: {err}\n"
            "Install the known-good versions with:  pip install -r requirements.txt"
        ) from err
    np_major = int(numpy.__version__.split(".")[0])
    nb_minor = tuple(int(p) for p in numba.__version__.split(".")[:2])
    if np_major < 2 or nb_minor < (0, 60):
        raise ImportError(
            f"minivae needs numpy >= 2 and numba >= 0.60, found numpy {numpy.__version__} and numba "
            f"{numba.__version__}. Install the known-good versions with:  pip install -r requirements.txt"
        )


_check_versions()

from minivae.nn.layers import MLP, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Softplus, Tanh  # noqa: E402
from minivae.nn.conv import Conv2D, ConvTranspose2D, Flatten, Unflatten  # noqa: E402
from minivae.nn.losses import bernoulli_nll, categorical_nll, gaussian_nll, gaussian_nll_learned_variance  # noqa: E402
from minivae.nn.kl import kl_per_dimension, kl_standard_normal  # noqa: E402
from minivae.models.likelihoods import (Bernoulli, Categorical, Gaussian, GaussianLearnedVariance, Mixed,  # noqa: E402
                                 make_likelihood)
from minivae.nn.reparam import reparameterize, reparameterize_backward  # noqa: E402
from minivae.models import VAE, Autoencoder, ELBOTerms, LossTerms, build_model  # noqa: E402
from minivae.models.conv_vae import ConvVAE  # noqa: E402
from minivae.models.cvae import ConditionalVAE  # noqa: E402
from minivae.nn.optim import SGD, Adagrad, Adam, AdamW, RMSProp, clip_grad_norm, make_optimizer  # noqa: E402
from minivae.nn.gradcheck import check_layer, check_model, numerical_gradient, rel_error  # noqa: E402
from minivae.datasets.dataset import Dataset  # noqa: E402
from minivae.datasets.catalog import load_dataset  # noqa: E402
from minivae.datasets.mnist import load_mnist_test_10k  # noqa: E402
from minivae.training.trainer import TrainConfig, Trainer, TrainingDiverged  # noqa: E402
from minivae.training.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from minivae.apps.evaluation import bits_per_dim, importance_weighted_bound  # noqa: E402
from minivae.apps.anomaly import anomaly_scores, roc_auc, roc_curve  # noqa: E402
from minivae.apps.imputation import impute, mean_imputation  # noqa: E402
from minivae.apps.synthetic import generate, save_synthetic  # noqa: E402
from minivae.datasets.tables import TabularEncoder, read_csv_table, write_csv_table  # noqa: E402

# The figures live in minivae.plots (import it yourself: it loads matplotlib, which the rest does not need).
__all__ = [
    # layers
    "Linear", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softplus", "Sequential", "MLP",
    "Conv2D", "ConvTranspose2D", "Flatten", "Unflatten",
    # losses, likelihoods, the reparameterization
    "bernoulli_nll", "categorical_nll", "gaussian_nll", "gaussian_nll_learned_variance", "kl_standard_normal",
    "kl_per_dimension",
    "Bernoulli", "Categorical", "Gaussian", "GaussianLearnedVariance", "Mixed", "make_likelihood",
    "reparameterize", "reparameterize_backward",
    # models
    "VAE", "Autoencoder", "ConvVAE", "ConditionalVAE", "ELBOTerms", "LossTerms", "build_model",
    # optimizers and gradient checks
    "SGD", "Adagrad", "RMSProp", "Adam", "AdamW", "clip_grad_norm", "make_optimizer",
    "check_layer", "check_model", "numerical_gradient", "rel_error",
    # data, training, checkpoints
    "Dataset", "load_dataset", "load_mnist_test_10k", "TrainConfig", "Trainer", "TrainingDiverged",
    "load_checkpoint", "save_checkpoint",
    # evaluation and applications
    "bits_per_dim", "importance_weighted_bound", "anomaly_scores", "roc_auc", "roc_curve", "impute",
    "mean_imputation", "generate", "save_synthetic", "TabularEncoder", "read_csv_table", "write_csv_table",
]
