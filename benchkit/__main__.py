"""``python -m benchkit`` runs the command line, like the ``benchkit`` script."""

import sys

from benchkit.cli import main

sys.exit(main())
