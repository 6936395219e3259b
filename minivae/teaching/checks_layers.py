"""The checks of the building-block exercises: the affine layer, ReLU and sigmoid backward, the Bernoulli loss from
logits, the KL term, the reparameterization and its backward pass, and the Adam step.

Each check takes the student's module and an ``np.random.Generator`` (default: seeded with
``minivae.teaching.compare.DEFAULT_SEED``; the grader passes a fresh one per run), draws the sizes of its arrays from
it (``draw_sizes``) and random float64 inputs, runs the student's function, and returns a list of ``Check``, one per
output (see ``minivae.teaching.compare``). The reference is minivae's own implementation (``minivae.nn.layers``,
``minivae.nn.kernels``, ``minivae.nn.losses``, ``minivae.nn.reparam``), and for gradients also central finite
differences (``minivae.nn.gradcheck``). Beside each comparison stand the planted-mistake hypotheses: the value a
typical mistake gives, and the hint that names it (the named ones are ``minivae.teaching.compare.HINTS``).

Corner cases every run includes: ReLU inputs exactly at 0 (where ``x > 0`` and ``x >= 0`` differ), Adam with
gradients around 1e-3 (where ``sqrt(v) + eps`` and ``sqrt(v + eps)`` differ), Adam's first step t = 1 (where a
bias correction with t - 1 divides by zero), and logits of +/-800.
"""
from dataclasses import dataclass

import numpy as np

from minivae.nn import kernels, kl, losses, reparam
from minivae.nn.gradcheck import numerical_gradient, numerical_vjp
from minivae.teaching.compare import HINTS, away_from_zero, call_student, compare, default_rng, unpack_outputs
from minivae.teaching.reference_blocks import linear_layer as _linear_layer


@dataclass(frozen=True)
class Sizes:
    """The sizes of one check's arrays: batch N, the Linear layer's D -> M, latent L, hidden H, data width Dx."""

    N: int
    D: int
    M: int
    L: int
    H: int
    Dx: int


def draw_sizes(rng):
    """Sizes drawn from rng, chosen so that the hypotheses stay apart: N is odd and at least 5 (so "N times the
    truth" is never "twice the truth"), D != M (so a missing transpose shows as a wrong shape), L < N, and Dx even
    (so "averaged over the D dimensions" is never "averaged over the batch")."""
    D, M = (int(s) for s in rng.choice([3, 4, 6, 8], size=2, replace=False))
    return Sizes(N=int(rng.choice([5, 7, 9, 11])), D=D, M=M, L=int(rng.choice([3, 4])), H=int(rng.choice([4, 5, 6])),
                 Dx=int(rng.choice([6, 8, 10])))


def check_linear_forward(module, rng=None):
    """out = x @ W + b against minivae.nn.layers.Linear; hints: a forgotten or subtracted bias."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    x, W, b = rng.standard_normal((n.N, n.D)), rng.standard_normal((n.D, n.M)), rng.standard_normal(n.M)
    want = _linear_layer(W, b).forward(x)
    out = call_student(module.linear_forward, x=x, W=W, b=b)
    return [compare("out", out, want, hypotheses=[(x @ W, "forgot the bias: out = x @ W + b"),
                                                  (x @ W - b, "the bias is added, not subtracted")],
                    shape_help=f"x is (N, D) = {x.shape}, W is (D, M) = {W.shape}")]


def check_linear_backward(module, rng=None):
    """dx, dW, db against Linear.backward and finite differences; hints: an extra 1/N, a mean for a sum."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    x, W, b = rng.standard_normal((n.N, n.D)), rng.standard_normal((n.D, n.M)), rng.standard_normal(n.M)
    dout = rng.standard_normal((n.N, n.M))
    layer = _linear_layer(W, b)
    layer.forward(x)
    dx_ref = layer.backward(dout)
    dW_ref, db_ref = layer.grads["W"].copy(), layer.grads["b"].copy()
    f = lambda: x @ W + b  # noqa: E731
    fd = {"dx": numerical_vjp(f, x, dout), "dW": numerical_vjp(f, W, dout), "db": numerical_vjp(f, b, dout)}
    dx, dW, db = unpack_outputs(call_student(module.linear_backward, dout=dout, x=x, W=W), ("dx", "dW", "db"))
    no_n = "no 1/N here: dout already carries the batch mean"
    return [
        compare("dx", dx, dx_ref, fd["dx"], [(dx_ref / n.N, no_n)],
                shape_help="dx has the shape of x (N, D): dout (N, M) times the transpose of W, W.T (M, D)"),
        compare("dW", dW, dW_ref, fd["dW"], [(dW_ref / n.N, no_n)],
                shape_help="dW has the shape of W (D, M): the transpose of x, x.T (D, N), times dout (N, M)"),
        compare("db", db, db_ref, fd["db"], [(dout.mean(axis=0), "db sums dout over the batch, it does not average")],
                shape_help="db has the shape of b (M,): sum dout over the batch axis (axis=0)"),
    ]


def relu_inputs(rng, shape):
    """Random x of the shape with no entry within 1e-2 of the kink, except about a fifth set exactly to 0 (where
    ``x > 0`` and ``x >= 0`` differ); there finite differences are not used (relu has no derivative at 0)."""
    x = away_from_zero(rng.standard_normal(shape))
    zeros = rng.random(shape) < 0.2
    zeros.flat[0] = True  # at least one
    return np.where(zeros, 0.0, x), zeros


def check_relu_backward(module, rng=None):
    """dx against the NumPy ReLU backward, and finite differences away from 0; some inputs are exactly 0."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    x, zeros = relu_inputs(rng, (n.N, n.D))
    dout = away_from_zero(rng.standard_normal((n.N, n.D)))
    want = kernels.relu_backward_reference(x, dout)
    fd = np.where(zeros, want, numerical_vjp(lambda: kernels.relu_forward_reference(x), x, dout))
    dx = call_student(module.relu_backward, dout=dout, x=x)
    return [compare("dx", dx, want, fd, [
        (dout * (x >= 0), HINTS["relu_mask_at_zero"]),
        (dout * x, HINTS["relu_times_x"]),
        (dout * np.maximum(x, 0), HINTS["relu_times_relu"]),
        (dout * (x < 0), HINTS["relu_mask_negative"]),
        (dout * (x <= 0), HINTS["relu_mask_nonpositive"]),
        (dout, HINTS["relu_mask_all"]),
        (dout * (dout > 0), HINTS["relu_mask_from_dout"]),
        ((x > 0).astype(np.float64), HINTS["relu_no_dout"]),
    ])]


def check_sigmoid_backward(module, rng=None):
    """dx from the cached output against the NumPy sigmoid backward and finite differences."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    x = 2 * rng.standard_normal((n.N, n.D))
    out = kernels.sigmoid_reference(x)
    dout = rng.standard_normal((n.N, n.D))
    want = kernels.sigmoid_backward_reference(out, dout)
    fd = numerical_vjp(lambda: kernels.sigmoid_reference(x), x, dout)
    s = kernels.sigmoid_reference(out)
    dx = call_student(module.sigmoid_backward, dout=dout, out=out)
    return [compare("dx", dx, want, fd, [
        (dout * s * (1 - s), HINTS["sigmoid_twice"]),
        (s * (1 - s), HINTS["sigmoid_twice_no_dout"]),
        (out * (1 - out), "forgot dout: by the chain rule dx = dout * sigmoid'(x)"),
        (dout * out, "sigmoid'(x) = out * (1 - out), not out"),
        (dout * (1 - out), "sigmoid'(x) = out * (1 - out): the factor out is missing"),
    ])]


STABLE_BERNOULLI = ("compute the loss from the logits in a stable form, max(l, 0) - x * l + log1p(exp(-|l|)), "
                    "instead of log(sigmoid(l)), which is log(0) = -inf for large |l|")


def check_bernoulli(module, rng=None):
    """The Bernoulli loss and its gradient from logits, for moderate logits and for logits of +/-800."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    N, Dx = n.N, n.Dx  # Dx even and N odd: "averaged over the D dimensions" differs from every other hypothesis
    checks = []
    x = rng.random((N, Dx))
    x[: N // 2] = np.round(x[: N // 2])  # some binary rows, some grey
    moderate = 2 * rng.standard_normal((N, Dx))
    large = rng.choice([-800.0, -60.0, 60.0, 800.0], size=(N, Dx))
    for logits, tag in ((moderate, ""), (large, " (large logits)")):
        nll, want_dl = losses.bernoulli_nll(logits.copy(), x)
        want_loss = float(nll.mean())
        loss, dl = unpack_outputs(call_student(module.bernoulli_nll_from_logits, logits=logits, x=x),
                                  ("loss_mean", "dlogits"))
        if tag:  # the stability case: exact values, no finite differences across +/-800
            fallback = f"right for moderate logits, wrong for logits of +/-60 and +/-800: {STABLE_BERNOULLI}"
            checks += [compare("loss_mean" + tag, loss, want_loss, n=N, nonfinite=STABLE_BERNOULLI,
                               fallback=fallback),
                       compare("dlogits" + tag, dl, want_dl, n=N, nonfinite=STABLE_BERNOULLI, fallback=fallback)]
            continue
        # the NumPy twin of the (parallel) kernel: the same numbers, without a thread pool call per evaluation
        fd = numerical_gradient(lambda: float(losses.bernoulli_nll(logits, x)[0].mean()), logits)
        p = kernels.sigmoid_reference(logits)
        twice_nll, _ = losses.bernoulli_nll(p.copy(), x)  # the loss of sigmoid(logits) read as logits
        pp = kernels.sigmoid_reference(p)
        checks += [
            compare("loss_mean", loss, want_loss, n=N, hypotheses=[
                (want_loss / Dx, "averaged over the D dimensions too: sum over dimensions, mean over the batch"),
                (float(twice_nll.mean()), HINTS["bernoulli_sigmoid_twice"])],
                nonfinite=STABLE_BERNOULLI),
            compare("dlogits", dl, want_dl, fd, n=N, hypotheses=[
                ((p - x) * p * (1 - p) / N, "multiplied by sigmoid'(l) once too often: from the logits the "
                                            "gradient of the loss is simply (sigmoid(l) - x) / N"),
                ((p - x) / (p * (1 - p) * N), "this is the gradient with respect to the probabilities p; with "
                                              "respect to the logits it is (sigmoid(l) - x) / N"),
                ((pp - x) / N, HINTS["bernoulli_sigmoid_twice"]),
                ((logits - x) / N, "the gradient is (sigmoid(l) - x) / N: sigmoid is missing"),
                (want_dl / Dx, "divided by D as well: the loss sums over dimensions")]),
        ]
    return checks


def check_kl(module, rng=None):
    """The KL term and its two gradients against minivae.nn.kl; hints: logvar read as log sigma, a mean over L."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    N, L = n.N, n.L
    mu = rng.standard_normal((N, L))
    logvar = 0.7 * rng.standard_normal((N, L))
    want_kl, want_dmu, want_dlv = kl.kl_standard_normal(mu, logvar)
    f = lambda: float(kl.kl_standard_normal(mu, logvar)[0].mean())  # noqa: E731
    fd_mu, fd_lv = numerical_gradient(f, mu), numerical_gradient(f, logvar)
    kl_s, dmu, dlv = unpack_outputs(call_student(module.kl_standard_normal, mu=mu, logvar=logvar),
                                    ("kl", "dmu", "dlogvar"))
    log_sigma = "logvar is log sigma^2 (the variance), so sigma^2 = exp(logvar), not exp(2 * logvar)"
    return [
        compare("kl", kl_s, want_kl, hypotheses=[
            (0.5 * np.sum(mu**2 + np.exp(2 * logvar) - 1 - 2 * logvar, axis=1), log_sigma),
            (0.5 * np.sum(mu**2 + np.exp(2 * logvar) - 1 - logvar, axis=1), log_sigma),
            (want_kl / L, "averaged over the latent dimensions: sum over them"),
            (want_kl / N, "divided by N: kl holds one value per example; only the gradients are of the batch mean"),
            (0.5 * np.sum(mu**2 + np.exp(logvar) - logvar, axis=1), "forgot the -1 inside the sum: "
                                                                    "0.5 * sum(mu^2 + sigma^2 - 1 - logvar)")]),
        compare("dmu", dmu, want_dmu, fd_mu, n=N),
        compare("dlogvar", dlv, want_dlv, fd_lv, n=N, hypotheses=[
            ((np.exp(2 * logvar) - 1) / N, log_sigma),
            (0.5 * (np.exp(2 * logvar) - 1) / N, log_sigma),
            (0.5 * np.exp(logvar) / N, "forgot the -1, the derivative of the -logvar term"),
            (0.5 * (np.exp(logvar) - logvar) / N, "the derivative of -logvar is -1, not -logvar")]),
    ]


def check_reparameterize(module, rng=None):
    """z = mu + exp(0.5 * logvar) * eps against minivae.nn.reparam; hints: each wrong sigma."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    shape = (n.N, n.L)
    mu, logvar, eps = rng.standard_normal(shape), 0.7 * rng.standard_normal(shape), rng.standard_normal(shape)
    want = reparam.reparameterize(mu, logvar, eps)
    z = call_student(module.reparameterize, mu=mu, logvar=logvar, eps=eps)
    return [compare("z", z, want, hypotheses=[
        (mu + np.exp(logvar) * eps, "logvar is log sigma^2, so sigma = exp(0.5 * logvar); you used exp(logvar)"),
        (mu + logvar * eps, "logvar is not sigma: sigma = exp(0.5 * logvar)"),
        (mu + np.exp(0.5 * logvar), "forgot the noise: z = mu + sigma * eps"),
        (mu + 0.5 * np.exp(logvar) * eps, "sigma = exp(0.5 * logvar): the 1/2 goes inside the exponential"),
        (mu + np.sqrt(np.abs(logvar)) * eps, "logvar is a log: sigma = exp(0.5 * logvar), not sqrt(logvar)"),
    ])]


def check_reparameterize_backward(module, rng=None):
    """dmu, dlogvar through z only, against minivae.nn.reparam and finite differences."""
    rng = default_rng(rng)
    n = draw_sizes(rng)
    shape = (n.N, n.L)
    mu, logvar, eps = rng.standard_normal(shape), 0.7 * rng.standard_normal(shape), rng.standard_normal(shape)
    dz = rng.standard_normal(shape)
    want_dmu, want_dlv = reparam.reparameterize_backward(dz, logvar, eps)
    f = lambda: reparam.reparameterize(mu, logvar, eps)  # noqa: E731
    fd_mu, fd_lv = numerical_vjp(f, mu, dz), numerical_vjp(f, logvar, dz)
    dmu, dlv = unpack_outputs(call_student(module.reparameterize_backward, dz=dz, logvar=logvar, eps=eps),
                              ("dmu", "dlogvar"))
    sigma = np.exp(0.5 * logvar)
    only_z = "this is the backward of the sampling step only; the KL term's gradient is added by the caller"
    return [
        compare("dmu", dmu, want_dmu, fd_mu, hypotheses=[
            (dz + mu / n.N, only_z), (dz * eps, "z depends on mu with slope 1: dmu = dz")]),
        compare("dlogvar", dlv, want_dlv, fd_lv, hypotheses=[
            (dz * eps * sigma, "missing the factor 1/2: sigma = exp(0.5 * logvar), so d sigma / d logvar = "
                               "0.5 * sigma"),
            (dz * eps * np.exp(logvar), "logvar is log sigma^2, not log sigma: sigma = exp(0.5 * logvar), "
                                        "d sigma / d logvar = 0.5 * sigma"),
            (dz * eps, "forgot d sigma / d logvar = 0.5 * sigma (chain rule)"),
            (dz * 0.5 * sigma, "forgot eps: d z / d sigma = eps"),
            (dz * eps * 0.5 * sigma + 0.5 * (sigma**2 - 1) / n.N, only_z)]),
    ]


ADAM_CASES = (
    # (step t, how m and v start, scale of the gradient): the first step from zeros (a bias correction with t - 1
    # divides by 0 there), a later step from random moments, and a later step with gradients around 1e-3, where
    # v_hat is near eps and sqrt(v_hat + eps) differs from sqrt(v_hat) + eps by tens of percent
    (1, "zeros", 1.0),
    (5, "random", 1.0),
    (3, "random", 1e-3),
)


def _adam_moments(rng, shape, start, scale):
    if start == "zeros":
        return np.zeros(shape), np.zeros(shape)
    return 0.1 * scale * rng.standard_normal(shape), (0.1 * scale * rng.standard_normal(shape)) ** 2


def _adam_hypotheses(p, g, m, v, t, lr, b1, b2, eps, want_m, want_v):
    """The updates p_new - p that Adam's typical mistakes give, with their hints (NaN ones are skipped later)."""
    def step(mh, vh, root=np.sqrt, eps_inside=False):
        with np.errstate(all="ignore"):
            return -lr * mh / (root(vh + eps) if eps_inside else root(vh) + eps)

    bc1, bc2 = 1 - b1**t, 1 - b2**t
    with np.errstate(all="ignore"):
        minus_one = step(want_m / (1 - b1 ** (t - 1)), want_v / (1 - b2 ** (t - 1)))
    swapped_m, swapped_v = b2 * m + (1 - b2) * g, b1 * v + (1 - b1) * g * g
    return [
        (step(want_m / bc1, want_v / bc2, eps_inside=True), HINTS["adam_eps_inside_sqrt"]),
        (minus_one, HINTS["adam_t_minus_one"]),
        (step(want_m / (1 - b1 ** (t + 1)), want_v / (1 - b2 ** (t + 1))), HINTS["adam_t_plus_one"]),
        (step(want_m, want_v), HINTS["adam_no_bias_correction"]),
        (step(want_m / bc1, want_v), HINTS["adam_no_bias_correction"]),
        (step(want_m, want_v / bc2), HINTS["adam_no_bias_correction"]),
        (step(m / bc1, v / bc2), HINTS["adam_old_moments"]),
        (-step(want_m / bc1, want_v / bc2), HINTS["adam_sign"]),
        (step(want_m / bc1, want_v / bc2, root=lambda a: a), HINTS["adam_no_sqrt"]),
        (step(swapped_m / (1 - b2**t), swapped_v / (1 - b1**t)), HINTS["adam_beta_swapped"]),
        (step(swapped_m / bc1, swapped_v / bc2), HINTS["adam_beta_swapped"]),
    ]


def check_adam(module, rng=None):
    """One Adam step in each of ``ADAM_CASES``; hints: the bias correction, eps inside the root, t off by one."""
    rng = default_rng(rng)
    checks = []
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    n = draw_sizes(rng)
    shape = (n.D, n.M)
    for t, start, scale in ADAM_CASES:
        p, g = rng.standard_normal(shape), scale * rng.standard_normal(shape)
        m, v = _adam_moments(rng, shape, start, scale)
        want_p, want_m, want_v = kernels.adam_update_reference(p.copy(), g, m.copy(), v.copy(), lr, b1, b2, eps, t)
        got = unpack_outputs(call_student(module.adam_step, p=p, g=g, m=m, v=v, t=t, lr=lr, beta1=b1, beta2=b2,
                                          eps=eps), ("p", "m", "v"))
        got_p, got_m, got_v = (np.asarray(a, dtype=np.float64) for a in got)
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        tag = f" (step t={t}{', gradients around 1e-3' if scale < 1 else ''})"
        nonfinite = HINTS["adam_t_minus_one"] if t == 1 else ""
        checks += [
            compare("update p_new - p" + tag, got_p - p if got_p.shape == p.shape else got_p, want_p - p,
                    hypotheses=_adam_hypotheses(p, g, m, v, t, lr, b1, b2, eps, want_m, want_v),
                    nonfinite=nonfinite, shape_help=f"p_new has the shape of p, {p.shape}"),
            compare("m" + tag, got_m, want_m, hypotheses=[
                (want_m / bc1, HINTS["adam_corrected_m_returned"]),
                (b2 * m + (1 - b2) * g, HINTS["adam_beta_swapped"])]),
            compare("v" + tag, got_v, want_v, hypotheses=[
                (want_v / bc2, HINTS["adam_corrected_v_returned"]),
                (b2 * v + (1 - b2) * np.abs(g), HINTS["adam_abs_not_square"]),
                (b1 * v + (1 - b1) * g * g, HINTS["adam_beta_swapped"])]),
        ]
    return checks
