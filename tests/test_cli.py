"""The command line: the main job on the bundled data (shortened), every checkpoint command, gradcheck, errors
(one line and an exit status, or the traceback with --debug), --version and the help texts."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from minivae.cli.main import main, make_parser
from minivae.version import __version__

ROOT = Path(__file__).resolve().parent.parent

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COMMANDS = ["train", "evaluate", "sample", "reconstruct", "manifold", "interpolate", "traverse", "anomaly", "impute",
            "synthesize", "gradcheck", "make-assignment", "grade"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short run of `train` on the bundled MNIST: 1 epoch, a small hidden layer."""
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--epochs", "1", "--hidden", "32", "--out", str(out), "--quiet"]) is None
    return out


def test_train_writes_checkpoint_history_config_and_figures(run):
    assert (run / "checkpoint.npz").is_file()
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1] and history["val_loss"][0] < 543  # better than the untrained ~784 ln 2 nats
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["latent_dim"] == 2 and config["dataset"] == "mnist-test-10k"
    figures = sorted(p.name for p in (run / "figures").iterdir())
    assert figures == ["history.png", "interpolation.png", "latent_scatter.png", "manifold.png",
                       "reconstructions.png", "samples.png", "traversal.png"]
    assert all((run / "figures" / f).read_bytes().startswith(PNG_MAGIC) for f in figures)


def test_resume_continues_to_more_epochs(run, tmp_path, capsys):
    out = tmp_path / "resumed"
    main(["train", "--resume", str(run / "checkpoint.npz"), "--epochs", "2", "--out", str(out), "--quiet",
          "--no-figures"])
    assert "resuming" in capsys.readouterr().out
    assert json.loads((out / "history.json").read_text())["epoch"] == [1, 2]


@pytest.mark.parametrize("command", ["sample", "reconstruct", "manifold", "interpolate", "traverse"])
def test_figure_commands(run, tmp_path, command):
    target = tmp_path / f"{command}.png"
    main([command, str(run / "checkpoint.npz"), "--out", str(target)])
    assert target.read_bytes().startswith(PNG_MAGIC)


def test_evaluate_prints_the_elbo_and_its_parts(run, capsys):
    main(["evaluate", str(run / "checkpoint.npz"), "-k", "5"])
    text = capsys.readouterr().out
    for word in ("negative ELBO", "bits/dim", "reconstruction", "KL", "importance-weighted bound"):
        assert word in text


def test_anomaly_with_a_held_out_class(run, tmp_path, capsys):
    main(["anomaly", str(run / "checkpoint.npz"), "--anomalous-class", "1", "--out", str(tmp_path / "roc.png"),
          "--scores", str(tmp_path / "scores.csv")])
    text = capsys.readouterr().out
    assert "ROC AUC" in text and (tmp_path / "roc.png").read_bytes().startswith(PNG_MAGIC)
    assert len((tmp_path / "scores.csv").read_text().splitlines()) >= 1000


@pytest.mark.parametrize("missing, method", [("bottom", "iterative"), ("random", "mcmc")])
def test_impute_compares_with_mean_imputation(run, tmp_path, capsys, missing, method):
    main(["impute", str(run / "checkpoint.npz"), "--missing", missing, "--method", method, "-n", "10",
          "--out", str(tmp_path / "imp.png")])
    assert "mean imputation" in capsys.readouterr().out
    assert (tmp_path / "imp.png").read_bytes().startswith(PNG_MAGIC)


def test_synthesize_images(run, tmp_path):
    import numpy as np

    main(["synthesize", str(run / "checkpoint.npz"), "-n", "7", "--out", str(tmp_path / "s.npy")])
    samples = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert samples.shape == (7, 784) and np.all((samples >= 0) & (samples <= 1))


def test_table_training_and_synthetic_rows(tmp_path):
    import csv

    import numpy as np

    rng = np.random.default_rng(0)
    with open(tmp_path / "t.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["height", "colour"])
        for _ in range(100):
            h = rng.normal(170, 10)
            writer.writerow([f"{h:.1f}", "red" if h > 170 else "blue"])
    main(["train", "--table", str(tmp_path / "t.csv"), "--epochs", "2", "--hidden", "8", "--out",
          str(tmp_path / "run"), "--quiet", "--no-figures"])
    main(["synthesize", str(tmp_path / "run" / "checkpoint.npz"), "-n", "5", "--out", str(tmp_path / "rows.csv")])
    lines = (tmp_path / "rows.csv").read_text().splitlines()
    assert lines[0] == "height,colour" and len(lines) == 6
    assert all(line.split(",")[1] in ("red", "blue") for line in lines[1:])
    assert main(["evaluate", str(tmp_path / "run" / "checkpoint.npz")]) is None  # the table's test rows
    assert main(["anomaly", str(tmp_path / "run" / "checkpoint.npz")]) is None


@pytest.mark.parametrize("model", ["conv", "cvae", "ae"])
def test_other_models_train_from_the_command_line(model, tmp_path):
    args = ["train", "--model", model, "--epochs", "1", "--out", str(tmp_path), "--quiet", "--no-figures",
            "--exclude-classes", "2,3,4,5,6,7,8,9"]  # digits 0 and 1 only: a short run
    if model == "conv":
        args += ["--latent", "2"]
    else:
        args += ["--hidden", "16"]
    main(args)
    assert (tmp_path / "checkpoint.npz").is_file()


def test_gradcheck_prints_a_table_and_passes(capsys):
    assert main(["gradcheck"]) is None
    text = capsys.readouterr().out
    assert "Linear(6, 5)" in text and "VAE 8-6-3 (bernoulli)" in text and " NO" not in text
    assert "worst relative error" in text


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.npz")]) == 1  # a run that failed, not a usage error
    assert "no checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_top_level_help_lists_every_command():
    text = make_parser().format_help()
    assert all(c in text for c in COMMANDS)
    assert "``" not in text and "--version" in text and "--debug" in text  # plain text, not reStructuredText


def subcommand_parser(name):
    sub = next(a for a in make_parser()._actions if a.dest == "command")
    return sub.choices[name]


def test_every_train_option_has_a_help_text_with_its_default_once():
    train = subcommand_parser("train")
    formatter = train._get_formatter()
    options = [a for a in train._actions if a.option_strings and a.default is not argparse.SUPPRESS]
    names = {a.option_strings[0] for a in options}
    assert {"--epochs", "--batch-size", "--lr", "--optimizer", "--seed", "--figures-dir", "--quiet"} <= names
    for action in options:
        text = formatter._get_help_string(action) % {"default": action.default}
        assert action.help, f"{action.option_strings[0]} has no help text"
        assert text.count("default") == 1, f"{action.option_strings[0]}: {text!r}"
    help_text = train.format_help()
    for shown in ("(default: 50; 30 for text; 100 for tables)", "(default: 0.001; 0.002 for text)",
                  "(default: 128; 64 for text)", "(default: adam)",
                  "(default: 512; 128 for text; 256 for molecules; 128,128 for tables)",
                  "(default: 2; 16 for text; 32 for molecules; 8 for tables)", "(default: OUT/figures)", "(default: off)",
                  "(default: mnist-test-10k; names for text)"):
        assert shown in " ".join(help_text.split()), shown
    assert "(default: None)" not in help_text and "(default: False)" not in help_text


def test_synthesize_out_is_described_as_the_files_it_writes():
    out = next(a for a in subcommand_parser("synthesize")._actions if a.dest == "out")
    assert ".npz" in out.help and ".csv" in out.help and "PNG" not in out.help


# -------------------------------------------------------------------------------------- errors and exit status
def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"minivae {__version__}"


@pytest.mark.parametrize("argv", [["train", "--epochs", "many"], ["train", "--model", "gan"], ["sample"],
                                  ["no-such-command"], ["train", "--no-such-option"], ["train", "--lr", "-1"]])
def test_argparse_usage_errors_exit_with_2_in_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and err.count("\n") == 1 and "--help)" in err  # no usage block: one line


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "no-such-data"], "mnist-test-10k"),
    (["train", "--model", "ae", "--free-bits", "0.5"], "Autoencoder cannot honour free_bits=0.5: it has no KL term"),
    (["train", "--model", "ae", "--warmup", "100"], "Autoencoder cannot honour warmup_steps=100: it has no KL term to warm up"),
    (["train", "--model", "ae", "--iw-samples", "5"], "Autoencoder cannot honour iw_samples=5"),
    (["train", "--model", "conv", "--data", "{table}"], "--model conv needs image data"),
])
def test_bad_option_values_are_one_line_and_exit_with_2(tmp_path, capsys, argv, message):
    table = tmp_path / "t.csv"
    table.write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(20)))
    argv = [a.replace("{table}", str(table)) for a in argv]
    assert main(argv + ["--epochs", "1", "--hidden", "4", "--out", str(tmp_path / "run"), "--quiet",
                        "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_every_model_kind_trains_with_free_bits_and_importance_samples_where_it_can(tmp_path, capsys):
    """The model contract from the command line: the VAE family honours free bits and the IW bound."""
    for model in ("vae", "cvae", "conv"):
        out = tmp_path / model
        assert main(["train", "--model", model, "--free-bits", "0.2", "--epochs", "1", "--hidden", "4", "--latent",
                     "2", "--out", str(out), "--quiet", "--no-figures"]) in (0, None)
        assert (out / "checkpoint.npz").exists()
    assert main(["train", "--model", "cvae", "--iw-samples", "2", "--epochs", "1", "--hidden", "4", "--out",
                 str(tmp_path / "cvae-iw"), "--quiet", "--no-figures"]) in (0, None)


def test_failed_runs_exit_with_1(tmp_path, capsys, monkeypatch):
    from minivae.training.trainer import Trainer, TrainingDiverged

    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    assert main(["sample", str(tmp_path / "broken.npz")]) == 1  # a corrupt checkpoint
    assert "not a readable minivae checkpoint" in capsys.readouterr().err

    def diverge(self, *args, **kwargs):
        raise TrainingDiverged("the loss became NaN at step 3")

    monkeypatch.setattr(Trainer, "fit", diverge)
    assert main(["train", "--hidden", "4", "--out", str(tmp_path / "run"), "--quiet", "--no-figures"]) == 1
    assert capsys.readouterr().err == "error: the loss became NaN at step 3\n"


def test_debug_raises_instead(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        main(["--debug", "evaluate", str(tmp_path / "nope.npz")])
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        main(["evaluate", str(tmp_path / "nope.npz"), "--debug"])  # after the command works as well


def test_a_user_sees_one_line_and_with_debug_the_traceback(tmp_path):
    """The real thing, in a new process: python -m minivae as a user runs it."""
    def run(*argv):
        return subprocess.run([sys.executable, "-m", "minivae", *argv], cwd=ROOT, capture_output=True, text=True)

    plain = run("evaluate", str(tmp_path / "nope.npz"))
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr == f"error: no checkpoint at {tmp_path / 'nope.npz'}\n"
    debug = run("--debug", "evaluate", str(tmp_path / "nope.npz"))
    assert debug.returncode == 1
    assert debug.stderr.startswith("Traceback") and "FileNotFoundError: no checkpoint at" in debug.stderr


def test_commands_see_the_test_set_binarized_as_in_validation(tmp_path):
    """A model trained with --binarize dynamic is evaluated on the same fixed binarization of the test set that
    its validation loss used: train records what data_of_checkpoint needs (the cases are in tests/test_run_data.py)."""
    import numpy as np

    from minivae.datasets import binarize_dynamic, load_mnist_test_10k
    from minivae.training.checkpoint import load_checkpoint
    from minivae.training.run_data import data_of_checkpoint

    main(["train", "--epochs", "1", "--hidden", "8", "--binarize", "dynamic", "--seed", "3", "--out", str(tmp_path),
          "--quiet", "--no-figures"])
    data = data_of_checkpoint(load_checkpoint(tmp_path / "checkpoint.npz"))
    expected = binarize_dynamic(load_mnist_test_10k().x_test, np.random.default_rng(3))
    assert np.array_equal(data.x_test, expected)
