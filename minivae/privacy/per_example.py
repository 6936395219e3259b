"""Per-example gradients and their clipped sum: the part of DP-SGD (Abadi et al. 2016) that touches the data.

DP-SGD bounds how much any one example can move a training step. Each example b of the batch has its own gradient
g_b: the gradient of its own loss L_b with respect to *every* parameter (encoder and decoder, the whole negative
ELBO). Each is clipped to norm at most C, and the clipped gradients are summed:

    c_b = min(1, C / ||g_b||),      ||g_b||^2 = the sum of the squares of all its entries, every parameter together
    G   = sum_b c_b g_b                                                                       (shaped like model.grads)

Adding or removing one example changes G by at most C (its sensitivity). The DP-SGD step, not this module, then adds
noise N(0, sigma^2 C^2) to every entry of G, divides by the expected batch size and steps the optimizer.

L_b is the loss of the model contract (``minivae.models.base``) for one example, summed over the data dimensions:

    VAE, ConditionalVAE   L_b = -log p(x_b | z_b) + beta * KL(q(z | x_b) || N(0, I)),   z_b = mu_b + sigma_b * eps_b
                          with iw_samples = K > 1:  L_b = -L_K(x_b), the importance-weighted bound
    Autoencoder           L_b = -log p(x_b | decoder(encoder(x_b)))

and the batch loss of ``loss_and_gradients`` is their mean, (1/N) sum_b L_b.

Per-example gradients without per-example matrices
--------------------------------------------------
Every parameter of these models sits in a Linear layer y = a W + b. On a batch, with A (N, in) the layer's inputs
and Delta (N, out) the upstream gradient of the *summed* loss (row b: delta_b = dL_b / dy_b), example b's gradients
are an outer product and a row:

    dL_b / dW = a_b^T delta_b   (in, out)     ||a_b^T delta_b||_F^2 = sum_ij a_bi^2 delta_bj^2 = ||a_b||^2 ||delta_b||^2
    dL_b / db = delta_b         (out,)        ||delta_b||^2

so that, summed over the Linear layers, in O(N (in + out)) per layer and without any (N, in, out) array,

    ||g_b||^2 = sum_layers (||a_b||^2 + 1) ||delta_b||^2                                                        (N,)

and the clipped sum is the ordinary parameter gradient with the rows of Delta reweighted:

    G_W = sum_b c_b a_b^T delta_b = A^T (Delta * c[:, None])  (in, out)      G_b = Delta^T c  (out,)

Row b of Delta holds exactly example b's own gradient because every other step of these models works row by row:
the activations are elementwise and have no parameters; the reparameterization, the logvar clamp, the KL and the
likelihood's nll are computed per example. So the backward pass of sum_b L_b sends into row b only what L_b depends
on. The contract's loss is the mean, whose upstream gradients are Delta / N: this module multiplies by N.

The IW bound is per example too, and supported: with iw_samples = K the decoder sees K rows per example (row b K + k,
``minivae.models.iwae``), and example b's gradient of W is a sum of K outer products, A_b^T Delta_b with A_b (K, in)
and Delta_b (K, out). Its squared norm comes from two (K, K) Gram matrices, sum_kk' (A_b A_b^T)_kk' (Delta_b
Delta_b^T)_kk' (for K = 1: ||a_b||^2 ||delta_b||^2 again), and the bias's is ||sum_k delta_bk||^2.

Where A and Delta come from
---------------------------
A Linear layer keeps, by reference, the input of its last forward pass (``layer.x``, which its dW = x^T dout needs
anyway) and the upstream gradient of its last backward pass (``layer.dout``, one assignment added for this module).
So the functions here run the model's own training step, ``model.loss_and_gradients``, unchanged, and then read A and
dout = Delta / N from each Linear layer. The other way, a function that walks the layers and runs a backward pass of
its own, would repeat the model's backward pass (the reparameterization, the KL's gradient, the clamp, the IW
weights): two homes for one formula, free to drift apart. What the chosen way costs the normal path: one reference per
Linear layer, kept until its next backward pass, to an array of the size of the layer's output (the next layer keeps
one of that size from the forward pass anyway). It computes exactly what it did before, bit for bit.

A clipped step is the model's normal step plus, per Linear layer, the row norms and one more A^T (Delta c) product;
``clipped_gradient_sum`` also evaluates the per-example losses, one more forward pass, unless with_losses=False.
Measured at 784-400-20, batch 256, float32, one thread (``bench/dp_step.py``): about 1.4 normal steps without the
losses and 1.9 with them.

What is refused, with one ValueError before any work (``check_per_example``)
--------------------------------------------------------------------------
* Any model but VAE, ConditionalVAE and Autoencoder (the class itself: a subclass may change the loss). ConvVAE's
  convolutions and the sequence models' embeddings and GRUs have no per-example gradients here.
* Any encoder or decoder layer but Linear and the elementwise activations, and any parameter outside them.
* free_bits > 0: the floor max(lambda, KL_j) is taken on the batch-mean KL of each latent dimension j
  (``minivae.nn.kl.kl_term``), so whether example b's KL gets a gradient depends on the other examples of the batch;
  there is no per-example loss to clip. KL warm-up (beta) is per example, and allowed.
* Whatever the model itself refuses (``model.check_options``).

Shapes: x (N, D); norms and losses (N,) float64; grads a dict with the keys and the shapes of ``model.grads``.
"""
from typing import NamedTuple

import numpy as np

from minivae.models import iwae
from minivae.models.autoencoder import Autoencoder
from minivae.models.base import NEUTRAL
from minivae.models.cvae import ConditionalVAE
from minivae.models.vae import VAE
from minivae.nn.kl import kl_standard_normal
from minivae.nn.layers import ACTIVATIONS, Linear
from minivae.nn.reparam import reparameterize
from minivae.validation import as_float_array

SUPPORTED_MODELS = (VAE, ConditionalVAE, Autoencoder)
ROW_WISE_LAYERS = (Linear, *ACTIVATIONS.values())  # the layers whose per-example gradients this module knows


class ClippedGradients(NamedTuple):
    """What ``clipped_gradient_sum`` returns; it unpacks as ``grads, norms, losses, terms``.

    grads   dict with the keys of model.grads: sum_b min(1, C / ||g_b||) g_b, the clipped sum (not yet noised, not
            divided by the batch size). These are the very arrays of ``model.grads``, overwritten by the call, so that
            the batch's unclipped gradient is not left behind in the model.
    norms   (N,) float64: ||g_b||, each example's whole gradient norm before clipping
    losses  (N,) float64: L_b, each example's loss, in nats (None when asked for without). Not private: only the
            noised sum may leave a DP step.
    terms   the batch's LossTerms (means of loss, reconstruction and KL, from the model's own training step), or None
            for an empty batch. Not private either: the trainer prints them for the person who trains.
    """

    grads: dict
    norms: np.ndarray
    losses: np.ndarray
    terms: object


def check_per_example(model, **options):
    """Refuse, with one ValueError, a model or training options whose per-example gradients cannot be had.

    options : the training options of the contract (beta, free_bits, target, iw_samples, condition). Returns None.
    A DP trainer calls this before the first step. What is refused and why: see the module docstring.

    Example
    -------
    >>> check_per_example(VAE(4, latent_dim=2, hidden=(3,)), beta=0.5)          # accepted: returns None
    >>> check_per_example(VAE(4, latent_dim=2, hidden=(3,)), free_bits=0.1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: VAE: free_bits=0.1 cannot be trained with per-example clipping (DP-SGD): ...
    """
    name = type(model).__name__
    if type(model) not in SUPPORTED_MODELS:
        raise ValueError(f"{name} has no per-example gradients, so it cannot be trained with DP-SGD: they exist for "
                         f"the MLP models {', '.join(m.__name__ for m in SUPPORTED_MODELS)} only (Linear layers and "
                         "elementwise activations); train one of them (--model vae, cvae or ae)")
    linear_keys = set()
    for part in ("encoder", "decoder"):
        for i, layer in enumerate(getattr(model, part).layers):
            if type(layer) not in ROW_WISE_LAYERS:
                raise ValueError(f"{name}: layer {part}.{i}, {layer!r}, has no per-example gradient, so DP-SGD cannot "
                                 f"clip it; only Linear and the activations {sorted(ACTIVATIONS)} have one")
            linear_keys |= {f"{part}.{i}.{k}" for k in layer.params}
    if linear_keys != set(model.grads):
        raise ValueError(f"{name}: the parameters {sorted(set(model.grads) - linear_keys)} lie outside the Linear "
                         "layers of the encoder and decoder and have no per-example gradient")
    model.check_options(**options)
    if options.get("free_bits", 0.0) > 0:
        raise ValueError(f"{name}: free_bits={options['free_bits']} cannot be trained with per-example clipping "
                         "(DP-SGD): the free-bits floor max(lambda, KL_j) is taken on the batch-mean KL of each "
                         "latent dimension, so one example's gradient depends on the others in its batch. Use "
                         "free_bits=0 (a KL warm-up through beta is per example and allowed)")


def per_example_gradient_norms(model, x, rng=None, eps=None, **options):
    """||g_b||: the norm of each example's whole gradient (every parameter) of its own loss L_b, shape (N,) float64.

    x : (N, D);  rng : Generator for the noise, or eps itself ((N, L), or (N, K, L) with iw_samples = K), drawn as
    ``loss_and_gradients`` draws it;  options : the training options (beta, target, iw_samples, condition).
    Runs the model's training step, so ``model.grads`` holds the batch's ordinary (mean) gradient afterwards.

    Example
    -------
    >>> vae = VAE(6, latent_dim=2, hidden=(5,), dtype=np.float64)
    >>> x = np.random.default_rng(0).random((3, 6))
    >>> norms = per_example_gradient_norms(vae, x, np.random.default_rng(1))
    >>> norms.shape, bool((norms > 0).all())
    ((3,), True)
    """
    x, eps, options = _prepare(model, x, rng, eps, options)
    if len(x) == 0:
        return np.zeros(0)
    return np.sqrt(_squared_norms(_backward_pass(model, x, eps, options)[1], len(x)))


def clipped_gradient_sum(model, x, clip_norm, rng=None, eps=None, *, with_losses=True, **options):
    """The sum over the batch of each example's gradient clipped to norm clip_norm; also the norms and the losses.

        G = sum_b min(1, C / ||g_b||) g_b,    C = clip_norm          (formulas in the module docstring)

    x : (N, D), N >= 0 (Poisson sampling can draw an empty batch: G is then 0);  clip_norm : C > 0;
    rng, eps, options : as ``per_example_gradient_norms``;  with_losses : False skips the losses' forward pass
    (measured at 784-400-20, batch 256: 0.4 to 0.6 of a normal step) and returns losses=None.
    Returns ClippedGradients(grads, norms, losses, terms); grads are ``model.grads``, overwritten with G. A DP-SGD step
    continues with  G + N(0, sigma^2 C^2 I), divided by the expected batch size, then ``optimizer.step``.

    Example
    -------
    >>> vae = VAE(6, latent_dim=2, hidden=(5,), dtype=np.float64)
    >>> x = np.random.default_rng(0).random((4, 6))
    >>> grads, norms, losses, terms = clipped_gradient_sum(vae, x, 1.0, np.random.default_rng(1))
    >>> total = np.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
    >>> bool(total <= 4 * 1.0), sorted(grads) == sorted(vae.params), losses.shape
    (True, True, (4,))
    """
    if not (np.isfinite(clip_norm) and clip_norm > 0):
        raise ValueError(f"clip_norm must be a positive number (the largest gradient norm of one example), "
                         f"got {clip_norm!r}")
    x, eps, options = _prepare(model, x, rng, eps, options)
    n = len(x)
    if n == 0:
        for g in model.grads.values():
            g[...] = 0
        return ClippedGradients(model.grads, np.zeros(0), np.zeros(0) if with_losses else None, None)
    terms, layers = _backward_pass(model, x, eps, options)
    norms = np.sqrt(_squared_norms(layers, n))
    c = clip_norm / np.maximum(norms, clip_norm)  # min(1, C / ||g_b||), without dividing by a zero norm
    for name, layer, rows in layers:
        weight = (n * np.repeat(c, rows)).astype(layer.dout.dtype)[:, None]  # N c_b on each of example b's rows
        delta_c = layer.dout * weight  # (N rows, out): Delta * c, as dout holds Delta / N
        np.matmul(layer.x.T, delta_c, out=model.grads[f"{name}.W"])  # A^T (Delta * c)   (in, out)
        np.sum(delta_c, axis=0, out=model.grads[f"{name}.b"])  # Delta^T c   (out,)
    return ClippedGradients(model.grads, norms, _losses(model, x, eps, **options) if with_losses else None, terms)


def per_example_losses(model, x, rng=None, eps=None, **options):
    """L_b, each example's loss as the contract defines it (see the module docstring), shape (N,) float64, in nats.

    Their mean is ``model.loss_and_gradients(x, eps=eps, **options).loss``. No gradient is computed.

    Example
    -------
    >>> vae = VAE(6, latent_dim=2, hidden=(5,), dtype=np.float64)
    >>> x, eps = np.random.default_rng(0).random((3, 6)), np.zeros((3, 2))
    >>> bool(np.isclose(per_example_losses(vae, x, eps=eps).mean(), vae.loss_and_gradients(x, eps=eps).loss))
    True
    """
    x, eps, options = _prepare(model, x, rng, eps, options)
    return _losses(model, x, eps, **options) if len(x) else np.zeros(0)



def per_example_gradients(model, x, rng=None, eps=None, **options):
    """Each example's gradient itself, g_b, as one array per parameter: the naive path, to read and to check.

    Returns a dict with the keys of model.grads; entry "<layer>.W" is (N, in, out), g_b's a_b^T delta_b, and
    "<layer>.b" is (N, out), delta_b. It builds N copies of the parameters' shapes (N times the memory of the model),
    which the fast path (``per_example_gradient_norms``, ``clipped_gradient_sum``) never does; the tests hold the
    two equal. Arguments as ``per_example_gradient_norms``.

    Example
    -------
    >>> vae = VAE(6, latent_dim=2, hidden=(5,), dtype=np.float64)
    >>> x, eps = np.random.default_rng(0).random((3, 6)), np.zeros((3, 2))
    >>> g = per_example_gradients(vae, x, eps=eps)
    >>> g["encoder.0.W"].shape, g["decoder.2.b"].shape
    ((3, 6, 5), (3, 6))
    >>> bool(np.allclose(g["decoder.2.W"].mean(axis=0), vae.grads["decoder.2.W"]))   # their mean: the batch's
    True
    """
    x, eps, options = _prepare(model, x, rng, eps, options)
    n, grads = len(x), {}
    if n == 0:
        return {key: np.zeros((0, *g.shape), dtype=g.dtype) for key, g in model.grads.items()}
    for name, layer, rows in _backward_pass(model, x, eps, options)[1]:
        a = layer.x.reshape(n, rows, -1)  # (N, K, in), K = 1 but under the IW bound's decoder
        delta = n * layer.dout.reshape(n, rows, -1)  # (N, K, out): Delta, dout being Delta / N
        grads[f"{name}.W"] = np.einsum("bki,bko->bio", a, delta)  # sum_k a_bk^T delta_bk  (N, in, out)
        grads[f"{name}.b"] = delta.sum(axis=1)  # (N, out)
    return grads

# -- the steps the public functions share ------------------------------------------------------------------------------


def _prepare(model, x, rng, eps, options):
    """Check the model and options, the batch x (N, D), and draw or check the noise as ``loss_and_gradients`` would."""
    unknown = options.keys() - NEUTRAL.keys()
    if unknown:  # before check_options, which would name the model's options, not these functions'
        raise TypeError(f"unknown training option(s) {sorted(unknown)}; the options are {list(NEUTRAL)}")
    options = {**NEUTRAL, **options}
    check_per_example(model, **options)
    x = as_float_array(x, "x", model.dtype, width=model.input_dim, allow_empty=True)
    if len(x):
        x = model._check_x(x)
    if model.probabilistic:  # the Autoencoder has no noise
        k = options["iw_samples"]
        eps = model._noise(len(x), rng, eps, k=None if k == 1 else k)
    return x, eps, options


def _backward_pass(model, x, eps, options):
    """Run the model's own training step on x; return its LossTerms and its Linear layers as
    [(name, layer, rows per example)].

    After it each Linear layer holds A = layer.x (N rows, in) and Delta / N = layer.dout (N rows, out); rows is 1, or
    K for the decoder's layers under the IW bound.
    """
    terms = model.loss_and_gradients(x, eps=eps, **options)
    n, layers = len(x), []
    for part in ("encoder", "decoder"):
        for i, layer in enumerate(getattr(model, part).layers):
            if type(layer) is not Linear:
                continue
            rows = len(layer.x)
            if layer.dout is None or len(layer.dout) != rows or rows % n:  # a model that broke the row-per-example rule
                raise RuntimeError(f"{part}.{i}: its input has {rows} rows and its upstream gradient "
                                   f"{None if layer.dout is None else len(layer.dout)}, not a multiple of the "
                                   f"{n} examples; per-example gradients need one (or K) rows per example")
            layers.append((f"{part}.{i}", layer, rows // n))
    return terms, layers


def _row_sq(a):
    """The squared norm of each row of a (M, P): (M,) float64."""
    return np.einsum("ij,ij->i", a, a).astype(np.float64)


def _squared_norms(layers, n):
    """||g_b||^2 for the n examples (n,) float64: each Linear layer's share, from its A and Delta = n * dout."""
    sq = np.zeros(n)
    for _, layer, rows in layers:
        a, delta = layer.x, layer.dout
        if rows == 1:
            sq += (_row_sq(a) + 1.0) * _row_sq(delta)  # ||a_b||^2 ||delta_b||^2 (W) + ||delta_b||^2 (b)
        else:  # K rows per example: the Gram matrices of example b's K inputs and K upstream gradients
            a, delta = a.reshape(n, rows, -1), delta.reshape(n, rows, -1)  # (N, K, in), (N, K, out)
            gram_a = np.matmul(a, a.transpose(0, 2, 1)).astype(np.float64)  # (N, K, K)
            gram_delta = np.matmul(delta, delta.transpose(0, 2, 1)).astype(np.float64)  # (N, K, K)
            sq += (gram_a * gram_delta).sum(axis=(1, 2)) + _row_sq(delta.sum(axis=1))
    return sq * n ** 2  # dout = Delta / N: every term above carries 1 / N^2


def _losses(model, x, eps, *, beta, free_bits, target, iw_samples, condition):
    """L_b (N,) float64: one forward pass of the loss the contract averages, kept per example."""
    target = model._check_target(target, x)
    if not model.probabilistic:  # the Autoencoder
        return model.likelihood.nll(model.decoder.forward(model.encoder.forward(x)), target)[0].astype(np.float64)
    if iw_samples > 1:
        return -iwae.iw_bound(iwae._forward(model, x, eps, condition, target)[0])
    mu, logvar, _ = model._encode(x, condition)
    nll = model._nll_given_z(reparameterize(mu, logvar, eps), target, condition)[0]
    return nll.astype(np.float64) + beta * kl_standard_normal(mu, logvar)[0].astype(np.float64)
