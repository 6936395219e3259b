"""The command line, ``python -m minivae COMMAND --help``: each module parses, calls the library, and prints.

    main          the top-level parser, --version and --debug, and ``main(argv)``: errors become one line
    train         train: the main job (checkpoint, history, config, figures)
    apps          evaluate, anomaly, impute, synthesize
    figures       sample, reconstruct, manifold, interpolate, traverse
    teaching      gradcheck, make-assignment, grade
    common        what they share: the help format, the data options, the checkpoint commands' arguments
"""
from minivae.cli.main import main

__all__ = ["main"]
