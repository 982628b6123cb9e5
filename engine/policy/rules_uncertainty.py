"""Rule kinds over a candidate's uncertainty: `calibration` (are its probabilities right) and `conformal_coverage`
(do its conformal prediction sets or intervals hold the truth as often as promised).

Each is a small pure function (evidence, params) -> Finding with its parameter schema fragment and its
`policy explain` sentence, like the kinds of `rules.py`. The measures depend on the task: binary and multiclass
candidates have prediction sets (`method` "sets", bounded by `max_mean_set_size`) and probabilities (multiclass:
top-label ECE, or the class-wise ECE); a regression has intervals, split conformal (`split`, the default) and
conformalized quantile regression (`cqr`), bounded by `max_mean_width`. Which parameter applies to which task is
`engine.policy.tasks.PARAM_TASKS`: a rule that cannot apply is refused at validation time. Missing evidence, or a
part that failed to compute (stored as its `error`), makes a rule `unknown`, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.policy.finding import Evidence, Finding, Params, fmt
from engine.policy.groups import (
    apply_small_groups,
    by_words,
    count,
    evidence_slices,
    missing_grouping,
    named,
    select_groupings,
    small_groups,
)

METHOD_WORDS = {"sets": "conformal prediction sets", "split": "split-conformal prediction intervals",
                "cqr": "conformalized quantile regression intervals"}
MEASURE_LABELS = {"ece": "ECE", "mce": "MCE", "brier": "Brier score", "classwise_ece": "class-wise ECE"}


# ---------------------------------------------------------------------------------------------------------------
# calibration


def _judge_groups(evidence: Evidence, params: Params, bound: float) -> Finding:
    slices = evidence_slices(evidence, params["by"])
    if slices is None:
        return missing_grouping(params)
    by_group = evidence.get("calibration", {}).get("ece_by_group", {}).get(slices[0]["name"])
    if by_group is None:
        return missing_grouping(params)
    eligible = {g["group"] for g in slices[0]["groups"] if not g["too_small"]}
    judged = {group: value for group, value in by_group.items() if group in eligible and value is not None}
    small = small_groups(slices)
    policy = params.get("small_groups", "report")
    if not judged:
        return apply_small_groups(Finding("unknown", None, bound, "no group with enough rows"), small, policy)
    worst_group = max(judged, key=lambda g: judged[g])
    observed = judged[worst_group]
    over = [g for g, v in judged.items() if v > bound]
    message = (f"ECE of every group <= {fmt(bound)}; worst {worst_group} {fmt(observed)}" if not over else
               f"ECE above {fmt(bound)} in {count(len(over), 'group')}; worst {worst_group} {fmt(observed)}")
    return apply_small_groups(Finding("fail" if over else "pass", observed, bound, message), small, policy)


def calibration(evidence: Evidence, params: Params) -> Finding:
    measure, bound = params["measure"], float(params["max"])
    strategy = params.get("strategy", "uniform")
    calibrated = evidence.get("calibration", {})
    if "by" in params:
        return _judge_groups(evidence, params, bound)
    if measure == "classwise_ece":
        label, observed_value = "class-wise ECE (mean over the classes, uniform bins)", calibrated.get("classwise_ece")
    else:
        top_label = strategy == "uniform" and "top_label" in calibrated  # a multiclass candidate: the top label's
        stored = calibrated.get("top_label") if top_label else calibrated.get(strategy)
        label = MEASURE_LABELS[measure] + (" (top label, uniform bins)" if top_label else f" ({strategy} bins)")
        observed_value = None if stored is None else stored.get(measure)
    if observed_value is None:
        why = calibrated.get("error") if isinstance(calibrated, Mapping) else None
        return Finding("unknown", None, bound, f"{label} was not computed for this candidate"
                                               + (f": {why}" if why else ""))
    observed = float(observed_value)
    ok = observed <= bound
    return Finding("pass" if ok else "fail", observed, bound,
                   f"{label} {fmt(observed)} {'<=' if ok else 'is not <='} {fmt(bound)}")


# ---------------------------------------------------------------------------------------------------------------
# conformal_coverage


def _conformal_part(evidence: Evidence, method: str | None) -> Mapping[str, Any] | Finding:
    """The conformal evidence of `method` (default: the candidate's own), or the `unknown` finding saying why not."""
    what = METHOD_WORDS.get(method or "", "conformal prediction sets or intervals")
    part: Mapping[str, Any] | None = evidence.get("conformal")
    if part is not None and method == "cqr":
        part = part.get("cqr") if "error" not in part else part
    if part is None:
        return Finding("unknown", None, None, f"{what} were not computed for this candidate")
    if "error" in part:
        return Finding("unknown", None, None, f"{what} could not be computed: {part['error']}")
    kind = conformal_kind(part)
    if method is not None and kind != method:
        return Finding("unknown", None, None, f"{what} were not computed for this candidate (its conformal "
                                              f"evidence is {METHOD_WORDS[kind]})")
    return part


def conformal_kind(part: Mapping[str, Any]) -> str:
    """`sets`, `split` or `cqr`: what a conformal section holds (evidence recorded before it said so: intervals
    when its levels have a mean width, else prediction sets)."""
    kind = part.get("kind")
    if kind in METHOD_WORDS:
        return str(kind)
    return "split" if any("mean_width" in level for level in part.get("levels", [])) else "sets"


def _levels(part: Mapping[str, Any], confidence: float | None) -> list[Mapping[str, Any]]:
    levels = list(part.get("levels", []))
    if confidence is None:
        return levels
    return [level for level in levels if abs(level["confidence"] - confidence) < 1e-9]


def _shortfalls(levels: list[Mapping[str, Any]], params: Params, tolerance: float
                ) -> tuple[list[tuple[float, float, float, str]], list[str]] | Finding:
    """(shortfall, coverage, target, where) overall and per judged group at each level, and the groups too small."""
    shortfalls: list[tuple[float, float, float, str]] = []
    small: list[str] = []
    for level in levels:
        target = level["confidence"] - tolerance
        shortfalls.append((target - level["coverage"], level["coverage"], target,
                           f"overall at {fmt(level['confidence'])}"))
        groupings = select_groupings(level.get("by_group", []), params.get("by"))
        if not groupings and params.get("by") is not None:
            return Finding("unknown", None, target, f"no grouping {params.get('by')!r} in the conformal evidence")
        for grouping in groupings:
            for group in grouping["groups"]:
                name = f"{grouping['name']}={group['group']}"
                if group["too_small"]:
                    small.append(f"{name} (n={group['support']})")
                elif group["coverage"] is not None:
                    shortfalls.append((target - group["coverage"], group["coverage"], target,
                                       f"{name} at {fmt(level['confidence'])}"))
    return shortfalls, sorted(set(small))


def _size_bound(levels: list[Mapping[str, Any]], params: Params) -> Finding | None:
    """The failed finding of a mean set size or mean width above its bound, or None."""
    for key, measure, words in (("max_mean_set_size", "mean_set_size", "mean prediction-set size"),
                                ("max_mean_width", "mean_width", "mean interval width")):
        if key not in params:
            continue
        bound = float(params[key])
        measured = [level for level in levels if level.get(measure) is not None]
        if not measured:
            return Finding("unknown", None, bound, f"no {words} in the conformal evidence")
        widest = max(measured, key=lambda lv: lv[measure])
        if widest[measure] > bound:
            return Finding("fail", widest[measure], bound, f"{words} {fmt(widest[measure])} at "
                           f"{fmt(widest['confidence'])} is not <= {fmt(bound)} (coverage bought with wide sets)")
    return None


def conformal_coverage(evidence: Evidence, params: Params) -> Finding:
    """Coverage >= confidence - tolerance, overall and in every group with enough rows; set size or width bounded."""
    part = _conformal_part(evidence, params.get("method"))
    if isinstance(part, Finding):
        return part
    tolerance = float(params.get("tolerance", 0.0))
    levels = _levels(part, params.get("confidence"))
    if not levels:
        return Finding("unknown", None, None, f"no conformal level {params.get('confidence')} in the evidence "
                                              "(add it to the spec's evaluation.conformal_levels)")
    found = _shortfalls(levels, params, tolerance)
    if isinstance(found, Finding):
        return found
    shortfalls, small = found
    policy = str(params.get("small_groups", "report"))
    worst = max(shortfalls, key=lambda s: s[0])
    below = [f"{where} {fmt(cov)}" for gap, cov, _, where in sorted(shortfalls, key=lambda s: -s[0]) if gap > 1e-12]
    if below:
        message = f"coverage below target in {count(len(below), 'place')}: {named(below)} (target {fmt(worst[2])})"
        return apply_small_groups(Finding("fail", worst[1], worst[2], message), small, policy)
    too_wide = _size_bound(levels, params)
    if too_wide is not None:
        return apply_small_groups(too_wide, small, policy)
    message = f"coverage at target everywhere judged; lowest {worst[3]} {fmt(worst[1])} (target {fmt(worst[2])})"
    return apply_small_groups(Finding("pass", worst[1], worst[2], message), small, policy)


# ---------------------------------------------------------------------------------------------------------------
# Parameters (JSON-schema fragments) and `policy explain` sentences

CALIBRATION_PARAMS: dict[str, Any] = {
    "description": "Calibration error at most max: overall (ece, mce or brier; a multiclass candidate's top label, "
                   "or classwise_ece, the mean ECE over its classes), or the ECE of every group of a sensitive "
                   "column.",
    "required": ["measure", "max"],
    "if": {"required": ["by"]},
    "then": {"properties": {"measure": {"const": "ece"}, "strategy": {"const": "uniform"}}},
    "properties": {
        "measure": {"enum": ["ece", "mce", "brier", "classwise_ece"],
                    "description": "Expected or maximum calibration error over the bins, the Brier score, or "
                                   "(multiclass) the class-wise ECE."},
        "strategy": {"enum": ["uniform", "quantile"],
                     "description": "Equal-width (uniform, default) or equal-mass (quantile) bins."},
        "max": {"type": "number", "minimum": 0, "description": "Upper bound of the measure."},
        "by": {"$ref": "#/$defs/by"},
        "small_groups": {"$ref": "#/$defs/small_groups"},
    },
}

CONFORMAL_COVERAGE_PARAMS: dict[str, Any] = {
    "description": "Conformal prediction sets (classification) or intervals (regression) hold the truth as often as "
                   "promised: coverage >= confidence - tolerance overall and in every group with enough rows (of "
                   "one grouping with by), and optionally a bound on the mean set size or interval width.",
    "not": {"required": ["max_mean_set_size", "max_mean_width"]},
    "properties": {
        "method": {"enum": ["sets", "split", "cqr"],
                   "description": "Which conformal evidence: prediction sets (binary, multiclass), split-conformal "
                                  "intervals or conformalized quantile regression intervals (regression). Default: "
                                  "the task's own (sets, or split)."},
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                       "description": "The level to judge (one of the spec's evaluation.conformal_levels); default "
                                      "every level."},
        "tolerance": {"type": "number", "minimum": 0, "maximum": 1,
                      "description": "Coverage may fall this far below the confidence level (default 0)."},
        "max_mean_set_size": {"type": "number", "minimum": 1,
                              "description": "At most this many labels per prediction set on average (binary, "
                                             "multiclass; the number of classes = always every label)."},
        "max_mean_width": {"type": "number", "exclusiveMinimum": 0,
                           "description": "Mean interval width at most this, in the target's units (regression)."},
        "by": {"$ref": "#/$defs/by"},
        "small_groups": {"$ref": "#/$defs/small_groups"},
    },
    "examples": [{"id": "coverage-by-sex", "kind": "conformal_coverage", "confidence": 0.9, "tolerance": 0.03,
                  "by": "sex", "severity": "block", "checklist": "calibration"},
                 {"id": "cqr-coverage", "kind": "conformal_coverage", "method": "cqr", "tolerance": 0.05,
                  "max_mean_width": 80, "severity": "warn", "checklist": "calibration"}],
}


def say_calibration(p: Params) -> str:
    where = f" in every group of {by_words(p)}" if "by" in p else ""
    if p["measure"] == "classwise_ece":
        return f"class-wise ECE (mean over the classes, uniform bins) at most {p['max']}"
    return f"{p['measure'].upper()} ({p.get('strategy', 'uniform')} bins) at most {p['max']}{where}"


def say_conformal_coverage(p: Params) -> str:
    level = f"at {p['confidence']}" if "confidence" in p else "at every level of the spec"
    what = METHOD_WORDS.get(p.get("method", ""), "conformal prediction sets or intervals")
    size = f", mean set size at most {p['max_mean_set_size']}" if "max_mean_set_size" in p else ""
    width = f", mean width at most {p['max_mean_width']}" if "max_mean_width" in p else ""
    return (f"{what} {level} cover the truth within {p.get('tolerance', 0)} of the level, "
            f"overall and in each group of {by_words(p)}{size}{width}")
