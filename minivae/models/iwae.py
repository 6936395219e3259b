"""The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016): its log-weights, the bound, and its gradient.

With K samples z_k = mu(x) + sigma(x) * eps_k per example and log-weights

    log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x),

the bound L_K(x) = logsumexp_k(log w_k) - log K is a lower bound on log p(x) that tightens as K grows (L_1 is a
one-sample ELBO). This module is the bound's one home: ``minivae.apps.evaluation`` estimates log p(x) with
``log_importance_weights``, and ``VAE.loss_and_gradients(x, iw_samples=K)`` trains on it (the IWAE) with
``iwae_loss_and_gradients``.

What it asks of a model: ``_encode(x, condition)`` -> mu, logvar, the clamp's mask, and ``_nll_given_z(z, x,
condition)`` -> -log p(x | z) of each row and its gradient with respect to the decoder's outputs. The VAEs and the
SequenceVAE (whose p(x | z) is a product over the tokens) have both, so log_importance_weights estimates log p(x)
for each of them; the training gradient below runs the decoder of the MLP models backward (``model.decoder``), so
only they train on the bound.

Gradient of the loss = -mean_n L_K(x_n). With normalised weights w~_k = softmax_k(log w_k) (they sum to 1 over the
K samples of one example), d loss / d log w_k = -w~_k / N, so each sample's gradient is the ELBO-style gradient of
log w_k, weighted by w~_k. Through the three terms of log w_k, for one sample (writing c = w~_k / N):

    d loss / d out    = c * d nll / d out                       (the decoder's outputs, via -log p(x | z))
    d loss / d z      = decoder.backward(...) + c * z           (-log p(z) = 0.5 |z|^2 + const)
    d loss / d mu     = sum_k d loss / d z_k                     (z_k = mu + sigma eps_k: mu is shared by the K)
    d loss / d logvar = sum_k [ d loss / d z_k * eps_k * sigma / 2 ] - sum_k c / 2
                                                                 (log q(z | x) = -0.5 sum [eps^2 + logvar + log 2 pi]
                                                                  depends on logvar directly once eps is fixed)

The encoder runs once per example; the decoder sees the N K rows (example i, sample k) in row i K + k.
"""
import numpy as np

from minivae.models.base import LossTerms
from minivae.nn.losses import log_normal_of_noise, log_standard_normal, logsumexp
from minivae.nn.reparam import reparameterize, reparameterize_backward


def _forward(model, x, eps, condition=None, target=None):
    """log w (N, K) float64 and what the backward pass needs. x (N, D), eps (N, K, L), target default x."""
    n, k, latent = eps.shape
    mu, logvar, inside = model._encode(x, condition)  # (N, L) each
    z = reparameterize(mu[:, None, :], logvar[:, None, :], eps).reshape(n * k, latent)  # (N K, L)
    repeated = None if condition is None else np.repeat(condition, k, axis=0)
    target = x if target is None else target
    nll, dnll = model._nll_given_z(z, np.repeat(target, k, axis=0), repeated)  # (N K,), d mean / d decoder outputs
    log_pz = log_standard_normal(z)  # (N K,)
    log_qz = log_normal_of_noise(eps, logvar[:, None, :])  # (N, K)
    log_w = (-nll.astype(np.float64) + log_pz).reshape(n, k) - log_qz  # (N, K)
    return log_w, (mu, logvar, inside, z, nll, dnll, log_pz, log_qz)


def log_importance_weights(model, x, eps, condition=None):
    """log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x) for given noise, z_k = mu + sigma * eps_k.

    Parameters
    ----------
    model : a probabilistic model (a VAE, a SequenceVAE)    x : (N, D) data, or (N, T) token ids
    eps : (N, K, L) standard normal noise    condition : the labels (N,), for a conditional model

    Returns
    -------
    (N, K) float64, in nats. log q(z | x) is computed from eps directly (``nn.losses.log_normal_of_noise``).
    """
    model.check_options(condition=condition)  # refuses labels for a model without them, and the reverse
    x = model._check_x(x)
    eps = np.asarray(eps, dtype=model.dtype)
    if eps.ndim != 3 or eps.shape[0] != len(x) or eps.shape[2] != model.latent_dim:
        raise ValueError(f"eps must have shape (N, K, L) = ({len(x)}, K, {model.latent_dim}), got {eps.shape}")
    return _forward(model, x, eps, condition)[0]


def iw_bound(log_w):
    """L_K = logsumexp_k(log w_k) - log K for log-weights (N, K): (N,) float64."""
    return logsumexp(log_w, axis=1) - np.log(log_w.shape[1])


def iwae_loss_and_gradients(model, x, eps, *, condition=None, target=None):
    """Negative importance-weighted bound of a batch with K samples per example; fills ``model.grads``.

    Parameters
    ----------
    model : a VAE (checked x)    x : (N, D)    eps : (N, K, L) the noise, K = the number of samples
    condition : labels (N,) for a conditional model    target : what to reconstruct (default x; denoising)

    Returns
    -------
    LossTerms: loss = -mean_n L_K(x_n); reconstruction = mean over all samples of -log p(x | z);
    kl = mean over all samples of log q(z | x) - log p(z) (a Monte Carlo estimate of the KL).
    """
    n, k, latent = eps.shape
    log_w, (mu, logvar, inside, z, nll, dnll, log_pz, log_qz) = _forward(model, x, eps, condition, target)
    bound = iw_bound(log_w)  # (N,)

    weights = np.exp(log_w - logsumexp(log_w, axis=1)[:, None])  # w~, (N, K): each row sums to 1
    c = (weights / n).astype(model.dtype).reshape(-1, 1)  # (N K, 1)
    dout = dnll * (n * k) * c  # dnll carried 1 / (N K); each row needs its own c
    dz = np.ascontiguousarray(model.decoder.backward(dout)[:, :latent]) + c * z  # (N K, L)
    dmu, dlogvar = reparameterize_backward(dz.reshape(n, k, latent), logvar[:, None, :], eps)  # (N, K, L) each
    dmu, dlogvar = dmu.sum(axis=1), dlogvar.sum(axis=1) - 0.5 / n  # sum over the K samples; sum_k c = 1 / N
    model.encoder.backward(np.concatenate([dmu, dlogvar * inside], axis=1).astype(model.dtype), input_grad=False)

    return LossTerms(loss=float(-bound.mean()), reconstruction=float(nll.mean()),
                     kl=float((log_qz.reshape(-1) - log_pz).mean()))
