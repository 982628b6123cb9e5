"""`python -m tui AUDIT_DB`: start the reviewer's terminal UI on a trail file (what `mlgate tui` runs).

The CLI does not import the TUI (the two front ends are kept apart by an import contract): `mlgate tui` checks
its flags and then replaces its own process with this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tui.app import run

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tui AUDIT_DB")
    run(Path(sys.argv[1]))
