"""python -m minivae: see minivae/cli/."""
import sys

from minivae.cli import main

sys.exit(main())
