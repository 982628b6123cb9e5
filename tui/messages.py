"""The events the TUI's screens announce, and the one the app sends back to them.

Screens never call the app: they post one of these messages (it bubbles from the screen to the app), and the
app's `on_...` handlers push the next screen or record the change. Each message is named for what happened
(`RunChosen`, `SignoffRecorded`), not for what the app should do about it. `TrailChanged` goes the other way:
the app posts it to every open screen when the trail file changed, and each screen reads again what it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.message import Message


class RunChosen(Message):
    """The reviewer chose a run (its leaderboard opens)."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class CandidateChosen(Message):
    """The reviewer chose a candidate of a run (its checklist opens)."""

    def __init__(self, run_id: str, candidate: str) -> None:
        super().__init__()
        self.run_id, self.candidate = run_id, candidate


class CompareChosen(Message):
    """The reviewer chose two candidates of a run to see side by side."""

    def __init__(self, run_id: str, left: str, right: str) -> None:
        super().__init__()
        self.run_id, self.left, self.right = run_id, left, right


class CardChosen(Message):
    """The reviewer asked for a candidate's model card (`card` is the file the trail records, if any)."""

    def __init__(self, candidate: str, card: Path | None) -> None:
        super().__init__()
        self.candidate, self.card = candidate, card


class SignoffChosen(Message):
    """The reviewer chose to approve or reject a candidate (the sign-off form opens)."""

    def __init__(self, run_id: str, candidate: str, decision: str) -> None:
        super().__init__()
        self.run_id, self.candidate, self.decision = run_id, candidate, decision


class WaiverChosen(Message):
    """The reviewer chose to waive one rule outcome of a candidate (the waiver form opens)."""

    def __init__(self, run_id: str, candidate: str, outcome: Mapping[str, Any]) -> None:
        super().__init__()
        self.run_id, self.candidate, self.outcome = run_id, candidate, outcome


class Recorded(Message):
    """Something was written through the engine; `line` tells the reviewer what."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class SignoffRecorded(Recorded):
    """A sign-off event was appended to the trail."""


class WaiverRecorded(Recorded):
    """A waiver event was appended to the trail."""


class ExportWritten(Recorded):
    """The trail was exported to a folder (the trail itself is unchanged)."""


class AuditFinished(Message):
    """An audit started from the TUI ended: finished (`run_id` set), failed, or was cancelled."""

    def __init__(self, exit_code: int, run_id: str | None) -> None:
        super().__init__()
        self.exit_code, self.run_id = exit_code, run_id


class TrailChanged(Message, bubble=False):
    """Sent by the app to each open screen: the trail file changed, read again what you show."""
