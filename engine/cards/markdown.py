"""The Markdown model card: the card document (see `document.py`) as text a reviewer reads or a CI links to.

Every recorded string is escaped for Markdown (`md`) or shown as an inert code span (`code`); a number that was
not computed reads "not evaluated" or "undefined", never `None`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from engine.cards.document import NOT_EVALUATED
from engine.evaluation.metrics import METRICS
from engine.safe_text import markdown_code, markdown_text

METRIC_LABELS = {name: metric.label for name, metric in METRICS.items()}

UNDEFINED = "undefined"


def md(text: object) -> str:
    """Untrusted text made inert in Markdown (and kept on one line, for table cells)."""
    return markdown_text(text)


def code(text: object) -> str:
    """An identifier (column, parameter, rule id) as an inline code span: inert, and read as a name."""
    return markdown_code(text)


def number(value: float | None, missing: str = NOT_EVALUATED) -> str:
    return missing if value is None else f"{value:.4f}"


def interval(pair: Sequence[float | None] | None) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return NOT_EVALUATED
    return f"[{pair[0]:.4f}, {pair[1]:.4f}]"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def missing(section: Any) -> str | None:
    """The "not evaluated: why" line of a section that was not evaluated, else None."""
    if isinstance(section, dict) and section.get("status") == NOT_EVALUATED:
        return f"{NOT_EVALUATED}: {md(section['reason'])}"
    return None


def _names(names: Sequence[str]) -> str:
    return ", ".join(code(name) for name in names) or "none"


def _details(card: dict[str, Any]) -> list[str]:
    details = card["model_details"]
    owners = ", ".join(o["name"] for o in details["owners"]) or "not stated in the spec"
    licenses = "; ".join(lic["custom_text"] for lic in details["licenses"]) or "not stated in the spec"
    lineage = card["mlgate"]["lineage"]
    lines = [
        "## Model details", "",
        f"- Family: {code(details['family'])} ({md(details['family_summary'])})",
        f"- Version: {md(details['version']['name'])} ({details['version']['date']})",
        f"- Owners: {md(owners)}",
        f"- License: {md(licenses)}",
        ("- Trained elsewhere; audited" if "external_model" in details else "- Trained")
        + f" by mlgate {md(lineage['mlgate_version'])} in run `{card['mlgate']['run_id']}`",
        f"- Output: {md(card['model_parameters']['output_format'])}",
    ]
    if "external_model" in details:
        external = details["external_model"]
        lines += [f"- Model file: {code(external.get('path', ''))} ({md(external.get('format', ''))}, "
                  f"{external.get('bytes', 'unknown')} bytes), SHA-256 `{external.get('sha256', '')}`"]
    lines += [f"- {md(what.capitalize())}: not applicable ({md(why)})"
              for what, why in card["mlgate"]["not_applicable"].items()]
    if details["parameters"]:
        lines += ["", *table(["parameter", "value"],
                             ([code(k), code(v if isinstance(v, str) else json.dumps(v))]
                              for k, v in sorted(details["parameters"].items())))]
    return [*lines, ""]


def _intended_use(card: dict[str, Any]) -> list[str]:
    considerations = card["considerations"]
    return [
        "## Intended use", "",
        *(md(u["description"]) for u in considerations["use_cases"]), "",
        "Out of scope: " + "; ".join(md(u["description"]) for u in considerations["out_of_scope_uses"]), "",
    ]


def _data(card: dict[str, Any]) -> list[str]:
    parameters = card["model_parameters"]
    train, test = parameters["data"]["train"], parameters["data"]["eval"]
    sizes = train["split"]["sizes"]
    split = ", ".join(f"{part} {sizes[part]}" for part in ("train", "validation", "test") if part in sizes)
    label = parameters["label"]
    if "external_model" in card["model_details"]:
        origin = f" (the model was trained elsewhere; mlgate's baseline learned from {md(train['name'])})"
    elif train["link"] == test["link"]:
        origin = " (training and evaluation rows come from the same file)"
    else:
        origin = f"; trained on {md(train['name'])}, {train['rows']} rows"
    lines = [
        "## Data", "",
        f"- File: {code(test['link'])}{origin}",
        f"- SHA-256: `{test['sha256']}`" + ("" if train["sha256"] == test["sha256"]
                                            else f"; training file `{train['sha256']}`"),
        f"- Label: {code(label['target'])}, positive = {code(label['positive'])}",
        f"- Split (stratified, seed {train['split']['seed']}): {split}; metrics use the {test['rows']} test rows only",
        f"- Numeric features: {_names(parameters['features']['numeric'])}",
        f"- Categorical features: {_names(parameters['features']['categorical'])}",
        "- Sensitive columns (not used as features unless listed above): "
        + _names(train["sensitive"]["sensitive_data"]),
    ]
    lines += [f"- Note: {md(note)}" for note in parameters["notes"]]
    return [*lines, ""]


def _metrics(card: dict[str, Any]) -> list[str]:
    evaluation = card["mlgate"]["evaluation"]
    if (reason := missing(evaluation)) is not None:
        return ["## Metrics", "", reason, ""]
    name = card["model_details"]["name"]
    rows = ([m["label"], number(m["value"], UNDEFINED), interval(m["interval"]), number(m["baseline"], UNDEFINED),
             number(m["lift"], UNDEFINED), interval(m["lift_interval"]),
             NOT_EVALUATED if m["p_value"] is None else f"{m['p_value']:.4f}"]
            for m in evaluation["metrics"])
    intervals = evaluation["intervals"]
    how = (missing(intervals) or "") if "status" in intervals else (
        f"{intervals['confidence']:.0%} percentile intervals from {intervals['resamples']} Poisson bootstrap "
        f"resamples (seed {intervals['seed']}); the lift is paired: the same resamples for candidate and baseline")
    return [
        f"## Metrics (held-out test split: {evaluation['rows']} rows, threshold {evaluation['threshold']})", "",
        *table(["metric", code(name), "interval", f"baseline {code(evaluation['baseline'] or 'none')}",
                "lift (positive = better)", "lift interval", "p (not better)"], rows), "",
        how + ".", "",
    ]


def _groups(card: dict[str, Any]) -> list[str]:
    groups = card["mlgate"]["groups"]
    if (reason := missing(groups)) is not None:
        return ["## Quantitative analysis by group", "", reason, ""]
    lines = ["## Quantitative analysis by group", ""]
    for s in groups:
        lines += [f"### By {code(s['by'])}", ""]
        rows = ([md(g["group"]) + (" (too small)" if g["too_small"] else ""), str(g["rows"]), str(g["positives"]),
                 *(number(g["metrics"][k]) for k in ("roc_auc", "selection_rate", "tpr", "fpr", "ppv")),
                 interval(g["intervals"]["tpr"])]
                for g in s["groups"])
        lines += [*table(["group", "rows", "positives", "ROC AUC", "selection rate", "TPR", "FPR", "PPV",
                          "TPR interval"], rows), ""]
        lines += [*table(["gap across groups", "value", "interval"],
                         ([gap["measure"].replace("_", " "), number(gap["value"]), interval(gap["interval"])]
                          for gap in s["gaps"])), ""]
        lines += [f"Groups with fewer than {s['min_support']} test rows are marked too small and left out of the "
                  f"gaps ({s['groups_judged']} of {len(s['groups'])} groups judged).", ""]
    return lines


def _calibration(card: dict[str, Any]) -> list[str]:
    calibration = card["mlgate"]["calibration"]
    if (reason := missing(calibration)) is not None:
        return ["## Calibration", "", reason, ""]
    summary = ([strategy, *(number(calibration[strategy][k]) for k in
                            ("ece", "mce", "brier", "reliability", "resolution", "uncertainty"))]
               for strategy in ("uniform", "quantile") if strategy in calibration)
    diagram = ([f"{b['lower']:.2f}–{b['upper']:.2f}", str(b["count"]), number(b["mean_predicted"]),
                number(b["fraction_positive"])] for b in calibration["uniform"]["diagram"])
    return [
        "## Calibration", "",
        *table(["bins", "ECE", "MCE", "Brier", "reliability", "resolution", "uncertainty"], summary), "",
        "Reliability diagram (equal-width bins):", "",
        *table(["predicted", "rows", "mean predicted", "observed positive rate"], diagram), "",
    ]


def _conformal(card: dict[str, Any]) -> list[str]:
    conformal = card["mlgate"]["conformal"]
    if (reason := missing(conformal)) is not None:
        return ["## Conformal prediction sets", "", reason, ""]
    lines = ["## Conformal prediction sets", "", f"{md(conformal['method'])}; {conformal['rows']} test rows.", "",
             *table(["confidence", "coverage", "mean set size", "empty sets", "both labels"],
                    ([f"{level['confidence']:.0%}", number(level["coverage"]), number(level["mean_set_size"]),
                      number(level["empty_rate"]), number(level["both_labels_rate"])]
                     for level in conformal["levels"])), ""]
    for level in conformal["levels"]:
        for grouping in level["by_group"]:
            if len(grouping["columns"]) != 1:
                continue
            lines += [f"Coverage at {level['confidence']:.0%} by {code(grouping['name'])}:", "",
                      *table(["group", "rows", "coverage", "mean set size"],
                             ([md(g["group"]) + (" (too small)" if g["too_small"] else ""), str(g["support"]),
                               number(g["coverage"]), number(g["mean_set_size"])] for g in grouping["groups"])), ""]
    return lines


def _associations(feature: dict[str, Any], threshold: float) -> str:
    strong = [f"{md(column)} {value:.2f}" for column, value in sorted(feature["associations"].items(),
                                                                     key=lambda item: -item[1])
              if value >= threshold and column != feature["feature"]]
    return "proxy of " + ", ".join(strong) if strong else "—"


def _explanations(card: dict[str, Any], top: int = 10) -> list[str]:
    explained = card["mlgate"]["explanations"]
    if (reason := missing(explained)) is not None:
        return ["## Explanations", "", reason, ""]
    faithfulness = explained["faithfulness"]
    threshold = float(explained["proxy_threshold"])
    rows = ([str(rank), code(f["feature"]), number(f["mean_abs"]), "**sensitive**" if f["sensitive"] else "—",
             _associations(f, threshold)] for rank, f in enumerate(explained["ranking"][:top], start=1))
    return [
        "## Explanations", "",
        f"{md(explained['method'])}, in {md(explained['output_space'].replace('_', ' '))} space; "
        f"faithfulness: {md(faithfulness['check'])}, largest error {faithfulness['max_abs_error']:.2e}.", "",
        f"Top drivers (mean |SHAP value|; a feature whose association with a sensitive column reaches "
        f"{threshold} is marked a proxy):", "",
        *table(["rank", "feature", "mean abs SHAP", "sensitive", "association"], rows), "",
    ]


def _robustness(card: dict[str, Any]) -> list[str]:
    robust = card["mlgate"]["robustness"]
    if (reason := missing(robust)) is not None:
        return ["## Robustness", "", reason, ""]
    perturbed = ([name.replace("_", " "), number(p["drop"].get("roc_auc")), number(p["drop"].get("accuracy")),
                  number(p["flip_rate"]), number(p["mean_abs_change"])]
                 for name, p in robust["perturbations"].items())
    lines = ["## Robustness", "",
             f"On {robust['rows']} test rows (seed {robust['seed']}); clean ROC AUC "
             f"{number(robust['clean'].get('roc_auc'))}, accuracy {number(robust['clean'].get('accuracy'))}.", "",
             *table(["perturbation", "ROC AUC drop", "accuracy drop", "decisions flipped", "mean abs change"],
                    perturbed), ""]
    if robust["invariance"]:
        lines += [*table(["invariance: column shuffled", "a feature", "rows whose score moved", "largest change"],
                         ([code(i["column"]), "yes" if i["is_feature"] else "no", number(i["violation_rate"]),
                           number(i["max_abs_change"])] for i in robust["invariance"])), ""]
    if robust["directional"]:
        lines += [*table(["directional: feature", "shift", "expected", "rows violating", "mean change"],
                         ([code(d["feature"]), f"{d['shift']:+g}", d["expect"].replace("_", " "),
                           number(d["violation_rate"]), number(d["mean_change"])] for d in robust["directional"])),
                  ""]
    return lines


def _serving(card: dict[str, Any]) -> list[str]:
    serving = card["mlgate"]["serving"]
    if (reason := missing(serving)) is not None:
        return ["## Serving artifact", "", reason, ""]
    lines = ["## Serving artifact", ""]
    features = serving.get("features", {})
    if "error" in serving:
        lines += [f"Not packaged: {md(serving['error'])}", ""]
    else:
        artifact, skew, latency = serving["artifact"], serving["skew"], serving["latency"]
        lines += [
            f"- Folder: {code(artifact['path'])} ({md(artifact['exporter'])}, ONNX opset {artifact['onnx_opset']})",
            *(f"- {code(name)}: {entry['bytes']} bytes, SHA-256 `{entry['sha256']}`"
              for name, entry in sorted(artifact["files"].items())),
            f"- Skew on {skew['rows']} test rows (onnxruntime against the trained model): largest probability "
            f"difference {skew['max_abs_diff']:.2e}, 99th percentile {skew['p99_abs_diff']:.2e}, labels differing "
            f"{skew['labels_disagreeing']} ({number(skew['label_disagreement'])})",
            f"- Single-row latency over {latency['calls']} calls after {latency['warmup_calls']} warm-up calls, "
            f"{latency['threads']} thread(s): p50 {latency['p50_ms']:.3f} ms, p95 {latency['p95_ms']:.3f} ms, "
            f"p99 {latency['p99_ms']:.3f} ms",
            f"- Throughput: {serving['throughput']['rows_per_second']:,.0f} rows/s "
            f"(batches of {serving['throughput']['batch_rows']}); size {serving['size']['model_mb']:.3f} MB; "
            f"rise of peak memory while scoring a batch {serving['memory']['peak_scoring_mb']:.1f} MB",
            "",
        ]
    if features:
        unavailable = features.get("unavailable") or []
        lines += [f"Features used: {len(features.get('used', []))}; not available at serving time: "
                  + (_names(unavailable) if unavailable else "none")
                  + ("" if features.get("available") is not None else " (the spec lists no serving features)"), ""]
    return lines


def _release(card: dict[str, Any]) -> list[str]:
    lines = ["## Reproducibility and champion", ""]
    again = card["mlgate"]["reproducibility"]
    if (reason := missing(again)) is not None:
        lines.append(f"- Retrain: {reason}")
    else:
        verdict = "identical" if again["identical"] else f"differs (largest difference {again['max_abs_diff']:.2e})"
        lines.append(f"- Retrain with the same data, parameters and seed on {md(again['device'])}: {verdict} "
                     f"on {again['rows']} test rows ({again['seconds']:.1f} s)")
    champion = card["mlgate"]["champion"]
    if (reason := missing(champion)) is not None:
        lines.append(f"- Champion: {reason}")
    elif champion.get("current") is None:
        lines.append(f"- Champion of {code(champion['model'])}: none promoted yet, so there is nothing to roll back to")
    else:
        current = champion["current"]
        lines.append(f"- Champion of {code(champion['model'])}: {code(current['candidate'])} of run "
                     f"`{current['run_id']}`, promoted {current['promoted_at'][:19]} by {md(current['reviewer'])}; "
                     f"{len(champion.get('available', []))} earlier champion(s) available")
        if "rescored_error" in champion:
            lines.append(f"- Not compared with the champion: {md(champion['rescored_error'])}")
        comparison = champion.get("comparison") or {}
        rows = ([METRIC_LABELS.get(name, name), number(entry["lift"], UNDEFINED), interval(entry["interval"]),
                 NOT_EVALUATED if entry["p_value"] is None else f"{entry['p_value']:.4f}"]
                for name, entry in comparison.items())
        if comparison:
            lines += ["", *table(["metric", "lift over the champion", "interval", "p (not better)"], rows)]
    return [*lines, ""]


def _verdict(card: dict[str, Any]) -> list[str]:
    verdict = card["mlgate"]["verdict"]
    if (reason := missing(verdict)) is not None:
        return ["## Policy verdict", "", reason, ""]
    policies = ", ".join(f"{md(p['name'])} {md(p['version'])}" for p in verdict["policies"])
    rows = ([code(r["id"]), code(r["checklist"]), r["severity"],
             f"**{r['status']}**" + (f" (was {r['recorded_status']})" if "recorded_status" in r else ""),
             number(r["observed"]), number(r["threshold"]), md(r["message"])]
            for r in verdict["rules"])
    checklist = ([code(item["id"]), f"**{item['status']}**", ", ".join(code(r) for r in item["rules"]) or "—"]
                 for item in card["mlgate"]["checklist"])
    return [
        f"## Policy verdict: **{verdict['status'].upper()}**", "",
        f"Policies: {policies}", "",
        *table(["rule", "checklist", "severity", "status", "observed", "threshold", "message"], rows), "",
        "### Production-readiness checklist", "",
        *table(["item", "status", "rules"], checklist), "",
    ]


def _review(card: dict[str, Any]) -> list[str]:
    review = card["mlgate"]["review"]
    if not review["signoffs"] and not review["waivers"]:
        return ["## Review", "", "No sign-off or waiver recorded yet.", ""]
    lines = ["## Review", ""]
    if review["signoffs"]:
        lines += table(["when", "decision", "reviewer", "reason", "verdict then"],
                       ([s["recorded_at"][:19], f"**{s['decision']}**", md(s["reviewer"]), md(s["reason"]),
                         str(s["verdict_at_signoff"])] for s in review["signoffs"]))
        lines.append("")
    if review["waivers"]:
        lines += table(["when", "rule waived", "reviewer", "reason", "until"],
                       ([w["recorded_at"][:19], code(w["rule_id"]), md(w["reviewer"]), md(w["reason"]),
                         w["until"] or "no expiry"] for w in review["waivers"]))
        lines.append("")
    return lines


def _considerations(card: dict[str, Any]) -> list[str]:
    considerations = card["considerations"]
    return [
        "## Ethical considerations", "",
        *(f"- {md(e['name'])} {md(e['mitigation_strategy'])}" for e in considerations["ethical_considerations"]),
        *([] if considerations["ethical_considerations"] else ["- No sensitive columns were declared in the spec."]),
        "", "## Caveats and recommendations", "",
        *(f"- {md(limitation['description'])}" for limitation in considerations["limitations"]), "",
    ]


def _lineage(card: dict[str, Any]) -> list[str]:
    lineage = card["mlgate"]["lineage"]
    libraries = ", ".join(f"{k} {v}" for k, v in lineage["libraries"].items() if v)
    trail = card["mlgate"]["trail"]
    return [
        "## Lineage", "",
        f"- Code: {md(lineage['git_commit'] or 'not a git checkout')}"
        + (" (uncommitted changes)" if lineage.get("git_dirty") else ""),
        f"- Spec SHA-256: `{lineage['spec_sha256']}`",
        *(f"- Policy {code(p['path'])} SHA-256: `{p['sha256']}`" for p in lineage["policies"]),
        f"- Data SHA-256: `{lineage['data_sha256']}`",
        f"- Python {md(lineage['python'])} on {md(lineage['platform'])}"
        + (f"; CPU {md(lineage['cpu'].get('model'))} × {lineage['cpu'].get('count')}" if lineage.get("cpu") else "")
        + (f"; GPUs: {md(', '.join(map(str, lineage['gpu'].get('devices') or [])) or 'none')}"
           if lineage.get("gpu") else ""),
        *([f"- Seeds: {md(', '.join(f'{k} {v}' for k, v in lineage['seeds'].items()))}"] if lineage.get("seeds")
          else []),
        f"- Libraries: {md(libraries)}",
        f"- Recorded in the audit trail from event {lineage['run_started_seq']} "
        f"(run started {lineage['run_started_at']})",
        f"- Trail head when this card was generated: event {trail['head_seq']}, `{trail['head_hash']}`",
        "",
    ]


Section = Callable[[dict[str, Any]], list[str]]
# The card's sections in order, by name (the HTML card adds the figures of a section after it).
SECTIONS: dict[str, Section] = {
    "details": _details, "intended_use": _intended_use, "data": _data, "metrics": _metrics, "groups": _groups,
    "calibration": _calibration, "conformal": _conformal, "explanations": _explanations, "robustness": _robustness,
    "serving": _serving, "release": _release, "verdict": _verdict, "review": _review, "considerations": _considerations,
    "lineage": _lineage,
}


def summary(card: dict[str, Any]) -> str:
    """One line under the title: the verdict and how the checklist stands."""
    verdict = card["mlgate"]["verdict"]
    if (reason := missing(verdict)) is not None:
        return f"Verdict: {reason}."
    counts: dict[str, int] = {}
    for item in card["mlgate"]["checklist"]:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    standing = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"**Verdict: {verdict['status'].upper()}** · checklist items: {standing}."


def render_markdown(card: dict[str, Any]) -> str:
    """The Markdown model card of one card document."""
    details = card["model_details"]
    title = f"# Model card: {md(details['name'])}" + (" (baseline)" if details["is_baseline"] else "")
    head = [title, "", f"Audit {code(card['mlgate']['audit'])}, run `{card['mlgate']['run_id']}`.", "",
            summary(card), ""]
    return "\n".join([*head, *(line for section in SECTIONS.values() for line in section(card))])
