"""Rule kinds over the evidence beyond metrics: conformal coverage, explanations and robustness.

Each is a small pure function (evidence, params) -> Finding, like the kinds of `rules.py`, with its parameter
schema fragment and its `policy explain` sentence at the end of the module. Missing evidence,
or a part that failed to compute (stored as its `error`), makes a rule `unknown`, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.policy.finding import Evidence, Finding, Params, faithful_part, fmt
from engine.policy.groups import apply_small_groups, by_words, count, named, select_groupings
from engine.policy.rules import LABELS

FAITHFULNESS_TOLERANCE = 1e-6


def _part(evidence: Evidence, name: str, what: str) -> Mapping[str, Any] | Finding:
    """The stored part, or the `unknown` finding that says why it is not there."""
    part: Mapping[str, Any] | None = evidence.get(name)
    if part is None:
        return Finding("unknown", None, None, f"{what} were not computed for this candidate")
    if "error" in part:
        return Finding("unknown", None, None, f"{what} could not be computed: {part['error']}")
    return part


# ---------------------------------------------------------------------------------------------------------------
# conformal_coverage


def _levels(part: Mapping[str, Any], confidence: float | None) -> list[Mapping[str, Any]]:
    levels = list(part.get("levels", []))
    if confidence is None:
        return levels
    return [level for level in levels if abs(level["confidence"] - confidence) < 1e-9]


def conformal_coverage(evidence: Evidence, params: Params) -> Finding:
    """Coverage >= confidence - tolerance, overall and in every group with enough rows; mean set size bounded."""
    part = _part(evidence, "conformal", "conformal prediction sets")
    if isinstance(part, Finding):
        return part
    tolerance = float(params.get("tolerance", 0.0))
    levels = _levels(part, params.get("confidence"))
    if not levels:
        return Finding("unknown", None, None, f"no conformal level {params.get('confidence')} in the evidence "
                                              "(add it to the spec's evaluation.conformal_levels)")
    shortfalls: list[tuple[float, float, float, str]] = []  # (shortfall, coverage, target, where)
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
    policy = str(params.get("small_groups", "report"))
    small = sorted(set(small))
    worst = max(shortfalls, key=lambda s: s[0])
    below = [f"{where} {fmt(cov)}" for gap, cov, _, where in sorted(shortfalls, key=lambda s: -s[0]) if gap > 1e-12]
    if below:
        message = f"coverage below target in {count(len(below), 'place')}: {named(below)} (target {fmt(worst[2])})"
        return apply_small_groups(Finding("fail", worst[1], worst[2], message), small, policy)
    if "max_mean_set_size" in params:
        bound = float(params["max_mean_set_size"])
        widest = max(levels, key=lambda lv: lv["mean_set_size"])
        if widest["mean_set_size"] > bound:
            message = (f"mean prediction-set size {fmt(widest['mean_set_size'])} at {fmt(widest['confidence'])} "
                       f"is not <= {fmt(bound)} (coverage holds only by predicting both labels)")
            return apply_small_groups(Finding("fail", widest["mean_set_size"], bound, message), small, policy)
    message = f"coverage at target everywhere judged; lowest {worst[3]} {fmt(worst[1])} (target {fmt(worst[2])})"
    return apply_small_groups(Finding("pass", worst[1], worst[2], message), small, policy)


# ---------------------------------------------------------------------------------------------------------------
# explainability


def _flag(entry: Mapping[str, Any], threshold: float) -> str | None:
    if entry["sensitive"]:
        return f"{entry['feature']} (a sensitive column)"
    proxies = [f"{column} {fmt(value)}" for column, value in entry.get("associations", {}).items()
               if value > threshold]
    return f"{entry['feature']} (proxy: NMI with {', '.join(proxies)})" if proxies else None


def explainability(evidence: Evidence, params: Params) -> Finding:
    """Explanations present and faithful; with `top_k`, no sensitive column or proxy among the top drivers."""
    tolerance = float(params.get("max_faithfulness_error", FAITHFULNESS_TOLERANCE))
    checked = faithful_part(_part(evidence, "explanations", "explanations"), "faithfulness", tolerance,
                            what="explanations", output="the model's output")
    if isinstance(checked, Finding):
        return checked
    part, error = checked
    faithful = f"faithful ({part['method']}, max error {fmt(error)})"
    if "top_k" not in params:
        return Finding("pass", error, tolerance, f"explanations {faithful}")
    top_k = int(params["top_k"])
    threshold = float(params.get("proxy_threshold", part["proxy_threshold"]))
    allowed = set(params.get("allow", []))
    drivers = [e for e in part["ranking"] if e["mean_abs"] > 0][:top_k]
    if not drivers:
        return Finding("pass", 0.0, 0.0, f"explanations {faithful}; no feature moves the output")
    names = ", ".join(e["feature"] for e in drivers)
    flagged = [f for e in drivers if e["feature"] not in allowed and (f := _flag(e, threshold)) is not None]
    if flagged:
        return Finding("fail", float(len(flagged)), 0.0,
                       f"{count(len(flagged), 'sensitive driver')} in the top {top_k}: {named(flagged)}")
    return Finding("pass", 0.0, 0.0, f"top {len(drivers)} drivers ({names}) hold no sensitive column or proxy; "
                                     f"explanations {faithful}")


# ---------------------------------------------------------------------------------------------------------------
# robustness


def _checks(part: Mapping[str, Any], params: Params) -> tuple[list[tuple[float, float, float, str]], list[str]]:
    """(excess, observed, bound, description) for each bound the rule sets, and the missing evidence."""
    checks: list[tuple[float, float, float, str]] = []
    missing: list[str] = []
    metric = str(params.get("metric", part.get("metric", "roc_auc")))  # default: the task's own metric
    for key, kind in (("max_drop", "drop"), ("max_relative_drop", "relative_drop")):
        if key not in params:
            continue
        bound = float(params[key])
        for name in params.get("perturbations", list(part["perturbations"])):
            drop = (part["perturbations"].get(name, {}).get(kind) or {}).get(metric)
            what = (f"{LABELS[metric]} {'worsening' if metric in ('rmse', 'mae') else 'drop'}"
                    f"{' (relative)' if kind == 'relative_drop' else ''} under {name.replace('_', ' ')}")
            if drop is None:
                missing.append(what)
            else:
                checks.append((drop - bound, drop, bound, what))
    if "max_invariance_violation_rate" in params:
        bound = float(params["max_invariance_violation_rate"])
        for test in part["invariance"]:
            if not test["is_feature"]:
                checks.append((test["violation_rate"] - bound, test["violation_rate"], bound,
                               f"predictions changed by shuffling {test['column']}"))
    if "max_directional_violation_rate" in params:
        bound = float(params["max_directional_violation_rate"])
        if not part["directional"]:
            missing.append("directional tests (none declared in the spec's evaluation.directional)")
        for test in part["directional"]:
            if "violation_rate" not in test:
                missing.append(f"directional test on {test['feature']} ({test.get('error', 'not computed')})")
                continue
            checks.append((test["violation_rate"] - bound, test["violation_rate"], bound,
                           f"rows against {test['expect'].replace('_', '-')} when {test['feature']} "
                           f"{'+' if test['shift'] > 0 else ''}{fmt(test['shift'])}"))
    return checks, missing


def robustness(evidence: Evidence, params: Params) -> Finding:
    """Metric drops under perturbation and violation rates of invariance and directional tests within bounds."""
    part = _part(evidence, "robustness", "robustness tests")
    if isinstance(part, Finding):
        return part
    checks, missing = _checks(part, params)
    features = [t["column"] for t in part["invariance"] if t["is_feature"]]
    note = (f"; not judged for invariance (sensitive, but used as features): {', '.join(features)}"
            if features and "max_invariance_violation_rate" in params else "")
    if features and params.get("sensitive_features") == "fail":
        return Finding("fail", float(len(features)), 0.0, f"sensitive columns are features: {', '.join(features)}")
    over = [c for c in sorted(checks, key=lambda c: -c[0]) if c[0] > 1e-12]
    if over:
        worst = over[0]
        items = [f"{desc} {fmt(obs)} > {fmt(bound)}" for _, obs, bound, desc in over]
        return Finding("fail", worst[1], worst[2], f"{count(len(over), 'test')} out of bounds: {named(items)}{note}")
    if missing:
        return Finding("unknown", None, None, f"not computed: {named(missing)}{note}")
    if not checks:
        return Finding("unknown", None, None, f"no robustness test applies to this candidate{note}")
    worst = max(checks, key=lambda c: c[0])
    return Finding("pass", worst[1], worst[2], f"{count(len(checks), 'test')} within bounds; closest: {worst[3]} "
                                               f"{fmt(worst[1])} (bound {fmt(worst[2])}){note}")


# ---------------------------------------------------------------------------------------------------------------
# Parameters (JSON-schema fragments) and `policy explain` sentences

CONFORMAL_COVERAGE_PARAMS: dict[str, Any] = {
    "description": "Split-conformal prediction sets hold the truth as often as promised: coverage >= confidence - "
                   "tolerance overall and in every group with enough rows (of one grouping with by), and optionally "
                   "a bound on the mean set size.",
    "properties": {
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                       "description": "The level to judge (one of the spec's evaluation.conformal_levels); default "
                                      "every level."},
        "tolerance": {"type": "number", "minimum": 0, "maximum": 1,
                      "description": "Coverage may fall this far below the confidence level (default 0)."},
        "max_mean_set_size": {"type": "number", "minimum": 1, "maximum": 2,
                              "description": "At most this many labels per prediction set on average (2 = always "
                                             "both)."},
        "by": {"$ref": "#/$defs/by"},
        "small_groups": {"$ref": "#/$defs/small_groups"},
    },
    "examples": [{"id": "coverage-by-sex", "kind": "conformal_coverage", "confidence": 0.9, "tolerance": 0.03,
                  "by": "sex", "severity": "block", "checklist": "calibration"}],
}

EXPLAINABILITY_PARAMS: dict[str, Any] = {
    "description": "Explanations exist and are faithful (contributions + base value equal the model's output); with "
                   "top_k, no sensitive column or proxy of one (normalized mutual information above the threshold) "
                   "among the top drivers.",
    "properties": {
        "max_faithfulness_error": {"type": "number", "minimum": 0, "description": "Default 1e-6."},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 1000,
                  "description": "How many of the strongest drivers (mean |contribution| > 0) to check for sensitive "
                                 "columns and proxies."},
        "proxy_threshold": {"type": "number", "minimum": 0, "maximum": 1,
                            "description": "Overrides the spec's evaluation.proxy_threshold."},
        "allow": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
                  "description": "Features that may be among the top drivers even if sensitive or a proxy."},
    },
}

ROBUSTNESS_PARAMS: dict[str, Any] = {
    "description": "Metric drop under perturbation, and the share of rows violating invariance (sensitive columns "
                   "that are not features) and directional tests, within bounds.",
    "anyOf": [{"required": ["max_drop"]}, {"required": ["max_relative_drop"]},
              {"required": ["max_invariance_violation_rate"]}, {"required": ["max_directional_violation_rate"]}],
    "properties": {
        "metric": {"enum": ["roc_auc", "accuracy", "rmse", "mae", "f1_macro"],
                   "description": "The metric whose worsening is judged (default the task's own: roc_auc for "
                                  "binary, rmse for regression, accuracy for multiclass)."},
        "max_drop": {"type": "number", "minimum": 0,
                     "description": "Largest worsening of the metric under each perturbation (a drop of a score, "
                                    "an increase of an error such as RMSE, in the metric's units)."},
        "max_relative_drop": {"type": "number", "minimum": 0,
                              "description": "Largest worsening relative to the clean value (0.1: RMSE up by at "
                                             "most 10%); regression and multiclass audits only."},
        "perturbations": {"type": "array", "items": {"enum": ["gaussian_noise", "category_swap", "missing_values"]},
                          "minItems": 1, "uniqueItems": True, "description": "Default all three."},
        "max_invariance_violation_rate": {"type": "number", "minimum": 0, "maximum": 1,
                                          "description": "Share of rows whose prediction moves when a sensitive "
                                                         "column that is not a feature is shuffled."},
        "max_directional_violation_rate": {"type": "number", "minimum": 0, "maximum": 1,
                                           "description": "Share of rows that move against a declared directional "
                                                          "expectation."},
        "sensitive_features": {"enum": ["report", "fail"],
                               "description": "A sensitive column used as a feature: named in the message (report, "
                                              "default) or fails the rule."},
    },
}


def say_conformal_coverage(p: Params) -> str:
    level = f"at {p['confidence']}" if "confidence" in p else "at every level of the spec"
    size = f", mean set size at most {p['max_mean_set_size']}" if "max_mean_set_size" in p else ""
    return (f"conformal prediction sets {level} cover the truth within {p.get('tolerance', 0)} of the level, "
            f"overall and in each group of {by_words(p)}{size}")


def say_explainability(p: Params) -> str:
    top = f"; no sensitive column or proxy among the top {p['top_k']} drivers" if "top_k" in p else ""
    return f"explanations add up to the model's output within {p.get('max_faithfulness_error', 1e-6)}{top}"


def say_robustness(p: Params) -> str:
    metric = LABELS[p["metric"]] if "metric" in p else "the task's metric"
    parts = [f"{metric} drop under perturbation at most {p['max_drop']}" if "max_drop" in p else "",
             f"{metric} worse by at most {p['max_relative_drop']:.0%} under perturbation"
             if "max_relative_drop" in p else "",
             f"invariance violations at most {p['max_invariance_violation_rate']}"
             if "max_invariance_violation_rate" in p else "",
             f"directional violations at most {p['max_directional_violation_rate']}"
             if "max_directional_violation_rate" in p else ""]
    return "; ".join(part for part in parts if part)
