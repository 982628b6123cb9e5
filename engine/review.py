"""Decisions people record about an audited run: sign-offs, waivers, and re-checks against another policy.

Each is one event appended to the trail, carrying the evidence hash and policy versions it refers to, so the
record says exactly what was approved or waived. An approval is refused while the candidate still has an
unwaived blocking failure (`engine.decision.refusal`, the check a promotion makes too); a waiver covers one
failed rule of one candidate until its expiry date. The affected model card is rendered again from the trail,
so it always shows the decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine.audit import runs
from engine.audit.trail import LOCK_WAIT_SECONDS, NewEvent, append, current_head
from engine.cards import write_cards
from engine.decision import APPROVE, BLOCKING_STATUSES, RECORD, Action, candidate_verdict, refusal
from engine.errors import MlgateError
from engine.policy.checker import check
from engine.policy.loader import load_policies, policy_record
from engine.policy.tasks import check_for_task
from engine.safe_text import has_control_characters

DECISIONS = ("approve", "reject")
MAX_TEXT = 2000


class ReviewError(MlgateError):
    """A sign-off, waiver or re-check that cannot be recorded as asked."""


@dataclass(frozen=True)
class Change:
    """One rule whose outcome differs between the recorded check and a re-check."""

    candidate: str
    rule: str
    policy: str
    before: str | None
    after: str | None


def plain_text(value: str, what: str, error: type[MlgateError] = ReviewError) -> str:
    """A reviewer's name or reason as recorded: one line, not empty, bounded, no control characters."""
    cleaned = " ".join(value.split())
    if has_control_characters(cleaned):
        raise error(f"{what} contains control characters (a terminal escape sequence?); use plain text")
    if not cleaned:
        raise error(f"{what} must not be empty")
    if len(cleaned) > MAX_TEXT:
        raise error(f"{what} is longer than {MAX_TEXT} characters")
    return cleaned


def _candidate(record: runs.RunRecord, name: str, today: date | None = None, *,
               action: Action = RECORD) -> runs.CandidateView:
    """The candidate as it stands now, or `ReviewError` with `engine.decision`'s reason `action` is refused."""
    now = runs.view(record, today=today)
    refused = refusal(action, run_id=record.run_id, complete=now.complete, name=name, candidates=now.standings())
    if refused is not None:
        raise ReviewError(refused.message, hint=refused.hint)
    current = now.candidate(name)
    assert current is not None  # refused otherwise
    return current


def _basis(record: runs.RunRecord, name: str) -> dict[str, Any]:
    """What a decision refers to: the evidence hash and the policy versions of the recorded check."""
    checked = record.rules[name].data
    return {"evidence_sha256": checked["evidence_sha256"], "policies": checked["policies"]}


def rerender_card(audit_db: Path, run_id: str, name: str, lock_timeout: float) -> str | None:
    """Write the candidate's card again so it shows what was just recorded (a decision, a monitoring run), and
    record the new file; the new chain head (None when the audit wrote no card to write again).

    The card goes where the audit wrote it: CARDS_DIR/RUN/CANDIDATE.{md,html,json}, rebuilt from the recorded
    cards folder (never a path taken whole from the trail), so a crafted trail cannot aim the write elsewhere.
    """
    record = runs.load_run(audit_db, run_id)
    written = record.cards.get(name)
    if written is None or "cards_dir" not in written.data:
        return None
    try:
        event = write_cards(record, name, audit_db.resolve().parent / written.data["cards_dir"], audit_db,
                            trail_head=current_head(audit_db))
    except ValueError as exc:
        raise ReviewError(f"{audit_db}: the card of {name!r} cannot be written again: {exc}") from None
    return append(audit_db, [NewEvent(runs.CARD_WRITTEN, run_id, event)], wait=lock_timeout)


def signoff(audit_db: Path, run_id: str, candidate: str, *, decision: str, reviewer: str, reason: str,
            lock_timeout: float = LOCK_WAIT_SECONDS) -> str:
    """Record an approval or rejection; returns the new chain head."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    record = runs.load_run(audit_db, run_id)
    current = _candidate(record, candidate, action=APPROVE if decision == "approve" else RECORD)
    head = append(audit_db, [NewEvent(runs.SIGNOFF, run_id, {
        "candidate": candidate, "decision": decision, "reviewer": plain_text(reviewer, "reviewer"),
        "reason": plain_text(reason, "reason"), "verdict_at_signoff": current.verdict, **_basis(record, candidate),
    })], wait=lock_timeout)
    rerender_card(audit_db, run_id, candidate, lock_timeout)
    return head


def waive(audit_db: Path, run_id: str, candidate: str, rule_id: str, *, reviewer: str, reason: str,
          until: date | None = None, policy: str | None = None, today: date | None = None,
          lock_timeout: float = LOCK_WAIT_SECONDS) -> str:
    """Record a waiver of one failed rule of one candidate, until `until` (inclusive) or without end."""
    today = today or runs.today_utc()
    if until is not None and until < today:
        raise ReviewError(f"--until {until.isoformat()} is in the past")
    record = runs.load_run(audit_db, run_id)
    current = _candidate(record, candidate, today)
    matches = [o for o in current.outcomes if o["id"] == rule_id and (policy is None or o["policy"] == policy)]
    if not matches:
        raise ReviewError(f"candidate {candidate!r} of run {run_id} has no rule {rule_id!r}"
                          + (f" in policy {policy!r}" if policy else ""))
    if len(matches) > 1:
        names = ", ".join(o["policy"] for o in matches)
        raise ReviewError(f"rule {rule_id!r} is in several policies ({names}); say which with --policy")
    outcome = matches[0]
    recorded = outcome.get("recorded_status", outcome["status"])  # a waived rule may be waived again (renewal)
    if recorded not in BLOCKING_STATUSES:
        raise ReviewError(f"rule {rule_id!r} of {candidate!r} is {recorded}: only a failed, unknown or "
                          "errored rule can be waived")
    head = append(audit_db, [NewEvent(runs.WAIVER, run_id, {
        "candidate": candidate, "rule_id": rule_id, "policy": outcome["policy"], "status": recorded,
        "reviewer": plain_text(reviewer, "reviewer"), "reason": plain_text(reason, "reason"),
        "until": until.isoformat() if until else None, **_basis(record, candidate),
    })], wait=lock_timeout)
    rerender_card(audit_db, run_id, candidate, lock_timeout)
    return head


def recheck(audit_db: Path, run_id: str, policy_paths: Sequence[Path], *,
            lock_timeout: float = LOCK_WAIT_SECONDS) -> tuple[list[Change], dict[str, Any]]:
    """Check a run's stored evidence against other policies, record the outcome, and say what changed."""
    policies = load_policies(list(policy_paths))
    record = runs.load_run(audit_db, run_id)
    check_for_task(policies, record.started.data["data"].get("task", "binary"))  # a rule the run's task cannot have
    if record.completed is None:
        raise ReviewError(f"run {run_id} is incomplete (it never finished); its evidence cannot be re-checked")
    changes: list[Change] = []
    results: dict[str, Any] = {}
    for name, evaluated in record.candidates.items():
        checked = check(policies, record.evidence(name))
        outcomes = [o.to_json() for o in checked]
        recorded = record.rules[name].data["outcomes"] if name in record.rules else []
        before = {(o["policy"], o["id"]): o["status"] for o in recorded}
        after = {(o["policy"], o["id"]): o["status"] for o in outcomes}
        changes += [Change(name, rule, policy, before.get((policy, rule)), after.get((policy, rule)))
                    for policy, rule in dict.fromkeys([*before, *after])
                    if before.get((policy, rule)) != after.get((policy, rule))]
        fail_on = record.started.data["spec"]["evaluation"].get("fail_on", "block")
        results[name] = {"outcomes": outcomes, "verdict": candidate_verdict(checked, fail_on=fail_on),
                         "is_baseline": evaluated.data["is_baseline"]}
    data = {
        "policies": [policy_record(p, with_sources=True) for p in policies],
        "candidates": results,
        "changes": [c.__dict__ for c in changes],
    }
    append(audit_db, [NewEvent(runs.RECHECK, run_id, data)], wait=lock_timeout)
    return changes, data
