"""The command line, ``python -m minivae COMMAND --help``: it parses, calls the library, and prints.

    main          the parser of every command and the functions that run them
"""
from minivae.cli.main import main

__all__ = ["main"]
