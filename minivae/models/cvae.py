"""The conditional VAE: a VAE that is told the class of each example.

Kingma, Rezende, Mohamed & Welling (2014), "Semi-Supervised Learning with Deep Generative Models" (the generative
part of model M2, with the labels observed), and Sohn, Lee & Yan (2015), "Learning Structured Output Representation
using Deep Conditional Generative Models". The label y (an integer in [0, C)) is one-hot encoded and appended to the
input of both networks:

    encoder  q(z | x, y):  [x | onehot(y)]  (N, D + C)  ->  mu, logvar  (N, L) each
    decoder  p(x | z, y):  [z | onehot(y)]  (N, L + C)  ->  parameters of p(x | z, y)
    prior    p(z) = N(0, I), as in the plain VAE
    loss     mean_n [ -log p(x_n | z_n, y_n) + beta * KL(q(z | x_n, y_n) || N(0, I)) ]

Because the decoder is told the class, z no longer needs to encode it: z is free to hold the *style* (slant,
thickness), and ``sample(n, rng, y=3)`` draws new examples of class 3 in random styles.

Everything else (the reparameterization, the closed-form KL, the likelihoods, the clamped logvar) is the VAE's own;
only the inputs of the two networks are wider. In the backward pass the decoder returns a gradient for all L + C of
its inputs; the last C columns belong to the one-hot label, which is data, not a parameter, so only the first L
(the gradient with respect to z) go on to the encoder.
"""
import numpy as np

from minivae.nn import kernels
from minivae.models.likelihoods import to_one_hot
from minivae.models.vae import VAE, ELBOTerms, LossTerms, _Model
from minivae.nn.reparam import sample_eps
from minivae.validation import check_positive_int


class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder both receive the one-hot class label: q(z | x, y) and p(x | z, y).

    Parameters are those of ``VAE`` plus ``n_classes`` C (required, by name). Labels y are integer arrays (N,) with
    values in [0, C).

    Example
    -------
    >>> cvae = ConditionalVAE(784, latent_dim=2, hidden=(64,), n_classes=10)
    >>> x = np.random.default_rng(0).random((8, 784))
    >>> y = np.arange(8) % 10
    >>> terms = cvae.loss_and_gradients(x, y, rng=np.random.default_rng(1))
    >>> cvae.sample(5, np.random.default_rng(2), y=7).shape      # five new 7s
    (5, 784)
    """

    conditional = True  # the trainer passes labels to models that have this

    def __init__(self, input_dim, latent_dim=20, hidden=(400,), likelihood="bernoulli", activation="relu", seed=0,
                 dtype=np.float32, *, n_classes):
        self.n_classes = check_positive_int(n_classes, "n_classes")
        # The shared model constructor, with encoder input [x | onehot(y)] (D + C) and decoder input
        # [z | onehot(y)] (L + C). (VAE.__init__ itself takes no condition, so it is skipped.)
        _Model.__init__(self, input_dim, latent_dim, hidden, likelihood, activation, seed, dtype,
                        condition_size=self.n_classes)

    def config(self):
        return {**super().config(), "n_classes": self.n_classes}

    def __repr__(self):
        base = super().__repr__()  # "ConditionalVAE(input_dim=..., dtype=float32)"
        return f"{base[:-1]}, n_classes={self.n_classes})"

    # -- labels --------------------------------------------------------------------------------------------------------

    def _one_hot(self, y, n):
        """Labels y (n,) -> one-hot (n, C) in the model's dtype, after checking type, shape and range."""
        y = np.asarray(y)
        if y.dtype.kind not in "iu":
            raise TypeError(f"labels y must be integers (class indices 0..{self.n_classes - 1}), got dtype {y.dtype}; "
                            "convert them with y.astype(int)")
        if y.shape != (n,):
            raise ValueError(f"labels y must have shape ({n},), one per example, got shape {y.shape}")
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"labels y must lie in [0, {self.n_classes}) for a model with n_classes="
                             f"{self.n_classes}, got values in [{y.min()}, {y.max()}]")
        return to_one_hot(y, self.n_classes, self.dtype)  # (n, C)

    # -- the VAE's methods, now with labels ----------------------------------------------------------------------------

    def encode(self, x, y):
        """Parameters of q(z | x, y): mu (N, L) and logvar (N, L)."""
        x = self._check_x(x)
        mu, logvar, _ = self._split(self.encoder.forward(np.concatenate([x, self._one_hot(y, len(x))], axis=1)))
        return mu, logvar

    def decode(self, z, y):
        """The mean of p(x | z, y) for codes z (N, L) and labels y (N,): (N, D)."""
        z = self._check_z(z)
        out = self.decoder.forward(np.concatenate([z, self._one_hot(y, len(z))], axis=1))
        return self.likelihood.mean(out)

    def reconstruct(self, x, y, rng=None):
        """The mean of p(x | z, y) at z = mu(x, y) (rng None), or at one sample z ~ q(z | x, y) (rng given)."""
        mu, logvar = self.encode(x, y)
        z = mu if rng is None else mu + np.exp(0.5 * logvar) * sample_eps(rng, mu.shape, self.dtype)
        return self.decode(z, y)

    def sample(self, n, rng, y=None):
        """n new examples of the given class(es): z ~ N(0, I), returned as the mean of p(x | z, y), shape (n, D).

        y : an int (all n of that class) or an int array (n,) (one class per example).
        """
        n = check_positive_int(n, "n")
        if y is None:
            raise ValueError("a ConditionalVAE generates examples of given classes: pass y=c (an int) or y=labels "
                             f"(an int array of length {n})")
        if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
            y = np.full(n, y)
        return self.decode(sample_eps(rng, (n, self.latent_dim), self.dtype), y)

    # -- the objective -------------------------------------------------------------------------------------------------

    def _forward(self, x, eps, onehot):
        h = self.encoder.forward(np.concatenate([x, onehot], axis=1))  # (N, 2L)
        mu, logvar, inside = self._split(h)
        z = np.empty_like(mu)
        kl = np.empty(len(x), dtype=self.dtype)
        kernels.reparam_kl_forward(mu, logvar, eps, z, kl)  # z = mu + exp(0.5 lv) eps;  kl (N,)
        out = self.decoder.forward(np.concatenate([z, onehot], axis=1))  # (N, n_out)
        return mu, logvar, inside, kl, out

    def elbo(self, x, y, rng=None, eps=None):
        """Per-example ELBO of log p(x | y) and its two terms (see ELBOTerms), with one sample of z per example."""
        x = self._check_x(x)
        onehot = self._one_hot(y, len(x))
        if rng is None and eps is None:
            rng = np.random.default_rng(0)
        eps = self._noise(len(x), rng, eps)
        *_, kl, out = self._forward(x, eps, onehot)
        nll = self.likelihood.nll(out, x)[0]
        return ELBOTerms(elbo=-(nll + kl), reconstruction=nll, kl=kl)

    def loss_and_gradients(self, x, y, rng=None, eps=None, beta=1.0, target=None):
        """Negative ELBO of a labelled batch (KL weight beta); every gradient is written to ``self.grads``.

        As ``VAE.loss_and_gradients``, with [x | onehot(y)] into the encoder and [z | onehot(y)] into the decoder.
        The decoder's input gradient is (N, L + C); its first L columns are dL/dz.
        """
        x = self._check_x(x)
        target = self._check_target(target, x)
        n = len(x)
        onehot = self._one_hot(y, n)
        eps = self._noise(n, rng, eps)
        mu, logvar, inside, kl, out = self._forward(x, eps, onehot)
        nll, dout = self.likelihood.nll(out, target)

        dzy = self.decoder.backward(dout)  # (N, L + C)
        dz = np.ascontiguousarray(dzy[:, :self.latent_dim])  # (N, L); the label's columns are dropped
        dmu, dlogvar = np.empty_like(mu), np.empty_like(mu)
        kernels.reparam_kl_backward(dz, mu, logvar, eps, self.dtype.type(beta / n), dmu, dlogvar)
        dlogvar *= inside
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1))  # (N, 2L)

        rec, kl_mean = float(nll.mean()), float(kl.mean())
        return LossTerms(loss=rec + beta * kl_mean, reconstruction=rec, kl=kl_mean)
