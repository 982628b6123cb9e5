"""What the screens read from the trail, as plain data, each call opening DuckDB read-only and closing at once.

These functions run in Textual thread workers (never on the UI thread) and hold no connection between calls,
so an `mlgate audit` in another terminal can write while the TUI is open. The TUI notices new events by the
trail file's size and modification time (`Stamp`), which costs no connection at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.audit import runs
from engine.audit.trail import Event, read_events


@dataclass(frozen=True)
class Stamp:
    """The trail file's size and modification time: it changes whenever an event is appended."""

    size: int
    mtime_ns: int


def stamp(path: Path) -> Stamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return Stamp(info.st_size, info.st_mtime_ns)


@dataclass(frozen=True)
class Candidate:
    """One candidate of a run for the screens: its current view, recorded evidence and card path."""

    view: runs.CandidateView
    evidence: dict[str, Any]
    description: dict[str, Any]
    error: str | None
    card: Path | None


@dataclass(frozen=True)
class Run:
    """A run as it stands now, with each candidate's evidence and the rules of the policies it was checked by."""

    view: runs.RunView
    record: runs.RunRecord
    candidates: dict[str, Candidate]
    rules: dict[tuple[str, str], dict[str, Any]]

    def card(self, name: str) -> Path | None:
        """The file of the candidate's model card, if the run wrote one."""
        found = self.candidates.get(name)
        return found.card if found else None


def list_runs(path: Path) -> list[dict[str, Any]]:
    return runs.list_runs(path) if path.is_file() else []


def runs_page(path: Path, limit: int, before: str | None) -> list[dict[str, Any]]:
    """One keyset page of runs from the runs index: at most `limit`, started before run `before`."""
    return runs.list_runs(path, limit=limit, before=before) if path.is_file() else []


def count_runs(path: Path) -> int:
    return runs.count_runs(path) if path.is_file() else 0


def load(path: Path, run_id: str) -> Run:
    """One run with waivers applied, its candidates' evidence, and its policies' rules keyed by (policy, id)."""
    record = runs.load_run(path, run_id)
    current = runs.view(record)
    candidates = {}
    for view in current.candidates:
        data = record.candidates[view.name].data
        candidates[view.name] = Candidate(view, record.evidence(view.name), data.get("description") or {},
                                          data.get("error"), card_file(path, record, view.name))
    return Run(current, record, candidates, policy_rules(record.started.data.get("policies", [])))


def card_file(path: Path, record: runs.RunRecord, name: str) -> Path | None:
    """The candidate's card as last written: the recorded path, else the same name under the recorded cards
    folder taken relative to the trail (trail and cards may have moved together)."""
    written = record.cards.get(name)
    if written is None or "path" not in written.data:
        return None
    recorded = Path(str(written.data["path"]))
    places = [recorded]
    if "cards_dir" in written.data:
        places.append(path.resolve().parent / str(written.data["cards_dir"]) / record.run_id / recorded.name)
    return next((p for p in places if p.is_file()), recorded)


def policy_rules(policies: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each rule as written in the policy files recorded at the run's start (JSON sources), by (policy, rule id)."""
    rules: dict[tuple[str, str], dict[str, Any]] = {}
    for policy in policies:
        for source in policy.get("sources", []):
            try:
                document = json.loads(source.get("text", ""))
            except (TypeError, ValueError):
                continue
            if not isinstance(document, dict):
                continue
            for rule in document.get("rules", []):
                if isinstance(rule, dict) and "id" in rule:
                    rules[(str(document.get("name", policy.get("name"))), str(rule["id"]))] = rule
    return rules


def events(path: Path, *, run_id: str | None = None) -> list[Event]:
    return read_events(path, run_id=run_id) if path.is_file() else []


def decisions(path: Path, run_ids: list[str]) -> dict[str, dict[str, str]]:
    """The latest sign-off decision per candidate of the runs shown (`{run_id: {candidate: "approve"}}`): the
    runs list's decision column, read from those runs' sign-off events alone (a waiver is not a decision)."""
    found: dict[str, dict[str, str]] = {}
    for event in runs.signoffs_of(path, run_ids) if path.is_file() and run_ids else []:
        if event.run_id is not None:
            found.setdefault(event.run_id, {})[str(event.data.get("candidate"))] = str(event.data.get("decision"))
    return found


def card_targets(path: Path, run_id: str, candidate: str) -> list[Path]:
    """The files a sign-off or waiver of `candidate` writes again (its card in every format), exactly where
    `engine.review` writes them: under the cards folder the audit recorded, never elsewhere; [] without a card."""
    from engine.cards.files import FORMATS, card_path  # the card renderers load only when a form opens

    record = runs.load_run(path, run_id)
    written = record.cards.get(candidate)
    if written is None or "cards_dir" not in written.data:
        return []
    folder = path.resolve().parent / str(written.data["cards_dir"])
    return [card_path(folder, run_id, candidate, fmt) for fmt in FORMATS]
