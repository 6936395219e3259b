"""A table written as a folder of parts, one Parquet file per unit of work, each rank writing its own units.

    scores/part-000000.parquet      unit 0: the first row group of the table (or the first block of synthetic rows)
    scores/part-000001.parquet      unit 1
    ...
    scores/part-000004.parquet      rank r of size writes the units r, r + size, r + 2 size, ... (``mine``)

The six digits keep the path order the unit order (up to a million units), and ``tables.arrow_io`` reads a folder's
files in path order: the folder read as a table is the units' rows put back in index order, whatever the number of
ranks that wrote it. Each part is written atomically (``AtomicParquetWriter``): a reader sees a whole part or none.

**A folder of an earlier run.** Its parts are replaced: before any rank writes, rank 0 removes every file of the
folder named part-NNNNNN.parquet, so a part of a bigger, earlier table (a stale part-000007.parquet) cannot join the
union. A folder that holds any other file a reader would see (a name not starting with "." or "_") is refused
rather than cleared: it is not ours to delete, and it would be read as part of the table.

**Failing together.** A rank that fails (a category never seen, a damaged row group) stops; when every rank is done,
they exchange what happened (one allgather): if any failed, every rank removes the parts it wrote and raises the
first failure, so ``mpiexec`` ends with the same error everywhere and the folder holds no parts, never a table that
looks whole but is not.
"""
import re
from pathlib import Path

from minivae.distributed.mpi import on_every_rank

PART = "part-{:06d}.parquet"
PART_NAME = re.compile(r"^part-\d{6}\.parquet$")


def is_folder(target):
    """True if ``target`` names a folder of parts: it ends with "/" or is an existing folder."""
    text = str(target)
    return text.endswith(("/", "\\")) or Path(text).is_dir()


def part_path(folder, index):
    """The path of unit ``index``'s part in ``folder``."""
    return Path(folder) / PART.format(index)


def mine(count, comm):
    """The units of ``count`` that this rank writes: rank, rank + size, ... (the layout of ``tables.arrow_io``)."""
    return range(comm.rank, count, comm.size)


def prepare_folder(folder, comm):
    """Make ``folder`` ready for this run's parts on every rank (module docstring): rank 0 creates it and removes
    the parts of an earlier run, or refuses a folder holding other files; every rank raises the same error."""
    error = None
    if comm.is_root:
        try:
            _clear(Path(folder))
        except (OSError, ValueError) as err:
            error = err
    _raise_first(comm.allgather(_sendable(error)), error)


def _clear(folder):
    folder.mkdir(parents=True, exist_ok=True)
    visible = [p for p in sorted(folder.iterdir()) if not p.name.startswith((".", "_"))]
    others = [p.name for p in visible if not (p.is_file() and PART_NAME.match(p.name))]
    if others:
        raise ValueError(f"{folder} holds files that are not parts of a table ({', '.join(others[:3])}"
                         f"{', ...' if len(others) > 3 else ''}), which a reader of the folder would take as rows: "
                         "give an empty or a new folder")
    for path in visible:
        path.unlink()


def write_parts(folder, schema, parts, comm):
    """Write this rank's parts, then agree: every rank returns, or every rank raises the first failure.

    parts : iterable of (unit index, iterable of column batches in ``schema``), this rank's units
    Returns the number of parts that all the ranks wrote together.
    """
    from minivae.tables.arrow_io import write_parquet

    written, error = [], None
    try:
        for index, batches in parts:
            written.append(write_parquet(part_path(folder, index), schema, batches))
    except Exception as err:  # noqa: BLE001 -- told to every rank below, then raised
        error = err
    counts = comm.allgather(None if error else len(written))
    if None in counts:  # the same test on every rank: they all make the second call, or none does
        for path in written:  # no rank leaves a part: the folder must not look like a whole table
            path.unlink(missing_ok=True)
        _raise_first(comm.allgather(_sendable(error)), error)
    return sum(counts)


def _raise_first(errors, own=None):
    """Raise the first failure of ``errors`` (each rank's (type, message), or None): this rank's own error as it is
    (with its traceback), another rank's as its type and message."""
    failed = [e for e in errors if e is not None]
    if not failed:
        return
    kind, message = failed[0]
    if own is not None and (type(own), str(own)) == (kind, message):
        raise on_every_rank(own)
    try:
        error = kind(message)
    except Exception:  # noqa: BLE001 -- an error type that takes other arguments
        error = RuntimeError(message)
    raise on_every_rank(error)


def _sendable(error):
    return None if error is None else (type(error), str(error))
