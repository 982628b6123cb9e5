"""What every mlgate screen shares: the trail it reads, loading in a worker, failures shown, reloading.

A screen does not know the app's class (no import of `tui.app`, so no import cycle): it needs only the trail's
path, which any app holding one offers (`TrailHolder`), and it tells the app what happened by posting the
messages of `tui.messages`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

from textual.screen import Screen
from textual.widgets import Static

from tui.messages import TrailChanged
from tui.text import literal, visible
from tui.workers import run_in_worker

T = TypeVar("T")


@runtime_checkable
class TrailHolder(Protocol):
    """An app over one audit trail: what a screen needs of it."""

    audit_db: Path


class MlgateScreen(Screen[None]):
    """A screen of the mlgate app; it reads again (`reload`) when the app says the trail changed."""

    FAILURE_PLACE: ClassVar[str] = ""  # the id of the Static where a failed read is shown

    @property
    def audit_db(self) -> Path:
        """The trail this screen reads (the app's)."""
        app = self.app
        if not isinstance(app, TrailHolder):
            raise TypeError(f"{type(app).__name__} holds no audit trail (audit_db)")
        return app.audit_db

    def load(self, show: Callable[[T], object], *reads: Callable[[], T], group: str) -> None:
        """Run `reads` in a thread worker, each result shown by `show` on the UI thread; a failure is shown by
        `show_failure`."""
        run_in_worker(self, show, *reads, failed=self.show_failure, group=group)

    def show_failure(self, line: str) -> None:
        """Show a failed read's line where this screen shows its status (`FAILURE_PLACE`)."""
        if self.FAILURE_PLACE:
            self.query_one(f"#{self.FAILURE_PLACE}", Static).update(literal(line))
        else:
            self.notify(visible(line), severity="error")

    def refuse(self, line: str) -> None:
        """An action that cannot be recorded: said at once, before any form asks for a reason."""
        self.app.bell()
        self.notify(visible(line), title="cannot record", severity="error")
        if self.FAILURE_PLACE:
            self.query_one(f"#{self.FAILURE_PLACE}", Static).update(literal(f"cannot record: {line}", style="bold"))

    def on_trail_changed(self, event: TrailChanged) -> None:
        self.reload()

    def reload(self) -> None:
        """Read again what this screen shows (in a thread worker); the default screen shows nothing read."""
