"""The rule kinds: one small pure function each, from stored evidence and a rule's parameters to a finding.

`RULE_KINDS` is the explicit registry (no registration by import side effect); the policy schema's list of
kinds is tested to equal it. A rule whose evidence was not computed returns `unknown`, never a silent pass.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.evaluation.metrics import METRICS

Status = Literal["pass", "fail", "unknown", "error"]
Evidence = Mapping[str, Any]
Params = Mapping[str, Any]

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Finding:
    """What one rule concluded about one candidate."""

    status: Status
    observed: float | None
    threshold: float | None
    message: str


def fmt(value: float) -> str:
    """A number as a reviewer reads it: four significant digits."""
    return f"{value:.4g}"


def _metric_label(name: str) -> str:
    return METRICS[name].label


def metric_threshold(evidence: Evidence, params: Params) -> Finding:
    metric, op, bound = params["metric"], params["op"], float(params["value"])
    observed = evidence.get("metrics", {}).get(metric)
    label = _metric_label(metric)
    if observed is None:
        return Finding("unknown", None, bound, f"{label} was not computed for this candidate")
    if COMPARISONS[op](observed, bound):
        return Finding("pass", observed, bound, f"{label} {fmt(observed)} {op} {fmt(bound)}")
    return Finding("fail", observed, bound, f"{label} {fmt(observed)} is not {op} {fmt(bound)}")


def beats_baseline(evidence: Evidence, params: Params) -> Finding:
    metric, min_lift = params["metric"], float(params["min_lift"])
    observed = evidence.get("lift_over_baseline", {}).get(metric)
    label = _metric_label(metric)
    if observed is None:
        return Finding("unknown", None, min_lift, f"{label} lift over the baseline was not computed")
    status: Status = "pass" if observed >= min_lift else "fail"
    side = "better" if observed >= 0 else "worse"
    return Finding(
        status,
        observed,
        min_lift,
        f"{label} {fmt(abs(observed))} {side} than the baseline (needs {fmt(min_lift)} better)",
    )


RULE_KINDS: dict[str, Callable[[Evidence, Params], Finding]] = {
    "metric_threshold": metric_threshold,
    "beats_baseline": beats_baseline,
}
