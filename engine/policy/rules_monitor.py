"""Rule kinds over a monitoring run's evidence (`engine.monitor`): feature drift, prediction drift, schema
violations and performance decay on labelled feedback. The existing kinds (metric_threshold, fairness,
calibration, ...) apply to a labelled batch too: its evidence has the audit's shape.

Each is a small pure function (evidence, params) -> Finding, registered in `engine.policy.registry`. A monitoring
run without the part a rule reads (no reference recorded, no labels yet) is `unknown`, never a silent pass. A rule's
alert level is its `alert` parameter, else `critical` for severity block and `warning` for warn
(`engine.monitor.conditions`).
"""

from __future__ import annotations

from typing import Any

from engine.policy.finding import Evidence, Finding, Params, fmt

ALERT = {"enum": ["info", "warning", "critical"],
         "description": "The alert level when the rule fails (default: critical for block, warning for warn)."}
MONITOR_KINDS = ("drift", "prediction_drift", "schema_violations", "performance_decay")


def _part(evidence: Evidence, key: str, what: str) -> Any:
    part = evidence.get(key)
    if part is None:
        return Finding("unknown", None, None, f"{what} is unknown: the batch has no {key} evidence")
    if isinstance(part, dict) and part.get("error"):
        return Finding("unknown", None, None, f"{what} is unknown: {part['error']}")
    return part


def _at_most(observed: float, bound: float, said: str, shown: str) -> Finding:
    """Pass when `observed` <= `bound`; the message is `said`, the comparison, then `shown` (the bound as read)."""
    ok = observed <= bound
    return Finding("pass" if ok else "fail", observed, bound, f"{said} {'<=' if ok else 'is not <='} {shown}")


def drift(evidence: Evidence, params: Params) -> Finding:
    """No feature (of `features`, default all) with PSI above `max_psi`, nor, with `max_drifted`, more features
    than that whose KS / chi-squared test rejects after the correction for many features."""
    part = _part(evidence, "drift", "feature drift")
    if isinstance(part, Finding):
        return part
    wanted = params.get("features")
    features = [f for f in part["features"] if wanted is None or f["name"] in wanted]
    bound = float(params.get("max_psi", 0.25))
    measured = [f for f in features if f.get("psi") is not None]
    absent = [f["name"] for f in features if f.get("absent")]
    if absent:
        return Finding("fail", None, bound, f"feature(s) absent from the batch: {', '.join(absent)}")
    if not measured:
        return Finding("unknown", None, bound, "no feature's drift could be measured")
    worst = max(measured, key=lambda f: f["psi"])
    psi = float(worst["psi"])
    if psi > bound:
        return Finding("fail", psi, bound, f"PSI of {worst['name']} {fmt(psi, bound)} is not <= {fmt(bound)}")
    limit = params.get("max_drifted")
    drifted = [f["name"] for f in features if f.get("drifted")]
    if limit is not None and len(drifted) > int(limit):
        return Finding("fail", psi, bound, f"{len(drifted)} features drifted (adjusted p < {part['alpha']}: "
                                           f"{', '.join(drifted)}), more than {int(limit)}")
    return Finding("pass", psi, bound, f"largest PSI {fmt(psi, bound)} ({worst['name']}) <= {fmt(bound)}; "
                                       f"{len(drifted)} of {len(features)} features drifted by their test")


def prediction_drift(evidence: Evidence, params: Params) -> Finding:
    """The PSI of the champion's scores on the batch against its test scores at audit time at most `max_psi`."""
    part = _part(evidence, "drift", "prediction drift")
    bound = float(params.get("max_psi", 0.25))
    if isinstance(part, Finding) or not part.get("prediction") or part["prediction"].get("psi") is None:
        return part if isinstance(part, Finding) else Finding(
            "unknown", None, bound, "prediction drift is unknown: no score reference was recorded")
    psi = float(part["prediction"]["psi"])
    return _at_most(psi, bound, f"PSI of the scores {fmt(psi, bound)}", fmt(bound))


def schema_violations(evidence: Evidence, params: Params) -> Finding:
    """No required column missing and at most `max_rate` of the rows violating the artifact's input schema."""
    part = _part(evidence, "schema", "schema violations")
    if isinstance(part, Finding):
        return part
    bound = float(params.get("max_rate", 0.0))
    if part["missing_columns"]:
        return Finding("fail", 1.0, bound, f"missing required column(s): {', '.join(part['missing_columns'])}")
    rate = part.get("violation_rate")
    if rate is None:
        return Finding("unknown", None, bound, "the batch has no rows")
    worst = ", ".join(c["name"] for c in part["columns"][:3])
    return _at_most(float(rate), bound, f"{rate:.2%} of {part['rows']} rows violate the input schema",
                    f"{bound:.2%}" + (f" ({worst})" if worst else ""))


def performance_decay(evidence: Evidence, params: Params) -> Finding:
    """`metric` on labelled feedback no more than `max_drop` worse than at approval: judged on the change's
    interval (`use: interval`, a significant decay) or its value (`use: value`); without labels, on the
    label-free estimate only if `allow_estimate`."""
    metric, bound = params["metric"], float(params.get("max_drop", 0.0))
    feedback = evidence.get("versus_approval")
    if feedback is None:
        estimate = (evidence.get("estimated") or {}).get("metrics", {}).get(metric)
        approved = (evidence.get("approved") or {}).get(metric)
        if not params.get("allow_estimate") or estimate is None or approved is None:
            return Finding("unknown", None, -bound, f"{metric} on feedback is unknown: the batch has no labels")
        change = float(estimate) - float(approved)
        ok = change >= -bound
        return Finding("pass" if ok else "fail", change, -bound, f"estimated (no labels, CBPE) {metric} change "
                       f"{fmt(change)} {'>=' if ok else 'is not >='} {fmt(-bound)}")
    entry = feedback["metrics"].get(metric)
    if entry is None:
        return Finding("unknown", None, -bound, f"{metric} could not be compared with the approval")
    use = params.get("use", "interval")
    interval = entry.get("change_interval")
    observed = entry["change"] if use == "value" or interval is None else interval[1]
    label = "change" if use == "value" or interval is None else "upper bound of the change's interval"
    ok = observed >= -bound
    return Finding("pass" if ok else "fail", float(observed), -bound,
                   f"{metric} {entry['batch']:.4g} vs {entry['approved']:.4g} approved: {label} {fmt(observed)} "
                   f"{'>=' if ok else 'is not >='} {fmt(-bound)}")


PSI_BOUND = {"type": "number", "minimum": 0, "description": "Largest PSI allowed (the seeds: 0.1 warning, 0.25 "
                                                             "action)."}
DRIFT_PARAMS: dict[str, Any] = {
    "description": "Feature drift of a monitored batch against the training reference: PSI per feature at most "
                   "max_psi, and optionally at most max_drifted features whose KS / chi-squared test rejects after "
                   "the multiple-testing correction.",
    "properties": {"max_psi": PSI_BOUND,
                   "features": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                "description": "Only these features (default: every feature)."},
                   "max_drifted": {"type": "integer", "minimum": 0,
                                   "description": "Most features allowed to drift by their statistical test."},
                   "alert": ALERT},
}
PREDICTION_DRIFT_PARAMS: dict[str, Any] = {
    "description": "Drift of the champion's scores on a monitored batch against its test scores at audit time: "
                   "PSI at most max_psi.",
    "properties": {"max_psi": PSI_BOUND, "alert": ALERT},
}
SCHEMA_VIOLATIONS_PARAMS: dict[str, Any] = {
    "description": "A monitored batch follows the champion artifact's input schema: no required column missing, "
                   "at most max_rate of the rows with an unknown category, a value outside the training range or "
                   "a non-number.",
    "properties": {"max_rate": {"type": "number", "minimum": 0, "maximum": 1,
                                "description": "Largest share of violating rows allowed (default 0)."},
                   "alert": ALERT},
}
PERFORMANCE_DECAY_PARAMS: dict[str, Any] = {
    "description": "The approved metric recomputed on labelled feedback is at most max_drop worse than the figure "
                   "it was approved on (judged on the change's interval or its value).",
    "required": ["metric"],
    "properties": {"metric": {"$ref": "#/$defs/metric"},
                   "max_drop": {"type": "number", "minimum": 0, "description": "Largest decay allowed (default 0)."},
                   "use": {"enum": ["interval", "value"],
                           "description": "interval: the upper bound of the change's interval; value: the change."},
                   "allow_estimate": {"type": "boolean",
                                      "description": "Without labels, judge the label-free (CBPE) estimate."},
                   "alert": ALERT},
}
