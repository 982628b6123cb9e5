"""`python -m cli` runs the `mlgate` command (what the TUI and CI start when no console script is installed)."""

from cli.main import run

run()
