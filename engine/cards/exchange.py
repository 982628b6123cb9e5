"""What the cards other tools read (Model Card Toolkit, Hugging Face, CycloneDX) take from the card document.

Those formats have no place for a policy verdict, a checklist, lineage or the trail's head, and they write
numbers as strings or drop datasets' fingerprints. This module says, once for the three, how mlgate's card
document (`document.py`) maps onto their common vocabulary: a number as text that reads back to the same float,
a dataset described with its rows, split and SHA-256, limitations that include every rule that did not pass,
and mlgate's own sections as key-value pairs and as one paragraph.
"""

from __future__ import annotations

import json
from typing import Any

from engine.cards.document import NOT_EVALUATED

FULL_CARD = "mlgate's full card ({name}.json beside the Markdown card, or `mlgate card {run} {name} --format json`)"


def number_text(value: float | int) -> str:
    """A recorded number as the text those schemas want: the shortest text that reads back to the same value."""
    return json.dumps(value, allow_nan=False)


def datasets(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The training and evaluation data of the card, in that order."""
    data = card["model_parameters"]["data"]
    return [data["train"], data["eval"]]


def dataset_description(dataset: dict[str, Any]) -> str:
    split = dataset["split"]
    rows = "unknown number of" if dataset["rows"] is None else dataset["rows"]
    order = "stratified, " if split.get("stratified", True) else ""
    return (f"{rows} rows used for {'training' if split['part'] == 'train' else 'evaluation'}: {dataset['name']}; "
            f"split {order}seed {split['seed']}; file {dataset['link']} with SHA-256 {dataset['sha256']}")


def overall_metrics(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in card["quantitative_analysis"]["performance_metrics"] if m["slice"] == "overall"]


def confidence(card: dict[str, Any]) -> float | None:
    """The confidence level of the card's intervals, or None when none were computed."""
    intervals = card["mlgate"]["evaluation"].get("intervals")
    if not isinstance(intervals, dict) or intervals.get("status") == NOT_EVALUATED:
        return None
    level = intervals.get("confidence")
    return float(level) if isinstance(level, int | float) else None


def artifact(card: dict[str, Any]) -> dict[str, Any] | None:
    """The packaged serving artifact (path, exporter, files with SHA-256), or None when none was packaged."""
    serving = card["mlgate"]["serving"]
    found = serving.get("artifact") if serving.get("status") == "evaluated" else None
    return found if isinstance(found, dict) and found.get("files") else None


def rule_limitations(card: dict[str, Any]) -> list[str]:
    """Each rule that did not pass, as a sentence: what a reader of another tool must not miss."""
    verdict = card["mlgate"]["verdict"]
    return [f"Rule {r['id']} ({r['policy']}, {r['severity']}) is {r['status']}: {r['message']}"
            for r in verdict.get("rules", []) if r["status"] != "pass"]


def limitations(card: dict[str, Any]) -> list[str]:
    considerations = card["considerations"]
    return ([item["description"] for item in considerations["limitations"]]
            + [f"Out of scope: {item['description']}" for item in considerations["out_of_scope_uses"]]
            + rule_limitations(card))


def _verdict_pairs(card: dict[str, Any]) -> list[tuple[str, str]]:
    verdict = card["mlgate"]["verdict"]
    if verdict["status"] == NOT_EVALUATED:
        return [("verdict", f"{NOT_EVALUATED}: {verdict['reason']}")]
    return [("verdict", verdict["status"]), ("fail_on", verdict["fail_on"]),
            *((f"policy:{p['name']}", f"{p['version']} sha256 {p['sha256']}") for p in verdict["policies"]),
            *((f"rule:{r['id']}", f"{r['status']}: {r['message']}") for r in verdict["rules"])]


def extras(card: dict[str, Any]) -> list[tuple[str, str]]:
    """mlgate's sections the other formats lack, as (key, text) pairs: run, verdict, checklist, review, lineage,
    trail head. Keys are stable so a reader can look them up; values are as recorded."""
    mlgate = card["mlgate"]
    lineage = mlgate["lineage"]
    pairs = [("run_id", mlgate["run_id"]), ("audit", mlgate["audit"]), ("candidate", mlgate["candidate"]),
             *_verdict_pairs(card),
             *((f"checklist:{item['id']}", item["status"]) for item in mlgate["checklist"]),
             *((f"signoff:{s['seq']}", f"{s['decision']} by {s['reviewer']} at {s['recorded_at']}: {s['reason']}")
               for s in mlgate["review"]["signoffs"]),
             *((f"waiver:{w['seq']}", f"{w['rule_id']} by {w['reviewer']} until {w['until']}: {w['reason']}")
               for w in mlgate["review"]["waivers"]),
             ("lineage:mlgate_version", str(lineage.get("mlgate_version"))),
             ("lineage:git_commit", str(lineage.get("git_commit"))),
             ("lineage:spec_sha256", lineage["spec_sha256"]), ("lineage:data_sha256", lineage["data_sha256"]),
             ("lineage:python", str(lineage.get("python"))),
             ("lineage:run_started_at", lineage["run_started_at"]),
             ("trail:head_seq", str(mlgate["trail"]["head_seq"])), ("trail:head_hash", mlgate["trail"]["head_hash"])]
    return [(f"mlgate:{key}", value) for key, value in pairs]


def summary(card: dict[str, Any]) -> str:
    """One paragraph: the audit, the verdict, every checklist item's status, the trail head, and where the rest is."""
    mlgate = card["mlgate"]
    verdict = mlgate["verdict"]
    if verdict["status"] == NOT_EVALUATED:
        judged = f"Verdict: {NOT_EVALUATED} ({verdict['reason']})."
    else:
        policies = ", ".join(f"{p['name']} {p['version']}" for p in verdict["policies"])
        judged = f"Verdict: {verdict['status']} (fail_on {verdict['fail_on']}) under {policies}."
    checklist = "; ".join(f"{item['id']} {item['status']}" for item in mlgate["checklist"]) or NOT_EVALUATED
    trail = mlgate["trail"]
    return (f"Audited by mlgate {mlgate['lineage'].get('mlgate_version')} in run {mlgate['run_id']} "
            f"(audit {mlgate['audit']}). {judged} Checklist: {checklist}. Generated from the audit trail at "
            f"event {trail['head_seq']}, hash {trail['head_hash']}. Every rule, the evidence, sign-offs and the "
            f"lineage are in " + FULL_CARD.format(name=mlgate["candidate"], run=mlgate["run_id"]) + ".")
