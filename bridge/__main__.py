"""``python -m bridge`` runs the ``x400bridge`` command."""

import sys

from bridge.cli import main

sys.exit(main())
