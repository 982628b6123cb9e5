"""Rule kinds over the evidence beyond metrics: explanations and robustness (conformal coverage and calibration:
`engine.policy.rules_uncertainty`).

Each is a small pure function (evidence, params) -> Finding, like the kinds of `rules.py`, with its parameter
schema fragment and its `policy explain` sentence at the end of the module. Missing evidence,
or a part that failed to compute (stored as its `error`), makes a rule `unknown`, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.policy.finding import Evidence, Finding, Params, faithful_part, fmt
from engine.policy.groups import count, named
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
