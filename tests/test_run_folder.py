"""One run per folder: the lock (atomic, holding a pid, stale ones of dead processes replaced), no run written over
another, and --overwrite; with real second processes where it matters."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minivae.cli.main import main
from minivae.training.run_folder import LOCK_NAME, RUN_FIGURES, RunFolderBusy, RunFolderLock, clear_run, \
    existing_run

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--epochs", "1", "--hidden", "4", "--quiet", "--no-figures", "--exclude-classes", "2,3,4,5,6,7,8,9"]


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def minivae(*argv, **kwargs):
    return subprocess.run([sys.executable, "-m", "minivae", *argv], cwd=ROOT, capture_output=True, text=True,
                          **kwargs)


def test_the_lock_holds_the_pid_keeps_a_second_holder_out_and_goes_away(tmp_path):
    with RunFolderLock(tmp_path / "run") as lock:
        assert (tmp_path / "run" / LOCK_NAME).read_text() == f"{os.getpid()}\n" and lock.stale is None
        with pytest.raises(RunFolderBusy, match=rf"in use by another training run \(process {os.getpid()} holds"):
            RunFolderLock(tmp_path / "run").__enter__()
    assert not (tmp_path / "run").exists()  # created for the run, left empty: removed again


def test_a_stale_lock_of_a_dead_process_is_reported_and_replaced(tmp_path):
    pid = dead_pid()
    (tmp_path / LOCK_NAME).write_text(f"{pid}\n")
    with RunFolderLock(tmp_path) as lock:
        assert lock.stale == pid and (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        assert f"left by a run that is no longer running (process {pid}" in lock.stale_message()
    assert not (tmp_path / LOCK_NAME).exists() and tmp_path.exists()


def test_an_empty_lock_cut_short_by_a_kill_counts_as_stale(tmp_path):
    (tmp_path / LOCK_NAME).write_text("")
    with RunFolderLock(tmp_path) as lock:
        assert lock.stale == "unknown"


def test_existing_run_and_clear_run(tmp_path):
    assert existing_run(tmp_path) == []
    for name in ("checkpoint.npz", "checkpoint-interrupted.npz", "history.json", "config.json", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "figures").mkdir()
    for name in RUN_FIGURES[:2] + ("mine.png",):
        (tmp_path / "figures" / name).write_text("x")
    assert [p.name for p in existing_run(tmp_path)] == ["checkpoint.npz", "checkpoint-interrupted.npz"]
    assert len(clear_run(tmp_path)) == 6
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["figures", "mine.png", "notes.txt"]  # not the run's


def test_the_figure_names_are_those_train_writes():
    import minivae.plots.run_figures as run_figures

    assert all(name in run_figures.__doc__ for name in RUN_FIGURES)


def test_a_new_run_where_one_is_refused_and_overwrite_replaces_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(out)]) is None
    first = (out / "checkpoint.npz").read_bytes()
    assert main(["train", *QUICK, "--seed", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out} already holds a run (checkpoint.npz)" in err and f"--resume {out / 'checkpoint.npz'}" in err
    assert "--overwrite" in err and (out / "checkpoint.npz").read_bytes() == first
    assert main(["train", *QUICK, "--seed", "1", "--out", str(out), "--overwrite"]) is None
    assert "--overwrite: removed the run that was in" in capsys.readouterr().err
    assert (out / "checkpoint.npz").read_bytes() != first


def test_a_second_process_is_kept_out_and_a_killed_runs_lock_is_replaced(tmp_path):
    """Two real processes: the first trains, the second is refused while it does; then the first is killed outright
    (kill -9), and the next run recognises its lock as stale."""
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "minivae", "train", "--epochs", "100", "--hidden", "16", "--quiet",
                              "--no-figures", "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (out / "checkpoint.npz").exists():  # it holds the lock and has written a checkpoint
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.1)
        second = minivae("train", "--epochs", "1", "--hidden", "4", "--quiet", "--no-figures", "--out", str(out),
                         "--overwrite")
        assert second.returncode == 1
        assert second.stderr == (f"error: {out} is in use by another training run (process {first.pid} holds "
                                 f"{out / LOCK_NAME}); wait for it to finish, or choose another --out. If no minivae "
                                 "process is running there, delete the lock file.\n")
        resumed = minivae("train", "--resume", str(out / "checkpoint.npz"), "--epochs", "200", "--quiet")
        assert resumed.returncode == 1 and "in use by another training run" in resumed.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (out / LOCK_NAME).read_text() == f"{first.pid}\n"  # left behind by the kill
    third = minivae("train", "--resume", str(out / "checkpoint.npz"), "--epochs", "1", "--quiet", "--no-figures")
    assert third.returncode == 0 and "nothing to do" in third.stdout  # reads, writes nothing: no lock needed
    third = minivae("train", *QUICK, "--out", str(out), "--overwrite")
    assert third.returncode == 0, third.stderr
    assert f"left by a run that is no longer running (process {first.pid}, killed or crashed)" in third.stderr
    assert not (out / LOCK_NAME).exists() and not list(out.glob(".*.tmp"))
