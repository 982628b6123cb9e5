"""Runs as the trail records them: summaries for listings and the full record of one run for cards and views.

Everything here is derived from events, never stored twice: a run is complete when its `run_completed`
event exists, and a candidate's verdict is the one recorded with its rule outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit.trail import Event, read_events
from engine.errors import TrailError

RUN_STARTED = "run_started"
CANDIDATE_EVALUATED = "candidate_evaluated"
RULES_CHECKED = "rules_checked"
CARD_WRITTEN = "card_written"
RUN_COMPLETED = "run_completed"


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started_at: str
    name: str
    data_sha256: str
    candidates: list[str]
    complete: bool
    verdict: str | None
    recommended: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunRecord:
    """All events of one run, grouped by what they describe."""

    run_id: str
    started: Event
    candidates: dict[str, Event] = field(default_factory=dict)
    rules: dict[str, Event] = field(default_factory=dict)
    cards: dict[str, Event] = field(default_factory=dict)
    completed: Event | None = None


def list_runs(path: Path) -> list[RunSummary]:
    """Every run in the trail, newest first."""
    events = read_events(path, kinds=(RUN_STARTED, RUN_COMPLETED))
    completed = {e.run_id: e for e in events if e.kind == RUN_COMPLETED}
    summaries = []
    for event in events:
        if event.kind != RUN_STARTED or event.run_id is None:
            continue
        done = completed.get(event.run_id)
        summaries.append(
            RunSummary(
                run_id=event.run_id,
                started_at=event.recorded_at,
                name=event.data["spec"]["name"],
                data_sha256=event.data["data"]["fingerprint"]["sha256"],
                candidates=[c["name"] for c in event.data["spec"]["candidates"]],
                complete=done is not None,
                verdict=done.data["verdict"] if done else None,
                recommended=done.data["recommended"] if done else None,
            )
        )
    return summaries[::-1]


def load_run(path: Path, run_id: str) -> RunRecord:
    """The recorded events of one run, or `TrailError` when the trail has no such run."""
    events = read_events(path, run_id=run_id)
    started = next((e for e in events if e.kind == RUN_STARTED), None)
    if started is None:
        raise TrailError(f"{path}: no run {run_id!r} in the audit trail")
    record = RunRecord(run_id=run_id, started=started)
    groups = {CANDIDATE_EVALUATED: record.candidates, RULES_CHECKED: record.rules, CARD_WRITTEN: record.cards}
    for event in events:
        if event.kind in groups:
            groups[event.kind][event.data["candidate"]] = event
        elif event.kind == RUN_COMPLETED:
            record.completed = event
    return record
