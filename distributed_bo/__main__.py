"""``python -m distributed_bo`` runs the CLI."""

import sys

from distributed_bo.cli import main

sys.exit(main())
