"""Per-example gradients and their clipped sum (minivae.privacy.per_example), held to three independent truths:

* the plain loop: each example alone through ``model.loss_and_gradients(x[b:b+1], eps=eps[b:b+1])``, whose batch
  mean over one example is that example's loss L_b, so its gradient is g_b with factor 1 (the factor N of the module
  is checked by the mean of the g_b being the ordinary batch gradient);
* central finite differences of one example's loss L_b, in float64 (a correct gradient agrees to about 1e-8);
* the normal training path, which must compute exactly what it computed before Linear kept its upstream gradient.

Tiny shapes (N = 6, D = 7, hidden (5, 4), L = 3) keep the file at a few seconds. The agreement with the loop is at
the level of rounding (measured: about 1e-15); the bounds below leave a margin of a few orders of magnitude.
"""
import doctest

import numpy as np
import pytest

from minivae import VAE, Autoencoder, ConditionalVAE, ConvVAE, SequenceVAE
from minivae.nn.gradcheck import numerical_gradient, rel_error
from minivae.nn.layers import Layer
from minivae.privacy import per_example
from minivae.privacy.per_example import (check_per_example, clipped_gradient_sum, per_example_gradient_norms,
                                         per_example_gradients, per_example_losses)

N, D, HIDDEN, L, K, CLASSES = 6, 7, (5, 4), 3, 3, 4
ROUNDING = 1e-12  # the loop and the fast path differ only in the order of the sums
FD_TOL = 1e-6

# name: (model maker, training options). Every likelihood kind of the MLP models, four activations, the IW bound,
# denoising (target), a KL weight, the conditional VAE and the autoencoder.
CASES = {
    "vae_bernoulli_relu": (lambda: VAE(D, L, HIDDEN, "bernoulli", "relu", seed=1, dtype=np.float64), {}),
    "vae_gaussian_tanh": (lambda: VAE(D, L, HIDDEN, "gaussian", "tanh", seed=2, dtype=np.float64), {}),
    "vae_gaussian_learned_leaky_relu": (
        lambda: VAE(D, L, HIDDEN, "gaussian_learned", "leaky_relu", seed=3, dtype=np.float64), {}),
    "vae_bernoulli_softplus_beta": (
        lambda: VAE(D, L, HIDDEN, "bernoulli", "softplus", seed=4, dtype=np.float64), {"beta": 0.3}),
    "vae_gaussian_sigmoid_target": (
        lambda: VAE(D, L, HIDDEN, "gaussian", "sigmoid", seed=5, dtype=np.float64), {"target": "clean"}),
    "vae_bernoulli_tanh_iw": (lambda: VAE(D, L, HIDDEN, "bernoulli", "tanh", seed=6, dtype=np.float64),
                              {"iw_samples": K}),
    "cvae_bernoulli_relu": (
        lambda: ConditionalVAE(D, L, HIDDEN, "bernoulli", "relu", seed=7, dtype=np.float64, n_classes=CLASSES),
        {"condition": "labels"}),
    "cvae_gaussian_tanh_iw": (
        lambda: ConditionalVAE(D, L, HIDDEN, "gaussian", "tanh", seed=8, dtype=np.float64, n_classes=CLASSES),
        {"condition": "labels", "iw_samples": K}),
    "autoencoder_gaussian_tanh": (lambda: Autoencoder(D, L, HIDDEN, "gaussian", "tanh", seed=9, dtype=np.float64),
                                  {}),
}


def setting(name):
    """The model, the batch x (N, D) in [0, 1], the noise eps (or None), and the options with their arrays filled in."""
    make, options = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    model, x = make(), rng.random((N, D))
    options = dict(options)
    if options.get("target") == "clean":  # denoising: the input is a corrupted copy of the target
        options["target"], x = x, np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    if options.get("condition") == "labels":
        options["condition"] = rng.integers(0, CLASSES, N)
    k = options.get("iw_samples", 1)
    eps = None if not model.probabilistic else rng.standard_normal((N, L) if k == 1 else (N, k, L))
    return model, x, eps, options


def rows(options, b):
    """The options of example b alone: the rows b:b+1 of its per-example arrays."""
    return {key: value[b:b + 1] if isinstance(value, np.ndarray) else value for key, value in options.items()}


def gradients_alone(model, x, eps, options):
    """The plain loop: for each example b, the gradient of its loss alone, as a copy of model.grads; and its loss."""
    grads, losses = [], []
    for b in range(len(x)):
        terms = model.loss_and_gradients(x[b:b + 1], eps=None if eps is None else eps[b:b + 1], **rows(options, b))
        grads.append({key: g.copy() for key, g in model.grads.items()})  # a batch of one: its mean is L_b itself
        losses.append(terms.loss)
    return grads, np.array(losses)


def global_norm(grads):
    return np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))


# -- against the plain loop -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_each_norm_is_the_norm_of_that_example_alone(name):
    model, x, eps, options = setting(name)
    norms = per_example_gradient_norms(model, x, eps=eps, **options)
    alone, _ = gradients_alone(model, x, eps, options)
    expected = np.array([global_norm(g) for g in alone])
    assert norms.shape == (N,) and norms.dtype == np.float64
    assert np.max(np.abs(norms - expected) / expected) < ROUNDING, (norms, expected)


@pytest.mark.parametrize("name", CASES)
def test_the_clipped_sum_is_the_loop_clipped_and_summed(name):
    model, x, eps, options = setting(name)
    alone, losses_alone = gradients_alone(model, x, eps, options)
    norms_alone = np.array([global_norm(g) for g in alone])
    clip = float(np.median(norms_alone))  # half the examples above C, half below
    assert (norms_alone > clip).any() and (norms_alone < clip).any()
    expected = {key: sum(g[key] * min(1.0, clip / n) for g, n in zip(alone, norms_alone)) for key in model.grads}

    grads, norms, losses, terms = clipped_gradient_sum(model, x, clip, eps=eps, **options)
    assert grads is model.grads and sorted(grads) == sorted(model.params)
    assert abs(terms.loss - losses_alone.mean()) < ROUNDING * abs(terms.loss)  # the batch's own LossTerms
    for key in model.grads:
        assert grads[key].shape == model.params[key].shape
        assert rel_error(grads[key], expected[key]) < ROUNDING, key
    assert np.max(np.abs(norms - norms_alone) / norms_alone) < ROUNDING
    assert rel_error(losses, losses_alone) < ROUNDING
    assert rel_error(losses, per_example_losses(model, x, eps=eps, **options)) == 0

    again = {key: g.copy() for key, g in grads.items()}
    grads, norms_again, losses, _ = clipped_gradient_sum(model, x, clip, eps=eps, with_losses=False, **options)
    assert losses is None and np.array_equal(norms_again, norms)
    assert all(np.array_equal(grads[key], again[key]) for key in grads)


@pytest.mark.parametrize("name", ["vae_bernoulli_relu", "vae_bernoulli_tanh_iw", "cvae_bernoulli_relu"])
def test_the_naive_path_agrees_with_the_fast_one_and_with_the_loop(name):
    model, x, eps, options = setting(name)
    g = per_example_gradients(model, x, eps=eps, **options)
    norms = np.sqrt(sum(np.sum(a.reshape(N, -1) ** 2, axis=1) for a in g.values()))
    assert rel_error(norms, per_example_gradient_norms(model, x, eps=eps, **options)) < ROUNDING
    alone, _ = gradients_alone(model, x, eps, options)
    for b in (0, N - 1):
        for key in model.grads:
            assert rel_error(g[key][b], alone[b][key]) < ROUNDING, (b, key)


def test_the_mean_of_the_per_example_gradients_is_the_batch_gradient():
    """The factor N: dout holds the gradient of the batch mean, Delta / N."""
    model, x, eps, options = setting("vae_gaussian_tanh")
    model.loss_and_gradients(x, eps=eps)
    batch = {key: g.copy() for key, g in model.grads.items()}
    unclipped = clipped_gradient_sum(model, x, 1e12, eps=eps).grads  # C far above every norm: nothing clipped
    for key in batch:
        assert rel_error(unclipped[key] / N, batch[key]) < ROUNDING, key


# -- against finite differences of one example's loss ------------------------------------------------------------


@pytest.mark.parametrize("name", ["vae_bernoulli_relu", "vae_gaussian_tanh", "vae_bernoulli_tanh_iw",
                                  "autoencoder_gaussian_tanh"])
def test_one_example_gradient_against_finite_differences(name):
    model, x, eps, options = setting(name)
    b = 2
    g = per_example_gradients(model, x, eps=eps, **options)
    loss_b = lambda: float(per_example_losses(model, x, eps=eps, **options)[b])  # noqa: E731
    rng = np.random.default_rng(0)
    last = f"decoder.{2 * len(HIDDEN)}"
    for key in ("encoder.0.W", "encoder.0.b", f"{last}.W", f"{last}.b", "decoder.0.W"):
        param = model.params[key]
        idx = rng.choice(param.size, size=min(4, param.size), replace=False)
        numeric = numerical_gradient(loss_b, param, indices=idx).reshape(-1)[idx]
        assert rel_error(g[key][b].reshape(-1)[idx], numeric) < FD_TOL, key


def test_the_clipped_sum_against_finite_differences():
    """G = sum_b c_b g_b is the gradient of sum_b c_b L_b with the factors c_b held at their values."""
    model, x, eps, _ = setting("vae_bernoulli_relu")
    norms = per_example_gradient_norms(model, x, eps=eps)
    clip = float(np.median(norms))
    c = np.minimum(1.0, clip / norms)
    grads = {key: g.copy() for key, g in clipped_gradient_sum(model, x, clip, eps=eps).grads.items()}
    weighted = lambda: float(c @ per_example_losses(model, x, eps=eps))  # noqa: E731
    rng = np.random.default_rng(1)
    for key in ("encoder.0.W", "encoder.2.b", "decoder.2.W", "decoder.4.b"):
        idx = rng.choice(model.params[key].size, size=4, replace=False)
        numeric = numerical_gradient(weighted, model.params[key], indices=idx).reshape(-1)[idx]
        assert rel_error(grads[key].reshape(-1)[idx], numeric) < FD_TOL, key


# -- what DP-SGD relies on -----------------------------------------------------------------------------------------


def test_one_example_moves_the_clipped_sum_by_at_most_the_clipping_norm():
    """The sensitivity: the sums with and without example j differ by c_j g_j, of norm at most C."""
    model, x, eps, _ = setting("vae_gaussian_tanh")
    clip = 0.5 * float(per_example_gradient_norms(model, x, eps=eps).min())  # every example clipped
    full = {key: g.copy() for key, g in clipped_gradient_sum(model, x, clip, eps=eps).grads.items()}
    for j in range(N):
        keep = np.arange(N) != j
        without = clipped_gradient_sum(model, x[keep], clip, eps=eps[keep], with_losses=False).grads
        gap = global_norm({key: full[key] - without[key] for key in full})
        assert abs(gap - clip) < 1e-9 * clip  # exactly C, as example j was clipped


def test_the_noise_is_drawn_as_the_training_step_draws_it():
    model, x, _, _ = setting("vae_bernoulli_relu")
    twin = CASES["vae_bernoulli_relu"][0]()
    grads_per_example = per_example_gradients(model, x, np.random.default_rng(5))
    twin.loss_and_gradients(x, np.random.default_rng(5))
    for key in twin.grads:
        assert rel_error(grads_per_example[key].mean(axis=0), twin.grads[key]) < ROUNDING


def test_an_empty_batch_gives_a_zero_sum():
    """Poisson sampling can draw no example at all: the sum is 0 (the step is then noise alone)."""
    model, _, _, _ = setting("vae_bernoulli_relu")
    model.loss_and_gradients(np.full((2, D), 0.5), eps=np.zeros((2, L)))  # grads not zero before
    grads, norms, losses, terms = clipped_gradient_sum(model, np.zeros((0, D)), 1.0, np.random.default_rng(0))
    assert all((g == 0).all() for g in grads.values()) and norms.shape == (0,) and losses.shape == (0,)
    assert terms is None
    assert per_example_gradient_norms(model, np.zeros((0, D)), np.random.default_rng(0)).shape == (0,)


def test_float32_models_agree_with_float64():
    make = lambda dtype: VAE(D, L, HIDDEN, "bernoulli", "relu", seed=1, dtype=dtype)  # noqa: E731
    x, eps = np.random.default_rng(3).random((N, D)), np.random.default_rng(4).standard_normal((N, L))
    n64 = per_example_gradient_norms(make(np.float64), x, eps=eps)
    _, n32, losses32, _ = clipped_gradient_sum(make(np.float32), x, 1.0, eps=eps)
    assert n32.dtype == np.float64 and rel_error(n32, n64) < 1e-5
    assert rel_error(losses32, per_example_losses(make(np.float64), x, eps=eps)) < 1e-5


# -- the normal training path is unchanged -------------------------------------------------------------------------


def test_the_normal_step_computes_what_it_computed_before():
    """Two models of the same seed: one also runs the per-example functions; the normal steps stay bit-identical.

    (Bit-identity with the code before Linear kept self.dout was measured when the change was made: the normal
    step's gradients hashed the same, float32 and float64.)
    """
    for name in ("vae_bernoulli_relu", "vae_bernoulli_tanh_iw"):
        model, x, eps, options = setting(name)
        twin = CASES[name][0]()
        clipped_gradient_sum(model, x, 0.1, eps=eps, **options)
        per_example_gradients(model, x, eps=eps, **options)
        assert model.loss_and_gradients(x, eps=eps, **options) == twin.loss_and_gradients(x, eps=eps, **options)
        for key in model.grads:
            assert np.array_equal(model.grads[key], twin.grads[key]), key
            assert np.array_equal(model.params[key], twin.params[key]), key


def test_linear_keeps_the_upstream_gradient_it_was_given():
    model, x, eps, _ = setting("vae_gaussian_tanh")
    model.loss_and_gradients(x, eps=eps)
    for layer in model.decoder.layers[::2] + model.encoder.layers[::2]:
        assert layer.dout.shape == (N, layer.out_dim)
        assert np.array_equal(layer.grads["W"], layer.x.T @ layer.dout)
    dout = np.random.default_rng(0).standard_normal((N, D))
    last = model.decoder.layers[-1]
    last.backward(dout)
    assert last.dout is dout  # a reference, not a copy


# -- refusals ------------------------------------------------------------------------------------------------------


class RowMixing(Layer):
    """A parameter-free layer that is not elementwise: x - mean over the batch (as a batch norm would)."""

    def forward(self, x):
        return x - x.mean(axis=0)

    def backward(self, dout):
        return dout - dout.mean(axis=0)


def test_refusals_say_what_and_why():
    x = np.random.default_rng(0).random((N, D))
    rng = np.random.default_rng(1)
    vae = VAE(D, L, HIDDEN, seed=0, dtype=np.float64)
    with pytest.raises(ValueError, match="free_bits=0.5 cannot be trained with per-example clipping"):
        clipped_gradient_sum(vae, x, 1.0, rng, free_bits=0.5)
    with pytest.raises(ValueError, match="clip_norm must be a positive number"):
        clipped_gradient_sum(vae, x, 0.0, rng)
    with pytest.raises(ValueError, match="clip_norm must be a positive number"):
        clipped_gradient_sum(vae, x, float("nan"), rng)
    with pytest.raises(ValueError, match="VAE cannot honour condition"):
        per_example_gradient_norms(vae, x, rng, condition=np.zeros(N, dtype=int))
    with pytest.raises(ValueError, match="pass rng"):
        per_example_gradient_norms(vae, x)
    with pytest.raises(TypeError, match="unknown training option"):
        per_example_gradient_norms(vae, x, rng, betta=1.0)
    with pytest.raises(ValueError, match="Autoencoder cannot honour iw_samples"):
        per_example_gradient_norms(Autoencoder(D, L, HIDDEN), x, rng, iw_samples=2)

    conv = ConvVAE(latent_dim=2, image_shape=(4, 4), channels=(2,), seed=0)
    seq = SequenceVAE(5, latent_dim=2, embed_dim=3, hidden_dim=4)
    for model in (conv, seq):
        with pytest.raises(ValueError, match=f"{type(model).__name__} has no per-example gradients"):
            check_per_example(model)

    mixing = VAE(D, L, HIDDEN, seed=0, dtype=np.float64)
    mixing.encoder.layers[1] = RowMixing()
    with pytest.raises(ValueError, match=r"layer encoder\.1, RowMixing\(\), has no per-example gradient"):
        clipped_gradient_sum(mixing, x, 1.0, rng)

    extra = VAE(D, L, HIDDEN, seed=0, dtype=np.float64)
    extra.params["prior.mu"], extra.grads["prior.mu"] = np.zeros(L), np.zeros(L)
    with pytest.raises(ValueError, match=r"the parameters \['prior.mu'\] lie outside the Linear layers"):
        per_example_gradient_norms(extra, x, rng)


def test_the_examples_in_the_docstrings_run():
    result = doctest.testmod(per_example, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
