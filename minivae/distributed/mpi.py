"""The communicator of a distributed run: who this process is among how many, and the collective calls it makes.

    comm = world()                 # under mpiexec: the MPI communicator of all ranks (mpi4py's COMM_WORLD)
    comm = SingleProcess()         # one process: the same methods, nothing to communicate
    comm.rank, comm.size           # 0 <= rank < size
    comm.allreduce_sum(buffer)     # in place: buffer <- the sum over the ranks of their buffers, one MPI call
    comm.broadcast(obj)            # rank 0's Python object, on every rank
    comm.allgather(obj)            # [rank 0's obj, rank 1's, ...] on every rank
    shard(n, comm.rank, comm.size) # this rank's rows of a batch of n rows: a contiguous slice
    run_on_root(comm, action)      # rank 0 runs action(); every rank raises its error, if it failed

**One buffer, one call.** A model's gradients are many arrays; ``allreduce_sum`` takes one contiguous array (the
gradients packed end to end), because every MPI call pays a latency (microseconds on one machine, tens of them
across a network) on top of the bytes it moves: one call for 6 arrays costs one latency, six calls six.

**Shards.** A batch of n rows is cut into ``size`` contiguous pieces whose sizes differ by at most one (the first
n mod size ranks get one row more); a rank may get none when n < size, and then contributes zeros.

**Launched?** An MPI launcher (``mpiexec``, ``mpirun``, ``srun``) tells each process its place in environment
variables: PMI_RANK and PMI_SIZE (MPICH's Hydra, Intel MPI, Slurm's PMI), OMPI_COMM_WORLD_RANK and _SIZE (Open MPI),
PMIX_RANK (PMIx). Without one, mpi4py still starts, as a single rank ("singleton"): ``world()`` refuses that with
the command to run instead, since ``--distributed`` on one rank is almost always a launch that went wrong.
"""
import os

import numpy as np

from minivae.extras import require

LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def launched():
    """True if an MPI launcher started this process (module docstring)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def world():
    """The communicator of all ranks of this MPI launch; a clear error without mpi4py or without a launcher."""
    require("distributed", "distributed runs (--distributed)")
    if not launched():
        raise ValueError("--distributed needs an MPI launcher to start the ranks: run it as  mpiexec -n 2 python -m "
                         "minivae ...  (mpiexec comes with the distributed extra's mpich), or leave out "
                         "--distributed to run in one process")
    from mpi4py import MPI

    return Communicator(MPI.COMM_WORLD)


class Communicator:
    """mpi4py's communicator, with the few collective calls a data-parallel run needs (module docstring)."""

    def __init__(self, comm):
        self._comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()

    @property
    def is_root(self):
        """True on rank 0, the one that writes files and prints."""
        return self.rank == 0

    def allreduce_sum(self, buffer):
        """In place, buffer <- sum over the ranks of their buffers (a contiguous float array); returns it."""
        from mpi4py import MPI

        _check_buffer(buffer)
        self._comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        return buffer

    def broadcast(self, obj, root=0):
        return self._comm.bcast(obj, root=root)

    def allgather(self, obj):
        return self._comm.allgather(obj)

    def barrier(self):
        self._comm.Barrier()

    def __repr__(self):
        return f"Communicator(rank {self.rank} of {self.size})"


class SingleProcess:
    """The communicator of a run in one process: rank 0 of 1, every collective call the identity."""

    rank, size, is_root = 0, 1, True

    def allreduce_sum(self, buffer):
        _check_buffer(buffer)
        return buffer

    def broadcast(self, obj, root=0):
        return obj

    def allgather(self, obj):
        return [obj]

    def barrier(self):
        pass

    def __repr__(self):
        return "SingleProcess()"


def shard(n, rank, size):
    """The slice of rows [start, stop) of a batch of n rows that rank ``rank`` of ``size`` computes.

    Example
    -------
    >>> [shard(10, r, 3) for r in range(3)]
    [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def on_every_rank(error):
    """Mark ``error`` as raised by every rank together (returns it): the command line then prints it once (rank 0)
    and lets every rank exit with its status, instead of aborting the launch as for an error of one rank alone."""
    error.on_every_rank = True
    return error


def run_on_root(comm, action):
    """Rank 0 runs action() (e.g. writes a checkpoint); every rank learns whether it worked (a broadcast, which the
    others wait for) and raises the same error if not: all ranks go on together or all stop, none runs ahead of a
    failed save and none is left waiting in a collective call. Returns None."""
    error = None
    if comm.is_root:
        try:
            action()
        except Exception as err:  # noqa: BLE001 (raised again below, on every rank)
            error = err
    error = comm.broadcast(error)
    if error is not None:
        raise on_every_rank(error)


def _check_buffer(buffer):
    if not (isinstance(buffer, np.ndarray) and buffer.ndim == 1 and buffer.flags.c_contiguous
            and buffer.dtype in (np.float32, np.float64)):
        raise TypeError("allreduce_sum takes one contiguous 1-D float32 or float64 array (pack the arrays into one "
                        f"buffer first), got {getattr(buffer, 'dtype', type(buffer))!r} "
                        f"{getattr(buffer, 'shape', '')}")
