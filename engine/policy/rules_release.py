"""Rule kinds about releasing a model: a retrain reproduces it, its lineage is complete, there is a champion to
roll back to, and it beats that champion on the same test rows.

Each reads evidence stored with the candidate (`reproducibility`, `lineage`, `champion`, and the paired
comparison `comparisons.champion`). Evidence that was not computed, or cannot be for this candidate (no retrain
was run, or a model trained elsewhere has no trainer), makes the rule `unknown` with the reason: never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.evaluation.task_metrics import ALL_METRICS
from engine.lineage import missing_fields
from engine.policy.finding import Evidence, Finding, Params, fmt
from engine.policy.groups import named
from engine.policy.rules import ADJUST_PARAM, judge_lift

MAX_FIELDS_NAMED = 4


def reproducible(evidence: Evidence, params: Params) -> Finding:
    """The retrain's probabilities are identical (max_abs_diff 0), or within the rule's tolerance."""
    check = evidence.get("reproducibility")
    on_cpu = check is None or check.get("device", "cpu") == "cpu"
    bound = float(params.get("max_abs_diff", 0.0) if on_cpu else params.get("max_abs_diff_gpu",
                                                                            params.get("max_abs_diff", 0.0)))
    if check is None:
        return Finding("unknown", None, bound, "reproducibility was not checked for this candidate")
    if not check.get("retrained"):
        return Finding("unknown", None, bound, f"not applicable: {check.get('reason', 'no retrain was run')}")
    if "error" in check:
        return Finding("fail", None, bound, f"the retrain with the same seed failed: {check['error']}")
    observed = check.get("max_abs_diff")
    where = f"on {check.get('device', 'cpu')}"
    if observed is None:
        return Finding("fail", None, bound, f"the retrain {where} gave {check.get('non_finite', 0)} probabilities "
                                            "that are NaN or infinite")
    disagreement = check.get("label_disagreement", 0.0)
    flips = ("no decision to flip (a regression's predictions)" if disagreement is None
             else f"{fmt(100 * float(disagreement))}% of decisions flip")
    if check.get("identical"):
        return Finding("pass", 0.0, bound, f"a retrain {where} reproduces every test probability bit for bit "
                                           f"({check.get('seconds')} s)")
    ok = float(observed) <= bound
    verdict = "within" if ok else "beyond"
    return Finding("pass" if ok else "fail", float(observed), bound,
                   f"a retrain {where} differs by up to {fmt(float(observed))} ({verdict} the tolerance "
                   f"{fmt(bound)}); {flips}")


def lineage_complete(evidence: Evidence, params: Params) -> Finding:
    """Every lineage field is recorded; with `allow_dirty: false`, uncommitted code changes fail too."""
    record = evidence.get("lineage")
    if not isinstance(record, Mapping):
        return Finding("unknown", None, 0.0, "no lineage was recorded with this candidate")
    missing = missing_fields(record)
    if missing:
        shown = named(missing, limit=MAX_FIELDS_NAMED, separator=", ")
        return Finding("fail", float(len(missing)), 0.0,
                       f"{len(missing)} lineage field{'s' if len(missing) > 1 else ''} missing: {shown}")
    commit = str(record["git_commit"])[:12]
    if record["git_dirty"] and not params.get("allow_dirty", True):
        return Finding("fail", 0.0, 0.0, f"the code had uncommitted changes (git tree dirty at {commit}): "
                                         "the commit alone does not say what ran")
    dirty = " with uncommitted changes" if record["git_dirty"] else ""
    return Finding("pass", 0.0, 0.0, f"lineage complete: commit {commit}{dirty}, data, spec, policies, "
                                     "environment and seeds recorded")


def _champion_name(entry: Mapping[str, Any]) -> str:
    return f"{entry['candidate']} of run {entry['run_id']}"


def rollback(evidence: Evidence, params: Params) -> Finding:
    """An approved champion exists (when this candidate was audited) that serving could roll back to."""
    champion = evidence.get("champion")
    if not isinstance(champion, Mapping):
        return Finding("unknown", None, 1.0, "the champion registry was not read for this candidate")
    available = champion.get("available") or []
    current = champion.get("current")
    if current is None:
        return Finding("fail", 0.0, 1.0, f"no approved champion of {champion.get('model')!r} to roll back to "
                                         "(a first model: waive this rule with a reason)")
    return Finding("pass", float(len(available)), 1.0,
                   f"can roll back to the champion {_champion_name(current)} (promoted by {current.get('reviewer')}"
                   f" on {str(current.get('promoted_at'))[:10]}); {len(available)} approved in all")


def beats_champion(evidence: Evidence, params: Params) -> Finding:
    """Lift over the current champion, re-scored on the same test rows, at least `min_lift` (paired bootstrap)."""
    metric, min_lift = params["metric"], float(params["min_lift"])
    label = ALL_METRICS[metric].label
    champion = evidence.get("champion")
    if not isinstance(champion, Mapping):
        return Finding("unknown", None, min_lift, "the champion registry was not read for this candidate")
    current = champion.get("current")
    if current is None:
        return Finding("unknown", None, min_lift, f"no champion of {champion.get('model')!r} to compare with yet")
    comparison = evidence.get("comparisons", {}).get("champion")
    if comparison is None:
        why = champion.get("rescored_error") or "the champion was not re-scored on this run's test rows"
        return Finding("unknown", None, min_lift, f"{label} against the champion {_champion_name(current)}: {why}")
    entry = comparison.get(metric, {})
    observed = entry.get("lift")
    if observed is None:
        return Finding("unknown", None, min_lift, f"{label} lift over the champion is undefined")
    side = "better" if observed >= 0 else "worse"
    needs = f"needs {fmt(min_lift)} better" if min_lift >= 0 else f"may be at most {fmt(-min_lift)} worse"
    message = f"{label} {fmt(abs(observed))} {side} than the champion {_champion_name(current)} ({needs})"
    return judge_lift(observed, min_lift, entry, params, message)


# ---------------------------------------------------------------------------------------------------------------
# Parameters (JSON-schema fragments); `policy explain` words these kinds from their description and parameters

REPRODUCIBLE_PARAMS: dict[str, Any] = {
    "description": "A retrain with the same data, parameters and seed reproduces the test-split probabilities: "
                   "identical (max_abs_diff 0, the default), or within a stated tolerance; max_abs_diff_gpu applies "
                   "to a candidate trained off the CPU.",
    "properties": {
        "max_abs_diff": {"type": "number", "minimum": 0,
                         "description": "Largest absolute difference of a test probability allowed between the model "
                                        "and its retrain (default 0: bit-identical)."},
        "max_abs_diff_gpu": {"type": "number", "minimum": 0,
                             "description": "The same bound for a candidate trained off the CPU (default: "
                                            "max_abs_diff)."},
    },
}

LINEAGE_COMPLETE_PARAMS: dict[str, Any] = {
    "description": "Every lineage field is recorded (git commit, dirty tree, spec/policy/data hashes, Python, "
                   "platform, CPU/GPU, library versions, seeds); allow_dirty false also fails uncommitted code "
                   "changes.",
    "properties": {
        "allow_dirty": {"type": "boolean",
                        "description": "false: uncommitted changes in the git tree fail the rule too (default true)."},
    },
}

ROLLBACK_PARAMS: dict[str, Any] = {
    "description": "An approved champion of this model exists (when the candidate was audited) to roll back to; a "
                   "first model can be waived.",
    "properties": {},
}

BEATS_CHAMPION_PARAMS: dict[str, Any] = {
    "description": "The candidate beats the current champion, re-scored on the same test rows, by at least min_lift "
                   "(negative: non-inferiority margin), direction-aware, optionally significant in a paired "
                   "bootstrap.",
    "required": ["metric", "min_lift"],
    "properties": {
        "metric": {"$ref": "#/$defs/metric", "description": "The metric compared on this run's test rows."},
        "min_lift": {"type": "number",
                     "description": "Lift over the champion required (direction-aware; negative allows a candidate "
                                    "that much worse)."},
        "significance": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                         "description": "Also require a paired-bootstrap one-sided p-value (candidate not better) at "
                                        "most this."},
        "adjust": ADJUST_PARAM,
    },
}
