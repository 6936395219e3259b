"""The KL term of the VAE: KL(q(z | x) || p(z)) for a diagonal Gaussian q and the prior p(z) = N(0, I).

In closed form (Kingma & Welling 2013, appendix B), for one example with L latent dimensions:

    KL = 0.5 * sum_j [ mu_j^2 + exp(lv_j) - 1 - lv_j ]        (lv = logvar = log sigma^2)

Its gradient, of the batch mean over N examples (the reduction of every loss in minivae):

    d mean_n(KL_n) / d mu_nj = mu_nj / N
    d mean_n(KL_n) / d lv_nj = 0.5 * (exp(lv_nj) - 1) / N

Free bits (Kingma et al. 2016, "Improved variational inference with inverse autoregressive flow") replace the KL term
by sum_j max(lambda, KL_j), KL_j the batch-mean KL of latent dimension j: a dimension below its floor lambda gets no
KL gradient, so the encoder is not pushed to switch it off (a remedy for posterior collapse).

``logvar`` is the log of the *variance* sigma^2 (not of sigma); the sampler in ``minivae.nn.reparam`` uses the same
convention, sigma = exp(0.5 * logvar), and a test holds the two together. Every model trains with these functions.
"""
import numpy as np


def kl_standard_normal(mu, logvar):
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) per example, and its gradient (see the module docstring).

    Parameters
    ----------
    mu, logvar : (N, L)

    Returns
    -------
    kl : (N,)   dmu : (N, L)   dlogvar : (N, L)     (the gradients of kl.mean())

    Example
    -------
    >>> kl, dmu, dlogvar = kl_standard_normal(np.zeros((2, 3)), np.zeros((2, 3)))   # q = p: KL = 0
    >>> kl
    array([0., 0.])
    """
    n = mu.shape[0]
    var = np.exp(logvar)
    kl = 0.5 * (mu * mu + var - 1 - logvar).sum(axis=1)
    return kl, mu / n, 0.5 * (var - 1) / n


def kl_per_dimension(mu, logvar):
    """The KL of each latent dimension, averaged over the batch: (N, L) -> (L,). Sums to kl_standard_normal's mean.

    Used for free bits and to see which latent units the model uses (a collapsed unit has KL near 0).
    """
    return (0.5 * (mu * mu + np.exp(logvar) - 1 - logvar)).mean(axis=0)


def kl_term(mu, logvar, free_bits=0.0, batch_kl=None):
    """The KL term of the training loss and its gradient: mean_n KL_n, or with free bits sum_j max(lambda, KL_j).

        free_bits = 0:        term = mean_n KL_n = sum_j KL_j
        free_bits = lambda:   term = sum_j max(lambda, KL_j);   d term / d (mu, lv)_nj = [KL_j > lambda] * (the KL's)

    Parameters
    ----------
    mu, logvar : (N, L)    free_bits : lambda >= 0, in nats per latent dimension
    batch_kl : (L,) the KL_j on which the floor is taken; default kl_per_dimension(mu, logvar), this batch's own. A
        data-parallel step passes the whole global batch's, of which (mu, logvar) are one rank's shard
        (``minivae.distributed.data_parallel``); the gradient is then the KL's on the shard, masked by the global
        [KL_j > lambda]

    Returns
    -------
    term : float    dmu : (N, L)    dlogvar : (N, L)    kl : (N,) the true per-example KL (what is reported)
    """
    if not free_bits >= 0:
        raise ValueError(f"free_bits must be a non-negative number of nats, got {free_bits}")
    kl, dmu, dlogvar = kl_standard_normal(mu, logvar)
    if free_bits == 0:
        return float(kl.mean()), dmu, dlogvar, kl
    kl_dim = kl_per_dimension(mu, logvar) if batch_kl is None else np.asarray(batch_kl)  # (L,)
    above = kl_dim > free_bits  # dimensions whose KL is above the floor keep their gradient
    return float(np.maximum(kl_dim, free_bits).sum()), dmu * above, dlogvar * above, kl
