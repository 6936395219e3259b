"""Text from the command line: train --model seq-vae / seq-lm on the bundled names or a text file, the checkpoint
commands' markdown outputs, exact resume, and the options that do not fit a text run refused by name."""
import json
from pathlib import Path

import numpy as np
import pytest

from minivae.cli.main import main
from minivae.training.checkpoint import load_checkpoint

SMALL = ["--hidden", "16", "--latent", "3", "--embed", "8", "--batch-size", "256", "--warmup", "20", "--quiet"]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("names") / "run"
    assert main(["train", "--model", "seq-vae", "--data", "names", *SMALL, "--epochs", "2", "--out", str(out)]) is None
    return out


def test_train_writes_a_text_run(vae_run, capsys):
    ckpt = load_checkpoint(vae_run / "checkpoint.npz")
    assert type(ckpt.model).__name__ == "SequenceVAE" and ckpt.model.vocab_size == 30
    assert ckpt.extra["vocabulary"]["level"] == "char" and ckpt.extra["dataset"] == "names"
    assert ckpt.extra["train_config"]["kl_schedule"] == "logistic"  # a text run's default annealing
    history = json.loads((vae_run / "history.json").read_text())
    assert len(history["mutual_information"]) == 2 and history["active_units"][-1] is not None
    figures = vae_run / "figures"
    assert (figures / "history.png").exists()
    samples = (figures / "samples.md").read_text(encoding="utf-8")
    assert samples.startswith("# Samples") and samples.count("\n1. ") == 1 and "\n20. " in samples
    assert "come back exactly" in (figures / "reconstructions.md").read_text(encoding="utf-8")
    assert "# Homotopy" in (figures / "homotopy.md").read_text(encoding="utf-8")
    assert not list(figures.glob("manifold.png"))  # no image figures for text


@pytest.mark.parametrize("command, name", [(["sample", "-n", "5"], "samples.md"),
                                           (["sample", "-n", "3", "--beam-width", "3"], "samples.md"),
                                           (["sample", "-n", "3", "--temperature", "0"], "samples.md"),
                                           (["reconstruct", "-n", "4"], "reconstructions.md"),
                                           (["reconstruct", "-n", "4", "--beam-width", "2"], "reconstructions.md"),
                                           (["interpolate", "-a", "3", "-b", "4", "-n", "5"], "interpolation.md")])
def test_checkpoint_commands_write_markdown_next_to_the_checkpoint(vae_run, tmp_path, capsys, command, name):
    ckpt = str(vae_run / "checkpoint.npz")
    out = tmp_path / name
    assert main([command[0], ckpt, *command[1:], "--out", str(out)]) is None
    text = out.read_text(encoding="utf-8")
    assert text in capsys.readouterr().out  # also printed
    assert text.count("\n1. ") == 1


def test_the_default_output_of_a_text_command_is_markdown_beside_the_checkpoint(vae_run, capsys):
    assert main(["sample", str(vae_run / "checkpoint.npz"), "-n", "2"]) is None
    assert (vae_run / "samples.md").exists() and not (vae_run / "samples.png").exists()


def test_evaluate_prints_the_nll_per_text_and_per_token(vae_run, capsys):
    assert main(["evaluate", str(vae_run / "checkpoint.npz"), "-k", "10"]) is None
    out = capsys.readouterr().out
    assert "516 texts" in out and "NLL per token" in out and "perplexity" in out and "the importance-weighted bound, K = 10" in out


def test_resume_continues_a_text_run_bit_for_bit(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", "--model", "seq-vae", *SMALL, "--epochs", "2", "--out", str(straight)]) is None
    assert main(["train", "--model", "seq-vae", *SMALL, "--epochs", "1", "--out", str(resumed), "--no-figures"]) is None
    assert main(["train", "--resume", str(resumed / "checkpoint.npz"), "--epochs", "2", "--quiet",
                 "--no-figures"]) is None
    a, b = load_checkpoint(straight / "checkpoint.npz"), load_checkpoint(resumed / "checkpoint.npz")
    assert all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)
    assert a.history["val_loss"] == b.history["val_loss"]


def test_resume_refuses_a_changed_text_option(vae_run, capsys):
    status = main(["train", "--resume", str(vae_run / "checkpoint.npz"), "--epochs", "3", "--token-dropout", "0.5"])
    assert status == 2
    assert "--token-dropout 0.5 (the run was trained with 0.25)" in capsys.readouterr().err


def test_the_language_model_baseline_trains_samples_and_evaluates(tmp_path, capsys):
    out = tmp_path / "lm"
    assert main(["train", "--model", "seq-lm", "--hidden", "16", "--embed", "8", "--batch-size", "256", "--epochs",
                 "1", "--quiet", "--out", str(out)]) is None
    assert "test NLL" in capsys.readouterr().out
    assert (out / "figures" / "samples.md").exists() and not (out / "figures" / "homotopy.md").exists()
    assert main(["evaluate", str(out / "checkpoint.npz")]) is None
    assert "exact (a language model)" in capsys.readouterr().out
    assert main(["interpolate", str(out / "checkpoint.npz")]) == 2
    assert "a language model (SequenceLM) has none" in capsys.readouterr().err


def test_a_word_level_text_file(tmp_path, capsys):
    corpus = tmp_path / "lines.txt"
    corpus.write_text("\n".join(f"the {w} sat on the mat" for w in ["cat", "dog", "fox", "owl", "hen"] * 4) + "\n\n",
                      encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "--model", "seq-vae", "--text", str(corpus), *SMALL, "--epochs", "1", "--out",
                 str(out)]) is None
    said = capsys.readouterr().out
    assert "1 empty line skipped" in said
    ckpt = load_checkpoint(out / "checkpoint.npz")
    assert ckpt.extra["vocabulary"]["level"] == "word" and "cat" in ckpt.extra["vocabulary"]["tokens"]
    assert ckpt.extra["dataset_sha256"] is not None


@pytest.mark.parametrize("argv, message", [
    (["--model", "seq-vae", "--data", "mnist-test-10k"], "trains on text or molecules: --data names or "
                                                        "molecules, --text FILE or --smiles FILE"),
    (["--model", "vae", "--data", "names"], "names is text: train it with --model seq-vae"),
    (["--embed", "8"], "--embed apply to text runs only"),
    (["--model", "seq-vae", "--hidden", "16,16"], "one GRU hidden size"),
    (["--model", "seq-vae", "--binarize", "dynamic"], "--binarize do not apply to text"),
    (["--model", "seq-vae", "--exclude-classes", "1"], "--exclude-classes do not apply to text"),
])
def test_options_that_do_not_fit_are_refused_by_name(tmp_path, capsys, argv, message):
    assert main(["train", *argv, "--epochs", "1", "--quiet", "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x" / "checkpoint.npz").exists()


@pytest.mark.parametrize("command", [["manifold"], ["traverse"], ["anomaly"], ["impute"], ["synthesize"]])
def test_image_and_table_commands_refuse_a_text_checkpoint(vae_run, capsys, command):
    assert main([command[0], str(vae_run / "checkpoint.npz"), *command[1:]]) == 2
    assert "this checkpoint's model is of text" in capsys.readouterr().err


def test_a_text_output_must_be_text(vae_run, tmp_path, capsys):
    assert main(["sample", str(vae_run / "checkpoint.npz"), "--out", str(tmp_path / "s.png")]) == 2
    assert "give a .md or .txt file" in capsys.readouterr().err
