"""The version of minivae (one home: the package metadata, checkpoints and ``--version`` read it from here)."""
__version__ = "0.2.0"
