"""The train command as a user runs it: a resumed run continues as it was made (bit for bit, also after a real
Ctrl-C), --epochs 0 writes nothing, the numbers printed say what they are, and the commands that read a checkpoint
work from any folder and write next to it."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minivae.cli.main import main
from minivae.training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "v0.1.0"
# every option differs from its default; digits 0 and 1 only (about 1,900 images), so that epochs are short
OPTIONS = ["--batch-size", "32", "--binarize", "dynamic", "--beta", "0.5", "--lr", "3e-3", "--warmup", "50",
           "--free-bits", "0.1", "--hidden", "16", "--exclude-classes", "2,3,4,5,6,7,8,9", "--quiet", "--no-figures"]


def same_run(a, b):
    a, b = load_checkpoint(a), load_checkpoint(b)
    return (all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)
            and a.history["train_loss"] == b.history["train_loss"] and a.history["val_loss"] == b.history["val_loss"]
            and a.extra["step"] == b.extra["step"])


def test_resume_continues_with_the_recorded_options_bit_for_bit(tmp_path, capsys):
    assert main(["train", *OPTIONS, "--epochs", "4", "--out", str(tmp_path / "straight")]) is None
    assert main(["train", *OPTIONS, "--epochs", "2", "--out", str(tmp_path / "resumed")]) is None
    ckpt = tmp_path / "resumed" / "checkpoint.npz"
    assert main(["train", "--resume", str(ckpt), "--epochs", "4", "--quiet", "--no-figures"]) is None  # no other flag
    out = capsys.readouterr().out
    assert ("with its recorded options: beta 0.5, warmup 50, free bits 0.1, batch size 32, lr 0.003, binarize "
            "dynamic") in out
    assert same_run(tmp_path / "straight" / "checkpoint.npz", ckpt)
    recorded = load_checkpoint(ckpt)
    assert recorded.extra["train_config"]["lr"] == recorded.optimizer.lr == 3e-3
    assert json.loads((tmp_path / "resumed" / "history.json").read_text())["epoch"] == [1, 2, 3, 4]


def test_a_real_ctrl_c_inside_an_epoch_resumes_exactly(tmp_path):
    straight, run = tmp_path / "straight", tmp_path / "run"
    options = OPTIONS[:OPTIONS.index("--exclude-classes")] + ["--quiet", "--no-figures"]  # all digits: longer epochs
    assert main(["train", *options, "--epochs", "3", "--out", str(straight)]) is None
    child = subprocess.Popen([sys.executable, "-m", "minivae", "train", *options, "--epochs", "3", "--out", str(run)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "checkpoint.npz").exists():  # epoch 1 is done: Ctrl-C lands inside epoch 2
        assert child.poll() is None and time.time() < deadline
        time.sleep(0.005)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    assert "resuming from it continues exactly there" in stdout
    interrupted = load_checkpoint(run / "checkpoint-interrupted.npz")
    if interrupted.extra.get("position") is None:
        assert f"interrupted after epoch {interrupted.epoch}:" in stdout
        pytest.skip("the Ctrl-C landed between two epochs this time; the exact resume inside an epoch is also tested "
                    "in test_training.py")
    assert f"interrupted after batch {interrupted.extra['position']['batches_done']} of epoch" in stdout
    assert main(["train", "--resume", str(run / "checkpoint-interrupted.npz"), "--quiet", "--no-figures"]) is None
    assert same_run(straight / "checkpoint.npz", run / "checkpoint.npz")
    assert not (run / "checkpoint-interrupted.npz").exists()


def test_epochs_0_writes_nothing_and_says_so(tmp_path, capsys):
    assert main(["train", "--epochs", "0", "--out", str(tmp_path / "none")]) is None
    assert "nothing to train: --epochs 0 asks for no epoch, so nothing was written" in capsys.readouterr().out
    assert not (tmp_path / "none").exists()
    run = tmp_path / "run"
    assert main(["train", *OPTIONS, "--epochs", "1", "--out", str(run)]) is None
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main(["train", "--resume", str(run / "checkpoint.npz"), "--epochs", "0"]) is None
    assert capsys.readouterr().out.startswith(f"nothing to do: {run / 'checkpoint.npz'} has done 1 epochs and "
                                              "--epochs 0 is the total")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_diverged_run_exits_1_and_leaves_nothing(tmp_path, capsys):
    assert main(["train", "--lr", "1e3", "--epochs", "2", "--hidden", "16", "--quiet", "--out",
                 str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: training diverged at epoch 1") and "for 10 steps in a row" in err
    assert "There is no last good checkpoint: no epoch had finished." in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_the_printed_numbers_say_what_they_are(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--hidden", "8", "--exclude-classes", "2,3,4,5,6,7,8,9", "--out",
                 str(tmp_path), "--no-figures"]) is None
    out = capsys.readouterr().out
    assert "per epoch: mean loss (reconstruction + beta x KL, nats per example, one sample of z)" in out
    assert "held-out" in out and "  val " not in out
    assert "test negative ELBO (one sample of z per example)" in out


def test_a_user_file_run_is_scored_as_trained_from_any_folder_with_figures_next_to_it(tmp_path, monkeypatch, capsys):
    """The issue's cases: --rescale not stored (evaluate said 1176.9 nats instead of 63.2), the data path stored
    relative to where training ran, and figure commands writing into the current folder."""
    x = np.random.default_rng(0).integers(0, 256, size=(300, 8, 8)).astype(np.float32)
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "digits.npy", x)
    monkeypatch.chdir(tmp_path / "data")
    assert main(["train", "--data", "digits.npy", "--rescale", "--epochs", "2", "--hidden", "8", "--out", "../run",
                 "--quiet", "--no-figures"]) is None
    trained = float(capsys.readouterr().out.split("test negative ELBO (one sample of z per example) ")[1].split()[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ckpt = str(tmp_path / "run" / "checkpoint.npz")
    assert main(["evaluate", ckpt]) is None  # no --rescale, no --data: from the record
    out = capsys.readouterr().out
    scored = float(out.split("negative ELBO")[1].split()[0])
    assert abs(scored - trained) < 0.05 * trained  # one-sample estimates with other noise: close, not 20x off
    for command, name in [("sample", "samples.png"), ("reconstruct", "reconstructions.png"),
                          ("manifold", "manifold.png"), ("interpolate", "interpolation.png"),
                          ("traverse", "traversal.png")]:
        assert main([command, ckpt]) is None
        assert (tmp_path / "run" / name).is_file(), command
    assert list(elsewhere.iterdir()) == []


def test_a_0_1_0_run_resumes_with_a_note_and_its_recorded_options(tmp_path, capsys):
    assert main(["train", "--resume", str(DATA / "cli-train.npz"), "--epochs", "2", "--out", str(tmp_path),
                 "--quiet", "--no-figures"]) is None
    captured = capsys.readouterr()
    assert "does not record how its data were loaded (it predates minivae 0.2.0)" in captured.err
    assert "recorded options: beta 0.5, binarize dynamic" in captured.out
    resumed = load_checkpoint(tmp_path / "checkpoint.npz")
    assert resumed.epoch == 2 and resumed.extra["train_config"]["beta"] == 0.5
    assert resumed.extra["train_config"]["binarize"] == "dynamic"
