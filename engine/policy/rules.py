"""The rule kinds: one small pure function each, from stored evidence and a rule's parameters to a finding.

The explicit registry of kinds is `engine.policy.registry.RULE_KINDS`. A rule whose evidence was not computed
returns `unknown`, never a silent pass. Group rules name the groups too small to judge in their message, and a
policy decides with `small_groups` whether such groups are only reported (`report`), make the rule `unknown`,
or make it `fail`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
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
# Whether more is better for the metrics a slice rule may name (headline metrics and confusion rates).
HIGHER_IS_BETTER: dict[str, bool] = {
    **{name: metric.higher_is_better for name, metric in METRICS.items()},
    "tpr": True, "ppv": True, "fpr": False, "fnr": False, "selection_rate": True,
}
LABELS: dict[str, str] = {
    **{name: metric.label for name, metric in METRICS.items()},
    "selection_rate": "selection rate", "tpr": "TPR", "fpr": "FPR", "fnr": "FNR", "ppv": "PPV",
}
MAX_GROUPS_NAMED = 3


@dataclass(frozen=True)
class Finding:
    """What one rule concluded about one candidate."""

    status: Status
    observed: float | None
    threshold: float | None
    message: str


def fmt(value: float, near: float | None = None) -> str:
    """A number as a reviewer reads it: four significant digits, more when it would otherwise print the same as
    the bound it is compared with (0.699996 must not read "0.7 is not >= 0.7")."""
    digits = 4
    while near is not None and digits < 17 and f"{value:.{digits}g}" == f"{near:.{digits}g}" and value != near:
        digits += 2
    return f"{value:.{digits}g}"


def _bound(evidence: Evidence, interval: Sequence[Any] | None, value: Any, use: str) -> float | None:
    """The point value, or the lower/upper bound of its interval, as the rule's `use` asks."""
    if use == "point":
        return None if value is None else float(value)
    if not interval:
        return None
    bound = interval[0] if use == "ci_lower" else interval[1]
    return None if bound is None else float(bound)


def _what(label: str, use: str, evidence: Evidence) -> str:
    if use == "point":
        return label
    confidence = evidence.get("intervals", {}).get("confidence", 0.95)
    side = "lower" if use == "ci_lower" else "upper"
    return f"{label} ({confidence:.0%} CI {side} bound)"


def metric_threshold(evidence: Evidence, params: Params) -> Finding:
    metric, op, bound = params["metric"], params["op"], float(params["value"])
    use = params.get("use", "point")
    interval = evidence.get("intervals", {}).get("metrics", {}).get(metric)
    observed = _bound(evidence, interval, evidence.get("metrics", {}).get(metric), use)
    label = _what(METRICS[metric].label, use, evidence)
    if observed is None:
        if use != "point" and not interval:
            why = "was not computed (no bootstrap interval)"
        elif metric in evidence.get("metrics", {}):
            why = "is undefined here (no predicted positives, or one class)"
        else:
            why = "was not computed for this candidate"
        return Finding("unknown", None, bound, f"{label} {why}")
    if COMPARISONS[op](observed, bound):
        return Finding("pass", observed, bound, f"{label} {fmt(observed, bound)} {op} {fmt(bound)}")
    return Finding("fail", observed, bound, f"{label} {fmt(observed, bound)} is not {op} {fmt(bound)}")


def beats_baseline(evidence: Evidence, params: Params) -> Finding:
    metric, min_lift = params["metric"], float(params["min_lift"])
    label = METRICS[metric].label
    observed = evidence.get("lift_over_baseline", {}).get(metric)
    if observed is None:
        why = ("is undefined (the metric is undefined for the candidate or the baseline)"
               if metric in evidence.get("lift_over_baseline", {}) else "was not computed")
        return Finding("unknown", None, min_lift, f"{label} lift over the baseline {why}")
    side = "better" if observed >= 0 else "worse"
    message = f"{label} {fmt(abs(observed))} {side} than the baseline (needs {fmt(min_lift)} better)"
    p_value = evidence.get("comparisons", {}).get("baseline", {}).get(metric, {}).get("p_value")
    return judge_lift(observed, min_lift, p_value, params.get("significance"), message)


def judge_lift(observed: float, min_lift: float, p_value: float | None, significance: float | None,
               message: str) -> Finding:
    """A paired lift over a reference (baseline or champion): at least `min_lift`, and with `significance`,
    a one-sided paired-bootstrap p-value at most it (unknown when no bootstrap was run)."""
    if observed < min_lift:
        return Finding("fail", observed, min_lift, message)
    if significance is None:
        return Finding("pass", observed, min_lift, message)
    if p_value is None:
        return Finding("unknown", observed, min_lift, f"{message}; no paired bootstrap to test significance")
    tested = f"{message}; one-sided p = {fmt(p_value)} (needs ≤ {fmt(float(significance))})"
    return Finding("pass" if p_value <= float(significance) else "fail", observed, min_lift, tested)


def grouping_name(by: str | Sequence[str]) -> str:
    """The name of a grouping as the evidence stores it: one column, or columns joined by ' × '."""
    return by if isinstance(by, str) else " × ".join(by)


def _groupings(evidence: Evidence, by: str | Sequence[str] | None) -> list[Mapping[str, Any]] | None:
    """The slices a rule looks at: the one it names (columns in any order), or every grouping; None when absent."""
    slices = evidence.get("slices")
    if slices is None:
        return None
    if by is None:
        return list(slices) or None
    wanted = {by} if isinstance(by, str) else set(by)
    found = [s for s in slices if set(s["columns"]) == wanted]
    return found or None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _small_groups(slices: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{s['name']}={g['group']} (n={g['support']})" for s in slices for g in s["groups"] if g["too_small"]]


def _named(items: list[str]) -> str:
    """At most a few items, then how many more: messages stay one readable line."""
    more = f" and {len(items) - MAX_GROUPS_NAMED} more" if len(items) > MAX_GROUPS_NAMED else ""
    return "; ".join(items[:MAX_GROUPS_NAMED]) + more


def _small_note(small: list[str]) -> str:
    return f"; {_count(len(small), 'group')} too small to judge: {_named(small)}" if small else ""


def _apply_small_groups(finding: Finding, small: list[str], policy: str) -> Finding:
    """Report too-small groups in the message, or let them make the rule unknown or failed."""
    message = finding.message + _small_note(small)
    if small and policy == "unknown" and finding.status == "pass":
        return Finding("unknown", finding.observed, finding.threshold, message)
    if small and policy == "fail":
        return Finding("fail", finding.observed, finding.threshold, message)
    return Finding(finding.status, finding.observed, finding.threshold, message)


def _missing_grouping(params: Params) -> Finding:
    by = params.get("by")
    if by is None:
        return Finding("unknown", None, None, "no sensitive columns in the spec, so no groups to check")
    where = f"grouping {grouping_name(by)!r}" if by is not None else "slices"
    return Finding("unknown", None, None, f"no {where} in the evidence (is it a sensitive column of the spec?)")


@dataclass(frozen=True)
class _GroupJudgement:
    name: str
    value: float
    excess: float  # how far past its worst bound (positive: out of bounds)
    observed: float  # what the finding reports: the value, or the shortfall from overall in gap mode
    bound: float
    problem: str


def _judge_group(name: str, value: float, params: Params, overall: float | None, higher: bool,
                 label: str) -> _GroupJudgement:
    """Each bound the rule sets, as an excess over it (value past the bound is positive); the worst one."""
    checks: list[tuple[float, float, float, str]] = []  # (excess, observed, bound, problem)
    if "min" in params:
        checks.append((params["min"] - value, value, params["min"], f"below {fmt(params['min'])}"))
    if "max" in params:
        checks.append((value - params["max"], value, params["max"], f"above {fmt(params['max'])}"))
    if "max_gap_from_overall" in params and overall is not None:
        gap = params["max_gap_from_overall"]
        shortfall = overall - value if higher else value - overall
        checks.append((shortfall - gap, shortfall, gap, f"{fmt(shortfall)} worse than overall {fmt(overall)}"))
    excess, observed, bound, problem = max(checks, key=lambda c: c[0])
    return _GroupJudgement(name, value, excess, observed, bound, f"{name} {label} {fmt(value)} ({problem})")


def slice_metric(evidence: Evidence, params: Params) -> Finding:
    metric, use = params["metric"], params.get("use", "point")
    label = _what(LABELS[metric], use, evidence)
    slices = _groupings(evidence, params.get("by"))
    if slices is None:
        return _missing_grouping(params)
    overall = evidence.get("metrics", {}).get(metric, evidence.get("rates", {}).get(metric))
    if "max_gap_from_overall" in params and overall is None:
        return Finding("unknown", None, params["max_gap_from_overall"],
                       f"overall {LABELS[metric]} was not computed, so no gap can be judged")
    judged: list[_GroupJudgement] = []
    undefined: list[str] = []
    for s in slices:
        for g in s["groups"]:
            if g["too_small"]:
                continue
            name = f"{s['name']}={g['group']}"
            value = _bound(evidence, g.get("intervals", {}).get(metric), g["metrics"].get(metric), use)
            if value is None:
                undefined.append(name)
            else:
                judged.append(_judge_group(name, value, params, overall, HIGHER_IS_BETTER[metric], label))
    small = _small_groups(slices)
    note = f"; {label} undefined for {_named(undefined)}" if undefined else ""
    policy = params.get("small_groups", "report")
    if not judged:
        threshold = params.get("max_gap_from_overall", params.get("min", params.get("max")))
        return _apply_small_groups(Finding("unknown", None, threshold, f"no group with enough rows has {label}"),
                                   small, policy)
    worst = max(judged, key=lambda j: j.excess)
    out_of_bounds = [j.problem for j in sorted(judged, key=lambda j: -j.excess) if j.excess > 0]
    if out_of_bounds:
        message = f"{_count(len(out_of_bounds), 'group')} out of bounds: {_named(out_of_bounds)}{note}"
        return _apply_small_groups(Finding("fail", worst.observed, worst.bound, message), small, policy)
    message = f"every group within bounds; closest {worst.problem.replace(' (', ' (nearest bound: ', 1)}{note}"
    return _apply_small_groups(Finding("pass", worst.observed, worst.bound, message), small, policy)


def fairness(evidence: Evidence, params: Params) -> Finding:
    measure, use = params["measure"], params.get("use", "point")
    slices = _groupings(evidence, params["by"])
    if slices is None:
        return _missing_grouping(params)
    evidence_slice = slices[0]
    label = _what(f"{measure.replace('_', ' ')} by {evidence_slice['name']}", use, evidence)
    observed = _bound(evidence, evidence_slice.get("gap_intervals", {}).get(measure),
                      evidence_slice["gaps"].get(measure), use)
    small = _small_groups(slices)
    policy = params.get("small_groups", "report")
    is_ratio = measure == "demographic_parity_ratio"  # the only measure where more is fairer
    bound = float(params["min"] if is_ratio else params["max"])
    if observed is None:
        reason = f"{label} could not be computed (fewer than two groups with enough rows, or no interval)"
        return _apply_small_groups(Finding("unknown", None, bound, reason), small, policy)
    ok = observed >= bound if is_ratio else observed <= bound
    op = ">=" if is_ratio else "<="
    verb = op if ok else f"is not {op}"
    finding = Finding("pass" if ok else "fail", observed, bound,
                      f"{label} {fmt(observed, bound)} {verb} {fmt(bound)}")
    return _apply_small_groups(finding, small, policy)


def calibration(evidence: Evidence, params: Params) -> Finding:
    measure, bound = params["measure"], float(params["max"])
    strategy = params.get("strategy", "uniform")
    stored = evidence.get("calibration", {}).get(strategy)
    label = {"ece": "ECE", "mce": "MCE", "brier": "Brier score"}[measure] + f" ({strategy} bins)"
    if stored is None:
        return Finding("unknown", None, bound, f"{label} was not computed for this candidate")
    if "by" not in params:
        observed = float(stored[measure])
        ok = observed <= bound
        return Finding("pass" if ok else "fail", observed, bound,
                       f"{label} {fmt(observed)} {'<=' if ok else 'is not <='} {fmt(bound)}")
    slices = _groupings(evidence, params["by"])
    if slices is None:
        return _missing_grouping(params)
    by_group = evidence.get("calibration", {}).get("ece_by_group", {}).get(slices[0]["name"])
    if by_group is None:
        return _missing_grouping(params)
    eligible = {g["group"] for g in slices[0]["groups"] if not g["too_small"]}
    judged = {group: value for group, value in by_group.items() if group in eligible and value is not None}
    small = _small_groups(slices)
    policy = params.get("small_groups", "report")
    if not judged:
        return _apply_small_groups(Finding("unknown", None, bound, "no group with enough rows"), small, policy)
    worst_group = max(judged, key=lambda g: judged[g])
    observed = judged[worst_group]
    over = [g for g, v in judged.items() if v > bound]
    message = (f"ECE of every group <= {fmt(bound)}; worst {worst_group} {fmt(observed)}" if not over else
               f"ECE above {fmt(bound)} in {_count(len(over), 'group')}; worst {worst_group} {fmt(observed)}")
    return _apply_small_groups(Finding("fail" if over else "pass", observed, bound, message), small, policy)
