"""How the grader judges one output of a student's function: it calls the function safely, compares each output
with the reference (and with finite differences), and names the mistake a wrong output most likely comes from.

A check (``minivae.teaching.checks_layers``, ``minivae.teaching.checks_vae``) is written with three tools:

    call_student(fn, **arguments)   the student's fn on copies of the arguments; a crash or an argument changed in
                                    place becomes a StudentError that says so
    unpack_outputs(result, names)   the returned tuple, or a StudentError saying how many values were expected
    compare(label, got, want, ...)  a Check: passed (``rel_error < TOLERANCE``) or failed, with a hint

Matching mistakes to hints
--------------------------
When an output is wrong, ``compare`` tries hypotheses: each is the value a known mistake would give (computed by the
check from the reference), paired with the hint that names it. The check's own hypotheses come first (logvar read
as log sigma, a forgotten bias, ...), then the generic ones: minus the truth, twice it, half of it, and with the
batch size N given, N times it or 1/N of it. The first hypothesis that fits the output to ``rel_error < 1e-6`` gives
the hint; if none fits, the hint points at the index of the largest difference.
"""
import copy
from dataclasses import dataclass

import numpy as np

from minivae.nn.gradcheck import rel_error

TOLERANCE = 1e-6  # an output passes when rel_error(student, reference) < TOLERANCE
DEFAULT_SEED = 20131220  # the seed of a check called without an rng (the grader passes a fresh one per run)


def default_rng(rng=None):
    """rng itself, or a np.random.Generator seeded with DEFAULT_SEED when rng is None."""
    return np.random.default_rng(DEFAULT_SEED) if rng is None else rng


# ======================================================================================================================
# Named mistakes: the hint each one gets, in the words of a student
# ======================================================================================================================

HINTS = {
    "relu_mask_at_zero": "wrong where x is exactly 0: relu'(0) is taken as 0, so the mask is x > 0, not x >= 0",
    "relu_mask_negative": "the gradient passes where x > 0, not where x < 0",
    "relu_mask_nonpositive": "the mask is inverted: the gradient passes where x > 0, not where x <= 0",
    "relu_mask_all": "dx is dout everywhere: the mask lets every entry through. A mask from the output, relu(x) >= 0, "
                     "is always true; mask with the input: dout * (x > 0)",
    "relu_mask_from_dout": "the mask comes from the forward pass's input x, not from the upstream gradient dout: "
                           "dout * (x > 0)",
    "relu_times_x": "multiply dout by the indicator (x > 0), not by x",
    "relu_times_relu": "multiply dout by the indicator (x > 0), not by relu(x)",
    "relu_no_dout": "forgot dout: by the chain rule dx = dout * relu'(x)",
    "sigmoid_twice": "sigmoid applied twice: out is already sigmoid(x), so sigmoid'(x) = out * (1 - out); do not "
                     "call sigmoid(out)",
    "sigmoid_twice_no_dout": "sigmoid applied twice, and dout forgotten: out is already sigmoid(x), and "
                             "dx = dout * out * (1 - out)",
    "bernoulli_sigmoid_twice": "sigmoid applied twice: the inputs are logits, so p = sigmoid(logits) once; do not "
                               "pass probabilities where logits are expected",
    "adam_eps_inside_sqrt": "eps is inside the square root: the step is lr * m_hat / (sqrt(v_hat) + eps), not "
                            "lr * m_hat / sqrt(v_hat + eps). With small gradients (v_hat near eps) that changes the "
                            "step a lot",
    "adam_t_minus_one": "the bias correction uses t - 1 instead of t: the first step is t = 1, and 1 - beta**(t - 1) "
                        "= 0 there, a division by zero (NaN or infinity). Use m / (1 - beta1**t), v / (1 - beta2**t)",
    "adam_t_plus_one": "the bias correction uses t + 1 instead of t: the step number t is already 1 at the first "
                       "step. Use m / (1 - beta1**t), v / (1 - beta2**t)",
    "adam_no_bias_correction": "forgot the bias correction: m_hat = m / (1 - beta1**t) and v_hat = v / "
                               "(1 - beta2**t) go into the update",
    "adam_old_moments": "update m and v first, then step with the new values",
    "adam_sign": "sign error: Adam steps against the gradient, p - lr * ...",
    "adam_no_sqrt": "the step divides by sqrt(v_hat) + eps, the square root of the second moment, not by v_hat",
    "adam_corrected_m_returned": "return the raw moment m, not the bias-corrected m_hat (that is only for the step)",
    "adam_corrected_v_returned": "return the raw moment v, not the bias-corrected v_hat (that is only for the step)",
    "adam_abs_not_square": "v averages the squared gradient g * g",
    "adam_beta_swapped": "beta1 and beta2 are swapped: m uses beta1 (0.9), v uses beta2 (0.999)",
}

# ======================================================================================================================
# Calling the student's code safely
# ======================================================================================================================


class StudentError(Exception):
    """The student's function raised (``raised`` is True), or returned something that cannot be graded."""

    def __init__(self, message, raised=False):
        super().__init__(message)
        self.raised = raised


def _snapshot(value):
    return copy.deepcopy(value)


def _same(a, b):
    """Whether an argument is unchanged after the call (arrays, dicts of arrays, numbers)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return True


def call_student(fn, **arguments):
    """Call the student's fn with the arguments in this order (positionally), on copies of them.

    Any exception becomes a StudentError naming it; so does a change to an input array (in a network the same
    array often feeds two places, so a backward pass must never modify its inputs).
    """
    copies = {k: _snapshot(v) for k, v in arguments.items()}
    try:
        with np.errstate(all="ignore"):
            result = fn(*copies.values())
    except NotImplementedError:
        raise
    except Exception as err:  # the student's code: anything can happen
        raise StudentError(f"raised {type(err).__name__}: {err}", raised=True) from err
    for name, original in arguments.items():
        if not _same(original, copies[name]):
            raise StudentError(f"it modified its input {name!r} in place; leave the inputs unchanged and build new "
                               f"arrays (write y = {name} + ..., not {name} += ... or {name}[...] = ...)")
    return result


def unpack_outputs(result, names):
    """The student's returned tuple as a tuple of len(names) values, or a StudentError saying what was wrong."""
    if len(names) == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise StudentError(f"it should return a tuple ({', '.join(names)}), got {got}")
    return tuple(result)


# ======================================================================================================================
# Comparing an output with its reference, and naming the mistake
# ======================================================================================================================


@dataclass
class Check:
    """One output of one exercise compared with its reference."""

    label: str
    rel_error: float | None
    ok: bool
    hint: str = ""
    specific: bool = True  # False for the catch-all "does not match" (no hypothesis explained the mistake)


def _generic_hypotheses(want, n):
    """The (value, hint) pairs of the mistakes any output can have: a sign, a factor 2 or 1/2, a batch size N."""
    hyps = [(-want, "sign error: it is minus the correct value"),
            (2 * want, "it is twice the correct value: a missing factor 1/2?"),
            (0.5 * want, "it is half the correct value: an extra factor 1/2 (or a missing 2)?")]
    if n:
        hyps += [(n * want, f"it is N = {n} times the correct value: forgot to average over the batch (divide by N)"),
                 (want / n, f"it is 1/N = 1/{n} of the correct value: divided by N once too often")]
    return hyps


def compare(label, got, want, fd=None, hypotheses=(), n=None, nonfinite="", fallback="", shape_help=""):
    """Compare the student's output ``got`` with the reference ``want`` (and a finite-difference estimate ``fd``).

    hypotheses : (value a typical mistake would give, hint) pairs, tried before the generic ones (sign, 2x, 1/2x,
    and with n = N given, N x and 1/N x);  nonfinite / fallback / shape_help : extra advice for a NaN, for a mismatch
    no hypothesis explains, for a wrong shape.
    """
    want = np.asarray(want, dtype=np.float64)
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return Check(label, None, False, f"{label} should be an array of shape {want.shape}, got a "
                                         f"{type(got).__name__}")
    if arr.shape != want.shape:
        if want.ndim == 0:
            hint = f"{label} should be a single number (a float), got an array of shape {arr.shape}"
            if n and arr.shape == (n,):
                hint += ": the per-example values? Return their mean over the batch"
        elif want.ndim == 1 and arr.ndim == 0:
            hint = (f"{label} should have shape {want.shape}, one value per example, got a single number: return "
                    "the per-example values, not their mean")
        elif want.ndim == 2 and arr.shape == want.T.shape:
            hint = f"{label} has shape {arr.shape} but should have shape {want.shape}: transposed?"
        else:
            hint = f"{label} has shape {arr.shape}, expected {want.shape}"
        return Check(label, None, False, hint + (f". {shape_help}" if shape_help else ""))
    if not np.all(np.isfinite(arr)):
        return Check(label, None, False, f"{label} contains NaN or infinity" + (f": {nonfinite}" if nonfinite else ""))
    err = rel_error(arr, want)
    if fd is not None:
        err = max(err, rel_error(arr, fd))
    if err < TOLERANCE:
        return Check(label, err, True)
    for alternative, hint in [*hypotheses, *_generic_hypotheses(want, n)]:
        alternative = np.asarray(alternative, dtype=np.float64)
        if alternative.shape == arr.shape and np.all(np.isfinite(alternative)) and rel_error(arr, alternative) < 1e-6:
            return Check(label, err, False, f"{label}: {hint}")
    if not np.any(arr):
        return Check(label, err, False, f"{label} is all zeros")
    if fallback:
        return Check(label, err, False, f"{label}: {fallback}")
    where = ""
    if arr.ndim:
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(arr - want)), arr.shape))
        where = f"; the largest difference is at index {index}"
    return Check(label, err, False, f"{label} does not match the reference{where}; compare your code with the "
                                    "formula in the docstring", specific=False)


def away_from_zero(x, margin=1e-2):
    """Move entries within margin of 0 out to +/-margin, so that finite differences never step across a kink."""
    return np.where(np.abs(x) < margin, np.where(x < 0, -margin, margin), x)

