"""The test-set exposure ledger: which test set informed each run's decisions, and how often each was reused.

A held-out test set stays honest only while few decisions are made on it: every audit that scores candidates on
it, compares them and picks one spends a little of its independence. The trail already records everything that
fixes a run's test rows, so the ledger needs no new store. A test set is identified by its basis: the kept-apart
`split.test_path` file's SHA-256, or else the data's SHA-256 with the target, positive label and every split
setting that picks the test rows (strategy, fractions, seed, columns, gap, folds, whether a training part was
taken). `identify_test_set()` derives it from a `run_started` body (runs recorded before the ledger existed included);
new runs also record it under `test_set`. A run *used* its test set when it recorded at least one evaluated
candidate. `ledger()` counts, per test set, the runs, the candidates scored and the paired comparisons made;
`exposure_evidence()` is what an audit stores in each candidate's evidence (section `exposure`, judged by the
`test_reuse` rule kind), the uses before it counted from the trail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from engine.audit.trail import query_events, reading
from engine.canonical import digest
from engine.errors import MlgateError

SPLIT_KEYS = ("strategy", "test", "validation", "seed", "time_column", "group_column", "gap", "folds")
STARTS = """SELECT run_id, recorded_at, json_extract(body, '$.data.test_set'), json_extract(body, '$.data.spec.split'),
       json_extract(body, '$.data.split'), json_extract_string(body, '$.data.data.fingerprint.sha256'),
       json_extract_string(body, '$.data.data.fingerprint.path'), json_extract(body, '$.data.data.target'),
       json_extract(body, '$.data.data.positive_label'), json_extract_string(body, '$.data.spec.name')
FROM events WHERE kind = 'run_started' ORDER BY seq"""
USES = """SELECT run_id, json_extract_string(body, '$.data.is_baseline'),
       json_keys(json_extract(body, '$.data.evidence.comparisons'))
FROM events WHERE kind = 'candidate_evaluated' AND json_type(body, '$.data.evidence') = 'OBJECT'"""


def basis_of(started: Mapping[str, Any]) -> dict[str, Any]:
    """What fixes a run's test rows, from its `run_started` body: a kept-apart file's hash, or data and split."""
    split = started.get("split") or {}
    if split.get("test_file_sha256"):
        return {"test_file_sha256": split["test_file_sha256"]}
    spec_split = (started.get("spec") or {}).get("split") or {}
    data = started.get("data") or {}
    settings = {key: spec_split[key] for key in SPLIT_KEYS if spec_split.get(key) is not None}
    return {"data_sha256": (data.get("fingerprint") or {}).get("sha256"), "target": data.get("target"),
            "positive_label": data.get("positive_label"), "strategy": "stratified", **settings,
            "training_part": bool((split.get("sizes") or {}).get("train"))}


def identify_test_set(started: Mapping[str, Any]) -> dict[str, Any]:
    """The run's test set: its recorded `test_set`, or (a run recorded before the ledger) one derived the same way."""
    recorded = started.get("test_set")
    if isinstance(recorded, Mapping) and recorded.get("id"):
        return dict(recorded)
    basis = basis_of(started)
    return {"id": digest(basis), "basis": basis}


@dataclass
class HoldoutUse:
    """One test set and its uses: the runs that scored candidates on it, the candidates, the paired comparisons."""

    id: str
    basis: dict[str, Any]
    data: str | None
    runs: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    candidates: int = 0
    comparisons: int = 0
    first: str | None = None
    last: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"test_set": self.id, "basis": self.basis, "data": self.data, "specs": sorted(self.names),
                "runs": len(self.runs), "candidates": self.candidates, "comparisons": self.comparisons,
                "first_used": self.first, "last_used": self.last, "run_ids": self.runs}


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _starts(rows: list[Any]) -> tuple[dict[str, tuple[str, str, str | None, str | None]], dict[str, Any]]:
    """Each run's test set (and when it started, its data file, its spec's name); each test set's basis."""
    runs: dict[str, tuple[str, str, str | None, str | None]] = {}
    sets: dict[str, dict[str, Any]] = {}
    for run_id, recorded_at, test_set, spec_split, split, sha, data_path, target, positive, name in rows:
        started = {"test_set": _loads(test_set), "spec": {"split": _loads(spec_split)}, "split": _loads(split),
                   "data": {"fingerprint": {"sha256": sha}, "target": _loads(target),
                            "positive_label": _loads(positive)}}
        identity = identify_test_set(started)
        sets.setdefault(identity["id"], identity["basis"])
        runs[run_id] = (identity["id"], recorded_at, data_path, name)
    return runs, sets


def ledger(path: Path, *, only: str | None = None) -> list[HoldoutUse]:
    """Every test set of the trail that informed a decision (or only the test set `only`: then only its runs'
    evaluations are read), most used first (ties: most recently used)."""
    with reading(path) as con:
        runs, sets = _starts(query_events(con, path, STARTS))
        if only is not None:
            runs = {run: entry for run, entry in runs.items() if entry[0] == only}
        chosen = list(runs) if only is not None else []
        where = f" AND run_id IN ({', '.join('?' for _ in chosen)})" if chosen else ""
        uses = query_events(con, path, USES + where, chosen) if runs else []
    table: dict[str, HoldoutUse] = {}
    for run_id, is_baseline, keys in uses:
        if run_id not in runs:
            continue
        test_set, recorded_at, data_path, name = runs[run_id]
        use = table.setdefault(test_set, HoldoutUse(test_set, sets[test_set], data_path))
        if run_id not in use.runs:
            use.runs.append(run_id)
            use.first = min(use.first or recorded_at, recorded_at)
            use.last = max(use.last or recorded_at, recorded_at)
        use.names.update([name] if name else [])
        use.candidates += 1
        use.comparisons += 0 if is_baseline == "true" else len(keys or [])
    return sorted(table.values(), key=lambda u: (len(u.runs), u.last or ""), reverse=True)


def exposure_evidence(path: Path, test_set: Mapping[str, Any]) -> dict[str, Any]:
    """The `exposure` evidence section of a run about to decide: its test set and how often it was used before
    (runs, candidates, comparisons); `{"error": ...}` when the ledger cannot be read, so `test_reuse` is unknown."""
    try:
        found = next(iter(ledger(path, only=str(test_set["id"]))), None)
    except (MlgateError, duckdb.Error, ValueError) as exc:
        return {"test_set": test_set.get("id"), "error": f"the test-set ledger could not be read: {exc}"}
    prior = found.to_json() if found is not None else {"runs": 0, "candidates": 0, "comparisons": 0}
    return {"test_set": test_set["id"], "basis": dict(test_set.get("basis") or {}), "prior_runs": prior["runs"],
            "prior_candidates": prior["candidates"], "prior_comparisons": prior["comparisons"],
            "uses": prior["runs"] + 1}
