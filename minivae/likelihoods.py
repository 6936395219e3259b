"""Decoder likelihoods p(x | z): what the decoder's outputs mean, and the reconstruction loss that follows.

A likelihood object tells the model

* ``n_outputs(D)``: how many numbers the decoder must produce for D data dimensions;
* ``nll(out, x)``: the negative log-likelihood per example (N,) and its gradient (of the batch mean) w.r.t. ``out``;
* ``mean(out)``: the expected x, what "the reconstruction" shows; ``sample(out, rng)``: a draw of x;
* ``check_target(x)``: that x lies in the likelihood's support (a clear error otherwise);
* ``config()``: a JSON-able dict from which ``make_likelihood`` rebuilds it (checkpoints store it).

The formulas live in ``minivae.losses``; this module only wires them to decoder outputs.
"""
import numpy as np

from minivae import kernels, losses
from minivae.validation import check_unit_interval


class Bernoulli:
    """x_d ~ Bernoulli(sigmoid(l_d)); the decoder outputs the logits l (N, D). Targets must lie in [0, 1]."""

    name = "bernoulli"

    def n_outputs(self, data_dim):
        return data_dim

    def check_target(self, x, name="x"):
        check_unit_interval(x, name)

    def nll(self, out, x):
        return losses.bernoulli_nll(out, x)

    def mean(self, out):
        p = np.empty_like(out)
        kernels.sigmoid_forward(out.reshape(-1), p.reshape(-1))
        return p

    def sample(self, out, rng):
        return (rng.random(out.shape) < self.mean(out)).astype(out.dtype)

    def config(self):
        return {"name": self.name}


class Gaussian:
    """x ~ N(m, variance * I) with a fixed variance; the decoder outputs the mean m (N, D).

    With variance 1 the loss is half the squared error plus a constant, the "MSE" of many tutorials.
    """

    name = "gaussian"

    def __init__(self, variance=1.0):
        if not variance > 0:
            raise ValueError(f"the Gaussian likelihood's variance must be positive, got {variance}")
        self.variance = float(variance)

    def n_outputs(self, data_dim):
        return data_dim

    def check_target(self, x, name="x"):
        pass  # any finite real number is in the support (finiteness is checked at the model's entry)

    def nll(self, out, x):
        return losses.gaussian_nll(out, x, self.variance)

    def mean(self, out):
        return out.copy()

    def sample(self, out, rng):
        return (out + np.sqrt(self.variance) * rng.standard_normal(out.shape)).astype(out.dtype)

    def config(self):
        return {"name": self.name, "variance": self.variance}


class GaussianLearnedVariance:
    """x ~ N(m, diag(exp(lv))); the decoder outputs [m | lv] side by side, shape (N, 2D).

    The setting of the Frey Face experiment of Kingma & Welling. The log-variance is clamped to
    [min_logvar, max_logvar] so the likelihood cannot collapse onto one pixel value (its density would grow without
    bound); the gradient is exact inside the bounds and zero outside.
    """

    name = "gaussian_learned"

    def __init__(self, min_logvar=-10.0, max_logvar=10.0):
        self.min_logvar, self.max_logvar = float(min_logvar), float(max_logvar)

    def n_outputs(self, data_dim):
        return 2 * data_dim

    def check_target(self, x, name="x"):
        pass

    def split(self, out):
        """(N, 2D) -> mean (N, D), clamped logvar (N, D), and the mask of entries inside the clamp."""
        d = out.shape[1] // 2
        raw = out[:, d:]
        inside = (raw >= self.min_logvar) & (raw <= self.max_logvar)
        return out[:, :d], np.clip(raw, self.min_logvar, self.max_logvar), inside

    def nll(self, out, x):
        mean, logvar, inside = self.split(out)
        nll, dmean, dlogvar = losses.gaussian_nll_learned_variance(mean, logvar, x)
        return nll, np.concatenate([dmean, dlogvar * inside], axis=1)

    def mean(self, out):
        return self.split(out)[0].copy()

    def sample(self, out, rng):
        mean, logvar, _ = self.split(out)
        return (mean + np.exp(0.5 * logvar) * rng.standard_normal(mean.shape)).astype(out.dtype)

    def config(self):
        return {"name": self.name, "min_logvar": self.min_logvar, "max_logvar": self.max_logvar}


LIKELIHOODS = {"bernoulli": Bernoulli, "gaussian": Gaussian, "gaussian_learned": GaussianLearnedVariance}


def make_likelihood(spec):
    """A likelihood from its name ("bernoulli", "gaussian", "gaussian_learned"), its config dict, or itself."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {name!r}; choose one of {sorted(LIKELIHOODS)}")
        return LIKELIHOODS[name](**spec)
    if hasattr(spec, "nll") and hasattr(spec, "n_outputs"):
        return spec
    raise TypeError(f"likelihood must be a name, a config dict or a likelihood object, got {type(spec).__name__}")
