"""The rule kinds: one small pure function each, from stored evidence and a rule's parameters to a finding.

Beside each check function: its parameters' JSON-schema fragment (`*_PARAMS`, assembled into the policy schema by
`engine.policy.schema`) and the sentence `policy explain` says for a rule of it (`say_*`). The explicit registry
of kinds, which ties the three together, is `engine.policy.registry.RULE_KINDS`. A rule whose evidence was not computed
returns `unknown`, never a silent pass. Group rules name the groups too small to judge in their message, and a
policy decides with `small_groups` whether such groups are only reported (`report`), make the rule `unknown`,
or make it `fail`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.evaluation.task_metrics import ALL_METRICS, MULTICLASS_GAPS, REGRESSION_GAPS
from engine.policy.finding import Evidence as Evidence
from engine.policy.finding import Finding as Finding
from engine.policy.finding import Params as Params
from engine.policy.finding import Status as Status
from engine.policy.finding import fmt as fmt
from engine.policy.groups import (
    apply_small_groups,
    by_words,
    count,
    evidence_slices,
    missing_grouping,
    named,
    small_groups,
)

# Evidence, Finding, Params, Status and fmt are re-exported (`X as X`): defined in finding.py, long imported here.
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
# Whether more is better for the metrics a slice rule may name (headline metrics and confusion rates).
HIGHER_IS_BETTER: dict[str, bool] = {
    **{name: metric.higher_is_better for name, metric in ALL_METRICS.items()},
    "tpr": True, "ppv": True, "fpr": False, "fnr": False, "selection_rate": True,
}
LABELS: dict[str, str] = {
    **{name: metric.label for name, metric in ALL_METRICS.items()},
    "selection_rate": "selection rate", "tpr": "TPR", "fpr": "FPR", "fnr": "FNR", "ppv": "PPV",
}


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
    label = _what(LABELS[metric], use, evidence)
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
    label = LABELS[metric]
    observed = evidence.get("lift_over_baseline", {}).get(metric)
    if observed is None:
        why = ("is undefined (the metric is undefined for the candidate or the baseline)"
               if metric in evidence.get("lift_over_baseline", {}) else "was not computed")
        return Finding("unknown", None, min_lift, f"{label} lift over the baseline {why}")
    side = "better" if observed >= 0 else "worse"
    message = f"{label} {fmt(abs(observed))} {side} than the baseline (needs {fmt(min_lift)} better)"
    entry = evidence.get("comparisons", {}).get("baseline", {}).get(metric, {})
    return judge_lift(observed, min_lift, entry, params, message)


ADJUST_WORDS = {"holm": "Holm", "bh": "Benjamini–Hochberg"}
ADJUST_PARAM: dict[str, Any] = {
    "enum": ["holm", "bh", "none"],
    "description": "How the p-value is adjusted for the run's candidates compared with the same reference: holm "
                   "(the default: family-wise), bh (Benjamini–Hochberg: false discovery rate) or none (raw).",
}


def tested_p(entry: Mapping[str, Any], adjust: str) -> tuple[float | None, str]:
    """The p-value a significance test judges (adjusted as the rule asks, when the run recorded it) and how the
    message words it: raw and adjusted both shown."""
    raw = entry.get("p_value")
    if raw is None:
        return None, ""
    adjusted = (entry.get("p_adjusted") or {}) if adjust != "none" else {}
    if adjust not in adjusted:
        why = "raw" if adjust == "none" else "raw; no adjusted value recorded"
        return float(raw), f"one-sided p = {fmt(float(raw))} ({why})"
    value, family = float(adjusted[adjust]), adjusted["family"]
    return value, (f"one-sided p = {fmt(float(raw))} raw, {fmt(value)} {ADJUST_WORDS[adjust]}-adjusted over "
                   f"{family} candidate{'s' if family != 1 else ''}")


def judge_lift(observed: float, min_lift: float, entry: Mapping[str, Any], params: Params,
               message: str) -> Finding:
    """A paired lift over a reference (baseline or champion): at least `min_lift`, and with `significance`,
    a one-sided paired-bootstrap p-value, adjusted for the run's candidates (`adjust`), at most it (unknown
    when no bootstrap was run)."""
    significance = params.get("significance")
    if observed < min_lift:
        return Finding("fail", observed, min_lift, message)
    if significance is None:
        return Finding("pass", observed, min_lift, message)
    p_value, words = tested_p(entry, str(params.get("adjust", "holm")))
    if p_value is None:
        return Finding("unknown", observed, min_lift, f"{message}; no paired bootstrap to test significance")
    tested = f"{message}; {words} (needs ≤ {fmt(float(significance))})"
    return Finding("pass" if p_value <= float(significance) else "fail", observed, min_lift, tested)


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
    slices = evidence_slices(evidence, params.get("by"))
    if slices is None:
        return missing_grouping(params)
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
    small = small_groups(slices)
    note = f"; {label} undefined for {named(undefined)}" if undefined else ""
    policy = params.get("small_groups", "report")
    if not judged:
        threshold = params.get("max_gap_from_overall", params.get("min", params.get("max")))
        return apply_small_groups(Finding("unknown", None, threshold, f"no group with enough rows has {label}"),
                                   small, policy)
    worst = max(judged, key=lambda j: j.excess)
    out_of_bounds = [j.problem for j in sorted(judged, key=lambda j: -j.excess) if j.excess > 0]
    if out_of_bounds:
        message = f"{count(len(out_of_bounds), 'group')} out of bounds: {named(out_of_bounds)}{note}"
        return apply_small_groups(Finding("fail", worst.observed, worst.bound, message), small, policy)
    message = f"every group within bounds; closest {worst.problem.replace(' (', ' (nearest bound: ', 1)}{note}"
    return apply_small_groups(Finding("pass", worst.observed, worst.bound, message), small, policy)


def fairness(evidence: Evidence, params: Params) -> Finding:
    measure, use = params["measure"], params.get("use", "point")
    slices = evidence_slices(evidence, params["by"])
    if slices is None:
        return missing_grouping(params)
    evidence_slice = slices[0]
    label = _what(f"{measure.replace('_', ' ')} by {evidence_slice['name']}", use, evidence)
    observed = _bound(evidence, evidence_slice.get("gap_intervals", {}).get(measure),
                      evidence_slice["gaps"].get(measure), use)
    small = small_groups(slices)
    policy = params.get("small_groups", "report")
    is_ratio = measure in RATIO_MEASURES  # where more is fairer
    bound = float(params["min"] if is_ratio else params["max"])
    if observed is None:
        reason = f"{label} could not be computed (fewer than two groups with enough rows, or no interval)"
        return apply_small_groups(Finding("unknown", None, bound, reason), small, policy)
    ok = observed >= bound if is_ratio else observed <= bound
    op = ">=" if is_ratio else "<="
    verb = op if ok else f"is not {op}"
    finding = Finding("pass" if ok else "fail", observed, bound,
                      f"{label} {fmt(observed, bound)} {verb} {fmt(bound)}")
    return apply_small_groups(finding, small, policy)


# ---------------------------------------------------------------------------------------------------------------
# Parameters (JSON-schema fragments: `$ref`s name the shared definitions of engine.policy.schema) and sentences

BINARY_GAPS = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
               "equal_opportunity_difference", "predictive_parity_difference")
FAIRNESS_MEASURES = tuple(dict.fromkeys((*BINARY_GAPS, *MULTICLASS_GAPS, *REGRESSION_GAPS)))
FAIRNESS_TASKS = {"binary": BINARY_GAPS, "multiclass": MULTICLASS_GAPS, "regression": REGRESSION_GAPS}
RATIO_MEASURES = tuple(m for m in FAIRNESS_MEASURES if m.endswith("_ratio"))  # ratios: more is fairer

USE_WORDS = {"point": "", "ci_lower": " (lower bound of its confidence interval)",
             "ci_upper": " (upper bound of its confidence interval)"}

METRIC_THRESHOLD_PARAMS: dict[str, Any] = {
    "description": "The candidate's metric on the test split compared with a fixed value.",
    "required": ["metric", "op", "value"],
    "properties": {
        "metric": {"$ref": "#/$defs/metric",
                   "description": "The headline metric, computed on the held-out test split."},
        "op": {"enum": [">=", ">", "<=", "<"], "description": "How the metric compares with value."},
        "value": {"type": "number", "description": "The fixed bound."},
        "use": {"$ref": "#/$defs/use"},
    },
}

BEATS_BASELINE_PARAMS: dict[str, Any] = {
    "description": "The candidate beats the baseline on a metric by at least min_lift (direction-aware: for losses, "
                   "lower is better).",
    "required": ["metric", "min_lift"],
    "properties": {
        "metric": {"$ref": "#/$defs/metric",
                   "description": "The metric compared with the baseline's on the same test rows."},
        "min_lift": {"type": "number",
                     "description": "Smallest improvement over the baseline (positive = better, also for losses)."},
        "significance": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                         "description": "Also require a paired-bootstrap one-sided p-value at most this."},
        "adjust": ADJUST_PARAM,
    },
}

SLICE_METRIC_PARAMS: dict[str, Any] = {
    "description": "Every group with enough rows keeps a metric (or a bound of its interval) within bounds, or "
                   "within a gap of the overall value.",
    "required": ["metric"],
    "anyOf": [{"required": ["min"]}, {"required": ["max"]}, {"required": ["max_gap_from_overall"]}],
    "properties": {
        "metric": {"$ref": "#/$defs/slice_metric_name",
                   "description": "A headline metric or a confusion rate, per group."},
        "by": {"$ref": "#/$defs/by"},
        "min": {"type": "number", "description": "Every judged group's value at least this."},
        "max": {"type": "number", "description": "Every judged group's value at most this."},
        "max_gap_from_overall": {"type": "number", "minimum": 0,
                                 "description": "No judged group worse than the overall value by more than this."},
        "small_groups": {"$ref": "#/$defs/small_groups"},
        "use": {"$ref": "#/$defs/use"},
    },
}

FAIRNESS_PARAMS: dict[str, Any] = {
    "description": "A fairness gap across the groups of a sensitive column (or intersection) within bounds: max for "
                   "differences, min for the ratio.",
    "required": ["measure", "by"],
    "if": {"properties": {"measure": {"enum": list(RATIO_MEASURES)}}},
    "then": {"required": ["min"], "properties": {"max": False}},
    "else": {"required": ["max"], "properties": {"min": False}},
    "properties": {
        "measure": {"enum": list(FAIRNESS_MEASURES),
                    "description": "The gap measure across the groups (fairlearn's definitions): binary ones, then "
                                   "multiclass (one-vs-rest, the worst class) and regression (group loss) ones."},
        "by": {"$ref": "#/$defs/by"},
        "max": {"type": "number", "minimum": 0, "description": "Upper bound for a difference."},
        "min": {"type": "number", "minimum": 0, "maximum": 1, "description": "Lower bound for a ratio."},
        "use": {"$ref": "#/$defs/use"},
        "small_groups": {"$ref": "#/$defs/small_groups"},
    },
}

def say_metric_threshold(p: Params) -> str:
    return f"{LABELS[p['metric']]}{USE_WORDS[p.get('use', 'point')]} on the test split {p['op']} {p['value']}"


def say_beats_baseline(p: Params) -> str:
    return f"{LABELS[p['metric']]} better than the baseline's by at least {p['min_lift']}{say_significance(p)}"


def say_significance(p: Params) -> str:
    """The significance clause of a lift rule's sentence, with how its p-value is adjusted."""
    if "significance" not in p:
        return ""
    adjust = p.get("adjust", "holm")
    how = "raw" if adjust == "none" else f"{ADJUST_WORDS[adjust]}-adjusted over the run's candidates"
    return f", with a paired-bootstrap p-value ({how}) at most {p['significance']}"


def say_slice_metric(p: Params) -> str:
    bounds = [f"{k.replace('_', ' ')} {v}" for k, v in p.items() if k.startswith(("min", "max"))]
    return f"{LABELS[p['metric']]} of each group of {by_words(p)} within bounds ({', '.join(bounds)})"


def say_fairness(p: Params) -> str:
    limit = f"at most {p['max']}" if "max" in p else f"at least {p.get('min')}"
    return f"{p['measure'].replace('_', ' ')} across groups of {by_words(p)} {limit}{USE_WORDS[p.get('use', 'point')]}"
