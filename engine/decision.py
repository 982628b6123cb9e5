"""Every decision mlgate takes about an audit, in one place and over one `Outcome` type.

A rule's outcome, whether it blocks its candidate, the candidate's verdict, the waivers reviewers recorded, the
run's recommendation and verdict, and whether a candidate may be signed off or promoted used to be decided
separately by the checker (over outcome objects), the run views (over the trail's outcome dicts), the audit
service, the review commands and the champion registry, each with its own copy of the rule. They are decided
here, once: `engine/policy/checker.py` produces `Outcome`s, `engine/audit/runs.py` reads them back from the
trail with `Outcome.from_json`, and `engine/review.py` and `engine/champion.py` ask `refusal` the same question.

This module reads nothing and writes nothing: it is pure functions over values, so every front end and every
stage gets the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from engine.evaluation.task_metrics import ALL_METRICS

Status = Literal["pass", "fail", "unknown", "error", "waived"]
PASS: Status = "pass"  # noqa: S105 (a status, not a password)
FAIL: Status = "fail"
UNKNOWN: Status = "unknown"
ERROR: Status = "error"
WAIVED: Status = "waived"  # a blocking status a reviewer's active waiver covers; the recorded one is kept beside it
STATUSES: tuple[Status, ...] = (PASS, FAIL, UNKNOWN, ERROR, WAIVED)
BLOCKING_STATUSES: frozenset[str] = frozenset({FAIL, UNKNOWN, ERROR})  # not passed: failed, unknown or errored
SEVERITIES = ("block", "warn")
FAIL_ON = ("block", "warn")  # evaluation.fail_on: which severities fail a candidate when not passed

INCOMPLETE = "incomplete"  # the verdict of a run that never completed
VERDICTS = (PASS, FAIL, INCOMPLETE)
REJECT = "reject"  # a reviewer's sign-off decision that excludes a candidate from the recommendation


def blocks(severity: str, status: str, fail_on: str = "block") -> bool:
    """Does this outcome fail the candidate? Blocking rules do; with `fail_on = "warn"`, warnings do too."""
    return status in BLOCKING_STATUSES and (severity == "block" or fail_on == "warn")


@dataclass(frozen=True)
class Waiver:
    """A reviewer's recorded waiver of one rule (`rule_id` of `policy`) of one candidate, through `until`.

    An outcome it covers carries its `to_json()`: reviewer, reason, until and the waiver event's sequence number
    (the outcome itself names the rule and the policy).
    """

    rule_id: str
    policy: str
    reviewer: str
    reason: str
    until: str | None  # an ISO date, inclusive; None: without end
    seq: int

    @classmethod
    def from_event(cls, data: Mapping[str, Any], *, seq: int) -> Waiver:
        """The waiver a recorded `waiver` event's data describes (`seq`: the event's sequence number)."""
        return cls(data["rule_id"], data["policy"], data["reviewer"], data["reason"], data.get("until"), seq)

    def active(self, today: date) -> bool:
        """A waiver holds through its `until` date (inclusive), or forever without one."""
        return self.until is None or today <= date.fromisoformat(self.until)

    def to_json(self) -> dict[str, Any]:
        return {"reviewer": self.reviewer, "reason": self.reason, "until": self.until, "seq": self.seq}


OUTCOME_FIELDS = ("id", "kind", "severity", "checklist", "policy", "status", "observed", "threshold", "message")


@dataclass(frozen=True)
class Outcome:
    """One rule of one policy checked against one candidate's evidence.

    A waived outcome has `status` "waived", keeps the status the check recorded in `recorded_status`, and
    carries the `waiver`; both are None otherwise and absent from the JSON, which is what the trail stores.
    """

    id: str
    kind: str
    severity: str
    checklist: str
    policy: str
    status: Status
    observed: float | None
    threshold: float | None
    message: str
    recorded_status: Status | None = None
    waiver: Waiver | None = None

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in OUTCOME_FIELDS}
        if self.recorded_status is not None:
            data["recorded_status"] = self.recorded_status
        if self.waiver is not None:
            data["waiver"] = self.waiver.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        """The outcome as `to_json` wrote it (a `rules_checked` event's outcomes, or a view's, waivers included)."""
        stamp = data.get("waiver")
        waiver = None if stamp is None else Waiver(
            data["id"], data["policy"], stamp["reviewer"], stamp["reason"], stamp.get("until"), stamp["seq"])
        return cls(id=data["id"], kind=data["kind"], severity=data["severity"], checklist=data["checklist"],
                   policy=data["policy"], status=data["status"], observed=data["observed"],
                   threshold=data["threshold"], message=data["message"],
                   recorded_status=data.get("recorded_status"), waiver=waiver)

    def blocks(self, fail_on: str = "block") -> bool:
        return blocks(self.severity, self.status, fail_on)

    def waived_by(self, waiver: Waiver) -> Outcome:
        return replace(self, status=WAIVED, recorded_status=self.status, waiver=waiver)


def blocking(outcomes: Iterable[Outcome], *, fail_on: str = "block") -> list[Outcome]:
    """The outcomes that fail their candidate under `fail_on`, in order."""
    return [o for o in outcomes if o.blocks(fail_on)]


def candidate_verdict(outcomes: Iterable[Outcome], *, fail_on: str = "block", error: str | None = None) -> str:
    """`pass` unless the candidate failed to train or be checked (`error`), or a rule that blocks under `fail_on`
    failed, errored or lacked its evidence."""
    return FAIL if error or blocking(outcomes, fail_on=fail_on) else PASS


def apply_waivers(outcomes: Iterable[Outcome], waivers: Iterable[Waiver], *, today: date) -> list[Outcome]:
    """Outcomes with each not-passed rule that an active waiver covers turned into `waived`.

    Of several active waivers of one rule (a renewal), the last recorded one is shown.
    """
    active = {(w.rule_id, w.policy): w for w in waivers if w.active(today)}
    result = []
    for outcome in outcomes:
        waiver = active.get((outcome.id, outcome.policy))
        result.append(outcome.waived_by(waiver) if waiver is not None and outcome.status in BLOCKING_STATUSES
                      else outcome)
    return result


@dataclass(frozen=True)
class Contender:
    """What the recommendation knows of one candidate: its optimizing metric's value and its standing."""

    name: str
    value: float | None
    is_baseline: bool = False
    verdict: str = PASS
    rejected: bool = False

    @property
    def eligible(self) -> bool:
        """A passing candidate no reviewer rejected, other than the baseline, with a value to rank it by."""
        return not self.is_baseline and self.verdict == PASS and not self.rejected and self.value is not None


def recommend(contenders: Iterable[Contender], *, metric: str) -> str | None:
    """The best eligible candidate by the optimizing `metric` (its direction from `ALL_METRICS`); None when none is.

    Of candidates tied on the metric, the first (in the spec's order) is recommended.
    """
    eligible = [c for c in contenders if c.eligible]
    if not eligible:
        return None
    sign = 1.0 if ALL_METRICS[metric].higher_is_better else -1.0
    return max(eligible, key=lambda c: sign * float(c.value or 0.0)).name  # max keeps the first of equals


def run_verdict(*, complete: bool, recommended: str | None) -> str:
    """A completed run passes when it recommends a candidate; a run that never completed is `incomplete`."""
    if not complete:
        return INCOMPLETE
    return PASS if recommended is not None else FAIL


@dataclass(frozen=True)
class Standing:
    """One candidate of a run as it stands now: what signing it off or promoting it depends on."""

    name: str
    is_baseline: bool
    outcomes: tuple[Outcome, ...]
    fail_on: str = "block"
    error: str | None = None  # why it failed to train, if it did
    rejected_by: str | None = None  # the reviewer of its latest sign-off, when that was a rejection


@dataclass(frozen=True)
class Action:
    """A decision recorded about one candidate, and the words its refusals use."""

    verb: str  # "cannot approve ...", "never a model to approve"
    done: str  # "nothing in it can be signed off"
    within: str  # how the blocking refusal names the run: "cannot approve 'x' in run R"
    judges: bool = True  # refused for the baseline, a failed training, blocking rules
    refuses_rejected: bool = False  # refused for a candidate whose latest sign-off rejected it


RECORD = Action("record", "signed off", "in", judges=False)  # a rejection or a waiver: the run and candidate exist
APPROVE = Action("approve", "signed off", "in")
PROMOTE = Action("promote", "promoted", "of", refuses_rejected=True)
WAIVE_HINT = "fix the model, or waive a rule with `mlgate waive` and a reason"


@dataclass(frozen=True)
class Refusal:
    """Why a decision cannot be recorded: one line, and a hint for the one a reviewer can act on."""

    message: str
    hint: str | None = None


def refusal(action: Action, *, run_id: str, complete: bool, name: str,
            candidates: Sequence[Standing]) -> Refusal | None:
    """Why `action` on candidate `name` of run `run_id` is refused, or None when it may be recorded.

    In order: an incomplete run, an unknown candidate, then (for an approval or a promotion) the baseline, a
    candidate that failed to train, a rejected one (promotion only), and one with a blocking rule neither
    passed nor waived.
    """
    if not complete:
        return Refusal(f"run {run_id} is incomplete (it never finished); nothing in it can be {action.done}")
    current = next((c for c in candidates if c.name == name), None)
    if current is None:
        names = ", ".join(c.name for c in candidates)
        return Refusal(f"run {run_id} has no candidate {name!r}; its candidates are: {names}")
    return judgement(action, run_id=run_id, current=current) if action.judges else None


def judgement(action: Action, *, run_id: str, current: Standing) -> Refusal | None:
    """Why the candidate itself may not be approved or promoted, or None."""
    name = current.name
    if current.is_baseline:
        return Refusal(f"{name!r} is the baseline: a reference, never a model to {action.verb}")
    if current.error:
        return Refusal(f"{name!r} of run {run_id} failed to train; it cannot be {action.done}")
    if action.refuses_rejected and current.rejected_by is not None:
        return Refusal(f"{name!r} of run {run_id} was rejected by {current.rejected_by}; it cannot be {action.done}")
    failures = blocking(current.outcomes, fail_on=current.fail_on)
    if failures:
        listed = ", ".join(f"{o.id} ({o.status})" for o in failures)
        return Refusal(f"cannot {action.verb} {name!r} {action.within} run {run_id}: blocking rules not passed: "
                       f"{listed}", hint=WAIVE_HINT)
    return None


def may_sign_off(*, run_id: str, complete: bool, name: str, candidates: Sequence[Standing],
                 approve: bool = True) -> Refusal | None:
    """Why recording a sign-off (an approval when `approve`, else a rejection) is refused, or None."""
    return refusal(APPROVE if approve else RECORD, run_id=run_id, complete=complete, name=name, candidates=candidates)


def may_promote(*, run_id: str, complete: bool, name: str, candidates: Sequence[Standing]) -> Refusal | None:
    """Why making the candidate its model's champion is refused, or None."""
    return refusal(PROMOTE, run_id=run_id, complete=complete, name=name, candidates=candidates)
