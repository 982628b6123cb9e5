"""Runs as the trail records them, and as they stand now once reviewers' waivers and sign-offs are applied.

Everything here is derived from events, never stored twice. A run is complete when its `run_completed` event
exists; an incomplete run is never shown as passed or recommended. A candidate's current verdict is its
recorded rule outcomes with unexpired waivers applied (a waived failure no longer blocks), and the run's
recommendation is the best passing, non-rejected, non-baseline candidate by the optimizing metric. Those
rules are `engine/decision.py`'s: this module gathers the events they are applied to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from engine import decision as decide
from engine.audit.trail import Event, query_events, read_events, reading
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


def load_run(path: Path, run_id: str) -> RunRecord:
    """The recorded events of one run, or `TrailError` when the trail has no such run."""
    events = read_events(path, run_id=run_id)
    started = next((e for e in events if e.kind == RUN_STARTED), None)
    if started is None:
        raise TrailError(f"{path}: no run {run_id!r} in the audit trail", hint="`mlgate runs` lists them")
    record = RunRecord(run_id=run_id, started=started)
    by_candidate = {CANDIDATE_EVALUATED: record.candidates, RULES_CHECKED: record.rules, CARD_WRITTEN: record.cards,
                    SEARCH_COMPLETED: record.searches}
    lists = {WAIVER: record.waivers, SIGNOFF: record.signoffs, RECHECK: record.rechecks}
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


# Read only the events a summary needs: each run's start (its body parsed once, into the few fields shown) and
# its completion and decisions; the large evidence bodies are never read, so 10,000 runs list in well under a second.
STARTED_FIELDS = ('{"data": {"spec": {"name": "VARCHAR", "candidates": "JSON"}, '
                  '"data": {"fingerprint": {"sha256": "VARCHAR"}}, "policies": [{"name": "VARCHAR"}]}}')
PAGE_SQL = f"""
SELECT seq FROM events
WHERE kind = '{RUN_STARTED}' AND recorded_at >= ? AND recorded_at < ? AND seq < ?
ORDER BY seq DESC LIMIT ?
"""
SUMMARY_TEMPLATE = f"""
WITH s AS (
    SELECT seq, run_id, recorded_at, json_transform(body, '{STARTED_FIELDS}') AS j
    FROM events WHERE kind = '{RUN_STARTED}' AND recorded_at >= ? AND recorded_at < ? PAGE
), o AS (
    SELECT run_id,
           bool_or(kind = '{RUN_COMPLETED}') AS complete,
           max(CASE WHEN kind = '{RUN_COMPLETED}' THEN json_extract_string(body, '$.data.verdict') END) AS verdict,
           max(CASE WHEN kind = '{RUN_COMPLETED}' THEN json_extract_string(body, '$.data.recommended') END)
               AS recommended,
           bool_or(kind IN ('{WAIVER}', '{SIGNOFF}')) AS reviewed,
           list(json_extract_string(body, '$.data.reviewer')) FILTER (kind IN ('{WAIVER}', '{SIGNOFF}')) AS who
    FROM events
    WHERE kind IN ('{RUN_COMPLETED}', '{WAIVER}', '{SIGNOFF}') AND run_id IN (SELECT run_id FROM s)
    GROUP BY run_id
)
SELECT s.run_id, s.recorded_at AS started_at, s.j.data.spec.name, s.j.data.data.fingerprint.sha256,
       s.j.data.spec.candidates::VARCHAR, to_json(list_transform(s.j.data.policies, lambda p: p.name))::VARCHAR,
       coalesce(o.complete, false), o.verdict, o.recommended, coalesce(o.reviewed, false), o.who, s.seq
FROM s LEFT JOIN o ON o.run_id = s.run_id
ORDER BY ORDERING
"""
SUMMARY_SQL = SUMMARY_TEMPLATE.replace("PAGE", "").replace("ORDERING", "started_at DESC")
# A page: the starts are chosen from the small columns first, so only the bodies of the runs shown are parsed.
PAGED_SQL = SUMMARY_TEMPLATE.replace("PAGE", f"AND seq IN ({PAGE_SQL})").replace("ORDERING", "s.seq DESC")
BEFORE_SQL = f"SELECT min(seq) FROM events WHERE kind = '{RUN_STARTED}' AND run_id = ?"
NO_CURSOR = 2**62


def list_runs(path: Path, run_filter: RunFilter | None = None, *, limit: int | None = None,
              before: str | None = None) -> list[dict[str, Any]]:
    """Runs, newest first, as they stand now (a reviewed run's verdict is recomputed from its events).

    With `limit`, one page: at most `limit` runs that match, started before run `before` (keyset paging: the
    next page is `before` = the last run of this one), reading only the bodies of the runs it looks at.
    """
    if limit is None and before is None:
        return _summaries(path, run_filter or RunFilter())
    return _page(path, run_filter or RunFilter(), limit=limit, before=before)


def newest_runs(path: Path, limit: int) -> list[dict[str, Any]]:
    """The `limit` most recently started runs, as `list_runs` shows them: a first page, read without the rest."""
    return _page(path, RunFilter(), limit=max(0, int(limit)), before=None)


def _window(f: RunFilter) -> list[object]:
    until = (f.until.toordinal() + 1) if f.until else None
    return [f.since.isoformat() if f.since else "", date.fromordinal(until).isoformat() if until else "9999"]


def _page(path: Path, f: RunFilter, *, limit: int | None, before: str | None) -> list[dict[str, Any]]:
    wanted = NO_CURSOR if limit is None else max(0, int(limit))
    found: list[dict[str, Any]] = []
    with reading(path) as con:
        cursor = NO_CURSOR
        if before is not None:
            start = query_events(con, path, BEFORE_SQL, [before])[0][0]
            if start is None:
                raise TrailError(f"{path}: no run {before!r} in the audit trail", hint="`mlgate runs` lists them")
            cursor = int(start)
    batch = max(wanted, 50) if limit is not None else 1000
    while len(found) < wanted:
        with reading(path) as con:
            rows = query_events(con, path, PAGED_SQL, [*_window(f), *_window(f), cursor, batch])
        found += _summarise(path, rows, f)[: wanted - len(found)]
        if len(rows) < batch:
            break
        cursor = int(rows[-1][-1])
    return found


def _summaries(path: Path, f: RunFilter) -> list[dict[str, Any]]:
    with reading(path) as con:
        rows = query_events(con, path, SUMMARY_SQL, _window(f))
    return _summarise(path, rows, f)


def _summarise(path: Path, rows: list[Any], f: RunFilter) -> list[dict[str, Any]]:
    runs = []
    for run_id, started_at, name, sha, cand_json, pol_json, complete, verdict, recommended, reviewed, who, _ in rows:
        if name is None:  # events of a run whose start is outside the window
            continue
        candidates = candidate_names({"candidates": json.loads(cand_json)}) if cand_json else []
        policies = _json_list(pol_json)
        if reviewed:
            current = view(load_run(path, run_id))
            verdict, recommended = current.verdict, current.recommended
        elif not complete:
            verdict, recommended = decide.run_verdict(complete=False, recommended=None), None
        summary = {"run_id": run_id, "started_at": started_at, "name": name, "data_sha256": sha,
                   "candidates": candidates, "policies": policies, "complete": bool(complete),
                   "verdict": verdict, "recommended": recommended, "reviewers": sorted(set(who or []))}
        if _matches(summary, f):
            runs.append(summary)
    return runs


def candidate_names(spec: dict[str, Any]) -> list[str]:
    """Every candidate a spec trains, calibrated variants (NAME.METHOD) included."""
    names = []
    for candidate in spec["candidates"]:
        names += [candidate["name"], *(f"{candidate['name']}.{m}" for m in candidate.get("calibration", []))]
    return names


def _json_list(text: str | None) -> list[str]:
    return [str(v) for v in json.loads(text)] if text else []


def _matches(summary: dict[str, Any], f: RunFilter) -> bool:
    return (
        (f.candidate is None or f.candidate in summary["candidates"])
        and (f.verdict is None or f.verdict == summary["verdict"])
        and (f.policy is None or f.policy in summary["policies"])
        and (f.reviewer is None or f.reviewer in summary["reviewers"])
    )

