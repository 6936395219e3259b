"""``--distributed``: run a command on every rank of an MPI launch (``mpiexec -n 4 python -m minivae ...``).

    add_option(parser, what)    the flag, with what each rank does for this command
    communicator(args)          the MPI communicator with --distributed (a clear error without mpi4py or mpiexec),
                                else the one-process stand-in (``minivae.distributed.mpi``)
    stdout_of(comm)             rank 0's standard output as it is, the other ranks' discarded
    on_root(comm, context, prepare)   rank 0 alone enters a context (a run folder's lock) and prepares; every rank
                                raises its error, if any
    same_on_every_rank(check)   a check that every rank makes on the same inputs (a table's schema against the
                                model's): its error is marked as every rank's, so it is printed once, not aborted

**Fail together.** A rank that raises while the others wait in a collective call leaves them waiting forever. So
what rank 0 alone decides (the run folder is free, its checkpoint was saved) it broadcasts, and every rank raises
the same error.
"""
import contextlib
import os

from minivae.distributed.mpi import SingleProcess, on_every_rank, run_on_root, world


def add_option(parser, what):
    parser.add_argument("--distributed", action="store_true",
                        help=f"run on every rank of an MPI launch (mpiexec -n N python -m minivae ...): {what}; "
                             "needs pip install 'minivae[distributed]'")


def communicator(args):
    """world() if --distributed was given, else SingleProcess()."""
    return world() if getattr(args, "distributed", False) else SingleProcess()


def stdout_of(comm):
    """A context: rank 0's standard output as it is; the other ranks' discarded (they would print the same lines)."""
    return contextlib.nullcontext() if comm.is_root else contextlib.redirect_stdout(open(os.devnull, "w"))


@contextlib.contextmanager
def on_root(comm, context, prepare):
    """Rank 0 enters ``context`` (e.g. a RunFolderLock) and calls prepare(what it gives); every rank then learns the
    outcome (a broadcast) and raises the same error if there was one. Rank 0 holds the context until the end."""
    with contextlib.ExitStack() as stack:
        run_on_root(comm, lambda: prepare(stack.enter_context(context)))
        yield


def same_on_every_rank(check):
    """check() and its result; an error it raises is marked as raised by every rank (``mpi.on_every_rank``), which
    is true when every rank runs the same check on the same inputs, and lets the command line print it once."""
    try:
        return check()
    except Exception as err:
        raise on_every_rank(err) from None
