"""Verified downloads: fetch a file once into the cache folder, check its checksum, never keep half a file.

A download is written to a temporary file next to its destination, checked against the checksum its authors
published, and moved into place (``os.replace``, atomic) only when it is correct, so an interrupted or damaged
download never leaves a file behind under the final name. When the network fails, ``DownloadError`` says what to
do instead: use the bundled dataset, or place the files in the cache folder by hand.
"""
import gzip
import hashlib
import http.client
import os
import pathlib
import shutil
import sys
import urllib.request
import zlib

from minivae.fileio import atomic_write


class DownloadError(OSError):
    """A file could not be fetched (no network, unknown host, HTTP error...). The message says what to do instead."""


def default_cache_dir() -> pathlib.Path:
    """Folder for downloaded datasets: ``$MINIVAE_CACHE_DIR`` if set, else ``~/.cache/minivae``.

    Example::

        >>> default_cache_dir()                              # doctest: +SKIP
        PosixPath('/home/ada/.cache/minivae')
    """
    env = os.environ.get("MINIVAE_CACHE_DIR")
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "minivae"


def download_file(url, dest, sha256=None, md5=None, timeout=30) -> pathlib.Path:
    """Download ``url`` to ``dest`` and check its checksum; return ``dest``.

    If ``dest`` already exists with the right checksum (or no checksum is given), nothing is downloaded. The data
    goes to a temporary file next to ``dest``, which is checked and then renamed with ``os.replace`` (atomic), so
    ``dest`` is either absent or complete. Raises DownloadError (an OSError) if the network fails and ValueError if
    the checksum is wrong; in both cases no file is left behind.

    Example::

        >>> download_file("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        ...               "t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c")   # doctest: +SKIP
    """
    dest = pathlib.Path(dest)
    if dest.exists() and checksum_problem(dest, sha256, md5) is None:
        return dest
    with atomic_write(dest, "wb") as out:  # on any error the partial download is deleted
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, out)
        except (OSError, http.client.HTTPException) as err:  # URLError and timeouts are OSErrors
            raise DownloadError(_download_advice(dest.name, url, _reason(err), dest.parent)) from err
        out.flush()
        problem = checksum_problem(pathlib.Path(out.name), sha256, md5)
        if problem:
            raise ValueError(f"downloaded {dest.name} from {url}, but {problem}; the server sent a different or "
                             f"damaged file, so it was not kept")
    return dest


def download_from_mirrors(filename, urls, md5, folder) -> pathlib.Path:
    """Download ``filename`` into ``folder`` from the first of the base ``urls`` that works; return its path.

    A file's URL is base + filename. Each mirror is tried in turn; if a mirror sent a file with the wrong checksum,
    that ValueError is raised, else a DownloadError naming every URL tried and why each failed.
    """
    folder = pathlib.Path(folder)
    errors = []
    for base in urls:
        print(f"minivae: downloading {base}{filename}", file=sys.stderr)
        try:
            return download_file(base + filename, folder / filename, md5=md5)
        except (DownloadError, ValueError) as err:
            errors.append(err)
    mismatches = [err for err in errors if isinstance(err, ValueError)]
    if mismatches:
        raise mismatches[0]
    reasons = "; ".join(_reason(err.__cause__) for err in errors)
    raise DownloadError(_download_advice(filename, " or ".join(u + filename for u in urls), reasons, folder))


def checksum_problem(path, sha256=None, md5=None):
    """None if the file at ``path`` has the given digests (hex strings), else a sentence saying which one differs.

    Example::

        >>> checksum_problem("t10k-labels-idx1-ubyte.gz", md5="ec29112dd5afa0611ce80d1b7f02629c")   # doctest: +SKIP
    """
    for algorithm, want in (("sha256", sha256), ("md5", md5)):
        if want is not None:
            with open(path, "rb") as f:
                digest = _hexdigest(f, algorithm)
            if digest != want.lower():
                return f"its {algorithm} checksum is {digest}, expected {want}"
    return None


def content_checksum_problem(path, sha256):
    """None if the *uncompressed* bytes of the .gz file at ``path`` have this sha256, else a sentence saying why not.

    A dataset re-compressed by someone else (another gzip level, another tool) has other .gz bytes but the same
    content: this check accepts it, where a checksum of the .gz file would not.

    Example::

        >>> content_checksum_problem("t10k-labels-idx1-ubyte.gz", "ff7bcfd4...")   # doctest: +SKIP
    """
    try:
        with gzip.open(path, "rb") as f:
            digest = _hexdigest(f, "sha256")
    except (OSError, EOFError, zlib.error) as err:
        return f"it is not a complete gzip file ({err})"
    if digest != sha256.lower():
        return f"the sha256 of its uncompressed content is {digest}, expected {sha256}"
    return None


def _hexdigest(f, algorithm):
    """The hex digest of everything left in the open binary file ``f``, read 1 MiB at a time."""
    digest = hashlib.new(algorithm)
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _reason(err):
    return str(getattr(err, "reason", None) or err)


def _download_advice(what, url, reason, folder):
    return (f"could not download {what} from {url}: {reason}; use the bundled dataset ('mnist-test-10k') "
            f"or place the files in {folder}")
