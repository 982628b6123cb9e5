"""The model card as data: one JSON document per candidate, built only from what the trail recorded.

Every rendering (Markdown, HTML, JSON) is made from this document, so the three always agree and a card can be
regenerated from the trail at any time. Field names follow the Model Card Toolkit where it has them
(`model_details`, `model_parameters`, `quantitative_analysis.performance_metrics`, `considerations`); what
it lacks (the policy verdict rule by rule with checklist status, waivers and sign-offs, calibration, the
evidence added by later parts of an audit, lineage and the trail's head hash) lives under `mlgate`. Strings are
kept as recorded: each renderer escapes them for its format. Missing evidence is `{"status": "not evaluated",
"reason": ...}`, never a null a reader has to guess about.
"""

from __future__ import annotations

from typing import Any

from engine.audit.runs import RunRecord, view
from engine.cards.document_tasks import task_analysis
from engine.checklist import CHECKLIST, item_status
from engine.evaluation.task_metrics import ALL_METRICS, task_metrics
from engine.monitor.series import card_part as monitoring_part

SCHEMA_VERSION = "mlgate-model-card/1"
NOT_EVALUATED = "not evaluated"
NOT_STATED = "not stated in the spec"
GROUP_METRICS = ("roc_auc", "selection_rate", "tpr", "fpr", "ppv")
TASK_GROUP_METRICS = {"binary": GROUP_METRICS, "multiclass": ("accuracy", "balanced_accuracy", "log_loss"),
                      "regression": ("rmse", "mae", "mean_residual", "mean_prediction", "r2")}


def task_of(evidence: dict[str, Any] | None) -> str:
    """The task a candidate's evidence is for (no `task` key: binary, as every earlier trail)."""
    return str((evidence or {}).get("task", "binary"))


def output_format(data: dict[str, Any]) -> str:
    """What the served model outputs, in words, for the run's task."""
    task = data.get("task", "binary")
    if task == "regression":
        return f"the predicted {data['target']}"
    if task == "multiclass":
        return f"P({data['target']} = each class), classes: {', '.join(map(str, data.get('classes', [])))}"
    return f"P({data['target']} = {data['positive_label']})"


def not_evaluated(reason: str) -> dict[str, str]:
    return {"status": NOT_EVALUATED, "reason": reason}


def _interval(pair: list[float | None] | None) -> dict[str, float] | None:
    if not pair or pair[0] is None or pair[1] is None:
        return None
    return {"lower_bound": pair[0], "upper_bound": pair[1]}


def _model_details(record: RunRecord, name: str) -> dict[str, Any]:
    from engine.candidates import FAMILIES  # the model libraries load when a card is drawn, not with the module

    spec = record.started.data["spec"]
    card = spec.get("card", {})
    evaluated = record.candidates[name].data
    family = FAMILIES.get(evaluated["family"])
    return {
        "name": name,
        "overview": spec.get("description") or f"Candidate {name} of the audit {spec['name']}.",
        "version": {"name": card.get("version", NOT_STATED), "date": record.started.recorded_at[:10]},
        "owners": [{"name": owner} for owner in card.get("owners", [])],
        "licenses": [{"custom_text": card["license"]}] if card.get("license") else [],
        "references": [],
        "citations": [],
        "family": evaluated["family"],
        "family_summary": family.summary if family else _outside_summary(evaluated),
        "is_baseline": bool(evaluated.get("is_baseline")),
        "parameters": evaluated.get("description", {}).get("params", evaluated.get("params", {})),
        **({"external_model": external} if (external := evaluated.get("description", {}).get("external_model"))
           else {}),
        **({"calibration": fitted} if (fitted := evaluated.get("description", {}).get("calibration")) else {}),
    }


def _outside_summary(evaluated: dict[str, Any]) -> str:
    external = evaluated.get("description", {}).get("external_model")
    if not external:
        return str(evaluated["family"])
    return f"a {external.get('format', 'model')} file trained outside mlgate and audited as is"


# What a split other than the default records (strategy, time boundaries, groups, a kept-apart test file).
SPLIT_CHOICES = ("strategy", "time_column", "boundaries", "group_column", "groups", "test_file")


def _dataset(record: RunRecord, part: str) -> dict[str, Any]:
    data = record.started.data["data"]
    fingerprint = data["fingerprint"]
    split = record.started.data["split"]
    training = record.started.data.get("training") if part == "train" else None
    if training and training.get("fingerprint"):
        fingerprint = training["fingerprint"]
    return {
        "name": f"{fingerprint['path']} ({training['source'] if training else part + ' split'})",
        "link": fingerprint["path"],
        "sensitive": {"sensitive_data": list(data["sensitive"])},
        "rows": training["rows"] if training else split["sizes"].get(part),
        "sha256": fingerprint["sha256"],
        "split": {"part": part, "seed": split["seed"], "stratified": split.get("stratified", True),
                  "sizes": split["sizes"], **{key: split[key] for key in SPLIT_CHOICES if key in split}},
    }


def _model_parameters(record: RunRecord, name: str) -> dict[str, Any]:
    data = record.started.data["data"]
    details = _model_details(record, name)
    return {
        "model_architecture": f"{details['family']}: {details['family_summary']}",
        "data": {"train": _dataset(record, "train"), "eval": _dataset(record, "test")},
        "input_format": "raw feature columns: numeric " + (", ".join(data["features"]["numeric"]) or "none")
                        + "; categorical " + (", ".join(data["features"]["categorical"]) or "none"),
        "output_format": output_format(data),
        "label": {"target": data["target"], "positive": data["positive_label"],
                  "negative": data.get("negative_label"),
                  **({"task": data["task"], "classes": data.get("classes", [])} if "task" in data else {})},
        "features": data["features"],
        "notes": [*data.get("notes", []), *_exposure_note(record, name)],
    }


def _exposure_note(record: RunRecord, name: str) -> list[str]:
    """How often this run's test set had informed decisions before (the exposure ledger), as a data note."""
    exposure = record.evidence(name).get("exposure") if name in record.candidates else None
    if not isinstance(exposure, dict) or "uses" not in exposure:
        return []
    return [f"test set {str(exposure['test_set'])[:12]} informed {exposure['prior_runs']} earlier run(s) "
            f"({exposure['prior_candidates']} candidates, {exposure['prior_comparisons']} comparisons) before this "
            f"one (mlgate exposure lists every use)"]


def _performance_metrics(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline metrics and each group's metrics, as Model Card Toolkit performance metrics."""
    intervals = evidence.get("intervals", {}).get("metrics", {})
    threshold = evidence.get("threshold")
    at = {"threshold": threshold} if threshold is not None else {}  # a regression or multiclass task has none
    metrics: list[dict[str, Any]] = [
        {"type": name, "value": value, "slice": "overall", **at,
         **({"confidence_interval": ci} if (ci := _interval(intervals.get(name))) else {})}
        for name, value in evidence["metrics"].items() if value is not None
    ]
    for s in evidence.get("slices", []):
        for group in s["groups"]:
            for name in TASK_GROUP_METRICS[task_of(evidence)]:
                value = group["metrics"].get(name)
                if value is None or group["too_small"]:
                    continue
                ci = _interval(group.get("intervals", {}).get(name))
                metrics.append({"type": name, "value": value, "slice": f"{s['name']}={group['group']}",
                                **at, **({"confidence_interval": ci} if ci else {})})
    return metrics


def _metric_table(record: RunRecord, evidence: dict[str, Any]) -> list[dict[str, Any]]:
    baseline = record.candidates.get(evidence.get("baseline", ""))
    base_metrics = record.evidence(baseline.data["candidate"]).get("metrics", {}) if baseline else {}
    intervals = evidence.get("intervals", {}).get("metrics", {})
    comparison = evidence.get("comparisons", {}).get("baseline", {})
    return [
        {"metric": key, "label": ALL_METRICS[key].label, "higher_is_better": ALL_METRICS[key].higher_is_better,
         "value": evidence["metrics"].get(key), "interval": intervals.get(key, [None, None]),
         "baseline": base_metrics.get(key), "lift": comparison.get(key, {}).get("lift"),
         "lift_interval": comparison.get(key, {}).get("interval", [None, None]),
         "p_value": comparison.get(key, {}).get("p_value")}
        for key in task_metrics(task_of(evidence)) if task_of(evidence) == "binary" or key in evidence["metrics"]
    ]


def _evaluation(record: RunRecord, name: str) -> dict[str, Any]:
    evaluated = record.candidates[name].data
    evidence = record.evidence(name)
    if not evidence:
        return not_evaluated(f"the candidate failed before evaluation: {evaluated.get('error') or 'no evidence'}")
    intervals = evidence.get("intervals")
    return {
        "status": "evaluated",
        "split": evidence["split"], "rows": evidence["rows"], "positives": evidence.get("positives"),
        "threshold": evidence.get("threshold"), "baseline": evidence.get("baseline"), "task": task_of(evidence),
        "intervals": ({k: v for k, v in intervals.items() if k != "metrics"} if intervals
                      else not_evaluated("bootstrap = 0 in the spec")),
        "metrics": _metric_table(record, evidence),
        "curves": evidence.get("curves") or not_evaluated("one class is absent from the test split"
                                                          if task_of(evidence) == "binary" else
                                                          f"no ROC or PR curves for a {task_of(evidence)} task"),
    }


def _groups(evidence: dict[str, Any] | None) -> dict[str, Any] | list[dict[str, Any]]:
    if not evidence:
        return not_evaluated("the candidate has no evidence")
    slices = [s for s in evidence.get("slices", []) if len(s["columns"]) == 1]
    if not slices:
        return not_evaluated("no sensitive columns were declared in the spec")
    measures = TASK_GROUP_METRICS[task_of(evidence)]
    return [
        {"by": s["name"], "min_support": s["min_support"], "groups_judged": s["groups_judged"],
         "groups": [{"group": g["group"], "rows": g["support"], "positives": g.get("positives"),
                     "too_small": g["too_small"],
                     "metrics": {k: g["metrics"].get(k) for k in measures},
                     "intervals": {k: g.get("intervals", {}).get(k, [None, None]) for k in measures}}
                    for g in s["groups"]],
         "gaps": [{"measure": k, "value": v, "interval": s.get("gap_intervals", {}).get(k, [None, None])}
                  for k, v in s["gaps"].items()]}
        for s in slices
    ]


def _calibration(evidence: dict[str, Any] | None) -> dict[str, Any]:
    calibration = (evidence or {}).get("calibration")
    if not calibration:
        return not_evaluated("no calibration evidence was recorded")
    if "error" in calibration:
        return not_evaluated(str(calibration["error"]))
    if "top_label" in calibration:  # multiclass: the top label's reliability, drawn as a binary one is
        return {"status": "evaluated", "uniform": calibration["top_label"]}
    return {"status": "evaluated", **{k: calibration[k] for k in ("uniform", "quantile") if k in calibration}}


BEYOND = {
    "conformal": "no conformal evidence was recorded for this candidate",
    "explanations": "no explanations were recorded for this candidate",
    "robustness": "no robustness tests were recorded for this candidate",
    "serving": "no serving artifact was packaged for this candidate",
    "reproducibility": "no retrain was recorded for this candidate",
    "champion": "the trail's champion registry was not read for this candidate",
}


def _beyond(evidence: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """A part of the evidence beyond metrics as recorded, or why it is missing."""
    part = (evidence or {}).get(key)
    if not part:
        return not_evaluated(BEYOND[key] if evidence else "the candidate has no evidence")
    if "error" in part and key != "serving":
        return not_evaluated(f"computing it failed: {part['error']}")
    if part.get("retrained") is False:
        return not_evaluated(str(part.get("reason", "no retrain was run")))
    if key == "champion":
        comparison = evidence.get("comparisons", {}).get("champion") if evidence else None
        return {"status": "evaluated", **part, **({"comparison": comparison} if comparison else {})}
    return {"status": "evaluated", **part}


def _recorded(evidence: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """Sections of evidence as recorded (one that failed or was skipped: not evaluated, with why); None when the
    run recorded none of them (a trail from before they existed, or no folds asked for)."""
    if not evidence or not any(evidence.get(key) for key in keys):
        return None
    shown: dict[str, Any] = {}
    for key in keys:
        part = evidence.get(key)
        why = None if part is None else part.get("error") or part.get("skipped")
        shown[key] = (not_evaluated("not recorded for this candidate") if part is None else
                      not_evaluated(str(why)) if why else part)
    return shown


def _verdict_and_checklist(record: RunRecord, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    current = view(record).candidate(name)
    if current is None or name not in record.rules:
        return not_evaluated("the rules were not checked for this candidate"), []
    rules = [{k: o.get(k) for k in ("id", "kind", "checklist", "severity", "status", "observed", "threshold",
                                    "message", "policy")}
             | ({"recorded_status": o["recorded_status"]} if "recorded_status" in o else {})
             | ({"waiver": o["waiver"]} if "waiver" in o else {})
             for o in current.outcomes]
    policies = [{"name": p["name"], "version": p["version"], "sha256": p.get("sha256")}
                for p in record.started.data["policies"]]
    checklist = []
    for item in CHECKLIST:
        mine = [r for r in rules if r["checklist"] == item.id]
        checklist.append({"id": item.id, "title": item.title, "ready_if": item.ready_if,
                          "status": item_status(mine, current.fail_on),
                          "rules": [r["id"] for r in mine]})
    verdict = {"status": current.verdict, "fail_on": current.fail_on, "policies": policies, "rules": rules}
    return verdict, checklist


def _review(record: RunRecord, name: str) -> dict[str, Any]:
    return {
        "signoffs": [{"recorded_at": e.recorded_at, "seq": e.seq, **{k: e.data.get(k) for k in
                      ("decision", "reviewer", "reason", "verdict_at_signoff")}}
                     for e in record.signoffs if e.data["candidate"] == name],
        "waivers": [{"recorded_at": e.recorded_at, "seq": e.seq, **{k: e.data.get(k) for k in
                     ("rule_id", "reviewer", "reason", "until")}}
                    for e in record.waivers if e.data["candidate"] == name],
    }


def _lineage(record: RunRecord, evidence: dict[str, Any] | None) -> dict[str, Any]:
    started = record.started.data
    return {
        **started["lineage"],
        **((evidence or {}).get("lineage") or {}),
        "spec_sha256": started["spec_sha256"],
        "policies": [{"path": p.get("path"), "sha256": p.get("sha256")} for p in started["policies"]],
        "data_sha256": started["data"]["fingerprint"]["sha256"],
        "run_started_seq": record.started.seq,
        "run_started_at": record.started.recorded_at,
    }


def _considerations(record: RunRecord, groups: Any) -> dict[str, Any]:
    spec = record.started.data["spec"]
    card = spec.get("card", {})
    sensitive = record.started.data["data"]["sensitive"]
    ethical = [{"name": f"Outcomes may differ across groups of {column}.",
                "mitigation_strategy": "Per-group metrics, gaps with intervals and the policy's fairness rules "
                                       "are reported in this card; too-small groups are marked, not judged."}
               for column in sensitive]
    limitations = [{"description": "Evaluated on one held-out split of one dataset; performance on other "
                                   "populations or later data is not established by this card."}]
    slices = groups if isinstance(groups, list) else []
    small = [f"{s['by']}={g['group']}" for s in slices for g in s["groups"] if g["too_small"]]
    if small:
        limitations.append({"description": "Groups too small to judge: " + ", ".join(small)})
    return {
        "users": [{"description": user} for user in card.get("users", [])],
        "use_cases": [{"description": card.get("intended_use") or spec.get("description") or NOT_STATED}],
        "out_of_scope_uses": [{"description": card.get("out_of_scope_uses", NOT_STATED)}],
        "limitations": limitations,
        "tradeoffs": [],
        "ethical_considerations": ethical,
    }


def card_document(record: RunRecord, name: str, *, trail_head: dict[str, Any]) -> dict[str, Any]:
    """The whole card of candidate `name` of a recorded run; `trail_head` is {"seq", "hash"} when generated."""
    evaluated = record.candidates[name].data
    evidence = record.evidence(name) or None
    groups = _groups(evidence)
    verdict, checklist = _verdict_and_checklist(record, name)
    document = {
        "schema_version": SCHEMA_VERSION,
        "model_details": _model_details(record, name),
        "model_parameters": _model_parameters(record, name),
        "quantitative_analysis": {"performance_metrics": _performance_metrics(evidence) if evidence else []},
        "considerations": _considerations(record, groups),
        "mlgate": {
            "run_id": record.run_id,
            "audit": record.started.data["spec"]["name"],
            "candidate": name,
            "error": evaluated.get("error"),
            **({"search": found} if (found := evaluated.get("description", {}).get("search")) else {}),
            "not_applicable": (evidence or {}).get("not_applicable", {}),
            "evaluation": _evaluation(record, name),
            "groups": groups,
            "calibration": _calibration(evidence),
            # a regression's residuals or a multiclass candidate's confusion matrix and per-class evidence
            **({"task_analysis": task_analysis(task_of(evidence), evidence)} if task_of(evidence) != "binary" else {}),
            **{key: _beyond(evidence, key) for key in BEYOND},
            "verdict": verdict,
            "checklist": checklist,
            "review": _review(record, name),
            "lineage": _lineage(record, evidence),
            "trail": {"head_seq": trail_head["seq"], "head_hash": trail_head["hash"]},
            # the split-integrity certificate and the data-quality profile; the folds, the gap and learning curve
            **{name: part for name, keys in (("data_checks", ("split_integrity", "data_quality")),
                                              ("fit", ("cross_validation", "generalization")))
               if (part := _recorded(evidence, keys)) is not None},
            # reason codes and recourse: only for runs whose spec declares `decisions` (engine.reasons)
            **({"decisions": (evidence or {})["decisions"]} if (evidence or {}).get("decisions") else {}),
            # monitoring after approval: only for a champion that `mlgate monitor` re-audited (engine.monitor)
            **({"monitoring": monitored} if (monitored := monitoring_part(record.monitoring, name)) else {}),
        },
    }
    return document
