"""The `decide` stage: every candidate's rule outcomes and verdict, and what a front end shows of the audit.

Each candidate's stored evidence (its JSON form, exactly what the trail records) is checked against the
policies; the verdicts and the recommendation follow the rules of engine.decision, the same rules `show`,
`runs`, the TUI, sign-offs and promotions apply to a recorded run. `CandidateResult` and `AuditResult` are what
`run_audit()` returns to the CLI and the TUI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.candidates import BASELINE
from engine.decision import Outcome, candidate_verdict
from engine.evaluation.candidate import Evaluated
from engine.policy.checker import check
from engine.policy.loader import Policy


@dataclass
class CandidateResult:
    """One candidate as the audit decided it."""

    name: str
    family: str
    is_baseline: bool
    verdict: str
    metrics: dict[str, float | None]
    lift: dict[str, float | None]
    outcomes: list[Outcome]
    seconds: float
    error: str | None = None
    card: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "is_baseline": self.is_baseline,
            "verdict": self.verdict,
            "metrics": self.metrics,
            "lift_over_baseline": self.lift,
            "rules": [o.to_json() for o in self.outcomes],
            "train_seconds": round(self.seconds, 3),
            "error": self.error,
            "card": self.card,
        }


@dataclass
class AuditResult:
    """A finished audit: its run, verdict, recommendation, where it is recorded, and every candidate."""

    run_id: str
    verdict: str
    recommended: str | None
    optimizing_metric: str
    audit_db: Path
    chain_head: str
    candidates: list[CandidateResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "verdict": self.verdict,
            "recommended": self.recommended,
            "optimizing_metric": self.optimizing_metric,
            "audit_db": str(self.audit_db),
            "chain_head": self.chain_head,
            "candidates": [c.to_json() for c in self.candidates],
        }


def decide_candidate(item: Evaluated, policies: list[Policy], *, fail_on: str) -> CandidateResult:
    """One candidate's outcomes against every policy, and its verdict (a candidate without evidence fails)."""
    evidence = item.evidence.to_json() if item.evidence is not None else {}
    outcomes = check(policies, evidence)
    candidate = item.trained.candidate
    return CandidateResult(
        name=candidate.name, family=candidate.family, is_baseline=candidate.family == BASELINE,
        verdict=candidate_verdict(outcomes, fail_on=fail_on, error=item.error), metrics=evidence.get("metrics", {}),
        lift=evidence.get("lift_over_baseline", {}), outcomes=outcomes, seconds=item.trained.seconds,
        error=item.error,
    )
