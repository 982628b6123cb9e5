"""Checking a candidate's stored evidence against policies: outcomes, and the candidate's verdict.

Rules run through the `RULE_KINDS` registry; a rule that raises becomes an `error` outcome instead of
aborting the audit. A candidate passes only when none of its blocking rules failed, errored or was unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from engine.policy.loader import Policy
from engine.policy.registry import RULE_KINDS
from engine.policy.rules import Status

BLOCKING_STATUSES = frozenset({"fail", "unknown", "error"})


@dataclass(frozen=True)
class Outcome:
    id: str
    kind: str
    severity: str
    checklist: str
    policy: str
    status: Status
    observed: float | None
    threshold: float | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check(policies: Iterable[Policy], evidence: Mapping[str, Any]) -> list[Outcome]:
    """Every rule of every policy applied to one candidate's evidence.

    A rule inherited by two of the policies given (default.json, and a pack that extends it) is checked once.
    """
    outcomes = []
    seen: set[tuple[str, str]] = set()
    for policy in policies:
        for rule in policy.rules:
            if (rule.policy, rule.id) in seen:
                continue
            seen.add((rule.policy, rule.id))
            try:
                finding = RULE_KINDS[rule.kind](evidence, rule.params)
            except Exception as exc:  # a rule must never abort the audit: it becomes an `error` outcome
                outcomes.append(
                    Outcome(rule.id, rule.kind, rule.severity, rule.checklist, rule.policy, "error", None, None,
                            f"rule could not be evaluated: {type(exc).__name__}: {exc}")
                )
                continue
            outcomes.append(
                Outcome(rule.id, rule.kind, rule.severity, rule.checklist, rule.policy, finding.status,
                        finding.observed, finding.threshold, finding.message)
            )
    return outcomes


def blocks(severity: str, status: str, fail_on: str = "block") -> bool:
    """Does this outcome fail the candidate? Blocking rules do; with `fail_on = "warn"`, warnings do too."""
    return status in BLOCKING_STATUSES and (severity == "block" or fail_on == "warn")


def verdict(outcomes: Iterable[Outcome], fail_on: str = "block") -> str:
    """`pass` unless a blocking rule (or, with fail_on warn, any rule) failed, errored or lacked its evidence."""
    return "fail" if any(blocks(o.severity, o.status, fail_on) for o in outcomes) else "pass"
