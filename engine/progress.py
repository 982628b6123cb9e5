"""`Progress`: one step of an audit as the stages report it, for whatever front end shows it.

Every stage takes a `ProgressCallback`; the CLI prints the steps (or streams them as JSON Lines), the TUI logs
them, and a test records them. A stage never prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One step of an audit, for a progress display."""

    stage: str
    message: str
    candidate: str | None = None


ProgressCallback = Callable[[Progress], None]


def ignore(_: Progress) -> None:
    """The callback of an audit nobody watches."""
    return None
