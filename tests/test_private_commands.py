"""Private training from the command line: train --dp-epsilon / --noise-multiplier, the epsilon it prints and
records, resume, synthesize saying what its rows are worth, and the settings refused before training."""
import json

import numpy as np
import pytest

from minivae.cli.main import main
from minivae.privacy.accountant import epsilon
from minivae.training.checkpoint import load_checkpoint

# digits 0 and 1 of the bundled split (1,894 training images): short epochs
SMALL = ["--hidden", "16", "--latent", "2", "--batch-size", "64", "--exclude-classes", "2,3,4,5,6,7,8,9",
         "--no-figures"]


def test_train_with_a_target_epsilon_spends_it_and_says_so(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", *SMALL, "--epochs", "2", "--dp-epsilon", "3", "--dp-delta", "1e-5", "--max-grad-norm",
                 "1", "--out", str(out_dir)]) is None
    out = capsys.readouterr().out.replace("\r", "\n")
    history = json.loads((out_dir / "history.json").read_text())
    config = json.loads((out_dir / "config.json").read_text())
    record = load_checkpoint(out_dir / "checkpoint.npz").extra["privacy"]
    n = record["examples"]
    steps = 2 * round(n / 64)
    assert record == config["privacy"] and record["steps"] == steps and record["budget"] == 3
    assert history["epsilon"][1] == record["epsilon"] == epsilon(64 / n, record["noise_multiplier"], steps, 1e-5)[0]
    assert 2.99 < record["epsilon"] <= 3.0  # the least noise that keeps the target: the budget is spent, not more
    assert config["train"]["dp_noise_multiplier"] == record["noise_multiplier"]
    assert "private training (DP-SGD): clipping norm 1, noise multiplier" in out
    assert f"epsilon {history['epsilon'][0]:.3f} (delta 1e-05)" in out
    assert f"privacy: epsilon {record['epsilon']:.3f} spent at delta 1e-05 in {steps} steps" in out

    assert main(["synthesize", str(out_dir / "checkpoint.npz"), "-n", "5"]) is None
    out = capsys.readouterr().out
    assert "privacy: these examples come from a model trained with DP-SGD at (epsilon 3, delta 1e-05)" in out
    assert "Not covered: the training losses" in out

    assert main(["train", "--resume", str(out_dir / "checkpoint.npz"), "--epochs", "3", "--quiet"]) == 2
    assert "has spent its privacy budget" in capsys.readouterr().err


def test_a_private_run_resumes_bit_for_bit_and_refuses_changed_privacy(tmp_path, capsys):
    private = [*SMALL, "--noise-multiplier", "1.2", "--quiet"]
    assert main(["train", *private, "--epochs", "3", "--out", str(tmp_path / "straight")]) is None
    assert main(["train", *private, "--epochs", "1", "--out", str(tmp_path / "resumed")]) is None
    ckpt = tmp_path / "resumed" / "checkpoint.npz"
    assert main(["train", "--resume", str(ckpt), "--epochs", "3", "--quiet", "--no-figures"]) is None
    assert "DP-SGD (clipping norm 1, noise multiplier 1.2, delta 1e-05)" in capsys.readouterr().out
    a, b = load_checkpoint(tmp_path / "straight" / "checkpoint.npz"), load_checkpoint(ckpt)
    assert all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)
    assert a.history["epsilon"] == b.history["epsilon"] and a.extra["privacy"] == b.extra["privacy"]

    assert main(["train", "--resume", str(ckpt), "--epochs", "4", "--noise-multiplier", "2", "--quiet"]) == 2
    assert "--noise-multiplier 2.0 (the run was trained with 1.2)" in capsys.readouterr().err


def test_synthesize_from_a_model_trained_without_privacy_says_nothing_about_epsilon(tmp_path, capsys):
    assert main(["train", *SMALL, "--epochs", "1", "--quiet", "--out", str(tmp_path)]) is None
    assert main(["synthesize", str(tmp_path / "checkpoint.npz"), "-n", "3"]) is None
    assert "privacy" not in capsys.readouterr().out


@pytest.mark.parametrize("flags, message", [
    (["--dp-epsilon", "3", "--dp-delta", "1e-3"], "delta (--dp-delta) must lie between 0 and 1 / N = 0.000528 for the 1894 training examples"),
    (["--noise-multiplier", "0.5", "--dp-epsilon", "0.01"], "too small for even one step"),
    (["--dp-epsilon", "1e-9"], "epsilon 1e-09 is out of reach"),
    (["--max-grad-norm", "1"], "--dp-epsilon EPS (or --noise-multiplier SIGMA) turns on"),
    (["--dp-epsilon", "3", "--free-bits", "1"], "--free-bits and --clip-norm cannot be used in private training"),
    (["--dp-epsilon", "3", "--clip-norm", "5"], "--free-bits and --clip-norm cannot be used in private training"),
    (["--dp-epsilon", "3", "--model", "conv"], "ConvVAE has no per-example gradients"),
    (["--dp-epsilon", "3", "--batch-size", "5000"], "expected batch size must lie between 1 and the 1894"),
])
def test_bad_private_settings_are_one_line_before_training(tmp_path, capsys, flags, message):
    args = ["train", "--epochs", "1", "--hidden", "16", "--exclude-classes", "2,3,4,5,6,7,8,9", "--no-figures",
            "--quiet", "--out", str(tmp_path / "run"), *flags]
    assert main(args) == 2  # a request minivae refuses, as every ValueError of the commands
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags", [["--dp-epsilon", "0"], ["--dp-epsilon", "-1"], ["--dp-delta", "0"],
                                   ["--max-grad-norm", "0"], ["--noise-multiplier", "-2"]])
def test_non_positive_privacy_numbers_are_usage_errors(tmp_path, capsys, flags):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--out", str(tmp_path / "run"), *flags])
    assert exit_info.value.code == 2 and "expected a number > 0" in capsys.readouterr().err
