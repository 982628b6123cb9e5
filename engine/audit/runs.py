"""Runs as the trail records them, and as they stand now once reviewers' waivers and sign-offs are applied.

Everything here is derived from events, never stored twice. A run is complete when its `run_completed` event
exists; an incomplete run is never shown as passed or recommended. A candidate's current verdict is its
recorded rule outcomes with unexpired waivers applied (a waived failure no longer blocks), and the run's
recommendation is the best passing, non-rejected, non-baseline candidate by the optimizing metric. Those
rules are `engine/decision.py`'s: this module gathers the events they are applied to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from engine import decision as decide
from engine.audit import index
from engine.audit.trail import COLUMNS, Event, event_of, query_events, reading
from engine.errors import TrailError
from engine.evaluation.evidence import stored_evidence

RUN_STARTED = "run_started"
CANDIDATE_EVALUATED = "candidate_evaluated"
SEARCH_COMPLETED = "search_completed"  # every trial of a candidate's recorded search (engine.search)
RULES_CHECKED = "rules_checked"
CARD_WRITTEN = "card_written"
RUN_COMPLETED = "run_completed"
SIGNOFF = "signoff"
WAIVER = "waiver"
RECHECK = "recheck"
MONITORING_RUN = "monitoring_run"  # a champion re-audited on a batch (engine.monitor), on its audit run
APPROVAL_LAPSED = "approval_lapsed"  # a monitoring run's critical condition failed (engine.monitor)


@dataclass
class RunRecord:
    """All events of one run, grouped by what they describe."""

    run_id: str
    started: Event
    candidates: dict[str, Event] = field(default_factory=dict)
    rules: dict[str, Event] = field(default_factory=dict)
    cards: dict[str, Event] = field(default_factory=dict)
    searches: dict[str, Event] = field(default_factory=dict)
    completed: Event | None = None
    waivers: list[Event] = field(default_factory=list)
    signoffs: list[Event] = field(default_factory=list)
    rechecks: list[Event] = field(default_factory=list)
    monitoring: list[Event] = field(default_factory=list)  # monitoring runs and lapses of its champions

    def evidence(self, candidate: str) -> dict[str, Any]:
        """The candidate's recorded evidence through the versioned reader ({} when it failed before evaluation)."""
        return stored_evidence(self.candidates[candidate].data)


@dataclass(frozen=True)
class CandidateView:
    """One candidate as it stands now: outcomes with waivers applied, verdict, latest sign-off.

    `outcomes` are the JSON of `engine.decision.Outcome`s, as `mlgate show`, the cards and the TUI read them.
    """

    name: str
    family: str
    is_baseline: bool
    outcomes: list[dict[str, Any]]
    verdict: str
    decision: dict[str, Any] | None
    metrics: dict[str, float | None]
    fail_on: str = "block"
    error: str | None = None  # why it failed to train, if it did

    def checked(self) -> list[decide.Outcome]:
        return [decide.Outcome.from_json(o) for o in self.outcomes]

    def blocking_failures(self) -> list[decide.Outcome]:
        return decide.blocking(self.checked(), fail_on=self.fail_on)

    @property
    def rejected_by(self) -> str | None:
        """The reviewer whose latest sign-off rejected it, if it did."""
        if self.decision is None or self.decision["decision"] != decide.REJECT:
            return None
        return str(self.decision["reviewer"])

    def standing(self) -> decide.Standing:
        """What signing it off or promoting it depends on (see `engine.decision.refusal`)."""
        return decide.Standing(self.name, self.is_baseline, tuple(self.checked()), self.fail_on, self.error,
                               self.rejected_by)

    def contender(self, metric: str) -> decide.Contender:
        """What the recommendation knows of it (see `engine.decision.recommend`)."""
        return decide.Contender(self.name, self.metrics.get(metric), self.is_baseline, self.verdict,
                                rejected=self.rejected_by is not None)


@dataclass(frozen=True)
class RunView:
    run_id: str
    name: str
    started_at: str
    complete: bool
    verdict: str
    recommended: str | None
    optimizing_metric: str
    candidates: list[CandidateView]

    def candidate(self, name: str) -> CandidateView | None:
        return next((c for c in self.candidates if c.name == name), None)

    def standings(self) -> list[decide.Standing]:
        return [c.standing() for c in self.candidates]


def today_utc() -> date:
    return datetime.now(UTC).date()


def _candidate_view(record: RunRecord, name: str, *, fail_on: str, today: date) -> CandidateView:
    evaluated, checked = record.candidates[name], record.rules.get(name)
    waivers = [decide.Waiver.from_event(w.data, seq=w.seq) for w in record.waivers if w.data["candidate"] == name]
    recorded: list[dict[str, Any]] = checked.data["outcomes"] if checked else []
    outcomes = decide.apply_waivers([decide.Outcome.from_json(o) for o in recorded], waivers, today=today)
    error = evaluated.data.get("error") or None
    signoffs = [{**s.data, "seq": s.seq, "recorded_at": s.recorded_at}
                for s in record.signoffs if s.data["candidate"] == name]
    evidence = record.evidence(name)
    return CandidateView(
        name=name, family=evaluated.data["family"], is_baseline=evaluated.data["is_baseline"],
        outcomes=[{**r, **o.to_json()} for r, o in zip(recorded, outcomes, strict=True)],  # in the stored key order
        fail_on=fail_on, error=error,
        verdict=decide.candidate_verdict(outcomes, fail_on=fail_on,
                                         error=error or (None if checked else "its rules were never checked")),
        decision=signoffs[-1] if signoffs else None, metrics=evidence.get("metrics", {}),
    )


def view(record: RunRecord, *, today: date | None = None) -> RunView:
    """The run as it stands now: waivers applied, sign-offs attached, recommendation recomputed."""
    today = today or today_utc()
    spec = record.started.data["spec"]
    metric = spec["evaluation"]["optimizing_metric"]
    fail_on = spec["evaluation"].get("fail_on", "block")
    candidates = [_candidate_view(record, name, fail_on=fail_on, today=today) for name in record.candidates]
    complete = record.completed is not None
    best = decide.recommend([c.contender(metric) for c in candidates], metric=metric) if complete else None
    return RunView(
        run_id=record.run_id, name=spec["name"], started_at=record.started.recorded_at, complete=complete,
        verdict=decide.run_verdict(complete=complete, recommended=best),
        recommended=best, optimizing_metric=metric, candidates=candidates,
    )


RUN_EVENTS = f"SELECT {COLUMNS} FROM events WHERE run_id = ? AND seq BETWEEN ? AND ? ORDER BY seq"


def run_events(con: Any, path: Path, run_id: str) -> list[Event]:
    """One run's events in sequence order, read within the seq range its index row gives (the whole trail's
    range without a current index), so the scan skips the rest of a long trail."""
    low, high = index.seq_range(con, run_id)
    return [event_of(row) for row in query_events(con, path, RUN_EVENTS, [run_id, low, high])]


def load_run(path: Path, run_id: str) -> RunRecord:
    """The recorded events of one run, or `TrailError` when the trail has no such run."""
    with reading(path) as con:
        events = run_events(con, path, run_id)
    return record_of(path, run_id, events)


def record_of(path: Path, run_id: str, events: list[Event]) -> RunRecord:
    """A run's record from its events in sequence order (`TrailError` when they hold no start)."""
    started = next((e for e in events if e.kind == RUN_STARTED), None)
    if started is None:
        raise TrailError(f"{path}: no run {run_id!r} in the audit trail", hint="`mlgate runs` lists them")
    record = RunRecord(run_id=run_id, started=started)
    by_candidate = {CANDIDATE_EVALUATED: record.candidates, RULES_CHECKED: record.rules, CARD_WRITTEN: record.cards,
                    SEARCH_COMPLETED: record.searches}
    lists = {WAIVER: record.waivers, SIGNOFF: record.signoffs, RECHECK: record.rechecks,
             MONITORING_RUN: record.monitoring, APPROVAL_LAPSED: record.monitoring}
    for event in events:
        if event.kind in by_candidate:
            by_candidate[event.kind][event.data["candidate"]] = event
        elif event.kind in lists:
            lists[event.kind].append(event)
        elif event.kind == RUN_COMPLETED:
            record.completed = event
    return record


@dataclass(frozen=True)
class RunFilter:
    """What `mlgate runs` may filter on: an allow-list of fields, compared in Python or bound as parameters."""

    since: date | None = None
    until: date | None = None
    candidate: str | None = None
    verdict: str | None = None
    policy: str | None = None
    reviewer: str | None = None


# A page of runs from the index (or, on a trail without a current one, from rows derived from the events):
# keyset paging on the start's sequence number; only the verdict filter is applied in Python (it depends on today).
PAGE_SQL = """
SELECT {columns} FROM {source}
WHERE started_at >= ? AND started_at < ? AND started_seq < ?
  AND (?::VARCHAR IS NULL OR list_contains(candidates, ?::VARCHAR))
  AND (?::VARCHAR IS NULL OR list_contains(policies, ?::VARCHAR))
  AND (?::VARCHAR IS NULL OR list_contains(reviewers, ?::VARCHAR))
ORDER BY started_seq DESC LIMIT ?
"""
BEFORE_SQL = "SELECT min(seq) FROM events WHERE kind = 'run_started' AND run_id = ?"
NO_CURSOR = 2**62
BATCH = 1000


def list_runs(path: Path, run_filter: RunFilter | None = None, *, limit: int | None = None,
              before: str | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Runs, newest first, as they stand now (each verdict decided today from its runs index row).

    With `limit`, one page: at most `limit` runs that match, started before run `before` (keyset paging: the
    next page is `before` = the last run of this one), reading only the index rows it looks at.
    """
    f, today = run_filter or RunFilter(), today or today_utc()
    wanted = NO_CURSOR if limit is None else max(0, int(limit))
    found: list[dict[str, Any]] = []
    with reading(path) as con:
        cursor = NO_CURSOR
        if before is not None:
            start = query_events(con, path, BEFORE_SQL, [before])[0][0]
            if start is None:
                raise TrailError(f"{path}: no run {before!r} in the audit trail", hint="`mlgate runs` lists them")
            cursor = int(start)
        source = index.source(con)
        sql = PAGE_SQL.format(columns=", ".join(index.COLUMNS), source=source)
        batch = BATCH if limit is None or f.verdict is not None else max(wanted, 1)
        if source != index.TABLE:  # rows derived from the events (no current index): derived once, not per batch
            batch = NO_CURSOR
        while len(found) < wanted:
            rows = query_events(con, path, sql, [*_window(f), cursor, *_twice(f.candidate), *_twice(f.policy),
                                                 *_twice(f.reviewer), batch])
            found += [s for s in map(lambda r: summary(dict(zip(index.COLUMNS, r, strict=True)), today=today), rows)
                      if f.verdict is None or s["verdict"] == f.verdict][: wanted - len(found)]
            if len(rows) < batch:
                break
            cursor = int(rows[-1][1])
    return found


COUNT_SQL = "SELECT count(*) FROM {source}"
SIGNOFFS_SQL = f"""SELECT {COLUMNS} FROM events WHERE kind = '{SIGNOFF}' AND run_id IN (SELECT unnest(?::VARCHAR[]))
ORDER BY seq"""


def count_runs(path: Path) -> int:
    """How many runs the trail holds (one row each in the runs index)."""
    with reading(path) as con:
        return int(query_events(con, path, COUNT_SQL.format(source=index.source(con)))[0][0])


def signoffs_of(path: Path, run_ids: list[str]) -> list[Event]:
    """The sign-off events of some runs, in sequence order."""
    with reading(path) as con:
        return [event_of(row) for row in query_events(con, path, SIGNOFFS_SQL, [run_ids])]


def newest_runs(path: Path, limit: int) -> list[dict[str, Any]]:
    """The `limit` most recently started runs, as `list_runs` shows them: a first page, read without the rest."""
    return list_runs(path, limit=max(0, int(limit)))


def summary(row: dict[str, Any], *, today: date) -> dict[str, Any]:
    """What `mlgate runs` shows of a run, from its index row (the verdict decided today)."""
    verdict, recommended = index.current(row, today=today)
    return {"run_id": row["run_id"], "started_at": row["started_at"], "name": row["name"],
            "data_sha256": row["data_sha256"], "candidates": list(row["candidates"]),
            "policies": list(row["policies"]), "complete": row["completed_at"] is not None, "verdict": verdict,
            "recommended": recommended, "reviewers": list(row["reviewers"])}


def _twice(value: str | None) -> list[object]:
    return [value, value]


def _window(f: RunFilter) -> list[object]:
    until = (f.until.toordinal() + 1) if f.until else None
    return [f.since.isoformat() if f.since else "", date.fromordinal(until).isoformat() if until else "9999"]


def candidate_names(spec: dict[str, Any]) -> list[str]:
    """Every candidate a spec trains, calibrated variants (NAME.METHOD) included."""
    names = []
    for candidate in spec["candidates"]:
        names += [candidate["name"], *(f"{candidate['name']}.{m}" for m in candidate.get("calibration", []))]
    return names
