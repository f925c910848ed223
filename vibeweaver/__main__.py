"""`python -m vibeweaver` runs the command line."""

import sys

from vibeweaver.cli import main

sys.exit(main())
