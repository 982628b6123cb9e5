"""`python -m engine` runs the `mlgate` command."""

from engine.cli import run

run()
