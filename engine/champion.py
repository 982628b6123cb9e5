"""The champion registry, kept inside the audit trail: which candidate serves, and what to roll back to.

A model is known by its spec's name (one trail may hold several). `promote` appends a `champion_promoted`
event for one candidate of one completed run; `rollback` appends a `champion_rolled_back` event that withdraws
the current champion and restores the one before it. The registry is never stored twice: it is replayed from
those events in sequence order, as a stack (a promotion pushes, a rollback pops), so every earlier champion
stays listed and available. A promotion is refused (exit 2) for an unknown run or candidate, an incomplete
run, the baseline, a candidate that failed to train or was rejected, one with a blocking rule neither passed nor
waived (`engine.decision.refusal`, the check an approval makes too), and the candidate that already is the
champion: there is no force flag; a reviewer waives a rule, with a reason, to promote a candidate that fails
it (a first model's `rollback` rule, for instance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit import runs
from engine.audit.runs import APPROVAL_LAPSED
from engine.audit.trail import LOCK_WAIT_SECONDS, Event, NewEvent, append, read_events
from engine.decision import may_promote
from engine.errors import MlgateError
from engine.review import plain_text

CHAMPION_PROMOTED = "champion_promoted"
CHAMPION_ROLLED_BACK = "champion_rolled_back"
KINDS = (CHAMPION_PROMOTED, CHAMPION_ROLLED_BACK)
MAX_TEXT = 2000


class ChampionError(MlgateError):
    """A promotion or rollback that cannot be recorded as asked."""


@dataclass
class Registry:
    """The champions of one model: `stack[-1]` serves, the ones below it can be rolled back to."""

    model: str
    stack: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any] | None:
        return self.stack[-1] if self.stack else None

    @property
    def rollback_target(self) -> dict[str, Any] | None:
        return self.stack[-2] if len(self.stack) > 1 else None

    def entry_status(self, entry: dict[str, Any]) -> str:
        if entry is self.current:
            return "champion"
        return "available" if any(e is entry for e in self.stack) else "rolled back"

    def listing(self) -> list[dict[str, Any]]:
        """Every champion ever promoted, newest first, each with its status (one pass, whatever the history)."""
        stacked = {id(e) for e in self.stack}
        current = self.current
        return [{**entry, "status": "champion" if entry is current else
                 "available" if id(entry) in stacked else "rolled back"} for entry in reversed(self.history)]


def _entry(event: Event) -> dict[str, Any]:
    data = event.data
    return {"run_id": event.run_id, "candidate": data["candidate"], "family": data.get("family"),
            "promoted_at": event.recorded_at, "seq": event.seq, "reviewer": data.get("reviewer"),
            "reason": data.get("reason"), "evidence_sha256": data.get("evidence_sha256"),
            "artifact": data.get("artifact"), "metrics": data.get("metrics", {}),
            **({"conditions": data["conditions"]} if data.get("conditions") else {})}


def _lapse(entry: dict[str, Any], event: Event) -> None:
    """Mark a champion's approval as lapsed by a monitoring run's `approval_lapsed` event."""
    data = event.data
    entry["lapsed"] = {"at": event.recorded_at, "seq": event.seq, "rule": data.get("rule"),
                       "message": data.get("message"), "batch_sha256": (data.get("batch") or {}).get("sha256"),
                       "rollback_recommended_to": data.get("rollback_recommended_to")}


def registries(audit_db: Path) -> dict[str, Registry]:
    """Every model's registry, replayed from the trail's champion events (no trail yet: none)."""
    if not audit_db.is_file():
        return {}
    found: dict[str, Registry] = {}
    for event in read_events(audit_db, kinds=(*KINDS, APPROVAL_LAPSED)):
        registry = found.setdefault(event.data["model"], Registry(event.data["model"]))
        if event.kind == APPROVAL_LAPSED:
            seq = (event.data.get("champion") or {}).get("seq")
            for entry in registry.stack:
                if entry["seq"] == seq:
                    _lapse(entry, event)
        elif event.kind == CHAMPION_PROMOTED:
            entry = _entry(event)
            registry.stack.append(entry)
            registry.history.append(entry)
        elif registry.stack:
            withdrawn = registry.stack.pop()
            withdrawn["rolled_back_at"] = event.recorded_at
            withdrawn["rolled_back_by"] = event.data.get("reviewer")
    return found


def registry(audit_db: Path, model: str) -> Registry:
    return registries(audit_db).get(model, Registry(model))


def reference(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """How an event or evidence names a champion: run, candidate, when and by whom it was promoted."""
    if entry is None:
        return None
    return {k: entry[k] for k in ("run_id", "candidate", "family", "promoted_at", "seq", "reviewer", "artifact")}


def champion_evidence(audit_db: Path, model: str) -> dict[str, Any]:
    """What a new audit of `model` knows about its champions: the one serving, and how many can be restored."""
    found = registry(audit_db, model)
    return {"model": model, "current": reference(found.current),
            "available": [reference(e) for e in reversed(found.stack)]}


def _promotable(record: runs.RunRecord, name: str) -> runs.CandidateView:
    """The candidate as it stands now, or `ChampionError` with `engine.decision`'s reason it cannot be promoted."""
    now = runs.view(record)
    refused = may_promote(run_id=record.run_id, complete=now.complete, name=name, candidates=now.standings())
    if refused is not None:
        raise ChampionError(refused.message, hint=refused.hint)
    current = now.candidate(name)
    assert current is not None  # refused otherwise
    return current


def _artifact(record: runs.RunRecord, name: str) -> dict[str, Any] | None:
    """The candidate's packaged artifact as its evaluation recorded it (path and SHA-256), if it has one."""
    evidence = record.evidence(name)
    artifact = (evidence.get("serving") or {}).get("artifact")
    return artifact if isinstance(artifact, dict) else None


def promote(audit_db: Path, run_id: str, candidate: str, *, reviewer: str, reason: str,
            lock_timeout: float = LOCK_WAIT_SECONDS, conditions: dict[str, Any] | None = None) -> str:
    """Make a candidate of a completed run its model's champion; returns the new chain head.

    `conditions`: a monitoring policy attached to the approval (`engine.monitor.conditions.stored_conditions`),
    stored whole in the event; monitoring runs judge the champion against it.
    """
    record = runs.load_run(audit_db, run_id)
    current = _promotable(record, candidate)
    model = record.started.data["spec"]["name"]
    serving = registry(audit_db, model).current
    if serving is not None and (serving["run_id"], serving["candidate"]) == (run_id, candidate):
        raise ChampionError(f"{candidate!r} of run {run_id} already is the champion of {model!r}")
    checked = record.rules[candidate].data
    metric = record.started.data["spec"]["evaluation"]["optimizing_metric"]
    return append(audit_db, [NewEvent(CHAMPION_PROMOTED, run_id, {
        "model": model, "candidate": candidate, "family": current.family,
        "reviewer": plain_text(reviewer, "reviewer", ChampionError),
        "reason": plain_text(reason, "reason", ChampionError),
        "verdict_at_promotion": current.verdict, "evidence_sha256": checked["evidence_sha256"],
        "policies": checked["policies"], "metrics": {metric: current.metrics.get(metric)},
        "artifact": _artifact(record, candidate), "previous": reference(serving),
        **({"conditions": conditions} if conditions else {}),
    })], wait=lock_timeout)


def models(audit_db: Path) -> list[str]:
    return sorted(registries(audit_db))


def _model_to_roll_back(audit_db: Path, model: str | None) -> str:
    known = models(audit_db)
    if model is None:
        if len(known) != 1:
            raise ChampionError("no champion has been promoted in this trail" if not known else
                                f"the trail has champions of several models ({', '.join(known)}); name one with "
                                "--model")
        return known[0]
    if model not in known:
        raise ChampionError(f"model {model!r} has no champion in this trail"
                            + (f"; models with one: {', '.join(known)}" if known else ""))
    return model


def rollback(audit_db: Path, *, reviewer: str, reason: str, model: str | None = None,
             lock_timeout: float = LOCK_WAIT_SECONDS) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Withdraw the current champion and restore the one before it; returns (head, withdrawn, restored)."""
    if not audit_db.is_file():
        raise ChampionError(f"{audit_db}: no audit trail here", hint="run `mlgate audit` first or pass --audit-db")
    name = _model_to_roll_back(audit_db, model)
    found = registry(audit_db, name)
    withdrawn, restored = found.current, found.rollback_target
    if withdrawn is None or restored is None:
        raise ChampionError(f"model {name!r} has no earlier champion to roll back to")
    head = append(audit_db, [NewEvent(CHAMPION_ROLLED_BACK, withdrawn["run_id"], {
        "model": name, "candidate": withdrawn["candidate"], "withdrawn": reference(withdrawn),
        "restored": reference(restored),
        "reviewer": plain_text(reviewer, "reviewer", ChampionError),
        "reason": plain_text(reason, "reason", ChampionError),
    })], wait=lock_timeout)
    return head, withdrawn, restored
