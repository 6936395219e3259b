"""The Variational Autoencoder (Kingma & Welling 2013): an encoder q(z | x), the prior N(0, I), a decoder p(x | z).

One training step, as ``VAE.loss_and_gradients`` runs it (each line names the module that holds its formula):

    h = encoder(x);  mu, logvar = split(h)            q(z | x) = N(mu, diag(exp(logvar)))
    z = reparameterize(mu, logvar, eps)               minivae.nn.reparam
    out = decoder(z)
    nll, dout = likelihood.nll(out, x)                minivae.models.likelihoods -> minivae.nn.losses
    kl, dmu_kl, dlogvar_kl = kl_term(mu, logvar)      minivae.nn.kl (with free bits, if asked)
    loss = mean(nll) + beta * kl
    dz = decoder.backward(dout)
    dmu, dlogvar = reparameterize_backward(dz, logvar, eps) + beta * (dmu_kl, dlogvar_kl)
    encoder.backward([dmu | dlogvar])

With ``iw_samples=K > 1`` the same networks train on the importance-weighted bound instead (``minivae.models.iwae``).
``minivae/start_here.py`` is this model written out in one file of plain NumPy.
"""
import numpy as np

from minivae.models import iwae
from minivae.models.base import ELBOTerms, LossTerms, Model
from minivae.nn.kl import kl_standard_normal, kl_term
from minivae.nn.reparam import reparameterize, reparameterize_backward, sample_eps
from minivae.validation import as_float_array, check_positive_int


class VAE(Model):
    """Variational Autoencoder with a Gaussian encoder q(z | x) = N(mu(x), diag(exp(logvar(x)))) and prior N(0, I).

    Encoder MLP: x (N, D) -> h (N, 2L), split into mu = h[:, :L] and logvar = h[:, L:].
    Reparameterization: z = mu + exp(0.5 * logvar) * eps, eps ~ N(0, I)          (minivae.nn.reparam)
    Decoder MLP: z (N, L) -> parameters of p(x | z)                               (minivae.models.likelihoods)
    Loss (the negative ELBO, batch mean, nats):
        loss = mean_n [ -log p(x_n | z_n) + beta * KL(q(z | x_n) || N(0, I)) ]   (beta = 1 is the true ELBO)

    logvar is clamped to [LOGVAR_MIN, LOGVAR_MAX] = [-30, 20]: exp(logvar) can then neither underflow to 0 nor
    overflow, and the gradient is exact inside the bounds (zero outside, like np.clip's).

    It honours every training option but ``condition`` (see ``minivae.models.base``).

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

    options = frozenset({"beta", "free_bits", "target", "iw_samples"})
    probabilistic = True
    encoder_heads = 2  # the encoder outputs mu and logvar for each latent dimension

    def __init__(self, input_dim, latent_dim=20, hidden=(400,), likelihood="bernoulli", activation="relu", seed=0,
                 dtype=np.float32):
        self._build_mlps(input_dim, latent_dim, hidden, likelihood, activation, seed, dtype)

    # -- the two networks, as every method (and the IW bound) runs them ----------------------------------------------

    def _encode(self, x, condition=None):
        """q(z | x): mu (N, L), clamped logvar (N, L), and the mask of logvar entries inside the clamp (N, L)."""
        h = self.encoder.forward(self._with_condition(x, condition))  # (N, 2L)
        L = self.latent_dim
        mu = np.ascontiguousarray(h[:, :L])
        raw = h[:, L:]
        inside = (raw >= self.LOGVAR_MIN) & (raw <= self.LOGVAR_MAX)
        logvar = np.clip(raw, self.LOGVAR_MIN, self.LOGVAR_MAX)  # a new contiguous array
        return mu, logvar, inside

    def _decode(self, z, condition=None):
        """The decoder's raw outputs (the likelihood's parameters, e.g. logits) for codes z (N, L)."""
        return self.decoder.forward(self._with_condition(z, condition))

    def _nll_given_z(self, z, x, condition=None):
        """-log p(x_n | z_n) of each row (N,) and its gradient (of the mean over the rows) with respect to the
        decoder's outputs (N, n_out): the likelihood of x at the decoder's outputs for codes z (N, L)."""
        return self.likelihood.nll(self._decode(z, condition), x)

    def _backward(self, dout, dmu_extra, dlogvar_extra, eps, logvar, inside):
        """Backward from dout = d loss / d out through the decoder, the reparameterization and the encoder.

        dmu_extra, dlogvar_extra: what the loss adds directly at mu and logvar (beta times the KL's gradient).
        """
        dz = np.ascontiguousarray(self.decoder.backward(dout)[:, :self.latent_dim])  # a condition's columns drop out
        dmu, dlogvar = reparameterize_backward(dz, logvar, eps)  # (N, L) each
        dmu += dmu_extra
        dlogvar += dlogvar_extra
        dlogvar *= inside  # the clamp passes no gradient outside its bounds
        self.encoder.backward(np.concatenate([dmu, dlogvar], axis=1), input_grad=False)  # x is data: no dL/dx

    def _noise(self, n, rng, eps, k=None):
        """eps (n, L), or (n, k, L) for k importance samples, drawn from rng or checked if given."""
        shape = (n, self.latent_dim) if k is None else (n, k, self.latent_dim)
        if eps is None:
            if rng is None:
                raise ValueError("pass rng (a numpy Generator) to draw the noise eps, or eps itself")
            return sample_eps(rng, shape, self.dtype)
        eps = np.asarray(eps)
        if eps.shape != shape:  # a mismatch would read the noise of another example
            raise ValueError(f"eps must have shape {shape} (one row of noise per example), got {eps.shape}")
        return as_float_array(eps.reshape(-1, self.latent_dim), "eps", self.dtype).reshape(shape)

    # -- what a trained VAE is used for ----------------------------------------------------------------------------

    def encode(self, x, *, condition=None):
        """Parameters of q(z | x): mu (N, L) and logvar (N, L), logvar = log sigma^2."""
        mu, logvar, _ = self._encode(self._check_x(x), condition)
        return mu, logvar

    def decode(self, z, *, condition=None):
        """The mean of p(x | z) for latent codes z (N, L): (N, D), e.g. pixel probabilities."""
        return self.likelihood.mean(self._decode(self._check_z(z), condition))

    def reconstruct(self, x, rng=None, *, condition=None):
        """The mean of p(x | z) at z = mu(x) (rng None), or at one sample z ~ q(z | x) (rng given)."""
        mu, logvar = self.encode(x, condition=condition)
        z = mu if rng is None else reparameterize(mu, logvar, sample_eps(rng, mu.shape, self.dtype))
        return self.decode(z, condition=condition)

    def sample(self, n, rng, *, condition=None):
        """n new examples: z ~ N(0, I), returned as the mean of p(x | z), shape (n, D)."""
        n = check_positive_int(n, "n")
        return self.decode(sample_eps(rng, (n, self.latent_dim), self.dtype), condition=condition)

    def reconstruction_error(self, x, *, condition=None):
        """Per-example reconstruction loss -log p(x | z = mu(x)) (N,), in nats, at the encoder mean (no noise)."""
        x = self._check_x(x)
        mu, _, _ = self._encode(x, condition)
        return self.likelihood.nll(self._decode(mu, condition), x)[0]

    def elbo(self, x, rng=None, eps=None, *, condition=None):
        """Per-example ELBO and its two terms (see ELBOTerms), with one sample of z per example.

        Without rng or eps the noise comes from np.random.default_rng(0), so that repeated evaluations agree.
        """
        x = self._check_x(x)
        if rng is None and eps is None:
            rng = np.random.default_rng(0)
        eps = self._noise(len(x), rng, eps)
        mu, logvar, _ = self._encode(x, condition)
        nll = self.likelihood.nll(self._decode(reparameterize(mu, logvar, eps), condition), x)[0]
        kl = kl_standard_normal(mu, logvar)[0]
        return ELBOTerms(elbo=-(nll + kl), reconstruction=nll, kl=kl)

    # -- the objective -------------------------------------------------------------------------------------------------

    def loss_and_gradients(self, x, rng=None, *, eps=None, beta=1.0, free_bits=0.0, target=None, iw_samples=1,
                           condition=None, batch_kl=None):
        """Negative ELBO of a batch (with KL weight beta) and every gradient written to ``self.grads``.

        The step is drawn in the module docstring; in formulas, with N examples:

            loss = mean_n [ nll(out_n, target_n) ] + beta * KL term
            dmu = dz + beta mu / N;   dlogvar = dz eps exp(lv/2) / 2 + beta (exp(lv) - 1) / (2N)   (inside the clamp)

        The KL term is mean_n KL_n, or with free_bits = lambda > 0, sum_j max(lambda, KL_j) (``minivae.nn.kl``);
        ``LossTerms.kl`` reports the true mean KL either way.

        x : (N, D);  rng : Generator for eps, or eps (N, L) itself ((N, K, L) with iw_samples = K > 1);
        target : default x (denoising: the clean x);  iw_samples : K > 1 trains on the importance-weighted bound
        (``minivae.models.iwae``);  condition : labels, for a conditional model only;  batch_kl : (L,) the
        per-dimension KL on which free bits take their floor, default this batch's (``minivae.nn.kl.kl_term``; a
        data-parallel step passes the global batch's).
        Returns LossTerms (batch means).
        """
        self.check_options(beta=beta, free_bits=free_bits, iw_samples=iw_samples, condition=condition)
        x = self._check_x(x)
        target = self._check_target(target, x)
        if iw_samples > 1:
            eps = self._noise(len(x), rng, eps, k=iw_samples)
            return iwae.iwae_loss_and_gradients(self, x, eps, condition=condition, target=target)
        eps = self._noise(len(x), rng, eps)
        # forward
        mu, logvar, inside = self._encode(x, condition)  # (N, L) each
        z = reparameterize(mu, logvar, eps)  # (N, L)
        out = self._decode(z, condition)  # (N, n_out)
        nll, dout = self.likelihood.nll(out, target)  # (N,), d mean(nll) / d out
        kl_loss, dmu_kl, dlogvar_kl, kl = kl_term(mu, logvar, free_bits, batch_kl)
        # backward: fills self.grads
        self._backward(dout, beta * dmu_kl, beta * dlogvar_kl, eps, logvar, inside)
        rec = float(nll.mean())
        return LossTerms(loss=rec + beta * kl_loss, reconstruction=rec, kl=float(kl.mean()))
