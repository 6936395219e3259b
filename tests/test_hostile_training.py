"""Hostile cases of training, resuming and checkpoints, as a table: what is prepared, the command, the exit status
and a fragment of what the user reads. A bug found is a row added.

Each row: (id, setup, argv, expected exit status, fragment of stdout + stderr). ``setup`` names a function below that
prepares the case in a fresh folder and returns the words that replace {ckpt}, {run}, {data} and {tmp} in argv.
An exit status other than 0 must come with exactly one line on stderr, "error: ...", and no traceback.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from minivae import VAE
from minivae.cli.main import main
from minivae.training.checkpoint import save_checkpoint
from minivae.training.run_folder import LOCK_NAME

TRAINED = ["--batch-size", "32", "--binarize", "dynamic", "--beta", "0.5", "--lr", "3e-3", "--hidden", "16",
           "--exclude-classes", "2,3,4,5,6,7,8,9", "--quiet", "--no-figures"]
RESUME = ["train", "--resume", "{ckpt}", "--epochs", "3"]

CASES = [
    # resuming changes nothing but the total number of epochs
    ("resume-batch-size", "copy", RESUME + ["--batch-size", "64"], 2, "--batch-size 64 (the run was trained with 32)"),
    ("resume-lr", "copy", RESUME + ["--lr", "1e-3"], 2, "--lr 0.001 (the run was trained with 0.003)"),
    ("resume-binarize", "copy", RESUME + ["--binarize", "none"], 2,
     "--binarize none (the run was trained with dynamic)"),
    ("resume-beta", "copy", RESUME + ["--beta", "1"], 2, "--beta 1.0 (the run was trained with 0.5)"),
    ("resume-seed", "copy", RESUME + ["--seed", "5"], 2, "--seed 5 (the run was trained with 0)"),
    ("resume-latent", "copy", RESUME + ["--latent", "5"], 2, "--latent 5 (the run was trained with 2)"),
    ("resume-hidden", "copy", RESUME + ["--hidden", "32,8"], 2, "--hidden 32,8 (the run was trained with 16)"),
    ("resume-model", "copy", RESUME + ["--model", "ae"], 2, "--model ae (the run was trained with vae)"),
    ("resume-two-changes", "copy", RESUME + ["--lr", "1e-2", "--optimizer", "sgd"], 2,
     "--lr 0.01 (the run was trained with 0.003); --optimizer sgd (the run was trained with adam)"),
    ("resume-exclude", "copy", RESUME + ["--exclude-classes", "3"], 2,
     "--exclude-classes 3 (the run was trained with 2,3,4,5,6,7,8,9)"),
    ("resume-categorical", "copy", RESUME + ["--categorical", "a"], 2, "--categorical a (the run was trained with its "
                                                                      "recorded table encoder)"),
    ("resume-rescale", "copy", RESUME + ["--rescale"], 2,
     "cannot resume with rescale=True: the run was trained with rescale=False"),
    ("resume-other-data", "copy", RESUME + ["--data", "fashion-mnist"], 2,
     "cannot resume on fashion-mnist: the run was trained on mnist-test-10k"),
    ("resume-epochs-0", "copy", ["train", "--resume", "{ckpt}", "--epochs", "0"], 0,
     "nothing to do: {ckpt} has done 1 epochs and --epochs 0 is the total"),
    ("resume-no-epochs", "copy", ["train", "--resume", "{ckpt}"], 0, "give --epochs N with N > 1 to train more"),
    ("resume-into-another-run", "copy", RESUME + ["--out", "{tmp}/other"], 2, "{tmp}/other already holds a run"),
    ("resume-behind-an-interrupted-one", "interrupted_beside", RESUME + ["--quiet", "--no-figures"], 0,
     "{run}/checkpoint-interrupted.npz holds a later state of this run"),
    ("resume-no-optimizer", "library_checkpoint", RESUME, 1, "holds no optimizer or random generator state"),
    # no run over another, one process per folder
    ("train-over-a-run", "copy", ["train", "--out", "{run}", "--epochs", "1"], 2,
     "already holds a run (checkpoint.npz); continue it with  --resume {run}/checkpoint.npz"),
    ("train-over-a-run-names-overwrite", "copy", ["train", "--out", "{run}"], 2, "replace it with --overwrite"),
    ("folder-in-use", "lock_held", ["train", "--out", "{run}", "--epochs", "1", "--hidden", "4", "--quiet"], 1,
     "is in use by another training run (process"),
    ("stale-lock", "stale_lock", ["train", "--out", "{run}", "--epochs", "1", "--hidden", "4", "--quiet",
                                  "--no-figures", "--exclude-classes", "2,3,4,5,6,7,8,9"], 0,
     "was left by a run that is no longer running"),
    ("epochs-0", "nothing", ["train", "--epochs", "0", "--out", "{tmp}/new"], 0,
     "nothing to train: --epochs 0 asks for no epoch, so nothing was written"),
    # divergence
    ("lr-1e3", "nothing", ["train", "--lr", "1e3", "--hidden", "8", "--exclude-classes", "2,3,4,5,6,7,8,9", "--out",
                           "{tmp}/new", "--quiet"], 1, "for 10 steps in a row"),
    ("lr-1e3-causes", "nothing", ["train", "--lr", "1e3", "--hidden", "8", "--exclude-classes", "2,3,4,5,6,7,8,9",
                                  "--out", "{tmp}/new", "--quiet"], 1, "a learning rate too high for Adam (now 1000"),
    # every checkpoint field checked on load, by every command that reads one
    ("folder-as-checkpoint", "copy", ["evaluate", "{run}"], 1, "is a folder, not a checkpoint file"),
    ("npz-not-a-checkpoint", "plain_npz", ["evaluate", "{ckpt}"], 1, "is an .npz file but not a minivae checkpoint"),
    ("no-model", "tamper:no_model", ["evaluate", "{ckpt}"], 1, "its metadata has no 'model' entry"),
    ("model-kind", "tamper:model_kind", ["sample", "{ckpt}"], 1, "model config cannot be built (unknown model kind"),
    ("generator-kind", "tamper:generator_kind", ["evaluate", "{ckpt}"], 1,
     "random generator of unknown kind 'Mersenne'"),
    ("generator-state", "tamper:generator_state", ["train", "--resume", "{ckpt}", "--epochs", "3"], 1,
     "generator state that numpy refuses"),
    ("missing-moment", "tamper:missing_moment", RESUME, 1, "optimizer state lacks optim/decoder.0.W/v"),
    ("wrong-slot", "tamper:wrong_slot", ["evaluate", "{ckpt}"], 1, "but Adam keeps m and v per parameter"),
    ("wrong-shape", "tamper:wrong_shape", ["evaluate", "{ckpt}"], 1, "'optim/decoder.0.W/m' has shape (2, 2)"),
    ("epoch-not-integer", "tamper:epoch_float", ["evaluate", "{ckpt}"], 1, "'epoch' entry is 1.5, not an integer"),
    ("history-not-lists", "tamper:history", ["evaluate", "{ckpt}"], 1, "history entry 'train_loss' is not a list"),
    ("step-negative", "tamper:step", RESUME, 1, "its step is -4, not a count >= 0"),
    ("position-bad", "tamper:position", RESUME, 1, "its position inside the epoch"),
    ("train-config-bad", "tamper:train_config", RESUME, 1, "training config is not a valid TrainConfig"),
    ("binarize-bad", "tamper:binarize", ["evaluate", "{ckpt}"], 1, "records binarize='sometimes'"),
    ("guard-bad", "tamper:guard", RESUME, 1, "its divergence guard state"),
    # the data a run was made from
    ("data-changed", "user_data_changed", ["evaluate", "{ckpt}"], 1, "has changed since the run was trained"),
    ("data-changed-resume", "user_data_changed", RESUME, 1, "has changed since the run was trained"),
    ("data-changed-named", "user_data_changed", ["evaluate", "{ckpt}", "--data", "{data}"], 0,
     "has changed since the run was trained on it (other SHA-256); using it as it is now"),
    ("data-gone", "user_data_gone", ["evaluate", "{ckpt}"], 1, "is gone; if it moved, give its new place with --data"),
    ("table-changed", "table_changed", ["evaluate", "{ckpt}"], 1, "t.csv, has changed since the run was trained"),
    ("table-changed-resume", "table_changed", RESUME, 1, "t.csv, has changed since the run was trained"),
    ("table-resume-as-recorded", "table_copy", RESUME + ["--table", "{data}", "--quiet", "--no-figures"], 0,
     "done in"),
    ("data-moved-resume", "user_data_moved", RESUME + ["--data", "{data}", "--quiet", "--no-figures"], 0,
     "the run's data file has moved to {data} (the same bytes); recorded there"),
    ("data-moved-evaluate", "user_data_moved", ["evaluate", "{ckpt}", "--data", "{data}"], 0, "negative ELBO"),
    ("data-named-as-recorded", "user_data", ["evaluate", "{ckpt}", "--data", "{data}"], 0, "negative ELBO"),
    ("data-other-noted", "copy", ["evaluate", "{ckpt}", "--data", "{data}"], 0, "note: using"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch on the digits 0 and 1 with non-default options, and one on a user file with --rescale."""
    run = tmp_path_factory.mktemp("trained")
    assert main(["train", *TRAINED, "--epochs", "1", "--out", str(run / "run")]) is None
    x = np.random.default_rng(0).integers(0, 256, size=(200, 4, 4)).astype(np.float32)
    np.save(run / "mine.npy", x)
    assert main(["train", "--data", str(run / "mine.npy"), "--rescale", "--epochs", "1", "--hidden", "4",
                 "--out", str(run / "user"), "--quiet", "--no-figures"]) is None
    rows = "".join(f"{150 + i % 40},{'red' if i % 3 else 'blue'}\n" for i in range(100))
    (run / "t.csv").write_text("height,colour\n" + rows)
    assert main(["train", "--table", str(run / "t.csv"), "--epochs", "1", "--hidden", "4", "--out",
                 str(run / "table"), "--quiet", "--no-figures"]) is None
    return run


def _words(tmp, run):
    return {"ckpt": str(run / "checkpoint.npz"), "run": str(run), "tmp": str(tmp), "data": str(tmp / "mine.npy")}


def copy(tmp, trained):
    shutil.copytree(trained / "run", tmp / "run")
    shutil.copytree(trained / "run", tmp / "other")
    np.save(tmp / "mine.npy", np.zeros((20, 784), np.float32))
    return _words(tmp, tmp / "run")


def interrupted_beside(tmp, trained):
    words = copy(tmp, trained)
    shutil.copy(tmp / "run" / "checkpoint.npz", tmp / "run" / "checkpoint-interrupted.npz")
    return words


def nothing(tmp, trained):
    return _words(tmp, tmp / "run")


def library_checkpoint(tmp, trained):
    save_checkpoint(tmp / "run" / "checkpoint.npz", VAE(784, latent_dim=2, hidden=(4,)))
    return _words(tmp, tmp / "run")


def plain_npz(tmp, trained):
    (tmp / "run").mkdir()
    np.savez(tmp / "run" / "checkpoint.npz", x=np.zeros(3))
    return _words(tmp, tmp / "run")


def lock_held(tmp, trained):
    (tmp / "run").mkdir()
    (tmp / "run" / LOCK_NAME).write_text(f"{os.getppid()}\n")  # a live process: the one that started the tests
    return _words(tmp, tmp / "run")


def stale_lock(tmp, trained):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (tmp / "run").mkdir()
    (tmp / "run" / LOCK_NAME).write_text(f"{child.pid}\n")
    return _words(tmp, tmp / "run")


def user_data(tmp, trained):
    shutil.copytree(trained / "user", tmp / "run")
    return {**_words(tmp, tmp / "run"), "data": str(trained / "mine.npy")}


def user_data_changed(tmp, trained):
    words = _user_run_with_its_own_file(tmp, trained)
    np.save(words["data"], np.random.default_rng(1).integers(0, 256, size=(200, 4, 4)).astype(np.float32))
    return words


def user_data_gone(tmp, trained):
    words = _user_run_with_its_own_file(tmp, trained)
    os.remove(words["data"])
    return words


def table_copy(tmp, trained):
    shutil.copytree(trained / "table", tmp / "run")
    shutil.copy(trained / "t.csv", tmp / "t.csv")
    _edit(tmp / "run" / "checkpoint.npz", lambda meta, arrays: meta["extra"].update(dataset=str(tmp / "t.csv")))
    return {**_words(tmp, tmp / "run"), "data": str(tmp / "t.csv")}


def table_changed(tmp, trained):
    words = table_copy(tmp, trained)
    with open(words["data"], "a") as f:
        f.write("999,red\n")  # one row more: another split
    return words


def user_data_moved(tmp, trained):
    words = _user_run_with_its_own_file(tmp, trained)
    os.rename(words["data"], tmp / "moved.npy")
    return {**words, "data": str(tmp / "moved.npy")}


def _user_run_with_its_own_file(tmp, trained):
    """A copy of the user-file run whose record points to a copy of its file (which the case may then change)."""
    shutil.copytree(trained / "user", tmp / "run")
    shutil.copy(trained / "mine.npy", tmp / "mine.npy")
    _edit(tmp / "run" / "checkpoint.npz", lambda meta, arrays: meta["extra"].update(dataset=str(tmp / "mine.npy")))
    return _words(tmp, tmp / "run")


def _edit(path, change):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta, arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def _set(*keys, value):
    def change(meta, arrays):
        target = meta
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


TAMPERINGS = {
    "no_model": lambda meta, arrays: meta.pop("model"),
    "model_kind": _set("model", "model", value="GAN"),
    "generator_kind": _set("rng_state", "bit_generator", value="Mersenne"),
    "generator_state": _set("rng_state", "state", value={"state": -1, "inc": 3}),
    "missing_moment": lambda meta, arrays: arrays.pop("optim/decoder.0.W/v"),
    "wrong_slot": lambda meta, arrays: arrays.update({"optim/decoder.0.W/sum_sq": arrays["optim/decoder.0.W/m"]}),
    "wrong_shape": lambda meta, arrays: arrays.update({"optim/decoder.0.W/m": np.zeros((2, 2), np.float32)}),
    "epoch_float": _set("epoch", value=1.5),
    "history": _set("history", "train_loss", value={"1": 200.0}),
    "step": _set("extra", "step", value=-4),
    "position": _set("extra", "position", value={"batches_done": "half"}),
    "train_config": _set("extra", "train_config", "batch_size", value=0),
    "binarize": _set("extra", "train_config", "binarize", value="sometimes"),
    "guard": _set("extra", "guard", value={"start": "high", "over": 0}),
}


def prepare(setup, tmp, trained):
    if setup.startswith("tamper:"):
        words = copy(tmp, trained)
        _edit(tmp / "run" / "checkpoint.npz", TAMPERINGS[setup.split(":")[1]])
        return words
    return globals()[setup](tmp, trained)


@pytest.mark.parametrize("setup, argv, status, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_case(trained, tmp_path, capsys, setup, argv, status, fragment):
    words = prepare(setup, tmp_path, trained)
    argv = [a.format(**words) for a in argv]
    try:
        got = main(argv) or 0
    except SystemExit as exit_info:
        got = exit_info.code
    out, err = capsys.readouterr()
    assert got == status, f"{argv}: exit {got}\n{out}\n{err}"
    assert fragment.format(**words) in out + err
    assert "Traceback" not in err
    if status != 0:
        assert err.startswith("error: ") and err.count("\n") == 1, err


def test_the_table_covers_every_part():
    assert len({c[0] for c in CASES}) == len(CASES)  # ids are unique
    assert set(TAMPERINGS) == {c[1].split(":")[1] for c in CASES if c[1].startswith("tamper:")}
