"""atomic_write: all or nothing, ordinary permissions, and no temporary file left behind."""
import os

import pytest

from minivae.fileio import TEMPORARY, atomic_write, atomic_write_bytes, remove_stale_temporaries


def test_writes_and_replaces(tmp_path):
    path = atomic_write_bytes(tmp_path / "sub" / "a.bin", b"first")
    assert path.read_bytes() == b"first"
    with atomic_write(path, "w", encoding="utf-8") as f:
        assert f.name != str(path) and os.path.dirname(f.name) == str(path.parent)
        f.write("second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["a.bin"]
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_error_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = atomic_write_bytes(tmp_path / "a.bin", b"good")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_write(path) as f:
            f.write(b"half of the new con")
            raise RuntimeError("failed midway")
    assert path.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_only_write_modes(tmp_path):
    with pytest.raises(ValueError, match="writing only"):
        with atomic_write(tmp_path / "a", "rb"):
            pass


# -- temporaries of killed writes ------------------------------------------------------------------------------------


def dead_pid():
    """The id of a process that has just ended."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_name_their_file_and_process(tmp_path, monkeypatch):
    seen = {}
    with atomic_write(tmp_path / "checkpoint.npz") as f:
        seen["name"] = os.path.basename(f.name)
    assert seen["name"].startswith(f".checkpoint.npz.minivae-{os.getpid()}-") and seen["name"].endswith(".tmp")
    assert TEMPORARY.match(seen["name"])


def test_stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / f".checkpoint.npz.minivae-{dead_pid()}-abc123.tmp"
    dead.write_bytes(b"x" * 1000)
    live = tmp_path / f".checkpoint.npz.minivae-{os.getpid()}-def456.tmp"  # a write in progress in this process
    live.write_bytes(b"y")
    other = tmp_path / ".notes.txt.tmp"  # not ours: never touched
    other.write_bytes(b"z")
    removed = remove_stale_temporaries(tmp_path)
    assert removed == [(dead, 1000)]
    assert not dead.exists() and live.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "no-such-folder") == []


def test_a_save_into_a_folder_sweeps_what_killed_saves_left(tmp_path):
    from minivae import VAE
    from minivae.training.checkpoint import save_checkpoint

    stale = tmp_path / f".checkpoint.npz.minivae-{dead_pid()}-zz.tmp"
    stale.write_bytes(b"half a checkpoint")
    save_checkpoint(tmp_path / "checkpoint.npz", VAE(4, latent_dim=1, hidden=(2,)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]


KILLED_SAVER = """
import sys
import numpy as np
from minivae import VAE, Adam
from minivae.training.checkpoint import save_checkpoint
model, opt = VAE(784, latent_dim=2, hidden=(1500,)), Adam()   # about 10 MB per checkpoint: saves take a while
print("ready", flush=True)
for epoch in range(10 ** 6):
    save_checkpoint(sys.argv[1], model, opt, np.random.default_rng(epoch), epoch=epoch)
"""


def test_kill_9_during_saves_never_breaks_the_checkpoint_and_leaves_nothing_after_the_next_save(tmp_path):
    """A real process saving in a loop, killed outright (SIGKILL) several times, most of them inside a save."""
    import signal
    import subprocess
    import sys
    import time

    from minivae import VAE
    from minivae.training.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / "checkpoint.npz"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    left = 0
    for delay in (0.35, 0.5, 0.65, 0.8, 0.95):
        saver = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(path)], cwd=root, stdout=subprocess.PIPE)
        assert saver.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        saver.stdout.close()
        if path.exists():
            assert load_checkpoint(path).epoch >= 0  # whole, never half-written
        left = max(left, len(list(tmp_path.glob(".*.tmp"))))
    save_checkpoint(tmp_path / "other.npz", VAE(4, latent_dim=1, hidden=(2,)))  # the next save into the folder
    assert {p.name for p in tmp_path.iterdir()} <= {"checkpoint.npz", "other.npz"}  # no temporary file left
    print(f"temporary files left by the kills before the sweep: {left}")
