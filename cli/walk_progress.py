"""How far `mlgate verify` has walked a long chain, on stderr only, so JSON and text results on stdout stay clean.

On a terminal the line is redrawn in place once the walk has taken a moment (a small trail shows nothing);
with `--progress` it is shown even when stderr is a file or a pipe, as one line per second and a last line;
with `--no-progress` never.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

QUIET_SECONDS = 1.0  # on a terminal, a walk shorter than this shows nothing
EVERY_SECONDS = 1.0


class WalkProgress:
    """A `Progress` callback for the chain walk that writes to `stream` (stderr by default)."""

    def __init__(self, *, forced: bool | None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.enabled = forced if forced is not None else self.live
        self.started = time.monotonic()
        self.shown_at = 0.0
        self.drawn = False
        self.last = (0, 0)

    def __call__(self, checked: int, total: int) -> None:
        self.last = (checked, total)
        now = time.monotonic()
        quiet = self.live and now - self.started < QUIET_SECONDS
        if not self.enabled or quiet or now - self.shown_at < EVERY_SECONDS:
            return
        self.shown_at = now
        self._write(f"verifying: {checked:,} of {total:,} events ({100 * checked // max(total, 1)}%)")

    def _write(self, line: str) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K" + line)
            self.drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        """Clear the live line, or (when forced onto a file) say what was walked and how long it took."""
        if self.live and self.drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        elif self.enabled and not self.live:
            seconds = time.monotonic() - self.started
            self._write(f"verified: {self.last[0]:,} of {self.last[1]:,} events walked in {seconds:.1f} s")
