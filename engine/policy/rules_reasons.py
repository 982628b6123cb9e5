"""Rule kinds over the `decisions` evidence: `reason_codes` (adverse decisions have faithful reasons on the served
artifact and no protected column or flagged proxy among their top reasons) and `recourse_parity` (the gap in
recourse between sensitive groups is bounded).
"""

from __future__ import annotations

from typing import Any

from engine.policy.finding import Evidence, Finding, Params, faithful_part, fmt

DEFAULT_MAX_ERROR = 0.01
REASON_CODES_PARAMS: dict[str, Any] = {
    "description": "Each adverse decision of the test split has reasons computed on the served ONNX artifact that add "
                   "up to its output within max_error, and no sensitive column or flagged proxy among its top reasons "
                   "(withheld in at most max_withheld_share of the decisions).",
    "properties": {"max_error": {"type": "number", "minimum": 0,
                  "description": "Largest |contributions + base - served output| allowed, in log-odds (default 0.01)."},
    "max_withheld_share": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "Largest share of adverse decisions in which a sensitive column or flagged "
                                          "proxy ranked among the top reasons and was withheld (default 0)."},
    },
}
RECOURSE_PARITY_PARAMS: dict[str, Any] = {
    "description": "The recourse of denied test rows (share with a feasible change, or its median cost) differs by at "
                   "most max_gap between the groups of a sensitive column.",
    "required": ["by", "max_gap"],
    "properties": {"by": {"type": "string", "minLength": 1, "description": "The sensitive column (grouping) compared."},
    "measure": {"enum": ["feasible_share", "median_cost"],
                "description": "Share of denied rows with a feasible recourse (default), or its median cost."},
    "max_gap": {"type": "number", "minimum": 0, "description": "Largest gap between the judged groups."},
    },
}


def _decisions(evidence: Evidence) -> dict[str, Any] | Finding:
    part = evidence.get("decisions")
    if not isinstance(part, dict):
        return Finding("unknown", None, None, "no decisions evidence (the spec declares no `decisions` table)")
    if "error" in part:
        return Finding("unknown", None, None, f"decisions evidence failed: {part['error']}")
    return part


def reason_codes(evidence: Evidence, params: Params) -> Finding:
    """Faithful reasons on the served artifact; no protected column or proxy among any decision's top reasons."""
    bound = float(params.get("max_error", DEFAULT_MAX_ERROR))
    checked = faithful_part(_decisions(evidence), "attribution", bound, what="reasons",
                            output="the served artifact's output")
    if isinstance(checked, Finding):
        return checked
    part, error = checked
    share, most = float(part["withheld_share"]), float(params.get("max_withheld_share", 0.0))
    if share > most:
        names = ", ".join(w["feature"] for w in part["summary"]["withheld"])
        return Finding("fail", share, most, f"{fmt(share)} of {part['explained_rows']} adverse decisions rank a "
                                            f"sensitive column or proxy among their top reasons ({names}; withheld)")
    return Finding("pass", error, bound, f"{part['explained_rows']} adverse decisions explained "
                                         f"({part['attribution']['method']}, max error {fmt(error)}); "
                                         f"no protected reason")


def recourse_parity(evidence: Evidence, params: Params) -> Finding:
    """The recourse gap between the groups of `by` within `max_gap`."""
    part = _decisions(evidence)
    if isinstance(part, Finding):
        return part
    recourse = part["recourse"]
    if "error" in recourse:
        return Finding("unknown", None, None, f"no recourse evidence: {recourse['error']}")
    by, measure, bound = str(params["by"]), str(params.get("measure", "feasible_share")), float(params["max_gap"])
    grouping = recourse["by_group"].get(by)
    key = "share_gap" if measure == "feasible_share" else "cost_gap"
    if grouping is None or key not in grouping:
        return Finding("unknown", None, bound, f"recourse {measure} by {by}: fewer than two groups large enough")
    gap = float(grouping[key])
    interval = grouping.get(f"{key}_interval")
    within = f" (interval {fmt(interval[0])}-{fmt(interval[1])})" if interval else ""
    failed = gap > bound
    relation = "is not" if failed else "is"
    message = f"recourse {measure} gap by {by} {fmt(gap)}{within} {relation} <= {fmt(bound)}"
    return Finding("fail" if failed else "pass", gap, bound, message)


def say_reason_codes(params: Params) -> str:
    return (f"every adverse decision's reasons add up to the served artifact's output within "
            f"{fmt(float(params.get('max_error', DEFAULT_MAX_ERROR)))} log-odds, and no sensitive column or flagged "
            f"proxy is among its top reasons")


def say_recourse_parity(params: Params) -> str:
    measure = params.get("measure", "feasible_share")
    bound = fmt(float(params["max_gap"]))
    return f"the {measure} of recourse differs by at most {bound} between the groups of {params['by']}"
