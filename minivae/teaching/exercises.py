"""Exercises: the forward and backward passes of a small VAE, written by hand in NumPy.

Each exercise is one function below. Its docstring gives the shapes of the inputs and outputs, the formula, and the
reduction (minivae's convention everywhere: **sum over data or latent dimensions, mean over the batch, in nats**).
Later exercises use the earlier ones; the last one, ``vae_negative_elbo``, puts them together into the loss and the
gradients of a whole VAE.

What to do
----------
1. Get your own copy with the solutions removed::

       python -m minivae make-assignment --out exercises.py

   In that copy, each place you have to fill in is a line ``raise NotImplementedError("TODO: ...")`` that says what
   to write. Replace it with your code: NumPy only, whole arrays at a time (no Python loops over entries).
2. Grade yourself, as often as you like::

       python -m minivae grade exercises.py

   The grader runs each of your functions in float64 on random inputs and compares the results with minivae's own
   implementation and with central finite differences. It prints, for each exercise, pass or fail, the relative
   error, a hint on the likely mistake (a sign, a missing factor 1/2, a forgotten batch mean, ...), and your score.
   A correct function agrees to about 1e-8 or better; the grader passes it below 1e-6. A wrong one is usually off
   by 1e-1 or more.
3. Do not change the functions' names or arguments, and do not modify the input arrays in place (``x += 1``
   changes the caller's array; write ``y = x + 1``). The grader counts that as a mistake, because in a network the
   same array is often used twice.

The full VAE is graded with the grader's own copies of the building blocks, so a mistake in an early exercise
costs its points only once; the report also says whether the VAE works end to end with your own functions.

``relu_forward``, ``sigmoid`` and ``vae_init_params`` are given (they are not exercises). This file needs nothing
but NumPy: it is the naive teaching path; the library runs the same arithmetic in ``minivae.nn.layers``,
``minivae.nn.losses``, ``minivae.nn.reparam`` and ``minivae.nn.optim``.

Reference: Kingma & Welling (2013), "Auto-Encoding Variational Bayes" (eq. 10 and appendix B); Kingma & Ba (2015),
"Adam: A Method for Stochastic Optimization" (Algorithm 1).
"""
import numpy as np

# ----------------------------------------------------------------------------------------------------------------------
# Given helpers
# ----------------------------------------------------------------------------------------------------------------------


def relu_forward(x):
    """relu(x) = max(x, 0), elementwise. x: any shape -> same shape. (Given.)"""
    return np.maximum(x, 0)


def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x)), elementwise, without overflow for large |x|. (Given.)

    For x >= 0 it computes 1 / (1 + exp(-x)), for x < 0 exp(x) / (1 + exp(x)); both only exponentiate a number
    <= 0, so exp never overflows.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def vae_init_params(D, H, L, rng):
    """Random float64 parameters for ``vae_negative_elbo``: a dict of arrays. (Given.)

    D: data dimension, H: hidden units, L: latent dimension, rng: a np.random.Generator. Layers followed by a ReLU get
    He initialisation N(0, 2 / fan_in), the others N(0, 1 / fan_in); biases start at zero.

    The keys and shapes are those of ``minivae.models.VAE(D, latent_dim=L, hidden=(H,)).params``: "encoder.2.W" is
    the weight of layer 2 of the encoder, a stack of Linear (layer 0), ReLU (layer 1, no parameters), Linear (layer
    2); the same for the decoder. The encoder's last layer has 2L outputs, mu and logvar side by side.

        encoder.0.W (D, H)    encoder.0.b (H,)     encoder.2.W (H, 2L)    encoder.2.b (2L,)
        decoder.0.W (L, H)    decoder.0.b (H,)     decoder.2.W (H, D)     decoder.2.b (D,)

    >>> params = vae_init_params(784, 200, 2, np.random.default_rng(0))
    >>> params["encoder.2.W"].shape, params["decoder.2.b"].shape
    ((200, 4), (784,))
    """
    shapes = {"encoder.0.W": (D, H), "encoder.2.W": (H, 2 * L), "decoder.0.W": (L, H), "decoder.2.W": (H, D)}
    relu_next = {"encoder.0.W", "decoder.0.W"}
    params = {}
    for name, (fan_in, fan_out) in shapes.items():
        std = np.sqrt((2.0 if name in relu_next else 1.0) / fan_in)
        params[name] = rng.normal(0.0, std, size=(fan_in, fan_out))
        params[name[:-1] + "b"] = np.zeros(fan_out)
    return params


# ----------------------------------------------------------------------------------------------------------------------
# Exercise 1 and 2: the affine layer
# ----------------------------------------------------------------------------------------------------------------------


def linear_forward(x, W, b):
    """Forward pass of an affine (fully connected) layer: out = x @ W + b.

    Inputs:
    - x: a batch of N examples, shape (N, D)
    - W: weights, shape (D, M)
    - b: biases, shape (M,), added to every example (NumPy broadcasting)

    Returns:
    - out: shape (N, M), out[n, j] = sum_i x[n, i] W[i, j] + b[j]
    """
    raise NotImplementedError("TODO: compute out (N, M) from x, W and b")
    return out


def linear_backward(dout, x, W):
    """Backward pass of the affine layer out = x @ W + b.

    Inputs:
    - dout: the upstream gradient dL/dout, shape (N, M)
    - x: the input of the forward pass, shape (N, D)
    - W: the weights, shape (D, M)

    Returns a tuple (dx, dW, db):
    - dx: dL/dx, shape (N, D), the shape of x
    - dW: dL/dW, shape (D, M), the shape of W
    - db: dL/db, shape (M,), the shape of b

    Reduction: dout already carries the 1/N of the batch mean (the loss put it there), so do not divide by N again.
    b is added to every example, so its gradient collects dout from every example.
    """
    raise NotImplementedError("TODO: compute dx (N, D), dW (D, M) and db (M,) from dout, x and W by the chain rule")
    return dx, dW, db


# ----------------------------------------------------------------------------------------------------------------------
# Exercise 3 and 4: activations
# ----------------------------------------------------------------------------------------------------------------------


def relu_backward(dout, x):
    """Backward pass of out = relu(x) = max(x, 0), elementwise.

    Inputs:
    - dout: the upstream gradient dL/dout, any shape
    - x: the input of the forward pass, same shape

    Returns:
    - dx: dL/dx, same shape. The derivative of relu is 1 where x > 0 and 0 elsewhere (we take 0 at x = 0).
    """
    raise NotImplementedError("TODO: compute dx, the upstream gradient let through where x > 0")
    return dx


def sigmoid_backward(dout, out):
    """Backward pass of out = sigmoid(x) = 1 / (1 + exp(-x)), elementwise, written with the cached *output*.

    Inputs:
    - dout: the upstream gradient dL/dout, any shape
    - out: the output of the forward pass, sigmoid(x), same shape (not x!)

    Returns:
    - dx: dL/dx, same shape. Hint: d sigmoid(x) / dx can be written with sigmoid(x) alone.
    """
    raise NotImplementedError("TODO: compute dx from dout and out = sigmoid(x)")
    return dx


# ----------------------------------------------------------------------------------------------------------------------
# Exercise 5 and 6: the two terms of the loss
# ----------------------------------------------------------------------------------------------------------------------


def bernoulli_nll_from_logits(logits, x):
    """Reconstruction loss: the negative log-likelihood of x under independent Bernoullis with p = sigmoid(logits).

        nll_n = -sum_d [ x_nd log p_nd + (1 - x_nd) log(1 - p_nd) ]        (binary cross-entropy, summed over d)
        loss_mean = (1 / N) sum_n nll_n

    Inputs:
    - logits: decoder outputs l, shape (N, D), any real numbers
    - x: targets in [0, 1] (binary or grey values), shape (N, D)

    Returns a tuple (loss_mean, dlogits):
    - loss_mean: a float, the mean over the batch of the per-example sums over D
    - dlogits: d loss_mean / d logits, shape (N, D)

    Reduction: sum over the D dimensions, mean over the N examples.
    Stability: it must stay finite and exact for logits of +/-800. Never take log(sigmoid(l)): rewrite the loss of
    one entry with log(1 + exp(l)) = max(l, 0) + log1p(exp(-|l|)), which never overflows.
    """
    raise NotImplementedError("TODO: compute loss_mean (a float) stably from the logits, and dlogits (N, D)")
    return loss_mean, dlogits


def kl_standard_normal(mu, logvar):
    """KL divergence from q = N(mu, diag(sigma^2)) to the prior N(0, I), in closed form, and its gradients.

        kl_n = 0.5 * sum_j [ mu_nj^2 + sigma_nj^2 - 1 - log sigma_nj^2 ]      (Kingma & Welling 2013, appendix B)

    logvar is log sigma^2, the log of the *variance* (not of the standard deviation): sigma^2 = exp(logvar).

    Inputs:
    - mu: means, shape (N, L)
    - logvar: log-variances, shape (N, L)

    Returns a tuple (kl, dmu, dlogvar), as minivae.nn.kl.kl_standard_normal does:
    - kl: the per-example values kl_n, shape (N,)
    - dmu: d mean_n(kl_n) / d mu, shape (N, L)       (the gradient of the batch mean: mind the 1/N)
    - dlogvar: d mean_n(kl_n) / d logvar, shape (N, L)

    Reduction: sum over the L latent dimensions; the gradients are those of the mean over the N examples.
    """
    raise NotImplementedError("TODO: compute kl (N,), dmu (N, L) and dlogvar (N, L)")
    return kl, dmu, dlogvar


# ----------------------------------------------------------------------------------------------------------------------
# Exercise 7 and 8: the reparameterization trick
# ----------------------------------------------------------------------------------------------------------------------


def reparameterize(mu, logvar, eps):
    """A sample z ~ N(mu, diag(sigma^2)) written as a function of mu, logvar and the noise eps (Kingma & Welling
    2013, section 2.4):

        z = mu + sigma * eps,    sigma = exp(0.5 * logvar)    (logvar = log sigma^2)

    Inputs:
    - mu: means, shape (N, L)
    - logvar: log-variances, shape (N, L)
    - eps: standard normal noise, shape (N, L), drawn by the caller (so that a gradient check can freeze it)

    Returns:
    - z: shape (N, L)
    """
    raise NotImplementedError("TODO: compute z (N, L) from mu, logvar and eps")
    return z


def reparameterize_backward(dz, logvar, eps):
    """Backward pass of z = mu + exp(0.5 * logvar) * eps, for fixed noise eps (as minivae.nn.reparam's).

    Inputs:
    - dz: the upstream gradient dL/dz, shape (N, L)
    - logvar, eps: the inputs of the forward pass, each (N, L) (mu is not needed: z depends on it with slope 1)

    Returns a tuple (dmu, dlogvar):
    - dmu: dL/dmu through z only, shape (N, L)
    - dlogvar: dL/dlogvar through z only, shape (N, L)

    This is the sampling step alone: the KL term's own gradients are added by the caller.
    """
    raise NotImplementedError("TODO: compute dmu and dlogvar (N, L) by the chain rule through z (mind d sigma / d logvar)")
    return dmu, dlogvar


# ----------------------------------------------------------------------------------------------------------------------
# Exercise 9: the optimizer
# ----------------------------------------------------------------------------------------------------------------------


def adam_step(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update of a parameter array, with bias correction (Kingma & Ba 2015, Algorithm 1).

        m_new = beta1 * m + (1 - beta1) * g              first moment (mean) of the gradients
        v_new = beta2 * v + (1 - beta2) * g^2            second moment (uncentred variance)
        m_hat = m_new / (1 - beta1^t)                    bias correction: m and v start at 0, so early
        v_hat = v_new / (1 - beta2^t)                    estimates are too small by exactly these factors
        p_new = p - lr * m_hat / (sqrt(v_hat) + eps)

    Inputs:
    - p: the parameter, any shape
    - g: its gradient, same shape
    - m, v: the moment estimates from the previous step (zeros before the first step), same shape
    - t: the number of this step, 1 for the first one
    - lr, beta1, beta2, eps: floats, the hyperparameters

    Returns a tuple (p_new, m_new, v_new) of new arrays (the inputs are left unchanged).
    """
    raise NotImplementedError("TODO: compute the new moments m and v, their bias-corrected m_hat and v_hat, and the new p")
    return p, m, v


# ----------------------------------------------------------------------------------------------------------------------
# Exercise 10: the whole model
# ----------------------------------------------------------------------------------------------------------------------


def vae_negative_elbo(x, params, eps):
    """The loss of a VAE with one hidden layer in the encoder and in the decoder, and all its gradients.

    Forward (shapes for N examples of D dimensions, H hidden units, L latent dimensions; P = params):

        h1     = relu(x @ P["encoder.0.W"] + P["encoder.0.b"])        (N, H)     encoder, layers 0 and 1
        h      = h1 @ P["encoder.2.W"] + P["encoder.2.b"]             (N, 2L)    encoder, layer 2: [mu | logvar]
        mu     = h[:, :L]                                             (N, L)     mean of q(z | x)
        logvar = h[:, L:]                                             (N, L)     log-variance of q(z | x)
        z      = mu + exp(0.5 * logvar) * eps                         (N, L)     reparameterization
        h2     = relu(z @ P["decoder.0.W"] + P["decoder.0.b"])        (N, H)     decoder, layers 0 and 1
        logits = h2 @ P["decoder.2.W"] + P["decoder.2.b"]             (N, D)     Bernoulli logits of p(x | z)

        loss = mean_n [ nll_n + kl_n ]     the negative ELBO (Kingma & Welling 2013, eq. 10), in nats per example

    with nll from ``bernoulli_nll_from_logits(logits, x)`` and kl from ``kl_standard_normal(mu, logvar)``.

    Inputs:
    - x: data in [0, 1], shape (N, D)
    - params: dict of arrays, "encoder.0.W" (D, H), "encoder.0.b" (H,), "encoder.2.W" (H, 2L), "encoder.2.b" (2L,),
      "decoder.0.W" (L, H), "decoder.0.b" (H,), "decoder.2.W" (H, D), "decoder.2.b" (D,) (see ``vae_init_params``).
      These are minivae's own names: ``minivae.models.VAE(D, latent_dim=L, hidden=(H,)).params`` is such a dict,
      and for it this function gives the loss and gradients of ``VAE.loss_and_gradients(x, eps=eps)``.
    - eps: the noise of the reparameterization, shape (N, L)

    Returns a tuple (loss, grads):
    - loss: a float
    - grads: dict with the same keys as params, grads[k] = d loss / d params[k], each of the shape of params[k]

    Use the functions above, forward and then backward in reverse order. mu and logvar are the two halves of one
    layer's output h, so the gradient of h is their gradients side by side, in the same order: [dmu | dlogvar]
    (``np.concatenate([dmu, dlogvar], axis=1)``, shape (N, 2L)). mu and logvar get gradients both through z and
    from the KL term. (minivae's VAE also clamps logvar to [-30, 20] so that exp(logvar) cannot overflow; with
    ordinary parameters the clamp never acts, and this exercise leaves it out.)
    """
    raise NotImplementedError("TODO: run the forward pass, compute the loss, then the backward pass that fills grads")
    return loss, grads
