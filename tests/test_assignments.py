"""Tests for the teaching assignment: the reference solutions in the teacher's file teacher/solutions.py (against
finite differences and the library), the student version made from them, and the grader (full marks, zero, planted
mistakes, hints)."""
import re

import numpy as np
import pytest

from minivae.nn import kl, losses, reparam
from minivae.teaching.assignments import (
    BEGIN_MARKER, END_MARKER, PACKAGED_EXERCISES, REFERENCE_SOLUTIONS, STUDENT_TEMPLATE, main_make_student,
    make_student_version, strip_solutions,
)
from minivae.teaching.checks import EXERCISES
from minivae.teaching.grader import format_report, grade, load_module, main_grade
from minivae.nn.gradcheck import numerical_gradient, numerical_vjp, rel_error

ex = load_module(REFERENCE_SOLUTIONS)  # the teacher's solutions: in the repository, not in the package

TOL = 1e-6
REFERENCE = PACKAGED_EXERCISES.read_text(encoding="utf-8")
MAX_SCORE = sum(e.points for e in EXERCISES)


@pytest.fixture(scope="module")
def reference_report():
    return grade(PACKAGED_EXERCISES, seed=0)  # one fixed run; other seeds: test_reference_passes_whatever_the_seed


def mutate(source, function, old, new):
    """Replace ``old`` by ``new`` inside the body of one function, where it must occur exactly once."""
    start = source.index(f"\ndef {function}(")
    end = source.find("\ndef ", start + 1)
    end = len(source) if end < 0 else end
    body = source[start:end]
    assert body.count(old) == 1, f"{old!r} should occur once in {function}; update the test with the reference"
    return source[:start] + body.replace(old, new) + source[end:]


# ------------------------------------------------------------------------------------- the reference solutions
def test_reference_linear_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, W, b, dout = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3), \
        rng.standard_normal((4, 3))
    dx, dW, db = ex.linear_backward(dout, x, W)
    f = lambda: ex.linear_forward(x, W, b)  # noqa: E731
    assert rel_error(dx, numerical_vjp(f, x, dout)) < TOL
    assert rel_error(dW, numerical_vjp(f, W, dout)) < TOL
    assert rel_error(db, numerical_vjp(f, b, dout)) < TOL


def test_reference_activation_backwards_match_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 1e-2] = 0.5  # no finite difference across the kink of relu
    dout = rng.standard_normal((4, 6))
    assert rel_error(ex.relu_backward(dout, x), numerical_vjp(lambda: ex.relu_forward(x), x, dout)) < TOL
    out = ex.sigmoid(x)
    assert rel_error(ex.sigmoid_backward(dout, out), numerical_vjp(lambda: ex.sigmoid(x), x, dout)) < TOL


def test_reference_losses_match_finite_differences_and_the_library():
    rng = np.random.default_rng(2)
    logits, x = 3 * rng.standard_normal((5, 4)), rng.random((5, 4))
    loss, dlogits = ex.bernoulli_nll_from_logits(logits, x)
    assert rel_error(dlogits, numerical_gradient(lambda: ex.bernoulli_nll_from_logits(logits, x)[0], logits)) < TOL
    assert np.isclose(loss, losses.bernoulli_nll(logits, x)[0].mean(), rtol=1e-12)
    big = np.array([[800.0, -800.0, 60.0, -60.0]])
    loss_big, _ = ex.bernoulli_nll_from_logits(big, np.array([[0.0, 1.0, 0.0, 1.0]]))
    assert np.isclose(loss_big, 800 + 800 + 60 + 60)  # stable: no inf, no nan

    mu, logvar = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    kl_values, dmu, dlogvar = ex.kl_standard_normal(mu, logvar)
    f = lambda: ex.kl_standard_normal(mu, logvar)[0].mean()  # noqa: E731
    assert rel_error(dmu, numerical_gradient(f, mu)) < TOL
    assert rel_error(dlogvar, numerical_gradient(f, logvar)) < TOL
    np.testing.assert_allclose(kl_values, kl.kl_standard_normal(mu, logvar)[0], rtol=1e-12)  # the library's contract


def test_reference_reparameterization_matches_finite_differences_and_the_library():
    rng = np.random.default_rng(3)
    mu, logvar, eps, dz = (rng.standard_normal((5, 3)) for _ in range(4))
    z = ex.reparameterize(mu, logvar, eps)
    assert np.array_equal(z, reparam.reparameterize(mu, logvar, eps))
    assert np.allclose(z.std(), (mu + np.exp(0.5 * logvar) * eps).std())  # logvar is log sigma^2
    dmu, dlogvar = ex.reparameterize_backward(dz, logvar, eps)
    want = reparam.reparameterize_backward(dz, logvar, eps)  # the library's contract
    assert np.array_equal(dmu, want[0]) and np.array_equal(dlogvar, want[1])
    f = lambda: ex.reparameterize(mu, logvar, eps)  # noqa: E731
    assert rel_error(dmu, numerical_vjp(f, mu, dz)) < TOL
    assert rel_error(dlogvar, numerical_vjp(f, logvar, dz)) < TOL


def test_reference_adam_step_matches_the_library_optimizer_and_leaves_inputs_alone():
    from minivae.nn.optim import Adam

    rng = np.random.default_rng(4)
    p0 = rng.standard_normal((3, 2))
    params, opt = {"p": p0.copy()}, Adam(lr=0.01)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t in range(1, 4):
        g = rng.standard_normal(p0.shape)
        opt.step(params, {"p": g.copy()})
        before = p.copy()
        p, m, v = ex.adam_step(p, g, m, v, t, lr=0.01)
        assert not np.shares_memory(p, before)
    assert rel_error(p, params["p"]) < 1e-12
    assert rel_error(m, opt.state["p"]["m"]) < 1e-12 and rel_error(v, opt.state["p"]["v"]) < 1e-12


def test_reference_vae_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    params = ex.vae_init_params(6, 5, 2, rng)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}  # nonzero biases
    x, eps = rng.random((4, 6)), rng.standard_normal((4, 2))
    loss, grads = ex.vae_negative_elbo(x, params, eps)
    assert sorted(grads) == sorted(params)
    f = lambda: ex.vae_negative_elbo(x, params, eps)[0]  # noqa: E731
    for k, p in params.items():
        assert grads[k].shape == p.shape
        assert rel_error(grads[k], numerical_gradient(f, p)) < TOL, k


def test_reference_vae_is_the_library_vae_on_the_library_params():
    # The exercise's params dict is a library VAE's own: same keys, same shapes, the encoder's last layer giving
    # [mu | logvar]; on it, the reference gives VAE.loss_and_gradients' loss and every gradient, for the same eps.
    from minivae.models import VAE

    D, H, L, N = 6, 5, 2, 4
    vae = VAE(D, latent_dim=L, hidden=(H,), dtype=np.float64, seed=7)
    rng = np.random.default_rng(8)
    for p in vae.params.values():
        p += 0.1 * rng.standard_normal(p.shape)  # nonzero biases
    given = ex.vae_init_params(D, H, L, rng)
    assert sorted(given) == sorted(vae.params)
    assert all(given[k].shape == vae.params[k].shape for k in given)
    x, eps = rng.random((N, D)), rng.standard_normal((N, L))
    x[: N // 2] = np.round(x[: N // 2])  # binary and grey rows
    loss, grads = ex.vae_negative_elbo(x, vae.params, eps)
    terms = vae.loss_and_gradients(x, eps=eps)
    assert rel_error(loss, terms.loss) < 1e-10
    assert sorted(grads) == sorted(vae.grads)
    for k in vae.grads:
        assert grads[k].shape == vae.grads[k].shape, k
        assert rel_error(grads[k], vae.grads[k]) < 1e-10, k


def test_the_vae_check_swaps_in_every_other_exercise():
    from minivae.teaching.checks_vae import BUILDING_BLOCKS, VAE_KEYS

    assert set(BUILDING_BLOCKS) == {e.name for e in EXERCISES if e.name != "vae_negative_elbo"} | {"relu_forward",
                                                                                                    "sigmoid"}
    assert sorted(VAE_KEYS) == sorted(ex.vae_init_params(6, 4, 3, np.random.default_rng(0)))


def test_reference_gets_full_marks(reference_report):
    assert reference_report.import_error is None
    assert [r.name for r in reference_report.results] == [e.name for e in EXERCISES]
    assert all(r.passed for r in reference_report.results), format_report(reference_report)
    assert reference_report.score == reference_report.max_score == MAX_SCORE
    assert all(r.rel_error < 1e-8 for r in reference_report.results)
    assert all(r.message == "" for r in reference_report.results)
    assert f"Score: {MAX_SCORE} / {MAX_SCORE}" in format_report(reference_report)


@pytest.mark.parametrize("seed", [1, 2, 15, 123456])
def test_reference_passes_whatever_the_seed(seed):
    """Fresh inputs and sizes every run: the reference passes each, its errors those of finite differences (the
    Bernoulli loss's reach 2e-8 for some sizes), below the 1e-6 of every gradient check."""
    report = grade(PACKAGED_EXERCISES, seed=seed, isolated=False)
    assert report.score == report.max_score and all(r.rel_error < 1e-6 for r in report.results)


# ------------------------------------------------------------------------------------- the student version
def test_packaged_markers_are_balanced_and_each_exercise_has_one_region():
    lines = [line.strip() for line in REFERENCE.splitlines()]
    begins, ends = lines.count(BEGIN_MARKER), lines.count(END_MARKER)
    assert begins == ends == len(EXERCISES)
    depth = 0
    for i, line in enumerate(lines):
        if line == BEGIN_MARKER:
            depth += 1
            assert lines[i + 1].startswith("### TODO:")
        elif line == END_MARKER:
            depth -= 1
        assert depth in (0, 1)
    for e in EXERCISES:
        body = REFERENCE[REFERENCE.index(f"\ndef {e.name}("):]
        body = body[: body.find("\ndef ", 1) if body.find("\ndef ", 1) > 0 else len(body)]
        assert body.count(BEGIN_MARKER) == 1, e.name


def test_the_packaged_template_is_the_teachers_file_without_its_solutions():
    assert PACKAGED_EXERCISES == REFERENCE_SOLUTIONS
    assert STUDENT_TEMPLATE.read_text(encoding="utf-8") == strip_solutions(REFERENCE, "solutions.py")


def test_student_template_imports_has_no_solutions_and_gets_zero(tmp_path):
    path = make_student_version(dest_path=tmp_path / "exercises.py")
    text = path.read_text(encoding="utf-8")
    assert BEGIN_MARKER not in text and END_MARKER not in text and "### TODO" not in text
    raises = [line for line in text.splitlines() if line.strip().startswith('raise NotImplementedError("TODO: ')]
    assert len(raises) == len(EXERCISES)
    assert "dout @ W.T" not in text and "np.log1p" not in text and "beta1**t" not in text  # the solutions are gone
    module = load_module(path)  # imports fine, the given helpers work
    assert module.relu_forward(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]
    with pytest.raises(NotImplementedError, match="TODO: compute dx"):
        module.linear_backward(np.ones((2, 3)), np.ones((2, 4)), np.ones((4, 3)))
    report = grade(path)
    assert report.import_error is None and report.score == 0 and report.max_score == MAX_SCORE
    assert all(r.status == "todo" and "not implemented" in r.message for r in report.results)
    assert main_grade([str(path)]) == 1


def test_make_student_version_refuses_to_overwrite_and_to_replace_the_source(tmp_path):
    dest = tmp_path / "exercises.py"
    make_student_version(PACKAGED_EXERCISES, dest)
    dest.write_text("my work", encoding="utf-8")
    with pytest.raises(FileExistsError, match="overwrite"):
        make_student_version(PACKAGED_EXERCISES, dest)
    assert dest.read_text(encoding="utf-8") == "my work"
    make_student_version(PACKAGED_EXERCISES, dest, overwrite=True)
    assert "NotImplementedError" in dest.read_text(encoding="utf-8")
    src = tmp_path / "ref.py"
    src.write_text(REFERENCE, encoding="utf-8")
    with pytest.raises(ValueError, match="reference file itself"):
        make_student_version(src, src, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exercises.py", "ref.py"]  # no temporary files left


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    ### BEGIN SOLUTION\n    ### TODO: x\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "without a"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### TODO: x\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n", "inside"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", "TODO"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n", "empty"),
    ("def f():\n    return 1\n", "no solution regions"),
])
def test_unbalanced_or_malformed_markers_raise(tmp_path, source, problem):
    with pytest.raises(ValueError, match=problem):
        strip_solutions(source)
    src = tmp_path / "bad.py"
    src.write_text(source, encoding="utf-8")
    with pytest.raises(ValueError, match="line|regions"):
        make_student_version(src, tmp_path / "out.py")
    assert not (tmp_path / "out.py").exists()


def test_strip_solutions_keeps_indentation_and_the_code_around():
    src = ("def f(x):\n    y = 1\n    if x:\n        ### BEGIN SOLUTION\n        ### TODO: say \"hi\"\n"
           "        y = 2\n        ### END SOLUTION\n    return y\n")
    out = strip_solutions(src)
    raise_line = "        raise NotImplementedError('TODO: say \"hi\"')\n"
    assert out == "def f(x):\n    y = 1\n    if x:\n" + raise_line + "    return y\n"


def test_make_assignment_command(tmp_path, capsys):
    out = tmp_path / "hw.py"
    assert main_make_student(["--out", str(out)]) == 0
    assert out.exists() and "python -m minivae grade" in capsys.readouterr().out
    assert main_make_student(["--out", str(out)]) == 1  # exists: refused, work kept
    assert "already exists" in capsys.readouterr().err
    assert main_make_student(["--out", str(out), "--force"]) == 0


# ------------------------------------------------------------------------------------- the grader
def test_a_different_but_correct_solution_gets_full_marks(tmp_path):
    source = mutate(REFERENCE, "relu_backward", "dx = dout * (x > 0)", "dx = np.where(x > 0, dout, 0.0)")
    source = mutate(source, "bernoulli_nll_from_logits",
                    "nll = np.maximum(logits, 0) - x * logits + np.log1p(np.exp(-np.abs(logits)))  # (N, D)",
                    "nll = np.logaddexp(0, logits) - x * logits")
    source = mutate(source, "kl_standard_normal", "kl = 0.5 * np.sum(mu**2 + var - 1 - logvar, axis=1)",
                    "kl = (0.5 * (mu**2 + var - 1 - logvar)) @ np.ones(mu.shape[1])")
    source = mutate(source, "reparameterize_backward", "dmu = dz.copy()", "dmu = dz")
    source = mutate(source, "adam_step", "m = beta1 * m + (1 - beta1) * g", "m = m.copy()\n    m *= beta1\n"
                    "    m += (1 - beta1) * g")
    path = tmp_path / "alternative.py"
    path.write_text(source, encoding="utf-8")
    report = grade(path)
    assert report.score == MAX_SCORE, format_report(report)


def test_grade_command_exit_code_and_report(capsys):
    assert main_grade([str(PACKAGED_EXERCISES)]) == 0
    printed = capsys.readouterr().out
    assert f"Score: {MAX_SCORE} / {MAX_SCORE}" in printed and "FAIL" not in printed


PLANTED = {
    # mistake: (function, old, new, the exercise that must fail, words its hint must contain)
    "kl_sign": ("kl_standard_normal", "dlogvar = 0.5 * (var - 1) / N", "dlogvar = 0.5 * (1 - var) / N",
                "kl_standard_normal", ["dlogvar", "sign"]),
    "reparam_missing_half": ("reparameterize_backward", "dz * eps * 0.5 * sigma", "dz * eps * sigma",
                             "reparameterize_backward", ["dlogvar", "1/2", "0.5 * sigma"]),
    "logvar_as_log_sigma": ("reparameterize", "sigma = np.exp(0.5 * logvar)", "sigma = np.exp(logvar)",
                            "reparameterize", ["log sigma^2", "exp(0.5 * logvar)"]),
    "bernoulli_batch_mean": ("bernoulli_nll_from_logits", "dlogits = (sigmoid(logits) - x) / N",
                             "dlogits = sigmoid(logits) - x", "bernoulli_nll_from_logits",
                             ["dlogits", "average over the batch", "divide by N"]),
    "linear_W_not_transposed": ("linear_backward", "dx = dout @ W.T", "dx = dout @ W", "linear_backward",
                                ["W.T"]),
    "adam_no_bias_correction": ("adam_step", "m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)",
                                "m_hat = m\n    v_hat = v", "adam_step", ["bias correction"]),
}


@pytest.mark.parametrize("mistake", sorted(PLANTED))
def test_each_planted_mistake_loses_exactly_its_exercise_with_the_right_hint(tmp_path, mistake):
    function, old, new, lost, words = PLANTED[mistake]
    path = tmp_path / f"{mistake}.py"
    path.write_text(mutate(REFERENCE, function, old, new), encoding="utf-8")
    report = grade(path)
    failed = [r.name for r in report.results if not r.passed]
    assert failed == [lost], format_report(report)
    result = report.result(lost)
    assert result.points == 0 and result.status == "fail"
    for word in words:
        assert word in result.message, (word, result.message)
    assert report.score == MAX_SCORE - result.max_points
    # The VAE is graded with the reference building blocks (one mistake costs once), but the report says that
    # the student's own functions break it end to end (the Adam step is not part of the loss).
    vae = report.result("vae_negative_elbo")
    if lost == "adam_step":
        assert vae.message == ""
    else:
        assert "With your own" in vae.message
    assert "Score:" in format_report(report) and "FAIL" in format_report(report)


def test_a_wrong_vae_composition_is_caught_and_localised(tmp_path):
    forgot_kl = mutate(REFERENCE, "vae_negative_elbo", "dmu = dmu + dmu_kl", "dmu = dmu")
    forgot_kl = mutate(forgot_kl, "vae_negative_elbo", "dlogvar = dlogvar + dlogvar_kl", "dlogvar = dlogvar")
    no_kl_at_all = mutate(forgot_kl, "vae_negative_elbo", "loss = reconstruction + float(kl.mean())", "loss = reconstruction")
    halves = "mu, logvar = h[:, :L], h[:, L:]"
    stacked = "dh = np.concatenate([dmu, dlogvar], axis=1)"
    heads_swapped_back = mutate(REFERENCE, "vae_negative_elbo", stacked, "dh = np.concatenate([dlogvar, dmu], axis=1)")
    heads_swapped = mutate(heads_swapped_back, "vae_negative_elbo", halves, "logvar, mu = h[:, :L], h[:, L:]")
    for name, source, words in (
            ("grad", forgot_kl, ["KL term's gradients are missing", "decoder's gradients are right"]),
            ("loss", no_kl_at_all, ["no KL term", "backward pass is consistent", "KL term's gradients are missing"]),
            ("order", heads_swapped_back, ["grads['encoder.2.W']", "stacked in the wrong order",
                                           "np.concatenate([dmu, dlogvar], axis=1)", "decoder's gradients are right"]),
            ("halves", heads_swapped, ["mu and logvar are swapped", "mu = h[:, :L]", "backward pass is consistent"])):
        path = tmp_path / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        report = grade(path)
        assert [r.name for r in report.results if not r.passed] == ["vae_negative_elbo"]
        for word in words:
            assert word in report.result("vae_negative_elbo").message


def test_one_crash_only_zeroes_its_exercise_and_in_place_changes_are_caught(tmp_path):
    source = mutate(REFERENCE, "sigmoid_backward", "dx = dout * out * (1 - out)",
                    "dx = dout * out * (1 - out)[0, 0, 0]")
    source = mutate(source, "relu_backward", "dx = dout * (x > 0)", "dout[x <= 0] = 0\n    dx = dout")
    path = tmp_path / "crash.py"
    path.write_text(source, encoding="utf-8")
    report = grade(path)
    assert [r.name for r in report.results if not r.passed] == ["relu_backward", "sigmoid_backward"]
    assert "IndexError" in report.result("sigmoid_backward").message
    assert "modified its input 'dout' in place" in report.result("relu_backward").message


def test_shape_and_return_value_mistakes_get_a_message(tmp_path):
    source = mutate(REFERENCE, "kl_standard_normal", "kl = 0.5 * np.sum(mu**2 + var - 1 - logvar, axis=1)",
                    "kl = float(0.5 * np.sum(mu**2 + var - 1 - logvar) / N)")
    source = mutate(source, "linear_backward", "db = dout.sum(axis=0)", "db = dout.sum(axis=1)")
    source = mutate(source, "reparameterize_backward", "return dmu, dlogvar", "return dmu")
    path = tmp_path / "shapes.py"
    path.write_text(source, encoding="utf-8")
    report = grade(path)
    assert "one value per example, got a single number" in report.result("kl_standard_normal").message
    assert re.search(r"db has shape \(\d+,\), expected \(\d+,\)", report.result("linear_backward").message)
    assert "should return a tuple (dmu, dlogvar)" in report.result("reparameterize_backward").message
    assert report.score == MAX_SCORE - 6


def test_a_naive_unstable_bernoulli_loss_is_caught(tmp_path):
    naive = ("p = sigmoid(logits)\n    nll = -(x * np.log(p) + (1 - x) * np.log(1 - p))")
    source = mutate(REFERENCE, "bernoulli_nll_from_logits",
                    "nll = np.maximum(logits, 0) - x * logits + np.log1p(np.exp(-np.abs(logits)))  # (N, D)", naive)
    path = tmp_path / "naive.py"
    path.write_text(source, encoding="utf-8")
    result = grade(path).result("bernoulli_nll_from_logits")
    assert not result.passed and "log1p(exp(-|l|))" in result.message and "large logits" in result.message


def test_a_file_that_does_not_import_gets_zero_with_the_error(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text(REFERENCE.replace("def linear_forward(x, W, b):", "def linear_forward(x, W, b)"),
                      encoding="utf-8")
    report = grade(broken)
    assert report.score == 0 and report.import_error.startswith("SyntaxError")
    assert all(r.points == 0 for r in report.results)
    text = format_report(report)
    assert "could not be imported" in text and "SyntaxError" in text and f"Score: 0 / {MAX_SCORE}" in text
    assert main_grade([str(broken)]) == 1
    missing = grade(tmp_path / "nowhere.py")
    assert missing.score == 0 and "no such file" in missing.import_error
    raising = tmp_path / "raising.py"
    raising.write_text("import sys\nsys.exit(3)\n", encoding="utf-8")
    assert grade(raising).import_error.startswith("SystemExit")
