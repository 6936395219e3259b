"""atomic_write: all or nothing, ordinary permissions, and no temporary file left behind."""
import os

import pytest

from minivae.fileio import atomic_write, atomic_write_bytes


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
