"""Writing files safely: every file minivae writes (checkpoints, figures, downloads, tables, samples) goes through
``atomic_write``.

Writing a file in place is not safe: a crash, a full disk or a Ctrl-C halfway leaves a truncated file under the
final name, and the next run reads garbage or overwrote the last good copy. Instead we write to a temporary file in
the same folder and rename it over the target with ``os.replace``, which is atomic on POSIX and Windows: a reader
sees either the old file or the complete new one, never a mix. On any error the temporary file is removed.
"""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
