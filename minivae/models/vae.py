"""The models: a deterministic Autoencoder and the Variational Autoencoder (Kingma & Welling 2013).

Both are two MLPs (``encoder`` and ``decoder``, see ``minivae.nn.layers``) and a likelihood (``minivae.models.likelihoods``).
Their parameters and gradients are gathered in two dictionaries with the same keys, ``model.params`` and
``model.grads`` ("encoder.0.W", "encoder.0.b", ..., "decoder.2.b"); these are the layers' own arrays, so an
optimizer that updates them in place trains the model.

The one call that training needs is ``model.loss_and_gradients(x, rng)``: it runs forward, computes the loss (a batch
mean, in nats), runs backward and fills ``model.grads``.
"""
from dataclasses import dataclass

import numpy as np

from minivae.nn import kernels
from minivae.nn.layers import MLP
from minivae.models.likelihoods import make_likelihood
from minivae.nn.losses import kl_per_dimension
from minivae.nn.reparam import sample_eps
from minivae.validation import as_float_array, check_dtype, check_positive_int


@dataclass
class LossTerms:
    """Batch means, in nats per example: loss = reconstruction + beta * kl."""

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


class _Model:
    """What both models share: building the two MLPs, parameter bookkeeping, config and input checks.

    encoder: [x | c] (D + C) -> hidden -> encoder_heads * L;   decoder: [z | c] (L + C) -> reversed hidden -> outputs
    c is an optional condition of size C = condition_size (the one-hot label of a ConditionalVAE; 0 otherwise).
    """

    encoder_heads = 1  # numbers the encoder outputs per latent dimension (the Autoencoder: the code itself)

    def __init__(self, input_dim, latent_dim, hidden, likelihood, activation, seed, dtype, condition_size=0):
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.hidden = tuple(check_positive_int(h, "hidden size") for h in hidden)
        self.likelihood = make_likelihood(likelihood)
        self.activation, self.seed, self.dtype = activation, seed, check_dtype(dtype)
        rng = np.random.default_rng(seed)
        c = condition_size
        self.encoder = MLP([input_dim + c, *self.hidden, self.encoder_heads * latent_dim], activation, rng, dtype)
        n_out = self.likelihood.n_outputs(input_dim)
        self.decoder = MLP([latent_dim + c, *reversed(self.hidden), n_out], activation, rng, dtype)
        self._gather_params()

    def config(self):
        """The constructor's arguments as a JSON-able dict, plus "model": the class name (see build_model)."""
        return {"model": type(self).__name__, "input_dim": self.input_dim, "latent_dim": self.latent_dim,
                "hidden": list(self.hidden), "likelihood": self.likelihood.config(),
                "activation": self.activation, "seed": self.seed, "dtype": self.dtype.name}

    def _gather_params(self):
        self.params, self.grads = {}, {}
        for part_name in ("encoder", "decoder"):
            part = getattr(self, part_name)
            for k in part.params:
                self.params[f"{part_name}.{k}"] = part.params[k]
                self.grads[f"{part_name}.{k}"] = part.grads[k]

    @property
    def n_parameters(self):
        """The number of trainable numbers."""
        return sum(p.size for p in self.params.values())

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

    def decode(self, z):
        """The mean of p(x | z) for latent codes z (N, latent_dim): (N, input_dim), e.g. pixel probabilities."""
        return self.likelihood.mean(self.decoder.forward(self._check_z(z)))

    def __repr__(self):
        return (f"{type(self).__name__}(input_dim={self.input_dim}, latent_dim={self.latent_dim}, "
                f"hidden={list(self.hidden)}, likelihood={self.likelihood.name!r}, "
                f"parameters={self.n_parameters:,}, dtype={self.dtype.name})")

    @classmethod
    def from_config(cls, config):
        """Build an untrained model from ``model.config()`` (the checkpoint stores it)."""
        config = dict(config)
        kind = config.pop("model", cls.__name__)
        if kind != cls.__name__:
            raise ValueError(f"this config describes a {kind}, not a {cls.__name__}")
        return cls(**config)


class Autoencoder(_Model):
    """A deterministic autoencoder: code = encoder(x), x_hat = decoder(code).

    Loss: the likelihood's negative log-likelihood of x given the decoder outputs, summed over dimensions and
    averaged over the batch (binary cross-entropy for "bernoulli", half the squared error plus a constant for
    "gaussian"). There is no KL term and no noise: the baseline of the first lessons.

    Parameters
    ----------
    input_dim : D    latent_dim : size of the code    hidden : sizes of the hidden layers of the encoder (the
    decoder mirrors them)    likelihood : "bernoulli" or "gaussian"    activation : hidden activation name
    seed : initialisation seed    dtype : float32 to train, float64 to check gradients

    Example
    -------
    >>> ae = Autoencoder(784, latent_dim=2, hidden=(64,))
    >>> ae.encode(np.zeros((5, 784))).shape
    (5, 2)
    """

    def __init__(self, input_dim, latent_dim=2, hidden=(400,), likelihood="bernoulli", activation="relu", seed=0,
                 dtype=np.float32):
        super().__init__(input_dim, latent_dim, hidden, likelihood, activation, seed, dtype)

    def encode(self, x):
        """The code of each example: (N, input_dim) -> (N, latent_dim)."""
        return self.encoder.forward(self._check_x(x))

    def reconstruct(self, x):
        """decode(encode(x)): (N, input_dim) -> (N, input_dim)."""
        return self.decode(self.encode(x))

    def loss_and_gradients(self, x, target=None, rng=None, beta=1.0):
        """Loss of a batch, and every gradient written to ``self.grads``.

        x : (N, input_dim) input;  target : what to reconstruct (default x; a denoising autoencoder passes the clean
        x here and a corrupted x as input). rng and beta are accepted so that the trainer can treat both models alike.
        """
        x = self._check_x(x)
        target = self._check_target(target, x)
        out = self.decoder.forward(self.encoder.forward(x))  # (N, n_out)
        nll, dout = self.likelihood.nll(out, target)  # (N,), (N, n_out)
        self.encoder.backward(self.decoder.backward(dout), input_grad=False)  # x is data: no dL/dx needed
        rec = float(nll.mean())
        return LossTerms(loss=rec, reconstruction=rec, kl=0.0)

    def reconstruction_error(self, x):
        """Per-example reconstruction loss (N,), in nats (no gradients)."""
        x = self._check_x(x)
        return self.likelihood.nll(self.decoder.forward(self.encoder.forward(x)), x)[0]


class VAE(_Model):
    """Variational Autoencoder with a Gaussian encoder q(z | x) = N(mu(x), diag(exp(logvar(x)))) and prior N(0, I).

    Encoder MLP: x (N, D) -> h (N, 2L), split into mu = h[:, :L] and logvar = h[:, L:].
    Reparameterization: z = mu + exp(0.5 * logvar) * eps, eps ~ N(0, I)          (minivae.nn.reparam)
    Decoder MLP: z (N, L) -> parameters of p(x | z)                               (minivae.models.likelihoods)
    Loss (the negative ELBO, batch mean, nats):
        loss = mean_n [ -log p(x_n | z_n) + beta * KL(q(z | x_n) || N(0, I)) ]   (beta = 1 is the true ELBO)

    logvar is clamped to [LOGVAR_MIN, LOGVAR_MAX] = [-30, 20]: exp(logvar) can then neither underflow to 0 nor
    overflow, and the gradient is exact inside the bounds (zero outside, like np.clip's).

    Parameters
    ----------
    input_dim : D    latent_dim : L    hidden : encoder hidden sizes (the decoder mirrors them)
    likelihood : "bernoulli", "gaussian", "gaussian_learned", a config dict or a likelihood object
    activation : hidden activation    seed : initialisation seed    dtype : float32 or float64

    Example
    -------
    >>> vae = VAE(784, latent_dim=2, hidden=(64,))
    >>> x = np.random.default_rng(0).random((8, 784))
    >>> terms = vae.loss_and_gradients(x, rng=np.random.default_rng(1))
    >>> sorted(vae.grads) == sorted(vae.params)
    True
    """

    LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0

    encoder_heads = 2  # the encoder outputs mu and logvar for each latent dimension

    def __init__(self, input_dim, latent_dim=20, hidden=(400,), likelihood="bernoulli", activation="relu", seed=0,
                 dtype=np.float32):
        super().__init__(input_dim, latent_dim, hidden, likelihood, activation, seed, dtype)

    # -- the encoder's two heads ---------------------------------------------------------------------------------------

    def _split(self, h):
        """h (N, 2L) -> mu (N, L), clamped logvar (N, L), mask of logvar entries inside the clamp (N, L)."""
        L = self.latent_dim
        mu = np.ascontiguousarray(h[:, :L])
        raw = h[:, L:]
        inside = (raw >= self.LOGVAR_MIN) & (raw <= self.LOGVAR_MAX)
        logvar = np.clip(raw, self.LOGVAR_MIN, self.LOGVAR_MAX)  # a new contiguous array
        return mu, logvar, inside

    def encode(self, x):
        """Parameters of q(z | x): mu (N, L) and logvar (N, L), logvar = log sigma^2."""
        mu, logvar, _ = self._split(self.encoder.forward(self._check_x(x)))
        return mu, logvar

    def reconstruct(self, x, rng=None):
        """The mean of p(x | z) at z = mu(x) (rng None), or at one sample z ~ q(z | x) (rng given)."""
        mu, logvar = self.encode(x)
        z = mu if rng is None else mu + np.exp(0.5 * logvar) * sample_eps(rng, mu.shape, self.dtype)
        return self.decode(z)

    def sample(self, n, rng):
        """n new examples: z ~ N(0, I), returned as the mean of p(x | z), shape (n, D)."""
        n = check_positive_int(n, "n")
        return self.decode(sample_eps(rng, (n, self.latent_dim), self.dtype))

    # -- the objective -------------------------------------------------------------------------------------------------

    def _noise(self, n, rng, eps):
        if eps is None:
            if rng is None:
                raise ValueError("pass rng (a numpy Generator) to draw the noise eps, or eps itself")
            return sample_eps(rng, (n, self.latent_dim), self.dtype)
        eps = as_float_array(eps, "eps", self.dtype, width=self.latent_dim)
        if len(eps) != n:  # the kernels index eps by the batch's rows: a mismatch would read out of bounds
            raise ValueError(f"eps must have one row per example, shape ({n}, {self.latent_dim}), got {eps.shape}")
        return eps

    def _forward(self, x, eps):
        mu, logvar, inside = self._split(self.encoder.forward(x))
        z = np.empty_like(mu)
        kl = np.empty(len(x), dtype=self.dtype)
        kernels.reparam_kl_forward(mu, logvar, eps, z, kl)  # z = mu + exp(0.5 lv) eps;  kl (N,)
        out = self.decoder.forward(z)
        return mu, logvar, inside, kl, out

    def elbo(self, x, rng=None, eps=None):
        """Per-example ELBO and its two terms (see ELBOTerms), with one sample of z per example.

        Without rng or eps the noise comes from np.random.default_rng(0), so that repeated evaluations agree.
        """
        x = self._check_x(x)
        if rng is None and eps is None:
            rng = np.random.default_rng(0)
        eps = self._noise(len(x), rng, eps)
        *_, kl, out = self._forward(x, eps)
        nll = self.likelihood.nll(out, x)[0]
        return ELBOTerms(elbo=-(nll + kl), reconstruction=nll, kl=kl)

    def loss_and_gradients(self, x, rng=None, eps=None, beta=1.0, target=None, free_bits=0.0):
        """Negative ELBO of a batch (with KL weight beta) and every gradient written to ``self.grads``.

        Forward:  h = enc(x); mu, logvar = split(h); z = mu + exp(lv/2) eps; out = dec(z)
                  loss = mean_n [ nll(out_n, target_n) + beta kl_n ]
        Backward: dout = d loss / d out (the likelihood);  dz = dec.backward(dout)
                  dmu = dz + beta mu / N;  dlv = dz eps exp(lv/2) / 2 + beta (exp(lv) - 1) / (2N)   (kernels)
                  dh = [dmu | dlv * inside];  enc.backward(dh)

        Free bits (Kingma et al. 2016, "Improved variational inference with inverse autoregressive flow"), with
        free_bits = lambda > 0: the KL term becomes sum_j max(lambda, KL_j), KL_j the batch-mean KL of latent
        dimension j. A dimension below its floor then gets no KL gradient, so the encoder is not pushed to switch
        it off (a remedy for posterior collapse). ``LossTerms.kl`` still reports the true KL.

        x : (N, D);  rng : Generator for eps, or eps (N, L) itself;  target : default x (denoising: the clean x).
        Returns LossTerms (batch means).
        """
        x = self._check_x(x)
        target = self._check_target(target, x)
        eps = self._noise(len(x), rng, eps)
        mu, logvar, inside, kl, out = self._forward(x, eps)  # forward
        nll, dout = self.likelihood.nll(out, target)  # loss: (N,) and d loss / d out (N, n_out)
        kl_term = self._backward(dout, mu, logvar, inside, eps, kl, beta, free_bits)  # backward: fills self.grads
        rec = float(nll.mean())
        return LossTerms(loss=rec + beta * kl_term, reconstruction=rec, kl=float(kl.mean()))

    def _backward(self, dout, mu, logvar, inside, eps, kl, beta, free_bits):
        """The backward pass of loss_and_gradients, from dout = d loss / d out; returns the loss's KL term."""
        n = len(dout)
        dz = self.decoder.backward(dout)  # (N, L)
        dmu, dlogvar = np.empty_like(mu), np.empty_like(mu)
        kl_scale = 0.0 if free_bits > 0 else beta / n  # with free bits, the KL gradient is added below, per dimension
        kernels.reparam_kl_backward(dz, mu, logvar, eps, self.dtype.type(kl_scale), dmu, dlogvar)
        kl_term = float(kl.mean())
        if free_bits > 0:
            kl_dim = kl_per_dimension(mu, logvar)  # (L,)
            above = kl_dim > free_bits  # dimensions whose KL is above the floor keep their gradient
            kl_term = float(np.maximum(kl_dim, free_bits).sum())
            dmu += (beta / n) * above * mu
            dlogvar += (beta / n) * above * 0.5 * (np.exp(logvar) - 1)
        dlogvar *= inside
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1), input_grad=False)  # (N, 2L); x needs no grad
        return kl_term
