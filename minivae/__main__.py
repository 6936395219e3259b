"""python -m minivae: see minivae/cli.py."""
import sys

from minivae.cli import main

sys.exit(main())
