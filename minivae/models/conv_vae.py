"""A Variational Autoencoder with a convolutional encoder and a transposed-convolutional decoder, for images.

Everything about the VAE itself (the two heads mu and logvar, the reparameterization, the KL term, free bits, the IW
bound, the loss and its backward pass, sampling) is inherited unchanged from ``minivae.models.vae.VAE``: those
methods only call ``encoder``/``decoder`` forward and backward and the likelihood. Only the two networks differ. For 28 x 28 images,
latent size L and the default channels (32, 64):

    encoder  x (N, 784) -> Unflatten (N, 1, 28, 28)
             -> Conv2D(1, 32, 4, stride 2, padding 1) -> ReLU          (N, 32, 14, 14)
             -> Conv2D(32, 64, 4, stride 2, padding 1) -> ReLU         (N, 64, 7, 7)
             -> Flatten (N, 3136) -> Linear(3136, 2L)                  (N, 2L) = [mu | logvar]
    decoder  z (N, L) -> Linear(L, 3136) -> ReLU -> Unflatten          (N, 64, 7, 7)
             -> ConvTranspose2D(64, 32, 4, stride 2, padding 1) -> ReLU (N, 32, 14, 14)
             -> ConvTranspose2D(32, C_out, 4, stride 2, padding 1)      (N, C_out, 28, 28)
             -> Flatten                                                (N, C_out * 784)

C_out is the number of decoder outputs per pixel that the likelihood needs: 1 for "bernoulli" (logits) and
"gaussian" (means), 2 for "gaussian_learned" (means, then log-variances: Flatten puts channel 0's pixels first,
which is the [mean | logvar] layout that likelihood expects).

Data stay rows of H*W pixels, as for the MLP VAE, so the trainer and datasets need no change. Every stride-2 layer
halves (or doubles back) the image sides, so each side must be divisible by 2 ** len(channels).
"""
import numpy as np

from minivae.nn.conv import Conv2D, ConvTranspose2D, Flatten, Unflatten
from minivae.nn.layers import Linear, ReLU, Sequential
from minivae.models.likelihoods import make_likelihood
from minivae.models.vae import VAE
from minivae.validation import check_dtype, check_positive_int

KERNEL, STRIDE, PADDING = 4, 2, 1  # each layer halves an even side exactly: (H + 2 - 4) // 2 + 1 = H / 2


class ConvVAE(VAE):
    """VAE whose encoder and decoder are convolutional (see the module docstring for the layers and shapes).

    Parameters
    ----------
    latent_dim : L    image_shape : (H, W), each side divisible by 2 ** len(channels)
    channels : output channels of the encoder's Conv2D layers, in order (the decoder mirrors them)
    likelihood : as for VAE    seed : initialisation seed    dtype : float32 to train, float64 to check gradients

    Inputs are rows x (N, H*W) of pixels, row-major, as for VAE(H*W, ...).

    Example
    -------
    >>> vae = ConvVAE(latent_dim=2, image_shape=(8, 8), channels=(2, 3))
    >>> x = np.random.default_rng(0).random((4, 64))
    >>> terms = vae.loss_and_gradients(x, rng=np.random.default_rng(1))
    >>> vae.sample(3, np.random.default_rng(2)).shape
    (3, 64)
    """

    def __init__(self, latent_dim=20, image_shape=(28, 28), channels=(32, 64), likelihood="bernoulli", seed=0,
                 dtype=np.float32):
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.image_shape = tuple(check_positive_int(s, "image side") for s in image_shape)
        self.channels = tuple(check_positive_int(c, "number of channels") for c in channels)
        if len(self.image_shape) != 2 or not self.channels:
            raise ValueError(f"image_shape must be (H, W) and channels non-empty, got {image_shape} and {channels}")
        factor = STRIDE ** len(self.channels)
        if any(side % factor for side in self.image_shape):
            raise ValueError(f"each image side must be divisible by {factor} (= 2 ** len(channels), one halving per "
                             f"Conv2D layer), got image_shape {self.image_shape}; pad the images or use fewer "
                             "channels")
        self.input_dim = self.image_shape[0] * self.image_shape[1]
        self.likelihood = make_likelihood(likelihood)
        n_out = self.likelihood.n_outputs(self.input_dim)
        if n_out % self.input_dim:
            raise ValueError(f"the likelihood needs {n_out} outputs for {self.input_dim} pixels, which is not a "
                             "whole number of output channels")
        self.seed, self.dtype = seed, check_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.encoder, self.decoder = self._build(n_out // self.input_dim, rng)
        self._gather_params()

    def _build(self, out_channels, rng):
        """The encoder and decoder Sequentials (the module docstring draws them)."""
        h, w = self.image_shape
        chans = (1, *self.channels)
        small = (chans[-1], h // STRIDE ** len(self.channels), w // STRIDE ** len(self.channels))  # (C, h, w)
        flat = int(np.prod(small))
        conv = dict(kernel=KERNEL, stride=STRIDE, padding=PADDING, rng=rng, dtype=self.dtype)

        enc = [Unflatten((1, h, w))]
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            enc += [Conv2D(c_in, c_out, **conv), ReLU()]
        enc += [Flatten(), Linear(flat, 2 * self.latent_dim, init="glorot", rng=rng, dtype=self.dtype)]

        dec = [Linear(self.latent_dim, flat, init="he", rng=rng, dtype=self.dtype), ReLU(), Unflatten(small)]
        ups = list(reversed(chans[1:])) + [out_channels]  # e.g. 64 -> 32 -> 1
        for i, (c_in, c_out) in enumerate(zip(ups[:-1], ups[1:])):
            dec.append(ConvTranspose2D(c_in, c_out, **conv))
            if i < len(ups) - 2:
                dec.append(ReLU())
        dec.append(Flatten())
        return Sequential(*enc), Sequential(*dec)

    def config(self):
        return {"model": "ConvVAE", "latent_dim": self.latent_dim, "image_shape": list(self.image_shape),
                "channels": list(self.channels), "likelihood": self.likelihood.config(), "seed": self.seed,
                "dtype": self.dtype.name}

    def __repr__(self):
        return (f"ConvVAE(latent_dim={self.latent_dim}, image_shape={self.image_shape}, "
                f"channels={list(self.channels)}, likelihood={self.likelihood.name!r}, "
                f"parameters={self.n_parameters:,}, dtype={self.dtype.name})")
