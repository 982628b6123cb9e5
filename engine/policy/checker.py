"""Checking a candidate's stored evidence against policies: one `Outcome` per rule.

Rules run through the `RULE_KINDS` registry; a rule that raises becomes an `error` outcome instead of
aborting the audit. What the outcomes decide (verdicts, waivers, recommendation) is in `engine/decision.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.decision import Outcome
from engine.policy.loader import Policy
from engine.policy.registry import RULE_KINDS

__all__ = ["Outcome", "check"]  # Outcome: checked rules are made here, the type is engine.decision's


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
