"""``python -m fromscratch ...`` runs the command line (see ``fromscratch.cli``)."""

import sys

from .cli import main

sys.exit(main())
