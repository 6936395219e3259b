"""The reparameterization trick (Kingma & Welling 2013, section 2.4).

Sampling z ~ N(mu, sigma^2) directly gives no gradient with respect to mu and sigma: the sample is a random number,
not a function of them. Writing the same sample as a deterministic function of the parameters and of noise that does
not depend on them,

    z = mu + sigma * eps,    eps ~ N(0, I),    sigma = exp(0.5 * logvar),

moves the randomness into eps, and the chain rule goes through:

    dL/dmu     = dL/dz
    dL/dlogvar = dL/dz * eps * 0.5 * sigma        (because d sigma / d logvar = 0.5 * sigma)

``logvar`` is log sigma^2, the same convention as the KL term in ``minivae.nn.kl``; a test holds the two together.
Passing ``eps`` in (instead of drawing it inside) is what lets a gradient check freeze the noise.

These functions are the ones every model trains with (the VAE, the conditional VAE, the IWAE bound) and the ones the
applications sample with: the formula has this one home. They are plain NumPy: the arrays are (N, L), a few thousand
numbers, so a Numba kernel would not be faster than NumPy's vectorised exp.
"""
import numpy as np


def sample_eps(rng, shape, dtype):
    """Standard normal noise eps of the given shape and dtype, drawn from the Generator rng."""
    return rng.standard_normal(size=shape, dtype=dtype)


def reparameterize(mu, logvar, eps):
    """z = mu + exp(0.5 * logvar) * eps.

    Shapes: mu, logvar (N, L) and eps (N, L) -> z (N, L); any shapes that broadcast work the same, e.g. mu and logvar
    (N, 1, L) with eps (N, K, L) give K samples per example. sigma is exp(0.5 * logvar), not sqrt(exp(logvar)): the
    latter overflows for logvar > 709 where sigma is still finite.

    Example
    -------
    >>> reparameterize(np.zeros((1, 2)), np.log(np.full((1, 2), 4.0)), np.ones((1, 2)))   # sigma = 2
    array([[2., 2.]])
    """
    return mu + np.exp(0.5 * logvar) * eps


def reparameterize_backward(dz, logvar, eps):
    """Gradients of the loss with respect to mu and logvar, given dz = dL/dz, for fixed noise eps.

        dmu = dz,    dlogvar = dz * eps * 0.5 * exp(0.5 * logvar)

    Shapes: dz, logvar, eps (N, L) (or broadcasting as in ``reparameterize``) -> dmu, dlogvar of dz's shape.
    mu is not an argument: z depends on it with slope 1, whatever its value.
    """
    return dz.copy(), dz * eps * (0.5 * np.exp(0.5 * logvar))
