"""The reparameterization trick (Kingma & Welling 2013, section 2.4).

Sampling z ~ N(mu, sigma^2) directly gives no gradient with respect to mu and sigma: the sample is a random number,
not a function of them. Writing the same sample as a deterministic function of the parameters and of noise that does
not depend on them,

    z = mu + sigma * eps,    eps ~ N(0, I),    sigma = exp(0.5 * logvar),

moves the randomness into eps, and the chain rule goes through:

    dL/dmu     = dL/dz
    dL/dlogvar = dL/dz * eps * 0.5 * sigma        (because d sigma / d logvar = 0.5 * sigma)

``logvar`` is log sigma^2, the same convention as the KL term in ``minivae.nn.losses``. Passing ``eps`` in (instead of
drawing it inside) is what lets a gradient check freeze the noise.
"""
import numpy as np


def sample_eps(rng, shape, dtype):
    """Standard normal noise eps of the given shape and dtype, drawn from the Generator rng."""
    return rng.standard_normal(size=shape, dtype=dtype)


def reparameterize(mu, logvar, eps):
    """z = mu + exp(0.5 * logvar) * eps.  mu, logvar, eps: (N, L) -> z: (N, L)."""
    return mu + np.exp(0.5 * logvar) * eps


def reparameterize_backward(dz, logvar, eps):
    """Gradients of the loss with respect to mu and logvar, given dz = dL/dz (N, L).

    Returns (dmu, dlogvar) = (dz, dz * eps * 0.5 * exp(0.5 * logvar)).
    """
    return dz.copy(), dz * eps * 0.5 * np.exp(0.5 * logvar)
