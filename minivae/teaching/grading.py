"""The grader of the teaching assignments: checks a student's copy of ``minivae.teaching.exercises``.

    python -m minivae grade exercises.py        grade a student's file, print a report and a score

``grade`` exits with code 0 when every exercise passes and 1 otherwise (also when the file does not import).
The student version itself is written by ``minivae.teaching.assignments``.

Grading
-------
``grade(path)`` imports the student's file by its path and runs each exercise on random float64 inputs from a fixed
seed. Each output is compared with minivae's own implementation (``minivae.nn.layers``, ``minivae.nn.kernels``,
``minivae.nn.losses``, ``minivae.nn.reparam``, ``minivae.models.vae``) and, for gradients, with central finite differences
(``minivae.nn.gradcheck``). An exercise passes when every output has ``rel_error < 1e-6``. When it fails, the grader
tests hypotheses on the wrong output (is it minus the truth? twice it? N times it? what ``logvar`` read as log sigma
would give?) and reports the first that fits as a hint. Each exercise runs on its own: a crash or a
``NotImplementedError`` in one only zeroes that one.

The last exercise, the VAE's negative ELBO, is run with the reference building blocks put in place of the
student's, so that one mistake costs points once; the report adds whether it also works with the student's own.
"""
import argparse
import copy
import importlib.machinery
import importlib.util
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minivae.nn import kernels, losses, reparam
from minivae.nn.gradcheck import numerical_gradient, numerical_vjp, rel_error
from minivae.nn.layers import Linear
from minivae.models.vae import VAE

TOLERANCE = 1e-6  # an output passes when rel_error(student, reference) < TOLERANCE
SEED = 20131220  # the inputs of every exercise come from np.random.default_rng([SEED, exercise index])

# ======================================================================================================================
# The report
# ======================================================================================================================


@dataclass
class ExerciseResult:
    """How one exercise went.

    name : the function graded;  status : "pass", "fail" or "todo" (still raises NotImplementedError)
    points / max_points : points earned / possible (all or nothing)
    rel_error : the largest relative error over the outputs (None when it could not be computed: a crash, a wrong
    shape, NaN);  message : what went wrong and the likely mistake, or a note on a pass ("" if none)
    checked_against : what the outputs were compared with
    """

    name: str
    status: str
    points: int
    max_points: int
    rel_error: float | None
    message: str
    checked_against: str = ""

    @property
    def passed(self):
        return self.status == "pass"


@dataclass
class GradeReport:
    """The results of grading one file: ``results`` in the order of the exercises, ``import_error`` if the file
    could not be imported (then every exercise has 0 points)."""

    path: str
    results: list = field(default_factory=list)
    import_error: str | None = None

    @property
    def score(self):
        return sum(r.points for r in self.results)

    @property
    def max_score(self):
        return sum(r.max_points for r in self.results)

    @property
    def all_passed(self):
        return self.import_error is None and all(r.passed for r in self.results)

    def result(self, name):
        """The ExerciseResult of the exercise called name."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no exercise called {name!r}; the exercises are {[r.name for r in self.results]}")


def format_report(report, width=100):
    """The report as a student reads it: one row per exercise (result, relative error, points), the hint
    indented below a failing row, and the score on the last line, "Score: X / Y".

    >>> print(format_report(grade("exercises.py")))          # doctest: +SKIP
    """
    lines = [f"Grading {report.path}", ""]
    if report.import_error is not None:
        lines += ["The file could not be imported, so no exercise could be run:",
                  textwrap.indent(report.import_error, "    "),
                  "Fix this first (run `python <file>` to see the full error).", ""]
    name_w = max([len("exercise")] + [len(r.name) for r in report.results])
    lines.append(f"{'exercise':<{name_w}}  result  rel. error  points")
    lines.append(f"{'-' * name_w}  ------  ----------  ------")
    for r in report.results:
        err = "-" if r.rel_error is None else f"{r.rel_error:.1e}"
        status = {"pass": "pass", "fail": "FAIL", "todo": "todo"}[r.status]
        lines.append(f"{r.name:<{name_w}}  {status:<6}  {err:>10}  {r.points:>2} / {r.max_points}")
        if r.message and report.import_error is None:
            for paragraph in r.message.splitlines():
                lines.append(textwrap.fill(paragraph, width, initial_indent="    ", subsequent_indent="      "))
    lines.append("")
    lines.append(f"A correct function agrees to about 1e-8 or better; an exercise passes below "
                 f"1e{round(np.log10(TOLERANCE))}.")
    lines.append(f"Score: {report.score} / {report.max_score}")
    return "\n".join(lines)


# ======================================================================================================================
# Running the student's code
# ======================================================================================================================


class _StudentError(Exception):
    """The student's function raised (``raised`` is True), or returned something that cannot be graded."""

    def __init__(self, message, raised=False):
        super().__init__(message)
        self.raised = raised


def load_module(path):
    """Import a Python file by its path, as a new module each time (no cache, no bytecode file written).

    Raises whatever the file raises while it is imported (SyntaxError, ImportError, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    name = f"_graded_{uuid.uuid4().hex}"
    loader = importlib.machinery.SourceFileLoader(name, str(path))  # explicit, so any file name works
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")  # fresh source, never a stale .pyc
    sys.modules[name] = module  # for the duration of the import (dataclasses and pickling look it up)
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules.pop(name, None)
    return module


def _snapshot(value):
    return copy.deepcopy(value)


def _same(a, b):
    """Whether an argument is unchanged after the call (arrays, dicts of arrays, numbers)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return True


def _call(fn, **arguments):
    """Call the student's fn with the arguments in this order (positionally), on copies of them.

    Any exception becomes a _StudentError naming it; so does a change to an input array (in a network the same
    array often feeds two places, so a backward pass must never modify its inputs).
    """
    copies = {k: _snapshot(v) for k, v in arguments.items()}
    try:
        with np.errstate(all="ignore"):
            result = fn(*copies.values())
    except NotImplementedError:
        raise
    except Exception as err:  # the student's code: anything can happen
        raise _StudentError(f"raised {type(err).__name__}: {err}", raised=True) from err
    for name, original in arguments.items():
        if not _same(original, copies[name]):
            raise _StudentError(f"it modified its input {name!r} in place; leave the inputs unchanged and build new "
                                f"arrays (write y = {name} + ..., not {name} += ... or {name}[...] = ...)")
    return result


def _unpack(result, names):
    """The student's returned tuple as a tuple of len(names) values, or a _StudentError saying what was wrong."""
    if len(names) == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise _StudentError(f"it should return a tuple ({', '.join(names)}), got {got}")
    return tuple(result)


@dataclass
class _Check:
    """One output of one exercise compared with its reference."""

    label: str
    rel_error: float | None
    ok: bool
    hint: str = ""
    specific: bool = True  # False for the catch-all "does not match" (no hypothesis explained the mistake)


def _generic_hypotheses(want, n):
    hyps = [(-want, "sign error: it is minus the correct value"),
            (2 * want, "it is twice the correct value: a missing factor 1/2?"),
            (0.5 * want, "it is half the correct value: an extra factor 1/2 (or a missing 2)?")]
    if n:
        hyps += [(n * want, f"it is N = {n} times the correct value: forgot to average over the batch (divide by N)"),
                 (want / n, f"it is 1/N = 1/{n} of the correct value: divided by N once too often")]
    return hyps


def _compare(label, got, want, fd=None, hypotheses=(), n=None, nonfinite="", fallback="", shape_help=""):
    """Compare the student's output ``got`` with the reference ``want`` (and a finite-difference estimate ``fd``).

    hypotheses : (value a typical mistake would give, hint) pairs, tried before the generic ones (sign, 2x, 1/2x,
    and with n = N given, N x and 1/N x);  nonfinite / fallback / shape_help : extra advice for a NaN, for a mismatch
    no hypothesis explains, for a wrong shape.
    """
    want = np.asarray(want, dtype=np.float64)
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return _Check(label, None, False, f"{label} should be an array of shape {want.shape}, got a "
                                          f"{type(got).__name__}")
    if arr.shape != want.shape:
        if want.ndim == 0:
            hint = f"{label} should be a single number (a float), got an array of shape {arr.shape}"
            if n and arr.shape == (n,):
                hint += ": the per-example values? Return their mean over the batch"
        elif want.ndim == 2 and arr.shape == want.T.shape:
            hint = f"{label} has shape {arr.shape} but should have shape {want.shape}: transposed?"
        else:
            hint = f"{label} has shape {arr.shape}, expected {want.shape}"
        return _Check(label, None, False, hint + (f". {shape_help}" if shape_help else ""))
    if not np.all(np.isfinite(arr)):
        return _Check(label, None, False, f"{label} contains NaN or infinity" + (f": {nonfinite}" if nonfinite else ""))
    err = rel_error(arr, want)
    if fd is not None:
        err = max(err, rel_error(arr, fd))
    if err < TOLERANCE:
        return _Check(label, err, True)
    for alternative, hint in [*hypotheses, *_generic_hypotheses(want, n)]:
        alternative = np.asarray(alternative, dtype=np.float64)
        if alternative.shape == arr.shape and np.all(np.isfinite(alternative)) and rel_error(arr, alternative) < 1e-6:
            return _Check(label, err, False, f"{label}: {hint}")
    if not np.any(arr):
        return _Check(label, err, False, f"{label} is all zeros")
    if fallback:
        return _Check(label, err, False, f"{label}: {fallback}")
    where = ""
    if arr.ndim:
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(arr - want)), arr.shape))
        where = f"; the largest difference is at index {index}"
    return _Check(label, err, False, f"{label} does not match the reference{where}; compare your code with the "
                                     "formula in the docstring", specific=False)


def _rng(index):
    return np.random.default_rng([SEED, index])


def _away_from_zero(x, margin=1e-2):
    """Move entries within margin of 0 out to +/-margin, so that finite differences never step across a kink."""
    return np.where(np.abs(x) < margin, np.where(x < 0, -margin, margin), x)


# ======================================================================================================================
# The exercises: each check takes the student's module and returns a list of _Check
# ======================================================================================================================

N, D, M, L, H = 7, 5, 3, 3, 4  # batch, input and output width of the Linear layer, latent size, hidden size
# N = 7 is neither 2 nor 1/2, so "N times the truth" and "twice the truth" are different hypotheses.


def _linear_layer(W, b):
    layer = Linear(W.shape[0], W.shape[1], dtype=np.float64)
    layer.params["W"][...] = W
    layer.params["b"][...] = b
    return layer


def _check_linear_forward(module, rng):
    x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    want = _linear_layer(W, b).forward(x)
    out = _call(module.linear_forward, x=x, W=W, b=b)
    return [_compare("out", out, want, hypotheses=[(x @ W, "forgot the bias: out = x @ W + b"),
                                                   (x @ W - b, "the bias is added, not subtracted")],
                     shape_help=f"x is (N, D) = {x.shape}, W is (D, M) = {W.shape}")]


def _check_linear_backward(module, rng):
    x, W, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, M))
    layer = _linear_layer(W, b)
    layer.forward(x)
    dx_ref = layer.backward(dout)
    dW_ref, db_ref = layer.grads["W"].copy(), layer.grads["b"].copy()
    f = lambda: x @ W + b  # noqa: E731
    fd = {"dx": numerical_vjp(f, x, dout), "dW": numerical_vjp(f, W, dout), "db": numerical_vjp(f, b, dout)}
    dx, dW, db = _unpack(_call(module.linear_backward, dout=dout, x=x, W=W), ("dx", "dW", "db"))
    no_n = "no 1/N here: dout already carries the batch mean"
    return [
        _compare("dx", dx, dx_ref, fd["dx"], [(dx_ref / N, no_n)],
                 shape_help="dx has the shape of x (N, D): dout (N, M) times the transpose of W, W.T (M, D)"),
        _compare("dW", dW, dW_ref, fd["dW"], [(dW_ref / N, no_n)],
                 shape_help="dW has the shape of W (D, M): the transpose of x, x.T (D, N), times dout (N, M)"),
        _compare("db", db, db_ref, fd["db"], [(dout.mean(axis=0), "db sums dout over the batch, it does not average")],
                 shape_help="db has the shape of b (M,): sum dout over the batch axis (axis=0)"),
    ]


def _check_relu_backward(module, rng):
    x = _away_from_zero(rng.standard_normal((N, D)))
    dout = rng.standard_normal((N, D))
    want = kernels.relu_backward_reference(x, dout)
    fd = numerical_vjp(lambda: kernels.relu_forward_reference(x), x, dout)
    dx = _call(module.relu_backward, dout=dout, x=x)
    return [_compare("dx", dx, want, fd, [
        (dout * x, "multiply dout by the indicator (x > 0), not by x"),
        (dout * np.maximum(x, 0), "multiply dout by the indicator (x > 0), not by relu(x)"),
        (dout * (x < 0), "the gradient passes where x > 0, not where x < 0"),
        ((x > 0).astype(np.float64), "forgot dout: by the chain rule dx = dout * relu'(x)"),
    ])]


def _check_sigmoid_backward(module, rng):
    x = 2 * rng.standard_normal((N, D))
    out = kernels.sigmoid_reference(x)
    dout = rng.standard_normal((N, D))
    want = kernels.sigmoid_backward_reference(out, dout)
    fd = numerical_vjp(lambda: kernels.sigmoid_reference(x), x, dout)
    s = kernels.sigmoid_reference(out)
    dx = _call(module.sigmoid_backward, dout=dout, out=out)
    return [_compare("dx", dx, want, fd, [
        (dout * s * (1 - s), "out is already sigmoid(x): use it directly, sigmoid'(x) = out * (1 - out)"),
        (out * (1 - out), "forgot dout: by the chain rule dx = dout * sigmoid'(x)"),
        (dout * out, "sigmoid'(x) = out * (1 - out), not out"),
    ])]


STABLE_BERNOULLI = ("compute the loss from the logits in a stable form, max(l, 0) - x * l + log1p(exp(-|l|)), "
                    "instead of log(sigmoid(l)), which is log(0) = -inf for large |l|")


def _check_bernoulli(module, rng):
    Dx = 6  # so that "averaged over the D dimensions" (1/6) differs from every other hypothesis
    checks = []
    x = rng.random((N, Dx))
    x[: N // 2] = np.round(x[: N // 2])  # some binary rows, some grey
    moderate = 2 * rng.standard_normal((N, Dx))
    large = rng.choice([-800.0, -60.0, 60.0, 800.0], size=(N, Dx))
    for logits, tag in ((moderate, ""), (large, " (large logits)")):
        nll, want_dl = losses.bernoulli_nll(logits.copy(), x)
        want_loss = float(nll.mean())
        loss, dl = _unpack(_call(module.bernoulli_nll_from_logits, logits=logits, x=x), ("loss_mean", "dlogits"))
        if tag:  # the stability case: exact values, no finite differences across +/-800
            fallback = f"right for moderate logits, wrong for logits of +/-60 and +/-800: {STABLE_BERNOULLI}"
            checks += [_compare("loss_mean" + tag, loss, want_loss, n=N, nonfinite=STABLE_BERNOULLI,
                                fallback=fallback),
                       _compare("dlogits" + tag, dl, want_dl, n=N, nonfinite=STABLE_BERNOULLI, fallback=fallback)]
            continue
        # the NumPy twin of the (parallel) kernel: the same numbers, without a thread pool call per evaluation
        fd = numerical_gradient(lambda: float(kernels.bernoulli_nll_reference(logits, x, 1.0)[0].mean()), logits)
        p = kernels.sigmoid_reference(logits)
        checks += [
            _compare("loss_mean", loss, want_loss, n=N, hypotheses=[
                (want_loss / Dx, "averaged over the D dimensions too: sum over dimensions, mean over the batch")],
                nonfinite=STABLE_BERNOULLI),
            _compare("dlogits", dl, want_dl, fd, n=N, hypotheses=[
                ((p - x) * p * (1 - p) / N, "multiplied by sigmoid'(l) once too often: from the logits the "
                                            "gradient of the loss is simply (sigmoid(l) - x) / N"),
                ((p - x) / (p * (1 - p) * N), "this is the gradient with respect to the probabilities p; with "
                                              "respect to the logits it is (sigmoid(l) - x) / N"),
                (want_dl / Dx, "divided by D as well: the loss sums over dimensions")]),
        ]
    return checks


def _check_kl(module, rng):
    mu = rng.standard_normal((N, L))
    logvar = 0.7 * rng.standard_normal((N, L))
    kl, want_dmu, want_dlv = losses.kl_standard_normal(mu, logvar)
    want_kl = float(kl.mean())
    f = lambda: float(losses.kl_standard_normal(mu, logvar)[0].mean())  # noqa: E731
    fd_mu, fd_lv = numerical_gradient(f, mu), numerical_gradient(f, logvar)
    kl_s, dmu, dlv = _unpack(_call(module.kl_standard_normal, mu=mu, logvar=logvar), ("kl_mean", "dmu", "dlogvar"))
    log_sigma = "logvar is log sigma^2 (the variance), so sigma^2 = exp(logvar), not exp(2 * logvar)"
    return [
        _compare("kl_mean", kl_s, want_kl, n=N, hypotheses=[
            (0.5 * np.sum(mu**2 + np.exp(2 * logvar) - 1 - 2 * logvar) / N, log_sigma),
            (want_kl / L, "averaged over the latent dimensions: sum over them, mean over the batch")]),
        _compare("dmu", dmu, want_dmu, fd_mu, n=N),
        _compare("dlogvar", dlv, want_dlv, fd_lv, n=N, hypotheses=[
            ((np.exp(2 * logvar) - 1) / N, log_sigma),
            (0.5 * np.exp(logvar) / N, "forgot the -1, the derivative of the -logvar term")]),
    ]


def _check_reparameterize(module, rng):
    mu, logvar, eps = rng.standard_normal((N, L)), 0.7 * rng.standard_normal((N, L)), rng.standard_normal((N, L))
    want = reparam.reparameterize(mu, logvar, eps)
    z = _call(module.reparameterize, mu=mu, logvar=logvar, eps=eps)
    return [_compare("z", z, want, hypotheses=[
        (mu + np.exp(logvar) * eps, "logvar is log sigma^2, so sigma = exp(0.5 * logvar); you used exp(logvar)"),
        (mu + logvar * eps, "logvar is not sigma: sigma = exp(0.5 * logvar)"),
        (mu + np.exp(0.5 * logvar), "forgot the noise: z = mu + sigma * eps"),
        (mu + 0.5 * np.exp(logvar) * eps, "sigma = exp(0.5 * logvar): the 1/2 goes inside the exponential"),
    ])]


def _check_reparameterize_backward(module, rng):
    mu, logvar, eps = rng.standard_normal((N, L)), 0.7 * rng.standard_normal((N, L)), rng.standard_normal((N, L))
    dz = rng.standard_normal((N, L))
    want_dmu, want_dlv = reparam.reparameterize_backward(dz, logvar, eps)
    f = lambda: reparam.reparameterize(mu, logvar, eps)  # noqa: E731
    fd_mu, fd_lv = numerical_vjp(f, mu, dz), numerical_vjp(f, logvar, dz)
    dmu, dlv = _unpack(_call(module.reparameterize_backward, dz=dz, mu=mu, logvar=logvar, eps=eps),
                       ("dmu", "dlogvar"))
    sigma = np.exp(0.5 * logvar)
    only_z = "this is the backward of the sampling step only; the KL term's gradient is added by the caller"
    return [
        _compare("dmu", dmu, want_dmu, fd_mu, hypotheses=[
            (dz + mu / N, only_z), (dz * eps, "z depends on mu with slope 1: dmu = dz")]),
        _compare("dlogvar", dlv, want_dlv, fd_lv, hypotheses=[
            (dz * eps * sigma, "missing the factor 1/2: sigma = exp(0.5 * logvar), so d sigma / d logvar = "
                               "0.5 * sigma"),
            (dz * eps * np.exp(logvar), "logvar is log sigma^2, not log sigma: sigma = exp(0.5 * logvar), "
                                        "d sigma / d logvar = 0.5 * sigma"),
            (dz * eps, "forgot d sigma / d logvar = 0.5 * sigma (chain rule)"),
            (dz * 0.5 * sigma, "forgot eps: d z / d sigma = eps"),
            (dz * eps * 0.5 * sigma + 0.5 * (sigma**2 - 1) / N, only_z)]),
    ]


def _check_adam(module, rng):
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
        got = _unpack(_call(module.adam_step, p=p, g=g, m=m, v=v, t=t, lr=lr, beta1=b1, beta2=b2, eps=eps),
                      ("p", "m", "v"))
        got_p, got_m, got_v = (np.asarray(a, dtype=np.float64) for a in got)
        step = lambda mh, vh: -lr * mh / (np.sqrt(vh) + eps)  # noqa: E731
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        no_bias = ("forgot the bias correction: m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t) "
                   "go into the update")
        tag = f" (step t={t})"
        checks += [
            _compare("update p_new - p" + tag, got_p - p if got_p.shape == p.shape else got_p, want_p - p,
                     hypotheses=[
                         (step(want_m, want_v), no_bias),
                         (step(want_m / bc1, want_v), no_bias),
                         (step(want_m, want_v / bc2), no_bias),
                         (step(m / bc1, v / bc2), "update m and v first, then step with the new values"),
                         (lr * want_m / bc1 / (np.sqrt(want_v / bc2) + eps), "sign error: Adam steps against the "
                                                                              "gradient, p - lr * ..."),
                     ], shape_help=f"p_new has the shape of p, {p.shape}"),
            _compare("m" + tag, got_m, want_m, hypotheses=[
                (want_m / bc1, "return the raw moment m, not the bias-corrected m_hat (that is only for the step)")]),
            _compare("v" + tag, got_v, want_v, hypotheses=[
                (want_v / bc2, "return the raw moment v, not the bias-corrected v_hat (that is only for the step)"),
                (b2 * v + (1 - b2) * np.abs(g), "v averages the squared gradient g * g")]),
        ]
    return checks


# ---------------------------------------------------------------------------------------------------- the whole VAE
VAE_KEYS = ("W1", "b1", "W_mu", "b_mu", "W_lv", "b_lv", "W2", "b2", "W3", "b3")
DECODER_KEYS = ("W2", "b2", "W3", "b3")
HELPERS = ("relu_forward", "sigmoid")  # given functions, put back with the building blocks


def _vae_inputs(rng, Dx=6):
    params = {
        "W1": rng.normal(0, np.sqrt(2 / Dx), (Dx, H)), "b1": 0.1 * rng.standard_normal(H),
        "W_mu": rng.normal(0, np.sqrt(1 / H), (H, L)), "b_mu": 0.1 * rng.standard_normal(L),
        "W_lv": rng.normal(0, np.sqrt(1 / H), (H, L)), "b_lv": 0.1 * rng.standard_normal(L),
        "W2": rng.normal(0, np.sqrt(2 / L), (L, H)), "b2": 0.1 * rng.standard_normal(H),
        "W3": rng.normal(0, np.sqrt(1 / H), (H, Dx)), "b3": 0.1 * rng.standard_normal(Dx),
    }
    x = rng.random((N, Dx))
    x[: N // 2] = np.round(x[: N // 2])
    return x, params, rng.standard_normal((N, L))


def _vae_reference(x, params, eps, beta=1.0):
    """Loss, its two terms and the gradients from minivae.models.vae.VAE with these parameters (float64)."""
    vae = VAE(x.shape[1], latent_dim=L, hidden=(H,), likelihood="bernoulli", activation="relu", dtype=np.float64)
    mapping = {"W1": "encoder.0.W", "b1": "encoder.0.b", "W2": "decoder.0.W", "b2": "decoder.0.b",
               "W3": "decoder.2.W", "b3": "decoder.2.b"}
    for k, name in mapping.items():
        vae.params[name][...] = params[k]
    vae.params["encoder.2.W"][...] = np.concatenate([params["W_mu"], params["W_lv"]], axis=1)  # (H, 2L)
    vae.params["encoder.2.b"][...] = np.concatenate([params["b_mu"], params["b_lv"]])
    terms = vae.loss_and_gradients(x, eps=eps, beta=beta)
    grads = {k: vae.grads[name].copy() for k, name in mapping.items()}
    gW, gb = vae.grads["encoder.2.W"], vae.grads["encoder.2.b"]
    grads.update(W_mu=gW[:, :L].copy(), W_lv=gW[:, L:].copy(), b_mu=gb[:L].copy(), b_lv=gb[L:].copy())
    return terms, grads


class _ReferenceBlocks:
    """Within ``with _ReferenceBlocks(module):`` the module's building blocks are the reference ones."""

    def __init__(self, module):
        from minivae.teaching import exercises# only here: the teaching path stays out of everything else's imports

        self.module = module
        self.names = [e.name for e in EXERCISES if e.name != "vae_negative_elbo"] + list(HELPERS)
        self.reference = {name: getattr(exercises, name) for name in self.names}

    def __enter__(self):
        self.saved = {name: self.module.__dict__.get(name, _MISSING) for name in self.names}
        self.module.__dict__.update(self.reference)
        return self

    def __exit__(self, *exc):
        for name, fn in self.saved.items():
            if fn is _MISSING:
                self.module.__dict__.pop(name, None)
            else:
                self.module.__dict__[name] = fn


_MISSING = object()


def _vae_outputs(module, x, params, eps):
    loss, grads = _unpack(_call(module.vae_negative_elbo, x=x, params=params, eps=eps), ("loss", "grads"))
    if not isinstance(grads, dict):
        raise _StudentError(f"grads should be a dict with the keys of params, got a {type(grads).__name__}")
    if set(grads) != set(VAE_KEYS):
        raise _StudentError(f"grads should have exactly the keys of params; missing: "
                            f"{sorted(set(VAE_KEYS) - set(grads))}, unexpected: {sorted(set(grads) - set(VAE_KEYS))}")
    return loss, grads


def _vae_checks(loss, grads, terms, want, want_no_kl):
    rec, kl = terms.reconstruction, terms.kl
    checks = [_compare("loss", loss, terms.loss, n=N, hypotheses=[
        (rec, "the loss has no KL term: loss = reconstruction + KL"),
        (rec - kl, "add the KL term, do not subtract it: -ELBO = reconstruction + KL"),
        (kl, "the loss has no reconstruction term: loss = reconstruction + KL"),
        (-terms.loss, "that is the ELBO; return its negative, the loss to minimise")])]
    for k in VAE_KEYS:
        hyps = [] if k in DECODER_KEYS else [(want_no_kl[k], "the KL term's gradients are missing: add dmu and "
                                                              "dlogvar from kl_standard_normal to those through z")]
        checks.append(_compare(f"grads[{k!r}]", grads[k], want[k], n=N, hypotheses=hyps,
                               shape_help=f"it has the shape of params[{k!r}]"))
    return checks


def _check_vae(module, rng):
    x, params, eps = _vae_inputs(rng)
    terms, want = _vae_reference(x, params, eps)
    _, want_no_kl = _vae_reference(x, params, eps, beta=0.0)
    with _ReferenceBlocks(module):
        loss, grads = _vae_outputs(module, x, params, eps)
        checks = _vae_checks(loss, grads, terms, want, want_no_kl)
        if not checks[0].ok:  # a wrong loss: do the student's gradients at least match their own loss?
            own = {k: np.array(p) for k, p in params.items()}
            f = lambda: float(module.vae_negative_elbo(x, own, eps)[0])  # noqa: E731
            try:
                with np.errstate(all="ignore"):
                    consistent = all(np.shape(grads[k]) == own[k].shape
                                     and rel_error(grads[k], numerical_gradient(f, own[k])) < 1e-5 for k in VAE_KEYS)
            except Exception:  # the student's loss cannot even be differentiated numerically
                consistent = False
            if consistent:
                checks[0].hint += (" (Your gradients agree with finite differences of your own loss, so the "
                                   "backward pass is consistent: the mistake is in the forward pass or the loss.)")
    bad = [c for c in checks[1:] if not c.ok]
    if bad:  # a summary first, then the hints of the first wrong arrays
        summary = f"wrong gradients: {', '.join(c.label for c in bad)}"
        if checks[0].ok and all(c.label.split("'")[1] not in DECODER_KEYS for c in bad):
            summary += (". The decoder's gradients are right, the encoder's are not: check the backward from dz on "
                        "(reparameterize_backward, the KL gradients added to dmu and dlogvar, the two heads' "
                        "gradients summed into dh1, relu_backward)")
        errors = [c.rel_error for c in bad]
        for c in bad:
            if not c.specific:
                c.hint = ""  # the summary says it; only the arrays with a diagnosed mistake get a line of their own
        checks.insert(1, _Check("grads", None if None in errors else max(errors), False, summary))
    return checks


def _vae_end_to_end_note(module, rng, failed_before):
    """After the VAE passed with the reference building blocks: does it also with the student's own?"""
    x, params, eps = _vae_inputs(rng)
    terms, want = _vae_reference(x, params, eps)
    try:
        loss, grads = _vae_outputs(module, x, params, eps)
    except NotImplementedError:
        return ("Graded with the reference building blocks. With your own it does not run yet: some of the "
                "exercises it uses are not implemented.")
    except _StudentError as err:
        return f"Graded with the reference building blocks. With your own it fails: {err}"
    errors = [_compare("loss", loss, terms.loss)] + [_compare(k, grads[k], want[k]) for k in VAE_KEYS]
    if all(c.ok for c in errors):
        return ""
    worst = max((c.rel_error for c in errors if c.rel_error is not None), default=None)
    size = "" if worst is None else f" (rel. error {worst:.1e})"
    culprits = ", ".join(failed_before) if failed_before else "the building blocks"
    return f"Graded with the reference building blocks. With your own the result is off{size}: fix {culprits}."


# ---------------------------------------------------------------------------------------------------- the list
@dataclass(frozen=True)
class Exercise:
    """One graded function: its name in the exercise file, its points, its check, what it is compared with."""

    name: str
    points: int
    check: object  # check(module, rng) -> list of _Check
    checked_against: str
    on_error: str = ""  # advice added when the student's function raises


EXERCISES = (
    Exercise("linear_forward", 1, _check_linear_forward, "minivae.nn.layers.Linear",
             "Check the shapes: x is (N, D), W is (D, M), b is (M,), out must be (N, M)."),
    Exercise("linear_backward", 2, _check_linear_backward, "minivae.nn.layers.Linear, finite differences",
             "Check the shapes: x is (N, D), W is (D, M), dout is (N, M); dx must be (N, D) like x, dW (D, M) like "
             "W, db (M,) like b. dout times W only fits with the transpose, W.T (M, D)."),
    Exercise("relu_backward", 1, _check_relu_backward, "minivae.nn.kernels.relu_backward_reference, finite differences"),
    Exercise("sigmoid_backward", 1, _check_sigmoid_backward,
             "minivae.nn.kernels.sigmoid_backward_reference, finite differences"),
    Exercise("bernoulli_nll_from_logits", 2, _check_bernoulli, "minivae.nn.losses.bernoulli_nll, finite differences"),
    Exercise("kl_standard_normal", 2, _check_kl, "minivae.nn.losses.kl_standard_normal, finite differences"),
    Exercise("reparameterize", 1, _check_reparameterize, "minivae.nn.reparam.reparameterize"),
    Exercise("reparameterize_backward", 2, _check_reparameterize_backward,
             "minivae.nn.reparam.reparameterize_backward, finite differences"),
    Exercise("adam_step", 2, _check_adam, "minivae.nn.kernels.adam_update_reference"),
    Exercise("vae_negative_elbo", 4, _check_vae, "minivae.models.vae.VAE (hidden=(H,), Bernoulli likelihood)",
             "Compare the shape of each intermediate array with the table in the docstring."),
)


def _grade_one(exercise, index, module, failed_before=()):
    """Run one exercise; whatever happens in the student's code only affects this exercise.

    failed_before : the names of the exercises that failed so far (the VAE's end-to-end note names them).
    """
    def result(status, rel_error, message):
        points = exercise.points if status == "pass" else 0
        return ExerciseResult(exercise.name, status, points, exercise.points, rel_error, message,
                              exercise.checked_against)

    if not callable(getattr(module, exercise.name, None)):
        return result("fail", None, f"the file has no function called {exercise.name}; keep the names of the "
                                    "template")
    try:
        checks = exercise.check(module, _rng(index))
    except NotImplementedError as err:
        return result("todo", None, f"not implemented yet ({err})" if str(err) else "not implemented yet")
    except _StudentError as err:
        advice = f"\n{exercise.on_error}" if err.raised and exercise.on_error else ""
        return result("fail", None, f"{exercise.name}: {err}{advice}")
    except Exception as err:  # a return value so odd that comparing it failed
        return result("fail", None, f"could not check the output of {exercise.name} ({type(err).__name__}: {err})")
    errors = [c.rel_error for c in checks]
    rel = None if None in errors else max(errors)  # "-" in the report when an output could not be compared
    hints = []
    for c in checks:  # at most three different hints (the same mistake shows in several test cases)
        if not c.ok and c.hint and c.hint.split(": ", 1)[-1] not in [h.split(": ", 1)[-1] for h in hints]:
            hints.append(c.hint)
    if not all(c.ok for c in checks):
        return result("fail", rel, "\n".join(hints[:3]))
    note = ""
    if exercise.name == "vae_negative_elbo":
        note = _vae_end_to_end_note(module, _rng(index), failed_before)
    return result("pass", rel, note)


def grade(path):
    """Grade a student's exercise file; return a GradeReport (print it with ``format_report``).

    path : the student's copy of the exercises (a .py file). It is imported as a fresh module; if that fails (a
    SyntaxError, a missing file, an error at import time), every exercise gets 0 and ``import_error`` says why.

    Example
    -------
    >>> from minivae.teaching.assignments import PACKAGED_EXERCISES
    >>> from minivae.teaching.grading import grade, format_report
    >>> report = grade(PACKAGED_EXERCISES)                      # the reference solutions
    >>> report.score == report.max_score
    True
    """
    report = GradeReport(path=str(path))
    try:
        module = load_module(path)
    except (Exception, SystemExit) as err:
        report.import_error = f"{type(err).__name__}: {err}"
        report.results = [ExerciseResult(e.name, "fail", 0, e.points, None, "not run: the file does not import",
                                         e.checked_against) for e in EXERCISES]
        return report
    for i, exercise in enumerate(EXERCISES):
        failed = [r.name for r in report.results if not r.passed]
        report.results.append(_grade_one(exercise, i, module, failed))
    return report


# ======================================================================================================================
# Command line
# ======================================================================================================================


def main_grade(argv=None):
    """``python -m minivae grade PATH``: grade a file, print the report; return 0 if every exercise passes, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m minivae grade",
        description="Grade your exercise file: each function is compared with minivae's own implementation and with "
                    "finite differences. Exit code 0 when every exercise passes, 1 otherwise.")
    parser.add_argument("path", help="your copy of the exercises, e.g. exercises.py")
    args = parser.parse_args(argv)
    report = grade(args.path)
    print(format_report(report))
    return 0 if report.all_passed else 1
