"""The planted-mistake suite: each row plants one typical student mistake in the reference solutions and asserts
that the grader fails exactly that exercise, with a hint that names the mistake.

The rows are graded on the in-process path (``minivae.teaching.grader.grade``): they test the checks and their hints
(``minivae.teaching.checks_layers``, ``minivae.teaching.checks_vae``, ``minivae.teaching.compare.HINTS``), not the
isolation of the student's code. Each also runs under other seeds, since the grader draws fresh inputs and sizes.
"""
import numpy as np
import pytest

from minivae.teaching.assignments import REFERENCE_SOLUTIONS
from minivae.teaching.checks import EXERCISES
from minivae.teaching.grader import format_report, grade

REFERENCE = REFERENCE_SOLUTIONS.read_text(encoding="utf-8")
BY_NAME = {e.name: e for e in EXERCISES}

# name: (exercise, the reference code, the wrong code, a fragment the hint must contain)
PLANTED = {
    # the affine layer
    "linear_no_bias": ("linear_forward", "out = x @ W + b", "out = x @ W", "forgot the bias"),
    "linear_bias_subtracted": ("linear_forward", "out = x @ W + b", "out = x @ W - b", "added, not subtracted"),
    "linear_operands_swapped": ("linear_forward", "out = x @ W + b", "out = W @ x + b", "raised ValueError"),
    "linear_dx_no_transpose": ("linear_backward", "dx = dout @ W.T", "dx = dout @ W", "W.T"),
    "linear_dW_extra_mean": ("linear_backward", "dW = x.T @ dout", "dW = x.T @ dout / x.shape[0]", "no 1/N here"),
    "linear_db_mean": ("linear_backward", "db = dout.sum(axis=0)", "db = dout.mean(axis=0)", "does not average"),
    "linear_db_wrong_axis": ("linear_backward", "db = dout.sum(axis=0)", "db = dout.sum(axis=1)", "sum dout over the "
                             "batch axis (axis=0)"),
    "linear_dW_transposed": ("linear_backward", "dW = x.T @ dout", "dW = dout.T @ x", "transposed?"),
    # ReLU backward
    "relu_mask_at_zero": ("relu_backward", "dx = dout * (x > 0)", "dx = dout * (x >= 0)", "not x >= 0"),
    "relu_where_negative": ("relu_backward", "dx = dout * (x > 0)", "dx = dout * (x < 0)", "not where x < 0"),
    "relu_inverted": ("relu_backward", "dx = dout * (x > 0)", "dx = dout * (x <= 0)", "the mask is inverted"),
    "relu_times_x": ("relu_backward", "dx = dout * (x > 0)", "dx = dout * x", "not by x"),
    "relu_times_output": ("relu_backward", "dx = dout * (x > 0)", "dx = dout * relu_forward(x)", "not by relu(x)"),
    "relu_mask_from_output": ("relu_backward", "dx = dout * (x > 0)", "dx = dout * (relu_forward(x) >= 0)",
                              "mask with the input"),
    "relu_mask_from_dout": ("relu_backward", "dx = dout * (x > 0)", "dx = dout * (dout > 0)",
                            "not from the upstream gradient dout"),
    "relu_no_dout": ("relu_backward", "dx = dout * (x > 0)", "dx = (x > 0) * 1.0", "forgot dout"),
    "relu_in_place": ("relu_backward", "dx = dout * (x > 0)", "dout[x <= 0] = 0\n    dx = dout",
                      "modified its input 'dout' in place"),
    # sigmoid backward
    "sigmoid_twice": ("sigmoid_backward", "dx = dout * out * (1 - out)",
                      "dx = dout * sigmoid(out) * (1 - sigmoid(out))", "sigmoid applied twice"),
    "sigmoid_missing_factor": ("sigmoid_backward", "dx = dout * out * (1 - out)", "dx = dout * out", "not out"),
    "sigmoid_no_dout": ("sigmoid_backward", "dx = dout * out * (1 - out)", "dx = out * (1 - out)", "forgot dout"),
    "sigmoid_raises": ("sigmoid_backward", "dx = dout * out * (1 - out)", "dx = dout * out * (1 - out)[0, 0, 0]",
                       "raised IndexError: too many indices"),
    # the Bernoulli loss
    "bernoulli_no_batch_mean": ("bernoulli_nll_from_logits", "dlogits = (sigmoid(logits) - x) / N",
                                "dlogits = sigmoid(logits) - x", "divide by N"),
    "bernoulli_sign": ("bernoulli_nll_from_logits", "dlogits = (sigmoid(logits) - x) / N",
                       "dlogits = (x - sigmoid(logits)) / N", "sign error"),
    "bernoulli_sigmoid_twice": ("bernoulli_nll_from_logits", "dlogits = (sigmoid(logits) - x) / N",
                                "dlogits = (sigmoid(sigmoid(logits)) - x) / N", "sigmoid applied twice"),
    "bernoulli_mean_over_d": ("bernoulli_nll_from_logits", "loss_mean = float(nll.sum() / N)",
                              "loss_mean = float(nll.mean())", "averaged over the D dimensions too"),
    "bernoulli_per_example": ("bernoulli_nll_from_logits", "loss_mean = float(nll.sum() / N)",
                              "loss_mean = nll.sum(axis=1)", "Return their mean over the batch"),
    "bernoulli_unstable": ("bernoulli_nll_from_logits",
                           "nll = np.maximum(logits, 0) - x * logits + np.log1p(np.exp(-np.abs(logits)))  # (N, D)",
                           "p = sigmoid(logits)\n    nll = -(x * np.log(p) + (1 - x) * np.log(1 - p))",
                           "log1p(exp(-|l|))"),
    # the KL term
    "kl_dlogvar_sign": ("kl_standard_normal", "dlogvar = 0.5 * (var - 1) / N", "dlogvar = 0.5 * (1 - var) / N",
                        "sign error"),
    "kl_logvar_as_log_sigma": ("kl_standard_normal", "var = np.exp(logvar)", "var = np.exp(2 * logvar)",
                               "logvar is log sigma^2"),
    "kl_dmu_no_mean": ("kl_standard_normal", "dmu = mu / N", "dmu = mu", "forgot to average over the batch"),
    "kl_mean_over_latent": ("kl_standard_normal", "kl = 0.5 * np.sum(mu**2 + var - 1 - logvar, axis=1)",
                            "kl = 0.5 * np.mean(mu**2 + var - 1 - logvar, axis=1)", "averaged over the latent"),
    "kl_forgot_minus_one": ("kl_standard_normal", "dlogvar = 0.5 * (var - 1) / N", "dlogvar = 0.5 * var / N",
                            "forgot the -1"),
    "kl_raises": ("kl_standard_normal", "N = mu.shape[0]", "N = mu.shape[0] // 0", "raised ZeroDivisionError"),
    # the reparameterization
    "reparam_exp_logvar": ("reparameterize", "sigma = np.exp(0.5 * logvar)", "sigma = np.exp(logvar)",
                           "you used exp(logvar)"),
    "reparam_no_noise": ("reparameterize", "z = mu + sigma * eps", "z = mu + sigma", "forgot the noise"),
    "reparam_logvar_as_sigma": ("reparameterize", "sigma = np.exp(0.5 * logvar)", "sigma = logvar",
                                "logvar is not sigma"),
    "reparam_backward_missing_half": ("reparameterize_backward", "dz * eps * 0.5 * sigma", "dz * eps * sigma",
                                      "missing the factor 1/2"),
    "reparam_backward_no_chain": ("reparameterize_backward", "dz * eps * 0.5 * sigma", "dz * eps",
                                  "forgot d sigma / d logvar"),
    "reparam_backward_one_output": ("reparameterize_backward", "return dmu, dlogvar", "return dmu",
                                    "should return a tuple (dmu, dlogvar)"),
    # Adam
    "adam_eps_inside_sqrt": ("adam_step", "(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)",
                             "eps is inside the square root"),
    "adam_t_minus_one": ("adam_step", "m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)",
                         "m_hat = m / (1 - beta1**(t - 1))\n    v_hat = v / (1 - beta2**(t - 1))",
                         "uses t - 1 instead of t"),
    "adam_t_plus_one": ("adam_step", "m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)",
                        "m_hat = m / (1 - beta1**(t + 1))\n    v_hat = v / (1 - beta2**(t + 1))",
                        "uses t + 1 instead of t"),
    "adam_no_bias_correction": ("adam_step", "m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)",
                                "m_hat = m\n    v_hat = v", "forgot the bias correction"),
    "adam_sign": ("adam_step", "p = p - lr", "p = p + lr", "Adam steps against the gradient"),
    "adam_abs_gradient": ("adam_step", "(1 - beta2) * g * g", "(1 - beta2) * np.abs(g)", "squared gradient"),
    "adam_returns_m_hat": ("adam_step", "return p, m, v", "return p, m_hat, v", "return the raw moment m"),
    "adam_betas_swapped": ("adam_step", "m = beta1 * m + (1 - beta1) * g\n    v = beta2 * v + (1 - beta2) * g * g",
                           "m = beta2 * m + (1 - beta2) * g\n    v = beta1 * v + (1 - beta1) * g * g",
                           "beta1 and beta2 are swapped"),
    "adam_no_sqrt": ("adam_step", "(np.sqrt(v_hat) + eps)", "(v_hat + eps)", "the square root of the second moment"),
    # the whole VAE
    "vae_loss_without_kl": ("vae_negative_elbo", "loss = reconstruction + float(kl.mean())", "loss = reconstruction",
                            "the loss has no KL term"),
    "vae_kl_subtracted": ("vae_negative_elbo", "loss = reconstruction + float(kl.mean())",
                          "loss = reconstruction - float(kl.mean())", "do not subtract it"),
    "vae_elbo_not_negated": ("vae_negative_elbo", "loss = reconstruction + float(kl.mean())",
                             "loss = -(reconstruction + float(kl.mean()))", "that is the ELBO"),
    "vae_halves_swapped": ("vae_negative_elbo", "mu, logvar = h[:, :L], h[:, L:]", "logvar, mu = h[:, :L], h[:, L:]",
                           "mu and logvar are swapped"),
    "vae_gradient_halves_swapped": ("vae_negative_elbo", "dh = np.concatenate([dmu, dlogvar], axis=1)",
                                    "dh = np.concatenate([dlogvar, dmu], axis=1)", "stacked in the wrong order"),
    "vae_kl_gradients_missing": ("vae_negative_elbo",
                                 "dmu = dmu + dmu_kl  # mu reaches the loss through z and through the KL term\n"
                                 "    dlogvar = dlogvar + dlogvar_kl", "pass",
                                 "the KL term's gradients are missing"),
    "vae_sigmoid_twice": ("vae_negative_elbo", "bernoulli_nll_from_logits(logits, x)",
                          "bernoulli_nll_from_logits(sigmoid(logits), x)", "sigmoid applied twice"),
}


def mutate(source, function, old, new):
    """Replace ``old`` by ``new`` in the code of one function after its docstring (its solution region and its
    return line), where it must occur exactly once."""
    start = source.index("### BEGIN SOLUTION", source.index(f"\ndef {function}("))
    end = source.find("\ndef ", start)
    end = len(source) if end < 0 else end
    region = source[start:end]
    assert region.count(old) == 1, f"{old!r} should occur once in {function}; update the row with the reference"
    return source[:start] + region.replace(old, new) + source[end:]


def test_the_suite_is_large_and_covers_every_exercise():
    assert len(PLANTED) >= 30
    assert {row[0] for row in PLANTED.values()} == set(BY_NAME)


@pytest.fixture(scope="module")
def planted_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    paths = {}
    for name, (function, old, new, _) in PLANTED.items():
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(mutate(REFERENCE, function, old, new), encoding="utf-8")
    return paths


@pytest.mark.parametrize("mistake", sorted(PLANTED))
def test_a_planted_mistake_fails_its_exercise_with_a_hint_that_names_it(planted_files, mistake):
    function, _, _, fragment = PLANTED[mistake]
    report = grade(planted_files[mistake], seed=0, isolated=False)  # the checks and hints, not the isolation
    failed = [r.name for r in report.results if not r.passed]
    assert failed == [function], format_report(report)
    result = report.result(function)
    assert result.status == "fail" and result.points == 0
    assert fragment in result.message, (fragment, result.message)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_hints_hold_for_other_inputs_and_sizes(planted_files, seed):
    # The grader draws fresh inputs (and sizes) per run: every hint must name its mistake whatever the seed.
    missed = {}
    for mistake, (function, _, _, fragment) in PLANTED.items():
        result = grade(planted_files[mistake], seed=seed, isolated=False).result(function)
        if result.passed or fragment not in result.message:
            missed[mistake] = result.message
    assert not missed
