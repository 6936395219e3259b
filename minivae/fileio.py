"""Writing files safely: every file minivae writes (checkpoints, figures, downloads, tables, samples) goes through
``atomic_write``.

Writing a file in place is not safe: a crash, a full disk or a Ctrl-C halfway leaves a truncated file under the
final name, and the next run reads garbage or overwrote the last good copy. Instead we write to a temporary file in
the same folder and rename it over the target with ``os.replace``, which is atomic on POSIX and Windows: a reader
sees either the old file or the complete new one, never a mix. On any error the temporary file is removed.

A process killed outright (kill -9, a power cut) cannot remove its temporary file, so each one is named after the
file it will become and the process that writes it::

    .checkpoint.npz.minivae-<pid>-<random>.tmp

and ``remove_stale_temporaries(folder)`` deletes those of processes that are no longer running (``save_checkpoint``
and ``train`` call it on the folder they write to, so a killed save leaves nothing behind after the next start).
"""
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

TEMPORARY = re.compile(r"^\..+\.minivae-(\d+)-[^.]+\.tmp$")  # .<name>.minivae-<pid>-<random>.tmp


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Context manager: yields a file object open on a temporary file next to ``path``; on a normal exit the data
    are flushed to disk and the file replaces ``path``; on an exception it is deleted and ``path`` is untouched.

    ``mode`` is "wb" (bytes) or "w" (text; pass encoding=..., newline=... as for open). Missing folders are created.
    The temporary file's name is ``f.name``, so the data can be checked (a checksum) before the rename.

    Example
    -------
    >>> with atomic_write("out/history.json", "w", encoding="utf-8") as f:   # doctest: +SKIP
    ...     f.write(json.dumps(history))
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write opens files for writing only ('wb' or 'w'), got mode {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.minivae-{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.close(fd)  # reopened by name below, so that f.name is the temporary file's path
    try:
        with open(tmp, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes a private file; give it the permissions of a new file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def process_is_running(pid):
    """True if a process with this id exists (it may belong to another user); False if none does.

    POSIX: ``os.kill(pid, 0)`` sends no signal, it only asks. Windows has no such question without extra modules
    (and ``os.kill`` there would end the process), so every process counts as running: nothing is removed.
    """
    if pid <= 0:
        return False
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True
    return True


def remove_stale_temporaries(folder):
    """Delete the temporary files that ``atomic_write`` left in ``folder`` when its process was killed mid-write.

    Only files named as ``atomic_write`` names them, by a process that is no longer running, are removed; a write in
    progress (of this process or another live one) is left alone. Returns the list of (path, size in bytes) removed.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = TEMPORARY.match(entry.name)
        if match is None or not entry.is_file() or process_is_running(int(match.group(1))):
            continue
        try:
            size = entry.stat().st_size
            entry.unlink()
        except FileNotFoundError:  # another process swept it first
            continue
        removed.append((entry, size))
    return removed
