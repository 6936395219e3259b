"""The deterministic autoencoder: the baseline of the first lessons, with no noise, no prior and no KL term."""
import numpy as np

from minivae.models.base import LossTerms, Model


class Autoencoder(Model):
    """A deterministic autoencoder: code = encoder(x), x_hat = decoder(code).

    Loss: the likelihood's negative log-likelihood of x given the decoder outputs, summed over dimensions and
    averaged over the batch (binary cross-entropy for "bernoulli", half the squared error plus a constant for
    "gaussian"). There is no KL term and no noise, so of the training options it honours only ``target``
    (denoising); beta, free bits, importance samples and conditions are refused (see ``minivae.models.base``).

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

    options = frozenset({"target"})
    probabilistic = False

    def __init__(self, input_dim, latent_dim=2, hidden=(400,), likelihood="bernoulli", activation="relu", seed=0,
                 dtype=np.float32):
        self._build_mlps(input_dim, latent_dim, hidden, likelihood, activation, seed, dtype)

    def encode(self, x):
        """The code of each example: (N, input_dim) -> (N, latent_dim)."""
        return self.encoder.forward(self._check_x(x))

    def decode(self, z):
        """The mean of p(x | z) for codes z (N, latent_dim): (N, input_dim), e.g. pixel probabilities."""
        return self.likelihood.mean(self.decoder.forward(self._check_z(z)))

    def reconstruct(self, x):
        """decode(encode(x)): (N, input_dim) -> (N, input_dim)."""
        return self.decode(self.encode(x))

    def loss_and_gradients(self, x, rng=None, *, eps=None, beta=1.0, free_bits=0.0, target=None, iw_samples=1,
                           condition=None):
        """Reconstruction loss of a batch, and every gradient written to ``self.grads``.

        x : (N, input_dim) input;  target : what to reconstruct (default x; a denoising autoencoder passes the clean
        x here and a corrupted x as input). rng and eps are accepted and unused (there is no noise); the other
        options are refused unless neutral (``check_options``).
        """
        self.check_options(beta=beta, free_bits=free_bits, iw_samples=iw_samples, condition=condition)
        x = self._check_x(x)
        target = self._check_target(target, x)
        out = self.decoder.forward(self.encoder.forward(x))  # (N, n_out)
        nll, dout = self.likelihood.nll(out, target)  # (N,), (N, n_out)
        self.encoder.backward(self.decoder.backward(dout), input_grad=False)  # x is data: no dL/dx needed
        rec = float(nll.mean())
        return LossTerms(loss=rec, reconstruction=rec, kl=0.0)

    def reconstruction_error(self, x, *, condition=None):
        """Per-example reconstruction loss (N,), in nats (no gradients)."""
        x = self._check_x(x)
        return self.likelihood.nll(self.decoder.forward(self.encoder.forward(x)), x)[0]
