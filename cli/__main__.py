"""`python -m hogkit.cli`: the same entry point as the `hogkit` console script."""

import sys

from .main import main

sys.exit(main())
