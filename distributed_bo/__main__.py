"""``python -m distributed_bo`` runs the CLI."""

from distributed_bo.cli import entry

entry()
