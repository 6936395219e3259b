"""The top-level parser and ``main(argv)``: every group of commands registers its own, and errors become one line.

    make_parser   ``python -m minivae COMMAND``, with --version and --debug; the commands come from
                  cli/train.py (train), cli/apps.py (evaluate, anomaly, impute, synthesize),
                  cli/figures.py (sample, reconstruct, manifold, interpolate, traverse),
                  cli/teaching.py (gradcheck, make-assignment, grade), cli/molecules.py (optimize) and
                  cli/table_report.py (report)
    main          parse, run the command, and turn the library's errors into ``error: <message>`` and an exit
                  status: 2 for a usage error (a bad option or value), 1 for a run that failed (a missing or corrupt
                  file, a failed download, a diverged run, a missing extra); ``--debug`` shows the traceback instead
"""
import argparse
import sys

from minivae.cli import apps, figures, molecules, table_report, teaching, train
from minivae.cli.common import TopLevelHelpFormatter, debug_option
from minivae.datasets.download import DownloadError
from minivae.extras import MissingExtraError
from minivae.training.checkpoint import CheckpointError
from minivae.training.trainer import TrainingDiverged
from minivae.threads import choose_threads, use_threads
from minivae.version import __version__

DESCRIPTION = """\
minivae: a Variational Autoencoder written from scratch. Train one, look inside it, use it.

Every command that reads a checkpoint takes its path as first argument; what it writes goes next to the
checkpoint, or to --out.
Run  python -m minivae COMMAND --help  for the options of a command."""

EPILOG = """\
exit status: 0 done, 1 the run failed (a missing or corrupt file, a failed download, a diverged run, an
optional extra not installed), 2 a usage error (a bad option or value)."""

# The order matters: CheckpointError is a ValueError, but a corrupt checkpoint is not the user's typing.
RUN_FAILED = (CheckpointError, DownloadError, TrainingDiverged, MissingExtraError, OSError)  # exit status 1
USAGE_ERRORS = (ValueError, TypeError)  # exit status 2, as for argparse's own errors


class Parser(argparse.ArgumentParser):
    """argparse's parser, with its errors as one line: the problem and where the options are listed.

    (argparse prints its usage block before the error; for a command with thirty options that hides the one line
    that matters.) Subcommands inherit the class, so every command's errors read the same.
    """

    def error(self, message):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def make_parser():
    parser = Parser(prog="python -m minivae", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=TopLevelHelpFormatter)
    parser.add_argument("--version", action="version", version=f"minivae {__version__}")
    debug_option(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train.add_commands(sub)
    apps.add_commands(sub)
    figures.add_commands(sub)
    teaching.add_commands(sub)
    molecules.add_commands(sub)
    table_report.add_commands(sub)
    return parser


def main(argv=None):
    """Run ``python -m minivae`` with the arguments ``argv`` (default: sys.argv[1:]); return the exit status."""
    parser = make_parser()
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    if args.command in teaching.DELEGATED:  # these parse the rest of the line themselves
        args.debug = args.debug or "--debug" in rest
        own_argv = [a for a in rest if a != "--debug"]
        args.run = lambda _: teaching.DELEGATED[args.command](own_argv)
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")  # exits with status 2
    try:
        args.thread_choice = choose_threads(getattr(args, "threads", None))  # minivae/threads.py
        use_threads(args.thread_choice)
        return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        return 130  # the shell's status for Ctrl-C; a training run has saved its state and said where
    except RUN_FAILED as err:
        return _error(err, 1, args)
    except USAGE_ERRORS as err:
        return _error(err, 2, args)
    except Exception as err:
        if _launch(args) is not None:  # a bug on one rank: the others must not wait for it forever
            _error_of_one_rank(err, 1, _launch(args))
        raise


def _error(err, status, args):
    """One line ``error: <message>`` on stderr and the exit status; with --debug the traceback instead.

    In a distributed run an error that every rank raised together (``distributed.mpi.on_every_rank``) is printed by
    rank 0 alone; any other error is one rank's: it is printed and the whole launch is aborted (MPI_Abort), since
    the other ranks would otherwise wait for this one in their next collective call, forever."""
    launch = _launch(args)
    if launch is not None and not getattr(err, "on_every_rank", False):
        _error_of_one_rank(err, status, launch)
    if args.debug:
        raise err
    if launch is None or launch.Get_rank() == 0:
        print(f"error: {str(err) or type(err).__name__}", file=sys.stderr)
    return status


def _launch(args):
    """MPI's world communicator in a --distributed run that has started MPI, else None."""
    mpi = sys.modules.get("mpi4py.MPI") if getattr(args, "distributed", False) else None
    return None if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized() else mpi.COMM_WORLD


def _error_of_one_rank(err, status, launch):
    print(f"error (rank {launch.Get_rank()} of {launch.Get_size()}, which stops every rank): "
          f"{str(err) or type(err).__name__}", file=sys.stderr, flush=True)
    launch.Abort(status)


if __name__ == "__main__":
    sys.exit(main())
