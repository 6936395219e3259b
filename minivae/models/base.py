"""The contract every model keeps, and what all models share: the two networks, the parameters, the input checks.

Every model (Autoencoder, VAE, ConvVAE, ConditionalVAE, and the ones to come) trains with one call that takes the
batch, the random generator, and then the same keyword-only training options:

    terms = model.loss_and_gradients(x, rng,                # or eps=... to fix the noise
                                     beta=1.0,              # weight of the KL term (beta-VAE, KL warm-up)
                                     free_bits=0.0,         # a floor, in nats, on each latent dimension's KL
                                     target=None,           # what to reconstruct (denoising: the clean x)
                                     iw_samples=1,          # K > 1: the importance-weighted bound (IWAE)
                                     condition=None)        # class labels (N,) for a conditional model

It returns ``LossTerms`` (batch means, nats) and writes every gradient into ``model.grads``. What a model can do is
declared, not probed:

    model.options        the training options it honours beyond their neutral values (beta=1, free_bits=0,
                         target=None, iw_samples=1, condition=None)
    model.probabilistic  True when it has a prior and a posterior: ``elbo``, ``sample``, the IW bound
    model.conditional    True when every call needs ``condition`` (the class of each example)
    model.input_kind     "vectors": x is a float (N, D) array;  "tokens": x is an (N, T) int array of token ids
                         (``minivae.datasets.text``), padded with <pad> = 0

An option it cannot honour is refused by ``model.check_options(...)`` with a ValueError naming the model and the
option (the trainer calls it before the first step). Combinations that no model can honour (the IW bound has no
KL weight) are refused the same way.
"""
from dataclasses import dataclass

import numpy as np

from minivae.models.likelihoods import make_likelihood
from minivae.nn.layers import MLP
from minivae.validation import as_float_array, check_dtype, check_positive_int

NEUTRAL = {"beta": 1.0, "free_bits": 0.0, "target": None, "iw_samples": 1, "condition": None}
"""The training options and their neutral values: a model that does not honour an option accepts only this value."""


@dataclass
class LossTerms:
    """Batch means, in nats per example: loss = reconstruction + beta * kl (for the IW bound: loss = -L_K)."""

    loss: float
    reconstruction: float
    kl: float


@dataclass
class ELBOTerms:
    """Per-example terms, each (N,), in nats: elbo = -(reconstruction + kl).

    ``reconstruction`` is the reconstruction loss -E_q[log p(x | z)] (estimated with the given eps), ``kl`` the
    closed-form KL(q(z | x) || p(z)). The ELBO is a lower bound on log p(x); the training loss is -ELBO.
    """

    elbo: np.ndarray
    reconstruction: np.ndarray
    kl: np.ndarray


class Model:
    """The base of every model: two networks, ``encoder`` and ``decoder``, and a likelihood.

    Subclasses build the networks (``_build_mlps`` for MLPs) and declare ``options``, ``probabilistic`` and
    ``conditional``; their parameters and gradients are gathered in ``params`` and ``grads``, two dictionaries with
    the same keys ("encoder.0.W", ..., "decoder.2.b"). These are the layers' own arrays, so an optimizer that updates
    them in place trains the model.
    """

    options = frozenset({"target"})  # the training options honoured beyond their neutral values
    probabilistic = False  # has a prior p(z) and a posterior q(z | x): elbo, sample, the IW bound
    conditional = False  # needs condition= (class labels) in every call
    input_kind = "vectors"  # x: float (N, D) vectors, or "tokens": (N, T) integer token ids
    encoder_heads = 1  # encoder outputs per latent dimension (1: the code itself; 2: mu and logvar)
    condition_size = 0  # extra inputs of both networks (the one-hot label of a conditional model)

    # -- building -----------------------------------------------------------------------------------------------------

    def _build_mlps(self, input_dim, latent_dim, hidden, likelihood, activation, seed, dtype):
        """encoder: [x | c] (D + C) -> hidden -> heads * L;   decoder: [z | c] (L + C) -> reversed hidden -> outputs."""
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.hidden = tuple(check_positive_int(h, "hidden size") for h in hidden)
        self.likelihood = make_likelihood(likelihood)
        self.activation, self.seed, self.dtype = activation, seed, check_dtype(dtype)
        rng = np.random.default_rng(seed)
        c = self.condition_size
        self.encoder = MLP([input_dim + c, *self.hidden, self.encoder_heads * latent_dim], activation, rng, dtype)
        n_out = self.likelihood.n_outputs(input_dim)
        self.decoder = MLP([latent_dim + c, *reversed(self.hidden), n_out], activation, rng, dtype)
        self._gather_params()

    def _gather_params(self, parts=("encoder", "decoder")):
        """params and grads: every array of the named parts (layers with .params and .grads), as "<part>.<name>"."""
        self.params, self.grads = {}, {}
        for part_name in parts:
            part = getattr(self, part_name)
            for k in part.params:
                self.params[f"{part_name}.{k}"] = part.params[k]
                self.grads[f"{part_name}.{k}"] = part.grads[k]

    def config(self):
        """The constructor's arguments as a JSON-able dict, plus "model": the class name (see models.build_model)."""
        return {"model": type(self).__name__, "input_dim": self.input_dim, "latent_dim": self.latent_dim,
                "hidden": list(self.hidden), "likelihood": self.likelihood.config(),
                "activation": self.activation, "seed": self.seed, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config):
        """Build an untrained model from ``model.config()`` (the checkpoint stores it)."""
        config = dict(config)
        kind = config.pop("model", cls.__name__)
        if kind != cls.__name__:
            raise ValueError(f"this config describes a {kind}, not a {cls.__name__}")
        return cls(**config)

    @property
    def n_parameters(self):
        """The number of trainable numbers."""
        return sum(p.size for p in self.params.values())

    def __repr__(self):
        return (f"{type(self).__name__}(input_dim={self.input_dim}, latent_dim={self.latent_dim}, "
                f"hidden={list(self.hidden)}, likelihood={self.likelihood.name!r}, "
                f"parameters={self.n_parameters:,}, dtype={self.dtype.name})")

    # -- the contract -------------------------------------------------------------------------------------------------

    #: why a model that lacks an option cannot honour it (a subclass may say it better)
    refusals = {
        "beta": "it has no KL term to weight",
        "free_bits": "it has no KL term to put a floor under",
        "iw_samples": "it has no posterior q(z | x) to draw importance samples from",
        "condition": "it is not conditional (train a ConditionalVAE, --model cvae, to condition on labels)",
        "target": "it cannot reconstruct another target than its input",
    }

    def check_options(self, **options):
        """Refuse, with one ValueError naming the model and the option, what this model cannot honour.

        options : any of beta, free_bits, target, iw_samples, condition (see the module docstring). A model honours
        an option it lists in ``self.options``; any other must have its neutral value (``NEUTRAL``).
        """
        name = type(self).__name__
        unknown = options.keys() - NEUTRAL.keys()
        if unknown:
            raise TypeError(f"{name}: unknown training option(s) {sorted(unknown)}; the options are {list(NEUTRAL)}")
        for option, value in options.items():
            if option in self.options:
                continue
            neutral = NEUTRAL[option]
            if not (value is None if neutral is None else (value is not None and value == neutral)):
                raise ValueError(f"{name} cannot honour {option}={_short(value)}: {self.refusals[option]}")
        if self.conditional and options.get("condition") is None:
            raise ValueError(f"{name} is conditional: pass condition=labels, one class index per example")
        iw = options.get("iw_samples", 1)
        if isinstance(iw, bool) or not isinstance(iw, (int, np.integer)) or iw < 1:
            raise ValueError(f"{name}: iw_samples must be a positive integer (1 = the ELBO), got {iw!r}")
        if iw > 1 and (options.get("beta", 1.0) != 1.0 or options.get("free_bits", 0.0) > 0):
            raise ValueError(f"{name}: iw_samples={iw} trains on the importance-weighted bound of log p(x), which has "
                             "no KL weight: use it with beta = 1 (no warm-up) and no free bits")
        if options.get("free_bits", 0.0) < 0 or options.get("beta", 1.0) < 0:
            raise ValueError(f"{name}: beta and free_bits must not be negative, got beta={options.get('beta', 1.0)} "
                             f"and free_bits={options.get('free_bits', 0.0)}")

    def loss_and_gradients(self, x, rng=None, *, eps=None, beta=1.0, free_bits=0.0, target=None, iw_samples=1,
                           condition=None):
        """The loss of a batch x (N, D) and every gradient written to ``self.grads``; returns LossTerms."""
        raise NotImplementedError

    def reconstruction_error(self, x, *, condition=None):
        """Per-example reconstruction loss (N,), in nats: -log p(x | the code of x), without noise."""
        raise NotImplementedError

    # -- input checks shared by every model ---------------------------------------------------------------------------

    def _check_x(self, x, name="x"):
        x = as_float_array(x, name, self.dtype, width=self.input_dim)
        self.likelihood.check_target(x, name)
        return x

    def _check_target(self, target, x):
        """What to reconstruct: x itself (target None), or an array of x's shape (denoising: the clean x)."""
        if target is None or target is x:  # the trainer passes the batch twice when it does not corrupt it
            return x
        target = self._check_x(target, "target")
        if target.shape != x.shape:  # the loss kernels index target by x's rows: a mismatch would read out of bounds
            raise ValueError(f"target must have the shape of x, {x.shape}, got {target.shape}")
        return target

    def _check_z(self, z):
        return as_float_array(z, "z", self.dtype, width=self.latent_dim)

    def _with_condition(self, a, condition):
        """The rows of a, with the condition appended to each (a conditional model overrides this); here: a itself."""
        if condition is not None:
            self.check_options(condition=condition)  # refuses, naming the model
        return a


def _short(value):
    """A value as a message shows it: an array by its shape."""
    return f"<array of shape {np.shape(value)}>" if isinstance(value, np.ndarray) else repr(value)
