"""The importance-weighted bound as a training objective: the IWAE of Burda, Grosse & Salakhutdinov (2016).

With K samples z_k = mu(x) + sigma(x) * eps_k per example and log-weights

    log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x),

the bound L_K(x) = logsumexp_k(log w_k) - log K is a tighter lower bound on log p(x) than the ELBO (L_1), and it
tightens as K grows. The loss is its negative batch mean, loss = -mean_n L_K(x_n).

Gradient. With normalised weights w~_k = softmax_k(log w_k) (they sum to 1 over the K samples of one example),

    d loss / d log w_k = -w~_k / N,

so each sample's gradient is the ELBO-style gradient of log w_k, weighted by w~_k. Going through the three terms of
log w_k, for one sample (writing c = w~_k / N):

    d loss / d out    = c * d nll / d out                       (the decoder's outputs, via -log p(x | z))
    d loss / d z      = decoder.backward(...) + c * z           (-log p(z) = 0.5 |z|^2 + const)
    d loss / d mu     = d loss / d z                             (z = mu + sigma eps)
    d loss / d logvar = d loss / d z * eps * sigma / 2 - c / 2   (log q(z | x) = -0.5 sum [eps^2 + logvar + log 2 pi]
                                                                  depends on logvar directly once eps is fixed)

With K = 1 the weight is 1 and this is the one-sample ELBO with a Monte Carlo KL. The K samples run as one batch of
N K rows through the same encoder and decoder; the encoder sees each x K times, so its weight gradients add up over
the samples, as they should.
"""
import numpy as np

from minivae.apps.evaluation import LOG_2PI, logsumexp
from minivae.models.vae import LossTerms
from minivae.validation import as_float_array, check_positive_int


def iwae_loss_and_gradients(model, x, k, rng=None, eps=None):
    """Negative importance-weighted bound of a batch with K samples per example; fills ``model.grads``.

    Parameters
    ----------
    model : a VAE      x : (N, D)      k : number of samples K (1 gives the one-sample ELBO)
    rng : Generator for the noise, or eps : (N, K, L) itself (the row order of log_importance_weights)

    Returns
    -------
    LossTerms: loss = -mean_n L_K(x_n); reconstruction = mean over all samples of -log p(x | z);
    kl = mean over all samples of log q(z | x) - log p(z) (a Monte Carlo estimate of the KL).
    """
    k = check_positive_int(k, "k")
    x = model._check_x(x)
    n, latent = len(x), model.latent_dim
    if eps is None:
        if rng is None:
            raise ValueError("pass rng (a numpy Generator) to draw the noise eps, or eps itself")
        eps = rng.standard_normal((n, k, latent), dtype=model.dtype)
    eps = as_float_array(np.asarray(eps).reshape(-1, latent), "eps", model.dtype, width=latent)
    if len(eps) != n * k:
        raise ValueError(f"eps must have shape (N, K, L) = ({n}, {k}, {latent}), got {len(eps)} rows")

    x_rep = np.repeat(x, k, axis=0)  # (N K, D); row i K + j is x_i with its j-th sample
    mu, logvar, inside = model._split(model.encoder.forward(x_rep))  # (N K, L) each
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * eps
    out = model.decoder.forward(z)
    nll, dnll = model.likelihood.nll(out, x_rep)  # (N K,), gradient of the mean over N K rows
    log_pz = -0.5 * (z * z + LOG_2PI).sum(axis=1)
    log_qz = -0.5 * (eps * eps + logvar + LOG_2PI).sum(axis=1)
    log_w = (-nll + log_pz - log_qz).reshape(n, k).astype(np.float64)
    bound = logsumexp(log_w, axis=1) - np.log(k)  # (N,)

    weights = np.exp(log_w - logsumexp(log_w, axis=1)[:, None]).reshape(-1)  # w~, (N K,), sums to 1 per example
    c = (weights / n).astype(model.dtype)[:, None]  # (N K, 1)
    dz = model.decoder.backward(dnll * (n * k) * c)  # dnll carried 1 / (N K); it needs c
    dz += c * z
    dlogvar = (dz * eps * 0.5 * sigma - 0.5 * c) * inside
    model.encoder.backward(np.concatenate([dz, dlogvar], axis=1), input_grad=False)  # x is data

    return LossTerms(loss=float(-bound.mean()), reconstruction=float(nll.mean()),
                     kl=float((log_qz - log_pz).mean()))
