"""`python -m cli` runs the `mlgate` command (what the TUI and CI start when no console script is installed)."""

from cli.process import configure

configure()  # before anything imports numpy

from cli.main import run  # noqa: E402

run()
