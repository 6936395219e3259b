"""The checks of the building-block exercises: the affine layer, ReLU and sigmoid backward, the Bernoulli loss from
logits, the KL term, the reparameterization and its backward pass, and the Adam step.

Each check takes the student's module and a seeded ``np.random.Generator``, runs the student's function on random
float64 inputs, and returns a list of ``Check``, one per output (see ``minivae.teaching.compare``). The reference is
minivae's own implementation (``minivae.nn.layers``, ``minivae.nn.kernels``, ``minivae.nn.losses``,
``minivae.nn.reparam``), and for gradients also central finite differences (``minivae.nn.gradcheck``). Beside each
comparison stand the planted-mistake hypotheses: the value a typical mistake gives, and the hint that names it.
"""
import numpy as np

from minivae.nn import kernels, kl, losses, reparam
from minivae.nn.gradcheck import numerical_gradient, numerical_vjp
from minivae.nn.layers import Linear
from minivae.teaching.compare import away_from_zero, call_student, compare, unpack_outputs

N, D, M, L, H = 7, 5, 3, 3, 4  # batch, input and output width of the Linear layer, latent size, hidden size
# N = 7 is neither 2 nor 1/2, so "N times the truth" and "twice the truth" are different hypotheses.


def _linear_layer(W, b):
    layer = Linear(W.shape[0], W.shape[1], dtype=np.float64)
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer


def check_linear_forward(module, rng):
    """out = x @ W + b against minivae.nn.layers.Linear; hints: a forgotten or subtracted bias."""
    x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    want = _linear_layer(W, b).forward(x)
    out = call_student(module.linear_forward, x=x, W=W, b=b)
    return [compare("out", out, want, hypotheses=[(x @ W, "forgot the bias: out = x @ W + b"),
                                                  (x @ W - b, "the bias is added, not subtracted")],
                    shape_help=f"x is (N, D) = {x.shape}, W is (D, M) = {W.shape}")]


def check_linear_backward(module, rng):
    """dx, dW, db against Linear.backward and finite differences; hints: an extra 1/N, a mean for a sum."""
    x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, M))
    layer = _linear_layer(W, b)
    layer.forward(x)
    dx_ref = layer.backward(dout)
    dW_ref, db_ref = layer.grads["W"].copy(), layer.grads["b"].copy()
    f = lambda: x @ W + b  # noqa: E731
    fd = {"dx": numerical_vjp(f, x, dout), "dW": numerical_vjp(f, W, dout), "db": numerical_vjp(f, b, dout)}
    dx, dW, db = unpack_outputs(call_student(module.linear_backward, dout=dout, x=x, W=W), ("dx", "dW", "db"))
    no_n = "no 1/N here: dout already carries the batch mean"
    return [
        compare("dx", dx, dx_ref, fd["dx"], [(dx_ref / N, no_n)],
                shape_help="dx has the shape of x (N, D): dout (N, M) times the transpose of W, W.T (M, D)"),
        compare("dW", dW, dW_ref, fd["dW"], [(dW_ref / N, no_n)],
                shape_help="dW has the shape of W (D, M): the transpose of x, x.T (D, N), times dout (N, M)"),
        compare("db", db, db_ref, fd["db"], [(dout.mean(axis=0), "db sums dout over the batch, it does not average")],
                shape_help="db has the shape of b (M,): sum dout over the batch axis (axis=0)"),
    ]


def check_relu_backward(module, rng):
    """dx against the NumPy ReLU backward and finite differences (no input within 1e-2 of the kink)."""
    x = away_from_zero(rng.standard_normal((N, D)))
    dout = rng.standard_normal((N, D))
    want = kernels.relu_backward_reference(x, dout)
    fd = numerical_vjp(lambda: kernels.relu_forward_reference(x), x, dout)
    dx = call_student(module.relu_backward, dout=dout, x=x)
    return [compare("dx", dx, want, fd, [
        (dout * x, "multiply dout by the indicator (x > 0), not by x"),
        (dout * np.maximum(x, 0), "multiply dout by the indicator (x > 0), not by relu(x)"),
        (dout * (x < 0), "the gradient passes where x > 0, not where x < 0"),
        ((x > 0).astype(np.float64), "forgot dout: by the chain rule dx = dout * relu'(x)"),
    ])]


def check_sigmoid_backward(module, rng):
    """dx from the cached output against the NumPy sigmoid backward and finite differences."""
    x = 2 * rng.standard_normal((N, D))
    out = kernels.sigmoid_reference(x)
    dout = rng.standard_normal((N, D))
    want = kernels.sigmoid_backward_reference(out, dout)
    fd = numerical_vjp(lambda: kernels.sigmoid_reference(x), x, dout)
    s = kernels.sigmoid_reference(out)
    dx = call_student(module.sigmoid_backward, dout=dout, out=out)
    return [compare("dx", dx, want, fd, [
        (dout * s * (1 - s), "out is already sigmoid(x): use it directly, sigmoid'(x) = out * (1 - out)"),
        (out * (1 - out), "forgot dout: by the chain rule dx = dout * sigmoid'(x)"),
        (dout * out, "sigmoid'(x) = out * (1 - out), not out"),
    ])]


STABLE_BERNOULLI = ("compute the loss from the logits in a stable form, max(l, 0) - x * l + log1p(exp(-|l|)), "
                    "instead of log(sigmoid(l)), which is log(0) = -inf for large |l|")


def check_bernoulli(module, rng):
    """The Bernoulli loss and its gradient from logits, for moderate logits and for logits of +/-800."""
    Dx = 6  # so that "averaged over the D dimensions" (1/6) differs from every other hypothesis
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
        checks += [
            compare("loss_mean", loss, want_loss, n=N, hypotheses=[
                (want_loss / Dx, "averaged over the D dimensions too: sum over dimensions, mean over the batch")],
                nonfinite=STABLE_BERNOULLI),
            compare("dlogits", dl, want_dl, fd, n=N, hypotheses=[
                ((p - x) * p * (1 - p) / N, "multiplied by sigmoid'(l) once too often: from the logits the "
                                            "gradient of the loss is simply (sigmoid(l) - x) / N"),
                ((p - x) / (p * (1 - p) * N), "this is the gradient with respect to the probabilities p; with "
                                              "respect to the logits it is (sigmoid(l) - x) / N"),
                (want_dl / Dx, "divided by D as well: the loss sums over dimensions")]),
        ]
    return checks


def check_kl(module, rng):
    """The KL term and its two gradients against minivae.nn.kl; hints: logvar read as log sigma, a mean over L."""
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
            (want_kl / L, "averaged over the latent dimensions: sum over them"),
            (want_kl / N, "divided by N: kl holds one value per example; only the gradients are of the batch mean")]),
        compare("dmu", dmu, want_dmu, fd_mu, n=N),
        compare("dlogvar", dlv, want_dlv, fd_lv, n=N, hypotheses=[
            ((np.exp(2 * logvar) - 1) / N, log_sigma),
            (0.5 * np.exp(logvar) / N, "forgot the -1, the derivative of the -logvar term")]),
    ]


def check_reparameterize(module, rng):
    """z = mu + exp(0.5 * logvar) * eps against minivae.nn.reparam; hints: each wrong sigma."""
    mu, logvar, eps = rng.standard_normal((N, L)), 0.7 * rng.standard_normal((N, L)), rng.standard_normal((N, L))
    want = reparam.reparameterize(mu, logvar, eps)
    z = call_student(module.reparameterize, mu=mu, logvar=logvar, eps=eps)
    return [compare("z", z, want, hypotheses=[
        (mu + np.exp(logvar) * eps, "logvar is log sigma^2, so sigma = exp(0.5 * logvar); you used exp(logvar)"),
        (mu + logvar * eps, "logvar is not sigma: sigma = exp(0.5 * logvar)"),
        (mu + np.exp(0.5 * logvar), "forgot the noise: z = mu + sigma * eps"),
        (mu + 0.5 * np.exp(logvar) * eps, "sigma = exp(0.5 * logvar): the 1/2 goes inside the exponential"),
    ])]


def check_reparameterize_backward(module, rng):
    """dmu, dlogvar through z only, against minivae.nn.reparam and finite differences."""
    mu, logvar, eps = rng.standard_normal((N, L)), 0.7 * rng.standard_normal((N, L)), rng.standard_normal((N, L))
    dz = rng.standard_normal((N, L))
    want_dmu, want_dlv = reparam.reparameterize_backward(dz, logvar, eps)
    f = lambda: reparam.reparameterize(mu, logvar, eps)  # noqa: E731
    fd_mu, fd_lv = numerical_vjp(f, mu, dz), numerical_vjp(f, logvar, dz)
    dmu, dlv = unpack_outputs(call_student(module.reparameterize_backward, dz=dz, logvar=logvar, eps=eps),
                              ("dmu", "dlogvar"))
    sigma = np.exp(0.5 * logvar)
    only_z = "this is the backward of the sampling step only; the KL term's gradient is added by the caller"
    return [
        compare("dmu", dmu, want_dmu, fd_mu, hypotheses=[
            (dz + mu / N, only_z), (dz * eps, "z depends on mu with slope 1: dmu = dz")]),
        compare("dlogvar", dlv, want_dlv, fd_lv, hypotheses=[
            (dz * eps * sigma, "missing the factor 1/2: sigma = exp(0.5 * logvar), so d sigma / d logvar = "
                               "0.5 * sigma"),
            (dz * eps * np.exp(logvar), "logvar is log sigma^2, not log sigma: sigma = exp(0.5 * logvar), "
                                        "d sigma / d logvar = 0.5 * sigma"),
            (dz * eps, "forgot d sigma / d logvar = 0.5 * sigma (chain rule)"),
            (dz * 0.5 * sigma, "forgot eps: d z / d sigma = eps"),
            (dz * eps * 0.5 * sigma + 0.5 * (sigma**2 - 1) / N, only_z)]),
    ]


def check_adam(module, rng):
    """One Adam step, from zero moments at t = 1 and from random ones at t = 5; hints: the bias correction."""
    checks = []
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    shape = (4, 3)
    for t, start in ((1, "zeros"), (5, "random")):
        p, g = rng.standard_normal(shape), rng.standard_normal(shape)
        if start == "zeros":
            m, v = np.zeros(shape), np.zeros(shape)
        else:
            m, v = 0.1 * rng.standard_normal(shape), 0.01 * rng.standard_normal(shape) ** 2
        want_p, want_m, want_v = kernels.adam_update_reference(p.copy(), g, m.copy(), v.copy(), lr, b1, b2, eps, t)
        got = unpack_outputs(call_student(module.adam_step, p=p, g=g, m=m, v=v, t=t, lr=lr, beta1=b1, beta2=b2,
                                          eps=eps), ("p", "m", "v"))
        got_p, got_m, got_v = (np.asarray(a, dtype=np.float64) for a in got)
        step = lambda mh, vh: -lr * mh / (np.sqrt(vh) + eps)  # noqa: E731
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        no_bias = ("forgot the bias correction: m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t) "
                   "go into the update")
        tag = f" (step t={t})"
        checks += [
            compare("update p_new - p" + tag, got_p - p if got_p.shape == p.shape else got_p, want_p - p,
                    hypotheses=[
                        (step(want_m, want_v), no_bias),
                        (step(want_m / bc1, want_v), no_bias),
                        (step(want_m, want_v / bc2), no_bias),
                        (step(m / bc1, v / bc2), "update m and v first, then step with the new values"),
                        (lr * want_m / bc1 / (np.sqrt(want_v / bc2) + eps), "sign error: Adam steps against the "
                                                                             "gradient, p - lr * ..."),
                    ], shape_help=f"p_new has the shape of p, {p.shape}"),
            compare("m" + tag, got_m, want_m, hypotheses=[
                (want_m / bc1, "return the raw moment m, not the bias-corrected m_hat (that is only for the step)")]),
            compare("v" + tag, got_v, want_v, hypotheses=[
                (want_v / bc2, "return the raw moment v, not the bias-corrected v_hat (that is only for the step)"),
                (b2 * v + (1 - b2) * np.abs(g), "v averages the squared gradient g * g")]),
        ]
    return checks
