"""``--distributed``: run a command on every rank of an MPI launch (``mpiexec -n 4 python -m minivae ...``).

    add_option(parser, what)    the flag, with what each rank does for this command
    communicator(args)          the MPI communicator with --distributed (a clear error without mpi4py or mpiexec),
                                else the one-process stand-in (``minivae.distributed.mpi``)
"""
from minivae.distributed.mpi import SingleProcess, world


def add_option(parser, what):
    parser.add_argument("--distributed", action="store_true",
                        help=f"run on every rank of an MPI launch (mpiexec -n N python -m minivae ...): {what}; "
                             "needs pip install 'minivae[distributed]'")


def communicator(args):
    """world() if --distributed was given, else SingleProcess()."""
    return world() if getattr(args, "distributed", False) else SingleProcess()
