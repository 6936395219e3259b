"""The folder of a run: one training process at a time, and no run written over another.

A run lives in one folder (``train --out``): ``checkpoint.npz``, ``history.json``, ``config.json``, ``figures/``.
Two things go wrong when two runs share a folder: two processes writing at once leave one's checkpoint beside the
other's figures, and a new run started in the folder of an old one replaces it without a word. So:

* ``RunFolderLock(folder)`` creates ``folder/.minivae.lock`` with ``O_CREAT | O_EXCL``, which the operating system
  does atomically (of two processes, exactly one succeeds), and writes its process id into it. A second process
  finds the lock and is refused, naming the process that holds it. A lock whose process is no longer running was
  left by a run that was killed (kill -9, a power cut): it is reported and replaced.
* ``existing_run(folder)`` names the checkpoints a folder already holds, so that ``train`` can refuse to start a new
  run there unless asked to continue it (``--resume``) or to replace it (``--overwrite``, ``clear_run``).

Example
-------
>>> with RunFolderLock("runs/demo") as lock:          # doctest: +SKIP
...     trainer.fit(x, checkpoint_path="runs/demo/checkpoint.npz")
"""
import os
import time
from pathlib import Path

from minivae.fileio import process_is_running

LOCK_NAME = ".minivae.lock"
CHECKPOINT_NAMES = ("checkpoint.npz", "checkpoint-interrupted.npz")
RUN_FILES = CHECKPOINT_NAMES + ("history.json", "config.json")
RUN_FIGURES = ("history.png", "reconstructions.png", "samples.png", "manifold.png", "interpolation.png",
               "traversal.png", "latent_scatter.png")  # what minivae.plots.run_figures writes into figures/


class RunFolderBusy(OSError):
    """Another live process is training in this folder."""


class RunFolderLock:
    """Context manager: hold ``folder/.minivae.lock`` (holding this process's id) while a run writes in ``folder``.

    The folder is created if needed, and removed again on exit if it is still empty (a run that failed at once).

    ``stale`` is the process id of a dead run whose lock was replaced, or None. Raises RunFolderBusy when a running
    process holds the lock.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.stale = None
        self._held = False

    def __enter__(self):
        self._created = not self.folder.exists()  # removed again on exit if nothing was written into it
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # a second try after removing a stale lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._handle_existing()
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self._held = True
            return self
        raise RunFolderBusy(f"{self.folder} is being claimed by another training run at this moment (its lock "
                            f"{self.path} reappeared); wait for it to finish, or choose another --out")

    def _handle_existing(self):
        pid = self._owner()
        if pid is None and not self.path.exists():  # released meanwhile: try again
            return
        if pid is not None and process_is_running(pid):
            raise RunFolderBusy(
                f"{self.folder} is in use by another training run (process {pid} holds {self.path}); wait for it to "
                "finish, or choose another --out. If no minivae process is running there, delete the lock file.")
        if self._owner() != pid:  # replaced meanwhile by a process that won the folder: let the next try see it
            return
        self.stale = pid if pid is not None else "unknown"
        try:
            os.remove(self.path)  # a dead run's lock; the next O_EXCL create decides who takes the folder
        except FileNotFoundError:
            pass

    def _owner(self):
        """The process id written in the lock, or None if it holds none (a lock cut short by a kill).

        A lock is created empty and its id written just after, so an empty one is read again a few times before
        it counts as a dead run's.
        """
        for attempt in range(5):
            try:
                return int(self.path.read_text().strip())
            except FileNotFoundError:
                return None
            except (OSError, ValueError):
                time.sleep(0.05 * (attempt + 1))
        return None

    def __exit__(self, *exc):
        if self._held and self._owner() == os.getpid():
            os.remove(self.path)
            if self._created and not any(self.folder.iterdir()):  # a run that failed before writing anything
                self.folder.rmdir()
        self._held = False
        return False

    def stale_message(self):
        """One line about the replaced lock of a dead run, or None."""
        if self.stale is None:
            return None
        return (f"note: {self.path} was left by a run that is no longer running (process {self.stale}, killed or "
                "crashed); it was replaced")


def existing_run(folder):
    """The checkpoints that ``folder`` already holds (a list of Paths; empty if it holds no run)."""
    folder = Path(folder)
    return [folder / name for name in CHECKPOINT_NAMES if (folder / name).is_file()]


def clear_run(folder):
    """Remove the files of the run in ``folder`` before a new run replaces it: its checkpoints, history.json,
    config.json and the figures ``train`` wrote into ``folder/figures`` (RUN_FIGURES). Returns the paths removed."""
    folder = Path(folder)
    candidates = [folder / name for name in RUN_FILES] + [folder / "figures" / name for name in RUN_FIGURES]
    removed = [path for path in candidates if path.is_file()]
    for path in removed:
        path.unlink()
    return removed
