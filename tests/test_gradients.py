"""Every hand-written gradient of minivae against central finite differences (see minivae.nn.gradcheck).

One table, CASES, lists every check: each layer (w.r.t. its input and every parameter), each loss, the
reparameterization, the KL term (plain and with free bits), each likelihood, every model w.r.t. every
parameter, with every training option, and the sequence layers and models (the GRU and the LSTM also w.r.t. their
initial state; masks and length-1 sequences, T = 2 ids <bos> x, included). One parametrized test runs them all, and
``test_the_sweep_covers_everything`` fails if a layer, a loss, a likelihood or a model of the library has no entry
in the table, so nothing can go unchecked silently.

How the checks are made
-----------------------
* float64 and h = 1e-6: a correct gradient agrees to about 1e-8 or better; the bound is 1e-6 (never loosened),
  1e-7 for the sequence layers and models (they reach about 1e-8).
* Functions with an array output are checked through a *random* upstream gradient dout (a vector-Jacobian product);
  ``test_why_the_upstream_gradient_is_random`` shows a bug that dout = ones would miss.
* Losses return the gradient of the batch mean, so they are compared with the numerical gradient of
  ``per_example.mean()``.
* The noise eps is frozen (passed in, not drawn) so the loss is a deterministic function of the parameters.
* Tiny shapes (N=4 examples, D=7 data dims, hidden 5, L=3 latent dims) keep the file at a few seconds.
* ReLU kinks: the derivative jumps at 0, and a finite difference straddling the kink would be wrong by O(1). Inputs
  are random with fixed seeds, so no pre-activation lands within h = 1e-6 of 0.

The last tests check the checker: it must fail on planted wrong gradients, and its own helpers must behave.
"""
import inspect

import numba
import numpy as np
import pytest

import minivae.models
from minivae.models import likelihoods
from minivae.nn import kl, layers, losses, recurrent, reparam, sequence
from minivae.nn.gradcheck import check_layer, check_model, numerical_gradient, numerical_vjp, rel_error
from minivae.nn.layers import MLP, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Softplus, Tanh
from minivae.nn.recurrent import GRU, LSTM
from minivae.nn.sequence import Embedding, SequenceLinear, mask_from_lengths
from minivae.models.likelihoods import Bernoulli, Categorical, Gaussian, GaussianLearnedVariance, Mixed, to_one_hot
from minivae.models import VAE, Autoencoder, ConditionalVAE, ConvVAE, SequenceLM, SequenceVAE
from minivae.datasets.text import BOS_ID, EOS_ID, UNK_ID
from minivae.apps.latent_design import PropertyPredictor

TOL = 1e-6
N, D, H, L = 4, 7, 5, 3
F64 = np.float64
MIXED_COLUMNS = [{"type": "gaussian", "size": 2}, {"type": "categorical", "size": 3},
                 {"type": "categorical", "size": 2}]  # 2 + 3 + 2 = D columns


def rng_for(name):
    """A Generator seeded by the case name, so that every case has its own fixed inputs."""
    return np.random.default_rng(sum(map(ord, name)))


def loss_errors(fn, inputs, wrt):
    """Check a loss of minivae.nn.losses: fn(**inputs) -> (per_example (N,), grad_1, grad_2, ...), the gradients being
    those of per_example.mean() with respect to the inputs named in ``wrt``, in order."""
    _, *grads = fn(**inputs)
    return {name: rel_error(g, numerical_gradient(lambda: float(fn(**inputs)[0].mean()), inputs[name]))
            for name, g in zip(wrt, grads)}


# ----------------------------------------------------------------------------------------------------------------------
# Layers: check_layer compares dx and every parameter gradient, through a random upstream gradient.
# ----------------------------------------------------------------------------------------------------------------------


def layer_case(make_layer):
    def run(name):
        rng = rng_for(name)
        layer = make_layer(rng)
        x = rng.standard_normal((N, layer.layers[0].in_dim if isinstance(layer, Sequential) else D))
        errors = check_layer(layer, x, rng)
        assert set(errors) == {"x", *layer.params}  # the input and every parameter
        return errors
    return run


LAYER_CASES = {
    "linear_he": ({"Linear"}, layer_case(lambda rng: Linear(D, H, init="he", rng=rng, dtype=F64))),
    "linear_glorot": ({"Linear"}, layer_case(lambda rng: Linear(D, H, init="glorot", rng=rng, dtype=F64))),
    "relu": ({"ReLU"}, layer_case(lambda rng: ReLU())),
    "leaky_relu": ({"LeakyReLU"}, layer_case(lambda rng: LeakyReLU(alpha=0.1))),
    "tanh": ({"Tanh"}, layer_case(lambda rng: Tanh())),
    "sigmoid": ({"Sigmoid"}, layer_case(lambda rng: Sigmoid())),
    "softplus": ({"Softplus"}, layer_case(lambda rng: Softplus())),
    "sequential": ({"Sequential"}, layer_case(lambda rng: Sequential(
        Linear(D, H, init="glorot", rng=rng, dtype=F64), Tanh(), Linear(H, L, init="he", rng=rng, dtype=F64),
        Softplus()))),
    "mlp_relu": ({"MLP"}, layer_case(lambda rng: MLP([D, H, 4, L], "relu", rng, F64))),
    "mlp_leaky_relu": ({"MLP"}, layer_case(lambda rng: MLP([D, H, L], "leaky_relu", rng, F64))),
    "mlp_sigmoid": ({"MLP"}, layer_case(lambda rng: MLP([D, H, L], "sigmoid", rng, F64))),
}


# ----------------------------------------------------------------------------------------------------------------------
# Losses: the returned gradient against the numerical gradient of per_example.mean().
# ----------------------------------------------------------------------------------------------------------------------


def case_bernoulli_nll(name):
    rng = rng_for(name)
    inputs = {"logits": 2 * rng.standard_normal((N, D)), "x": rng.random((N, D))}
    return loss_errors(losses.bernoulli_nll, inputs, ["logits"])


def case_gaussian_nll(name):
    rng = rng_for(name)
    inputs = {"mean": rng.standard_normal((N, D)), "x": rng.standard_normal((N, D)), "variance": 0.5}
    return loss_errors(losses.gaussian_nll, inputs, ["mean"])


def case_gaussian_nll_learned_variance(name):
    rng = rng_for(name)
    inputs = {"mean": rng.standard_normal((N, D)), "logvar": rng.standard_normal((N, D)),
              "x": rng.standard_normal((N, D))}
    return loss_errors(losses.gaussian_nll_learned_variance, inputs, ["mean", "logvar"])


def case_kl_standard_normal(name):
    rng = rng_for(name)
    inputs = {"mu": rng.standard_normal((N, L)), "logvar": rng.standard_normal((N, L))}
    return loss_errors(kl.kl_standard_normal, inputs, ["mu", "logvar"])


def case_categorical_nll(name):
    rng = rng_for(name)
    inputs = {"logits": 2 * rng.standard_normal((N, 6)), "x": to_one_hot(rng.integers(0, 3, (N, 2)), 3, F64),
              "block_size": 3}
    return loss_errors(losses.categorical_nll, inputs, ["logits"])


LOSS_CASES = {
    "bernoulli_nll": ({"bernoulli_nll"}, case_bernoulli_nll),
    "gaussian_nll": ({"gaussian_nll"}, case_gaussian_nll),
    "gaussian_nll_learned_variance": ({"gaussian_nll_learned_variance"}, case_gaussian_nll_learned_variance),
    "kl_standard_normal": ({"kl_standard_normal"}, case_kl_standard_normal),
    "categorical_nll": ({"categorical_nll"}, case_categorical_nll),
}


# ----------------------------------------------------------------------------------------------------------------------
# The reparameterization, eps frozen.
# ----------------------------------------------------------------------------------------------------------------------


def case_reparameterize(name):
    """z = mu + exp(logvar / 2) eps; backward gives (dmu, dlogvar) for an upstream dz."""
    rng = rng_for(name)
    mu, logvar, eps, dz = (rng.standard_normal((N, L)) for _ in range(4))
    dmu, dlogvar = reparam.reparameterize_backward(dz, logvar, eps)
    return {"mu": rel_error(dmu, numerical_vjp(lambda: reparam.reparameterize(mu, logvar, eps), mu, dz)),
            "logvar": rel_error(dlogvar, numerical_vjp(lambda: reparam.reparameterize(mu, logvar, eps), logvar, dz))}


def kl_term_case(free_bits):
    """The KL term of the training loss, mean_n KL_n or with free bits sum_j max(lambda, KL_j): a scalar."""
    def run(name):
        rng = rng_for(name)
        mu, logvar = rng.standard_normal((N, L)), rng.standard_normal((N, L))
        if free_bits:
            mu[:, 0] *= 0.01  # dimension 0 has a KL below the floor (no gradient), the others above it
            logvar[:, 0] *= 0.01
            kl_dim = kl.kl_per_dimension(mu, logvar)
            assert kl_dim[0] < free_bits < kl_dim[1:].min()
        _, dmu, dlogvar, _ = kl.kl_term(mu, logvar, free_bits)
        term = lambda: kl.kl_term(mu, logvar, free_bits)[0]  # noqa: E731
        if free_bits:
            assert not dmu[:, 0].any() and not dlogvar[:, 0].any()
        return {"mu": rel_error(dmu, numerical_gradient(term, mu)),
                "logvar": rel_error(dlogvar, numerical_gradient(term, logvar))}
    return run


REPARAM_CASES = {
    "reparameterize": ({"reparameterize_backward"}, case_reparameterize),
    "kl_term": ({"kl_term"}, kl_term_case(0.0)),
    "kl_term_free_bits": ({"kl_term"}, kl_term_case(0.3)),
}


# ----------------------------------------------------------------------------------------------------------------------
# Likelihoods: nll(out, x) -> (per example, gradient of the batch mean w.r.t. the decoder outputs).
# ----------------------------------------------------------------------------------------------------------------------


def likelihood_case(make, make_out, make_x):
    def run(name):
        rng = rng_for(name)
        lik = make()
        out, x = make_out(rng), make_x(rng)
        return loss_errors(lambda out, x: lik.nll(out, x), {"out": out, "x": x}, ["out"])
    return run


def case_gaussian_learned_with_clamped_entries(name):
    """Some raw log-variances lie outside [-10, 10]: the gradient there must be exactly 0 (and the check exact)."""
    rng = rng_for(name)
    lik = GaussianLearnedVariance()
    out = rng.standard_normal((N, 2 * D))
    out[0, D + 1], out[2, D + 4], out[3, D] = 15.0, -12.0, 10.5  # clamped (stay clamped under +/- h)
    x = rng.standard_normal((N, D))
    _, dout = lik.nll(out, x)
    assert dout[0, D + 1] == dout[2, D + 4] == dout[3, D] == 0.0
    return loss_errors(lambda out, x: lik.nll(out, x), {"out": out, "x": x}, ["out"])


LIKELIHOOD_CASES = {
    "bernoulli": ({"bernoulli"}, likelihood_case(
        Bernoulli, lambda r: 2 * r.standard_normal((N, D)), lambda r: r.random((N, D)))),
    "gaussian": ({"gaussian"}, likelihood_case(
        lambda: Gaussian(variance=2.0), lambda r: r.standard_normal((N, D)), lambda r: r.standard_normal((N, D)))),
    "gaussian_learned": ({"gaussian_learned"}, likelihood_case(
        GaussianLearnedVariance, lambda r: r.standard_normal((N, 2 * D)), lambda r: r.standard_normal((N, D)))),
    "gaussian_learned_clamped": ({"gaussian_learned"}, case_gaussian_learned_with_clamped_entries),
    "categorical": ({"categorical"}, likelihood_case(
        lambda: Categorical(3), lambda r: 2 * r.standard_normal((N, 6)),
        lambda r: to_one_hot(r.integers(0, 3, (N, 2)), 3, F64))),
    "mixed": ({"mixed"}, likelihood_case(
        lambda: Mixed(MIXED_COLUMNS), lambda r: r.standard_normal((N, 2 * 2 + 3 + 2)),
        lambda r: mixed_data(r))),
}


def mixed_data(rng):
    return np.concatenate([rng.standard_normal((N, 2)), to_one_hot(rng.integers(0, 3, N), 3, F64),
                           to_one_hot(rng.integers(0, 2, N), 2, F64)], axis=1)


# ----------------------------------------------------------------------------------------------------------------------
# Whole models: check_model compares every parameter gradient, eps frozen.
# ----------------------------------------------------------------------------------------------------------------------

DATA = {  # likelihood -> (x, target) makers; target differs from x (a denoising setup)
    "bernoulli": lambda r: (r.random((N, D)), r.random((N, D))),
    "gaussian": lambda r: (r.standard_normal((N, D)), r.standard_normal((N, D))),
    "gaussian_learned": lambda r: (r.standard_normal((N, D)), r.standard_normal((N, D))),
    "categorical": lambda r: (to_one_hot(r.integers(0, 3, (N, 2)), 3, F64),
                              to_one_hot(r.integers(0, 3, (N, 2)), 3, F64)),
    "mixed": lambda r: (mixed_data(r), mixed_data(r)),
}


def model_case(kind, likelihood="bernoulli", activation="relu", hidden=(H,), beta=1.0, use_target=False, seed=None,
               free_bits=0.0, iw_samples=1):
    def run(name):
        rng = rng_for(name)
        x, target = DATA[likelihood if isinstance(likelihood, str) else likelihood["name"]](rng)
        if not use_target:
            target = None
        input_dim = x.shape[1]
        seed_ = int(rng.integers(1000)) if seed is None else seed
        options = {"target": target}
        if kind is ConvVAE:  # 4 x 4 images of D = 16 pixels
            x, target = rng.random((N, 16)), (rng.random((N, 16)) if use_target else None)
            options["target"] = target
            model = ConvVAE(latent_dim=L, image_shape=(4, 4), channels=(2,), likelihood=likelihood, seed=seed_,
                            dtype=F64)
        elif kind is ConditionalVAE:
            model = ConditionalVAE(input_dim, latent_dim=L, hidden=hidden, likelihood=likelihood,
                                   activation=activation, seed=seed_, dtype=F64, n_classes=3)
            options["condition"] = rng.integers(0, 3, N)
        else:
            model = kind(input_dim, latent_dim=L, hidden=hidden, likelihood=likelihood, activation=activation,
                         seed=seed_, dtype=F64)
        if model.probabilistic:
            eps = rng.standard_normal((N, L) if iw_samples == 1 else (N, iw_samples, L))  # frozen noise
            options.update(eps=eps, beta=beta, free_bits=free_bits, iw_samples=iw_samples)

        def loss():
            return model.loss_and_gradients(x, **options).loss
        errors = check_model(model, loss)
        assert set(errors) == set(model.params)  # every parameter
        loss()
        assert all(np.any(g != 0) for g in model.grads.values())  # no vacuous check of an all-zero gradient
        return errors
    return run


def case_property_predictor(name):
    """The latent-space property predictor (minivae.apps.latent_design): its MSE w.r.t. every parameter, and its
    input gradient df/dz through a random weighting of the rows (row n of f depends on row n of z only). The
    standardization is not the identity (m = 1.5, s = 0.7), so the chain rule through it is checked too."""
    rng = rng_for(name)
    predictor = PropertyPredictor(L, hidden=(H, 4), activation="tanh", seed=int(rng.integers(1000)), dtype=F64)
    predictor.y_mean, predictor.y_std = 1.5, 0.7
    z, y = rng.standard_normal((N, L)), rng.standard_normal(N)
    errors = check_model(predictor, lambda: predictor.loss_and_gradients(z, y)[0])
    assert set(errors) == set(predictor.params)
    weights = rng.standard_normal(N)
    errors["z"] = rel_error(predictor.input_gradient(z) * weights[:, None],
                            numerical_vjp(lambda: predictor.predict(z), z, weights))
    return errors


MODEL_CASES = {
    "vae_bernoulli_relu": ({"VAE", "bernoulli", "relu"}, model_case(VAE)),
    "vae_bernoulli_tanh_two_hidden_beta": ({"VAE", "bernoulli", "tanh"},
                                           model_case(VAE, activation="tanh", hidden=(H, 4), beta=0.3)),
    "vae_bernoulli_relu_two_hidden_target": ({"VAE", "bernoulli", "relu"},
                                             model_case(VAE, hidden=(H, 4), beta=2.5, use_target=True)),
    "vae_gaussian_relu_target": ({"VAE", "gaussian", "relu"}, model_case(VAE, "gaussian", use_target=True)),
    "vae_gaussian_tanh_beta": ({"VAE", "gaussian", "tanh"}, model_case(VAE, "gaussian", "tanh", beta=0.5)),
    "vae_gaussian_learned_relu": ({"VAE", "gaussian_learned", "relu"}, model_case(VAE, "gaussian_learned")),
    "vae_gaussian_learned_tanh_two_hidden_target": (
        {"VAE", "gaussian_learned", "tanh"},
        model_case(VAE, "gaussian_learned", "tanh", hidden=(H, 4), beta=0.8, use_target=True)),
    "vae_gaussian_variance_leaky_relu": ({"VAE", "gaussian", "leaky_relu"},
                                         model_case(VAE, {"name": "gaussian", "variance": 0.3}, "leaky_relu")),
    "vae_bernoulli_softplus": ({"VAE", "bernoulli", "softplus"}, model_case(VAE, activation="softplus")),
    "vae_gaussian_sigmoid_target": ({"VAE", "gaussian", "sigmoid"},
                                    model_case(VAE, "gaussian", "sigmoid", use_target=True)),
    "vae_categorical": ({"VAE", "categorical"}, model_case(VAE, {"name": "categorical", "block_size": 3})),
    "vae_mixed_target": ({"VAE", "mixed"}, model_case(VAE, {"name": "mixed", "columns": MIXED_COLUMNS},
                                                      use_target=True)),
    # seed 1: with the name's seed all 5 decoder ReLUs happen to be off for all 4 codes (the check would be vacuous)
    "vae_free_bits": ({"VAE", "free_bits"}, model_case(VAE, hidden=(H, 4), beta=0.7, free_bits=0.2)),
    "vae_iw_samples": ({"VAE", "iw_samples"}, model_case(VAE, iw_samples=4)),
    "vae_iw_samples_target_gaussian_learned": ({"VAE", "iw_samples", "target"},
                                               model_case(VAE, "gaussian_learned", iw_samples=3, use_target=True)),
    "conditional_vae": ({"ConditionalVAE", "condition"}, model_case(ConditionalVAE, beta=0.5, use_target=True)),
    "conditional_vae_free_bits": ({"ConditionalVAE", "free_bits"},
                                  model_case(ConditionalVAE, "gaussian", "tanh", free_bits=0.1)),
    "conditional_vae_iw_samples": ({"ConditionalVAE", "iw_samples"}, model_case(ConditionalVAE, iw_samples=3)),
    "conv_vae": ({"ConvVAE"}, model_case(ConvVAE, beta=0.5, use_target=True)),
    "conv_vae_iw_samples": ({"ConvVAE", "iw_samples"}, model_case(ConvVAE, iw_samples=2)),
    "autoencoder_bernoulli_relu": ({"Autoencoder", "bernoulli", "relu"}, model_case(Autoencoder, seed=1)),
    "autoencoder_gaussian_tanh_two_hidden_target": (
        {"Autoencoder", "gaussian", "tanh"},
        model_case(Autoencoder, "gaussian", "tanh", hidden=(H, 4), use_target=True)),
    "property_predictor": ({"PropertyPredictor"}, case_property_predictor),
}

# ----------------------------------------------------------------------------------------------------------------------
# Sequences: the embedding, the GRU and the LSTM (w.r.t. the input, the initial state and every parameter, through
# random upstream gradients on the outputs and on the last state), the time-distributed linear layer and the masked token loss.
# Ragged lengths (padding at the end) and length-1 sequences are included. These checks are held to the tighter bound
# SEQUENCE_TOL: backpropagation through time is long enough a chain for a small slip to hide under 1e-6.
# ----------------------------------------------------------------------------------------------------------------------

SEQUENCE_TOL = 1e-7
T_STEPS, V_TOKENS = 4, 6


# A mask that is not padding at the end: gaps inside sequences, and a sequence with no real step at all.
MASK_WITH_GAPS = np.array([[1, 0, 1, 1], [0, 1, 1, 0], [0, 0, 0, 0], [1, 1, 0, 1]], bool)


def recurrent_case(cls, lengths, T=T_STEPS, h0=True, dh_last=True, mask=None):
    """cls(D, H) (GRU or LSTM) on len(lengths) sequences padded to T steps (or with the given mask). The scalar
    checked is sum(out * dout) + sum(last_state * dh_last), whose gradient is what backward(dout, dh_last) returns."""
    given = mask

    def run(name):
        rng = rng_for(name)
        layer = cls(D, H, rng=rng, dtype=F64)
        for p in layer.params.values():
            p *= 3  # weights of order 1.5: gates away from their linear middle, so every term of BPTT matters
        n, S = len(lengths), layer.state_dim
        x, dout = rng.standard_normal((n, T, D)), rng.standard_normal((n, T, H))
        state = rng.standard_normal((n, S)) if h0 else np.zeros((n, S))  # h0=None is the zero state
        dlast = rng.standard_normal((n, S)) if dh_last else np.zeros((n, S))
        mask = mask_from_lengths(np.array(lengths), T) if given is None else given

        def objective():
            out = layer.forward(x, state, mask)
            return float(np.sum(out * dout) + np.sum(layer.last_state * dlast))
        layer.forward(x, state if h0 else None, mask)  # the analytic pass with the defaults where asked
        dx, dh0 = layer.backward(dout, dlast if dh_last else None)
        analytic = {"x": dx, "h0": dh0, **{k: g.copy() for k, g in layer.grads.items()}}
        assert not dx[~mask].any()  # no gradient reaches the inputs of padded steps
        errors = {k: rel_error(analytic[k], numerical_gradient(objective, a))
                  for k, a in {"x": x, "h0": state, **layer.params}.items()}
        assert set(errors) == {"x", "h0", *layer.params}
        return errors
    return run


def case_embedding(name):
    """dW through a random upstream gradient, ids with repeats and one id never used (its row gets 0)."""
    rng = rng_for(name)
    emb = Embedding(V_TOKENS, D, rng=rng, dtype=F64)
    ids = rng.integers(0, V_TOKENS - 1, (N, T_STEPS))  # the last id is never used
    dout = rng.standard_normal((N, T_STEPS, D))
    emb.forward(ids)
    assert emb.backward(dout) is None
    assert not emb.grads["W"][-1].any()
    return {"W": rel_error(emb.grads["W"], numerical_vjp(lambda: emb.forward(ids), emb.params["W"], dout))}


def case_sequence_linear(name):
    rng = rng_for(name)
    errors = check_layer(SequenceLinear(D, V_TOKENS, rng=rng, dtype=F64), rng.standard_normal((N, T_STEPS, D)), rng)
    assert set(errors) == {"x", "W", "b"}
    return errors


def case_token_nll(name):
    """Ragged lengths, one of length 1, and a target of -1 at a padded step (not read)."""
    rng = rng_for(name)
    mask = mask_from_lengths(np.array([4, 2, 1, 3]), T_STEPS)
    targets = rng.integers(0, V_TOKENS, (N, T_STEPS))
    targets[2, 3] = -1
    inputs = {"logits": 2 * rng.standard_normal((N, T_STEPS, V_TOKENS)), "targets": targets, "mask": mask}
    return loss_errors(losses.token_nll, inputs, ["logits"])


def token_ids(rng, lengths, T):
    """(N, T) ids: <bos>, then lengths[n] tokens (the last one <eos>, the others random ids >= <unk>), then <pad>."""
    ids = np.zeros((len(lengths), T), dtype=np.int64)
    ids[:, 0] = BOS_ID
    for n, length in enumerate(lengths):
        ids[n, 1:length] = rng.integers(UNK_ID, V_TOKENS, length - 1)
        ids[n, length] = EOS_ID
    return ids


def sequence_model_case(kind, lengths, T, z_every_step=False, free_bits=0.0):
    """A SequenceVAE (token dropout and noise frozen, beta = 0.7) or a SequenceLM on ids of the given lengths (tokens
    after <bos>, <eos> included; 1 is <bos> <eos>), padded to T. The weights are doubled, so that the gates are away
    from their linear middle, all but the VAE's map to h_0: a saturated tanh(h_0) leaves gradients so small that
    rounding alone brings the check near 1e-7."""
    def run(name):
        rng = rng_for(name)
        seed = int(rng.integers(1000))
        ids = token_ids(rng, lengths, T)
        if kind is SequenceLM:
            model = SequenceLM(V_TOKENS, embed_dim=3, hidden_dim=H, seed=seed, dtype=F64)
            options = {}
        else:
            model = SequenceVAE(V_TOKENS, latent_dim=2, embed_dim=3, hidden_dim=H, token_dropout=0.3, seed=seed,
                                dtype=F64, z_every_step=z_every_step)
            options = {"eps": rng.standard_normal((len(lengths), 2)), "drop": rng.random((len(lengths), T - 1)) < 0.3,
                       "beta": 0.7, "free_bits": free_bits}
        for k, p in model.params.items():
            if not k.startswith("to_state"):
                p *= 2

        def loss():
            return model.loss_and_gradients(ids, **options).loss
        errors = check_model(model, loss)
        assert set(errors) == set(model.params)
        loss()
        # one step from h_0 = 0 (the LM on T = 2) multiplies W_hh by zeros only: exactly 0 there, nowhere else
        zero = {"decoder.W_hh"} if kind is SequenceLM and T == 2 else set()
        assert {k for k, g in model.grads.items() if not g.any()} == zero
        return errors
    return run


SEQUENCE_CASES = {
    "sequence_vae": ({"SequenceVAE", "mask", "length_one"}, sequence_model_case(SequenceVAE, [3, 1, 4, 2], 5)),
    "sequence_vae_z_every_step_free_bits": ({"SequenceVAE", "free_bits", "mask"}, sequence_model_case(
        SequenceVAE, [2, 4, 1], 5, z_every_step=True, free_bits=0.05)),
    "sequence_vae_one_step": ({"SequenceVAE", "length_one"}, sequence_model_case(SequenceVAE, [1, 1, 1], 2)),
    "sequence_vae_z_every_step_one_step": ({"SequenceVAE", "length_one"}, sequence_model_case(
        SequenceVAE, [1, 1], 2, z_every_step=True)),
    "sequence_lm": ({"SequenceLM", "mask", "length_one"}, sequence_model_case(SequenceLM, [3, 1, 4, 2], 5)),
    "sequence_lm_one_step": ({"SequenceLM", "length_one"}, sequence_model_case(SequenceLM, [1, 1, 1], 2)),
    "embedding": ({"Embedding"}, case_embedding),
    "sequence_linear": ({"SequenceLinear"}, case_sequence_linear),
    "gru": ({"GRU", "h0", "dh_last"}, recurrent_case(GRU, [T_STEPS] * 3)),
    "gru_ragged_mask": ({"GRU", "mask", "h0", "dh_last"}, recurrent_case(GRU, [4, 2, 1, 3])),
    "gru_ragged_no_h0_no_dh_last": ({"GRU", "mask"}, recurrent_case(GRU, [3, 4, 1], h0=False, dh_last=False)),
    "gru_mask_with_gaps": ({"GRU", "mask", "h0", "dh_last"}, recurrent_case(GRU, [T_STEPS] * 4, mask=MASK_WITH_GAPS)),
    "gru_one_step": ({"GRU", "length_one"}, recurrent_case(GRU, [1, 1], T=1)),
    "gru_length_one_padded": ({"GRU", "length_one", "mask", "h0", "dh_last"}, recurrent_case(GRU, [1, 1, 1], T=3)),
    "lstm": ({"LSTM", "h0", "dh_last"}, recurrent_case(LSTM, [T_STEPS] * 3)),
    "lstm_ragged_mask": ({"LSTM", "mask", "h0", "dh_last"}, recurrent_case(LSTM, [4, 2, 1, 3])),
    "lstm_ragged_no_h0_no_dh_last": ({"LSTM", "mask"}, recurrent_case(LSTM, [3, 4, 1], h0=False, dh_last=False)),
    "lstm_mask_with_gaps": ({"LSTM", "mask", "h0", "dh_last"},
                            recurrent_case(LSTM, [T_STEPS] * 4, mask=MASK_WITH_GAPS)),
    "lstm_one_step": ({"LSTM", "length_one"}, recurrent_case(LSTM, [1, 1], T=1)),
    "lstm_length_one_padded": ({"LSTM", "length_one", "mask", "h0", "dh_last"},
                               recurrent_case(LSTM, [1, 1, 1], T=3)),
    "token_nll": ({"token_nll", "mask"}, case_token_nll),
}

CASES = {**LAYER_CASES, **LOSS_CASES, **REPARAM_CASES, **LIKELIHOOD_CASES, **MODEL_CASES, **SEQUENCE_CASES}


@pytest.mark.parametrize("name", CASES)
def test_gradient(name):
    _, run = CASES[name]
    errors = run(name)
    assert errors, "a check that compares nothing"
    worst = max(errors, key=errors.get)
    tol = SEQUENCE_TOL if name in SEQUENCE_CASES else TOL
    assert errors[worst] < tol, f"{name}: gradient of {worst!r} is off, rel_error {errors[worst]:.2e}: {errors}"


def public_functions(module, exclude=()):
    return {n for n, f in vars(module).items() if inspect.isfunction(f) and f.__module__ == module.__name__
            and not n.startswith("_") and n not in exclude}


def test_the_sweep_covers_everything():
    """Every layer class, loss, likelihood, model and hidden activation of the library has a case in the sweep."""
    covered = set().union(*(covers for covers, _ in CASES.values()))
    layer_classes = {n for module in (layers, sequence, recurrent) for n, c in vars(module).items()
                     if inspect.isclass(c) and issubclass(c, layers.Layer) and c is not layers.Layer
                     and c.__module__ == module.__name__ and not n.startswith("_")}
    # log_softmax_blocks (a helper of categorical_nll), logsumexp and the log densities return no gradient
    loss_functions = public_functions(losses, exclude={"log_softmax_blocks", "logsumexp", "log_normal",
                                                       "log_normal_of_noise", "log_standard_normal"})
    required = {
        "layers": layer_classes | {"MLP"},
        "losses": loss_functions,
        "likelihoods": set(likelihoods.LIKELIHOODS),
        "models": set(minivae.models.MODEL_KINDS),
        "training options": {"free_bits", "iw_samples", "condition", "target"},
        "activations": set(layers.ACTIVATIONS),
        "reparameterization": {"reparameterize_backward"},
        "KL": public_functions(kl, exclude={"kl_per_dimension"}),  # a diagnostic, no gradient
        "sequence options": {"mask", "length_one", "h0", "dh_last"},
    }
    for what, names in required.items():
        assert names <= covered, f"{what} without a gradient check: {sorted(names - covered)}"


# ----------------------------------------------------------------------------------------------------------------------
# The VAE's clamp of the encoder's log-variance to [LOGVAR_MIN, LOGVAR_MAX] = [-30, 20].
# ----------------------------------------------------------------------------------------------------------------------


def clamped_vae(bias):
    """A float64 VAE whose encoder output bias for logvar unit j is bias[j] (tanh hidden units keep x @ W small, so
    a bias of +/-45 puts that unit's raw log-variance far outside the clamp, and it stays there under +/- h)."""
    vae = VAE(D, latent_dim=L, hidden=(H,), activation="tanh", seed=3, dtype=F64)
    head = vae.params["encoder.2.b"]
    head[L:] = bias
    rng = np.random.default_rng(7)
    x, eps = rng.random((N, D)), rng.standard_normal((N, L))
    return vae, lambda: vae.loss_and_gradients(x, eps=eps).loss


def test_logvar_clamp_below_gradient_is_zero_there_and_exact_elsewhere():
    vae, loss = clamped_vae([-45.0, 0.0, 0.3])  # unit 0 clamped at -30, units 1 and 2 inside
    _, logvar = vae.encode(np.random.default_rng(7).random((N, D)))
    assert (logvar[:, 0] == VAE.LOGVAR_MIN).all() and (np.abs(logvar[:, 1:]) < 5).all()
    errors = check_model(vae, loss)
    assert max(errors.values()) < TOL, errors  # exact everywhere, including through the clamp
    loss()
    W, b = vae.grads["encoder.2.W"], vae.grads["encoder.2.b"]
    assert b[L] == 0.0 and (W[:, L] == 0.0).all()  # the clamped unit gets no gradient at all
    assert (b[L + 1:] != 0).all() and (W[:, L + 1:] != 0).all()  # the others do


def test_logvar_clamp_above_gradient_is_zero_there():
    """At logvar = 20 the KL is ~exp(20) / 2 = 2.4e8 nats, too large for finite differences to resolve the other
    gradients to 1e-6; but at the clamped unit the loss does not change at all, so both gradients are exactly 0."""
    vae, loss = clamped_vae([0.2, 45.0, -0.1])  # unit 1 clamped at +20
    _, logvar = vae.encode(np.random.default_rng(7).random((N, D)))
    assert (logvar[:, 1] == VAE.LOGVAR_MAX).all()
    loss()
    W, b = vae.grads["encoder.2.W"], vae.grads["encoder.2.b"]
    assert b[L + 1] == 0.0 and (W[:, L + 1] == 0.0).all()
    assert b[L] != 0 and b[L + 2] != 0
    col = [i * 2 * L + L + 1 for i in range(H)]  # flat indices of W[:, L + 1]
    assert (numerical_gradient(loss, vae.params["encoder.2.b"], indices=[L + 1]) == 0).all()
    assert (numerical_gradient(loss, vae.params["encoder.2.W"], indices=col) == 0).all()


# ----------------------------------------------------------------------------------------------------------------------
# The checker must fail on wrong gradients.
# ----------------------------------------------------------------------------------------------------------------------


class SigmoidForgetsAFactor(Sigmoid):
    """Planted bug: d sigma/dx written sigma(x) instead of sigma(x) (1 - sigma(x))."""

    def backward(self, dout):
        return dout * self.out


class LinearWithFlippedBiasGradient(Linear):
    """Planted bug: db = -sum_n dout."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] *= -1
        return dx


def test_checker_fails_on_a_forgotten_factor():
    rng = np.random.default_rng(0)
    errors = check_layer(SigmoidForgetsAFactor(), rng.standard_normal((N, D)), rng)
    assert errors["x"] > 1e-2


def test_checker_fails_on_a_flipped_sign_and_names_the_culprit():
    rng = np.random.default_rng(0)
    errors = check_layer(LinearWithFlippedBiasGradient(D, H, rng=rng, dtype=F64), rng.standard_normal((N, D)), rng)
    assert errors["b"] > 1e-2
    assert errors["W"] < TOL and errors["x"] < TOL  # the other gradients are still right


def test_checker_fails_on_a_log_sigma_kl_gradient():
    """A KL gradient that reads logvar as log sigma, 0.5 (exp(lv / 2) - 1) / N instead of 0.5 (exp(lv) - 1) / N."""
    def wrong_kl(mu, logvar):
        value, dmu, _ = kl.kl_standard_normal(mu, logvar)
        return value, dmu, 0.5 * (np.exp(0.5 * logvar) - 1) / len(mu)

    rng = np.random.default_rng(0)
    errors = loss_errors(wrong_kl, {"mu": rng.standard_normal((N, L)), "logvar": rng.standard_normal((N, L))},
                         ["mu", "logvar"])
    assert errors["mu"] < TOL and errors["logvar"] > 1e-2


def test_check_model_fails_on_a_planted_model_bug_and_names_the_parameter():
    class VAEForgetsOneOverN(VAE):
        def loss_and_gradients(self, *args, **kwargs):
            terms = super().loss_and_gradients(*args, **kwargs)
            self.grads["decoder.0.W"] *= N  # as if the 1/N of the batch mean were forgotten in this layer
            return terms

    rng = np.random.default_rng(0)
    vae = VAEForgetsOneOverN(D, latent_dim=L, hidden=(H,), dtype=F64)
    x, eps = rng.random((N, D)), rng.standard_normal((N, L))
    errors = check_model(vae, lambda: vae.loss_and_gradients(x, eps=eps).loss)
    assert errors["decoder.0.W"] > 1e-1
    assert max(e for k, e in errors.items() if k != "decoder.0.W") < TOL


class ColumnScale(layers.Layer):
    """out = x * c (one scale per column). Planted bug: the backward pass reads dout's columns in reverse order."""

    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x * self.c

    def backward(self, dout):
        return dout[:, ::-1] * self.c


def test_why_the_upstream_gradient_is_random():
    """With dout = ones every column of dout is the same, so a gradient routed to the wrong column goes unseen; a
    random dout weighs each output differently and exposes it."""
    rng = np.random.default_rng(0)
    layer, x = ColumnScale(rng.standard_normal(D)), rng.standard_normal((N, D))
    ones = np.ones((N, D))
    assert rel_error(layer.backward(ones), numerical_vjp(lambda: layer.forward(x), x, ones)) < TOL  # fooled
    assert check_layer(layer, x, rng)["x"] > 1e-2  # caught


# ----------------------------------------------------------------------------------------------------------------------
# The checker's own helpers.
# ----------------------------------------------------------------------------------------------------------------------


def test_rel_error():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0  # both zero: no error, not 0 / 0
    assert rel_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.000001]) == pytest.approx(5e-7, rel=1e-6)
    assert rel_error([0.0, 4.0], [1.0, 4.0]) == 0.25  # max|a - b| / max(max|a|, max|b|) = 1 / 4
    assert rel_error([1.0, -3.0], [1.5, 2.0]) == rel_error([1.5, 2.0], [1.0, -3.0])  # symmetric
    # relative to the largest entry, not entry by entry: a tiny entry with finite-difference noise is no error
    assert rel_error([1e-12, 1.0], [3e-12, 1.0]) < 1e-11
    assert rel_error(np.zeros(3), np.ones(3)) == 1.0


def test_rel_error_refuses_shapes_that_differ():
    with pytest.raises(ValueError, match=r"cannot compare arrays of shapes \(3,\) and \(1, 3\)"):
        rel_error(np.zeros(3), np.zeros((1, 3)))


def test_numerical_gradient_refuses_float32():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="gradient checks need float64 arrays, got float32"):
        numerical_gradient(lambda: float(np.sum(x**2)), x)


def test_numerical_gradient_refuses_a_non_contiguous_array():
    x = np.ones((4, 4))[:, :2]  # rows of 2 out of 4: no single stride, reshape(-1) copies
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: float(np.sum(x**2)), x)


def test_numerical_gradient_is_accurate_and_restores_x():
    rng = np.random.default_rng(0)
    x, a = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(a * np.sin(x))), x)
    assert rel_error(grad, a * np.cos(x)) < 1e-8
    np.testing.assert_array_equal(x, before)  # bit for bit
    partial = numerical_gradient(lambda: float(np.sum(a * np.sin(x))), x, indices=[0, 5])
    assert np.count_nonzero(partial) == 2
    assert partial.reshape(-1)[5] == grad.reshape(-1)[5]
