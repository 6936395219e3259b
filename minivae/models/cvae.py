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
thickness), and ``sample(n, rng, condition=3)`` draws new examples of class 3 in random styles.

Everything else (the reparameterization, the closed-form KL, free bits, the IW bound, the likelihoods, the clamped
logvar) is the VAE's own code, unchanged: this class only widens the inputs of the two networks, by overriding
``_with_condition``. In the backward pass the decoder returns a gradient for all L + C of its inputs; the last C
columns belong to the one-hot label, which is data, not a parameter, so only the first L (the gradient with respect
to z) go on to the encoder. Every method takes the labels as ``condition=``, the keyword of the model contract.
"""
import numpy as np

from minivae.models.likelihoods import to_one_hot
from minivae.models.vae import VAE
from minivae.validation import check_positive_int


class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder both receive the one-hot class label: q(z | x, y) and p(x | z, y).

    Parameters are those of ``VAE`` plus ``n_classes`` C (required, by name). Labels y are integer arrays (N,) with
    values in [0, C), passed as ``condition=y`` to every method; ``sample`` also takes one int for all n.

    Example
    -------
    >>> cvae = ConditionalVAE(784, latent_dim=2, hidden=(64,), n_classes=10)
    >>> x = np.random.default_rng(0).random((8, 784))
    >>> y = np.arange(8) % 10
    >>> terms = cvae.loss_and_gradients(x, rng=np.random.default_rng(1), condition=y)
    >>> cvae.sample(5, np.random.default_rng(2), condition=7).shape      # five new 7s
    (5, 784)
    """

    options = frozenset({"beta", "free_bits", "target", "iw_samples", "condition"})
    conditional = True

    def __init__(self, input_dim, latent_dim=20, hidden=(400,), likelihood="bernoulli", activation="relu", seed=0,
                 dtype=np.float32, *, n_classes):
        self.n_classes = self.condition_size = check_positive_int(n_classes, "n_classes")
        # encoder input [x | onehot(y)] (D + C), decoder input [z | onehot(y)] (L + C)
        self._build_mlps(input_dim, latent_dim, hidden, likelihood, activation, seed, dtype)

    def config(self):
        return {**super().config(), "n_classes": self.n_classes}

    def __repr__(self):
        base = super().__repr__()  # "ConditionalVAE(input_dim=..., dtype=float32)"
        return f"{base[:-1]}, n_classes={self.n_classes})"

    def _with_condition(self, a, condition):
        """[a | onehot(condition)]: the rows of a (N, L or D) with their one-hot label appended, (N, L + C or D + C)."""
        return np.concatenate([a, self._one_hot(condition, len(a))], axis=1)

    def _one_hot(self, y, n):
        """Labels y (n,) -> one-hot (n, C) in the model's dtype, after checking type, shape and range."""
        if y is None:
            raise ValueError(f"a ConditionalVAE needs the class of every example: pass condition=labels, an int "
                             f"array of {n} class indices in [0, {self.n_classes})")
        y = np.asarray(y)
        if y.dtype.kind not in "iu":
            raise TypeError(f"labels must be integers (class indices 0..{self.n_classes - 1}), got dtype {y.dtype}; "
                            "convert them with y.astype(int)")
        if y.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), one per example, got shape {y.shape}")
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"labels must lie in [0, {self.n_classes}) for a model with n_classes="
                             f"{self.n_classes}, got values in [{y.min()}, {y.max()}]")
        return to_one_hot(y, self.n_classes, self.dtype)  # (n, C)

    def sample(self, n, rng, *, condition=None):
        """n new examples of the given class(es): z ~ N(0, I), returned as the mean of p(x | z, y), shape (n, D).

        condition : an int (all n of that class) or an int array (n,) (one class per example).
        """
        n = check_positive_int(n, "n")
        if condition is None:
            raise ValueError("a ConditionalVAE generates examples of given classes: pass condition=c (an int) or "
                             f"condition=labels (an int array of length {n})")
        if isinstance(condition, (int, np.integer)) and not isinstance(condition, bool):
            condition = np.full(n, condition)
        return super().sample(n, rng, condition=condition)
