"""The Markdown model card: the card document (see `document.py`) as text a reviewer reads or a CI links to.

`SECTIONS` lists the card's sections in order: the model, its data, metrics, groups and calibration here, the
evidence beyond metrics in `markdown_beyond.py`, then the verdict, review, considerations and lineage. Text is
escaped with `markup.py`. `section_for_kind` is the cards' choice of the section that shows the evidence of a
rule kind, read from the kind's record in `engine.policy.registry` (`RuleKind.shows`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import engine.cards.markdown_beyond as markdown_beyond
import engine.cards.markdown_data as markdown_data
import engine.cards.markdown_decisions as markdown_decisions
import engine.cards.markdown_monitoring as markdown_monitoring
import engine.cards.markdown_tasks as markdown_tasks
from engine.cards.document import NOT_EVALUATED
from engine.cards.markup import UNDEFINED, code, interval, md, missing, names, number, table
from engine.policy.registry import RULE_KINDS


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
    if "calibration" in details:
        lines += [f"- Post-hoc calibration: {_calibrator(details['calibration'])}"]
    lines += [f"- {md(what.capitalize())}: not applicable ({md(why)})"
              for what, why in card["mlgate"]["not_applicable"].items()]
    if details["parameters"]:
        lines += ["", *table(["parameter", "value"],
                             ([code(k), code(v if isinstance(v, str) else json.dumps(v))]
                              for k, v in sorted(details["parameters"].items())))]
    return [*lines, ""]


CALIBRATORS = {"platt": "Platt scaling of P(positive)", "isotonic": "isotonic regression of P(positive)",
               "temperature": "temperature scaling of the class probabilities"}


def _calibrator(fitted: dict[str, Any]) -> str:
    method = str(fitted["method"])
    temperature = f" (T = {fitted['temperature']:.4g})" if fitted.get("temperature") is not None else ""
    return (f"{md(CALIBRATORS.get(method, method))}{temperature} over the base model's output, fitted on the "
            f"{md(fitted['fitted_on'])} ({fitted['rows']} rows)")


def _intended_use(card: dict[str, Any]) -> list[str]:
    considerations = card["considerations"]
    return [
        "## Intended use", "",
        *(md(u["description"]) for u in considerations["use_cases"]), "",
        "Out of scope: " + "; ".join(md(u["description"]) for u in considerations["out_of_scope_uses"]), "",
    ]


def split_words(split: dict[str, Any]) -> str:
    """How the rows were split, as the card says it: the strategy, with its time boundaries or group column."""
    strategy = str(split.get("strategy", "stratified"))
    if "boundaries" in split:
        bounds = split["boundaries"]
        spans = "; ".join(f"{part} {md(str(bounds[part]['from']))}–{md(str(bounds[part]['to']))}"
                          for part in ("train", "validation", "test") if part in bounds)
        strategy = f"by time on {code(str(split.get('time_column')))}: {spans}"
    elif "group_column" in split:
        strategy = f"by group on {code(str(split['group_column']))}, each group on one side only"
    return strategy + ("; test rows from a file kept apart" if "test_file" in split else "")


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
        f"- Label: {code(label['target'])}, " + (f"positive = {code(label['positive'])}" if label.get("task", "binary")
                                                 == "binary" else f"task: {label['task']}"),
        f"- Split ({split_words(train['split'])}, seed {train['split']['seed']}): {split}; metrics use the "
        f"{test['rows']} test rows only",
        f"- Numeric features: {names(parameters['features']['numeric'])}",
        f"- Categorical features: {names(parameters['features']['categorical'])}",
        "- Sensitive columns (not used as features unless listed above): "
        + names(train["sensitive"]["sensitive_data"]),
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
    at = f", threshold {evaluation['threshold']}" if evaluation.get("threshold") is not None else ""
    return [
        f"## Metrics (held-out test split: {evaluation['rows']} rows{at})", "",
        *table(["metric", code(name), "interval", f"baseline {code(evaluation['baseline'] or 'none')}",
                "lift (positive = better)", "lift interval", "p (not better)"], rows), "",
        how + ".", "",
    ]


def _groups(card: dict[str, Any]) -> list[str]:
    groups = card["mlgate"]["groups"]
    if (reason := missing(groups)) is not None:
        return ["## Quantitative analysis by group", "", reason, ""]
    lines = ["## Quantitative analysis by group", ""]
    binary = card["mlgate"]["evaluation"].get("task", "binary") == "binary"
    for s in groups:
        lines += [f"### By {code(s['by'])}", ""]
        if binary:
            rows = ([md(g["group"]) + (" (too small)" if g["too_small"] else ""), str(g["rows"]), str(g["positives"]),
                     *(number(g["metrics"][k]) for k in ("roc_auc", "selection_rate", "tpr", "fpr", "ppv")),
                     interval(g["intervals"]["tpr"])]
                    for g in s["groups"])
            lines += [*table(["group", "rows", "positives", "ROC AUC", "selection rate", "TPR", "FPR", "PPV",
                              "TPR interval"], rows), ""]
        else:
            lines += [*_task_group_table(s), ""]
        lines += [*table(["gap across groups", "value", "interval"],
                         ([gap["measure"].replace("_", " "), number(gap["value"]), interval(gap["interval"])]
                          for gap in s["gaps"])), ""]
        lines += [f"Groups with fewer than {s['min_support']} test rows are marked too small and left out of the "
                  f"gaps ({s['groups_judged']} of {len(s['groups'])} groups judged).", ""]
    return lines


def _task_group_table(grouping: dict[str, Any]) -> list[str]:
    """A multiclass or regression grouping: each group's measures, and the first one's interval."""
    measures = list(grouping["groups"][0]["metrics"]) if grouping["groups"] else []
    first = measures[0] if measures else None
    rows = ([md(g["group"]) + (" (too small)" if g["too_small"] else ""), str(g["rows"]),
             *(number(g["metrics"][k]) for k in measures), interval(g["intervals"].get(first) if first else None)]
            for g in grouping["groups"])
    return table(["group", "rows", *(k.replace("_", " ") for k in measures),
                  f"{(first or '').replace('_', ' ')} interval"], rows)


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


def _verdict(card: dict[str, Any]) -> list[str]:
    verdict = card["mlgate"]["verdict"]
    if (reason := missing(verdict)) is not None:
        return ["## Policy verdict", "", reason, ""]
    policies = ", ".join(f"{md(p['name'])} {md(p['version'])}" for p in verdict["policies"])
    rows = ([code(r["id"]), code(r["checklist"]), r["severity"],
             f"**{r['status']}**" + (f" (was {r['recorded_status']})" if "recorded_status" in r else ""),
             number(r["observed"]), number(r["threshold"]), md(r["message"]), section_for_kind(r["kind"]) or "—"]
            for r in verdict["rules"])
    checklist = ([code(item["id"]), f"**{item['status']}**", ", ".join(code(r) for r in item["rules"]) or "—"]
                 for item in card["mlgate"]["checklist"])
    return [
        f"## Policy verdict: **{verdict['status'].upper()}**", "",
        f"Policies: {policies}", "",
        *table(["rule", "checklist", "severity", "status", "observed", "threshold", "message", "evidence in"], rows),
        "",
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
    "details": _details, "intended_use": _intended_use, "data": _data, "search": markdown_beyond.search,
    "data_checks": markdown_data.split_and_data, "metrics": _metrics, "fit": markdown_data.stability,
    "groups": _groups, "task_analysis": markdown_tasks.task_analysis,
    "calibration": _calibration, "conformal": markdown_beyond.conformal,
    "explanations": markdown_beyond.explanations, "robustness": markdown_beyond.robustness,
    "serving": markdown_beyond.serving, "release": markdown_beyond.release, "verdict": _verdict, "review": _review,
    "considerations": _considerations, "lineage": _lineage,
    "decisions": markdown_decisions.decisions, "monitoring": markdown_monitoring.monitoring,
}


# The card section that draws each section of evidence a rule kind's record may show.
SECTION_OF_EVIDENCE: dict[str, str] = {
    "metrics": "metrics", "intervals": "metrics", "comparisons": "metrics", "lift_over_baseline": "metrics",
    "slices": "groups", "calibration": "calibration", "conformal": "conformal", "explanations": "explanations",
    "robustness": "robustness", "serving": "serving", "reproducibility": "release", "champion": "release",
    "lineage": "lineage",
    "split_integrity": "data_checks", "data_quality": "data_checks", "exposure": "data",
    "cross_validation": "fit", "generalization": "fit",

    "drift_reference": "release",

    "decisions": "decisions",
}


def section_for_kind(kind: str) -> str | None:
    """The card section showing the evidence behind a rule of `kind`: the first section of evidence its registry
    record shows that the card draws; None for a kind the registry does not know or evidence the card lacks."""
    record = RULE_KINDS.get(kind)
    shown = [SECTION_OF_EVIDENCE[key] for key in (record.shows if record else ()) if key in SECTION_OF_EVIDENCE]
    return shown[0] if shown else None


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
