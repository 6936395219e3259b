"""The grader's building blocks: each exercise's function, with the exercise's signature, as a call of minivae's own
library implementation.

While the last exercise, ``vae_negative_elbo``, is graded, these stand in for the student's building blocks (so that
one mistake in, say, the KL gradient costs its points once). They are not the reference solutions of the
assignment: those are kept out of the installed package (see ``minivae.teaching.assignments``). Each is one call
of the library, the same call a check compares the student's output with:

    linear_forward / linear_backward    minivae.nn.layers.Linear, forward and backward
    relu_forward / relu_backward        minivae.nn.kernels.relu_forward_reference / relu_backward_reference
    sigmoid / sigmoid_backward          minivae.nn.kernels.sigmoid_reference / sigmoid_backward_reference
    bernoulli_nll_from_logits           minivae.nn.losses.bernoulli_nll, the mean over the batch
    kl_standard_normal                  minivae.nn.kl.kl_standard_normal
    reparameterize(_backward)           minivae.nn.reparam
    adam_step                           minivae.nn.kernels.adam_update_reference, on copies

A submission that imports this module (or any module of minivae holding a graded function) is flagged by
``minivae.teaching.static_checks.solution_imports``.
"""
import numpy as np

from minivae.nn import kernels, kl, losses, reparam
from minivae.nn.layers import Linear


def linear_layer(W, b):
    """A float64 ``Linear`` layer holding copies of W (D, M) and b (M,)."""
    layer = Linear(W.shape[0], W.shape[1], dtype=np.float64)
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer


def linear_forward(x, W, b):
    """out = x @ W + b, (N, D) -> (N, M)."""
    return linear_layer(W, b).forward(x)


def linear_backward(dout, x, W):
    """(dx, dW, db) of out = x @ W + b for the upstream gradient dout (N, M)."""
    layer = linear_layer(W, np.zeros(W.shape[1]))
    layer.forward(x)
    dx = layer.backward(dout)
    return dx, layer.grads["W"].copy(), layer.grads["b"].copy()


def relu_forward(x):
    """relu(x) = max(x, 0)."""
    return kernels.relu_forward_reference(x)


def relu_backward(dout, x):
    """dx = dout * (x > 0)."""
    return kernels.relu_backward_reference(x, dout)


def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x)), without overflow."""
    return kernels.sigmoid_reference(x)


def sigmoid_backward(dout, out):
    """dx = dout * out * (1 - out), with out = sigmoid(x)."""
    return kernels.sigmoid_backward_reference(out, dout)


def bernoulli_nll_from_logits(logits, x):
    """(mean_n nll_n, d mean / d logits) of the Bernoulli negative log-likelihood from logits."""
    nll, dlogits = losses.bernoulli_nll(np.array(logits), x)
    return float(nll.mean()), dlogits


def kl_standard_normal(mu, logvar):
    """(kl_n (N,), dmu, dlogvar) of KL(N(mu, exp(logvar)) || N(0, I)), gradients of the batch mean."""
    return kl.kl_standard_normal(mu, logvar)


def reparameterize(mu, logvar, eps):
    """z = mu + exp(0.5 * logvar) * eps."""
    return reparam.reparameterize(mu, logvar, eps)


def reparameterize_backward(dz, logvar, eps):
    """(dmu, dlogvar) through z = mu + exp(0.5 * logvar) * eps only."""
    return reparam.reparameterize_backward(dz, logvar, eps)


def adam_step(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """(p_new, m_new, v_new) of one Adam step t with bias correction; the inputs are left unchanged."""
    return kernels.adam_update_reference(np.array(p), g, np.array(m), np.array(v), lr, beta1, beta2, eps, t)


BUILDING_BLOCKS = ("linear_forward", "linear_backward", "relu_backward", "sigmoid_backward",
                   "bernoulli_nll_from_logits", "kl_standard_normal", "reparameterize", "reparameterize_backward",
                   "adam_step", "relu_forward", "sigmoid")
