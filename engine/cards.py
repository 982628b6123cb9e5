"""Model cards in Markdown, rendered only from what the trail recorded for a run and candidate.

Because a card reads recorded events and nothing else, it can be regenerated later and always matches the
audit it describes. Every user-supplied string is escaped for Markdown; missing evidence reads "not evaluated".
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from engine.audit.runs import RunRecord, view
from engine.candidates import FAMILIES
from engine.canonical import sha256_text
from engine.evaluation.metrics import METRICS

DEFAULT_CARDS_DIR = Path("model_cards")
NOT_EVALUATED = "not evaluated"
UNDEFINED = "undefined"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md(text: object) -> str:
    """Untrusted text made inert in Markdown (and kept on one line, for table cells)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: object) -> str:
    """An identifier (column, parameter, rule id) as an inline code span: inert, and read as a name."""
    return "`" + " ".join(str(text).split()).replace("`", "'").replace("|", "\\|") + "`"


def number(value: float | None, missing: str = NOT_EVALUATED) -> str:
    return missing if value is None else f"{value:.4f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _details(record: RunRecord, name: str) -> list[str]:
    evaluated = record.candidates[name].data
    spec = record.started.data["spec"]
    card = spec.get("card", {})
    family = FAMILIES.get(evaluated["family"])
    params = evaluated.get("description", {}).get("params", {})
    lines = [
        "## Model details",
        "",
        f"- Family: {code(evaluated['family'])}" + (f" ({md(family.summary)})" if family else ""),
        f"- Version: {md(card.get('version', 'not stated in the spec'))}",
        f"- Owners: {md(', '.join(card.get('owners', [])) or 'not stated in the spec')}",
        f"- License: {md(card.get('license', 'not stated in the spec'))}",
        f"- Trained by mlgate {md(record.started.data['lineage']['mlgate_version'])} in run `{record.run_id}`",
    ]
    if params:
        lines += ["", *table(["parameter", "value"], ([code(k), code(v)] for k, v in sorted(params.items())))]
    return [*lines, ""]


def _intended_use(record: RunRecord) -> list[str]:
    spec = record.started.data["spec"]
    card = spec.get("card", {})
    return [
        "## Intended use",
        "",
        md(card.get("intended_use") or spec.get("description") or "not stated in the spec"),
        "",
        f"Out of scope: {md(card.get('out_of_scope_uses', 'not stated in the spec'))}",
        "",
    ]


def _data(record: RunRecord) -> list[str]:
    data = record.started.data["data"]
    sizes = record.started.data["split"]["sizes"]
    split = ", ".join(f"{part} {sizes[part]}" for part in ("train", "validation", "test"))
    fingerprint = data["fingerprint"]
    features = data["features"]
    lines = [
        "## Data",
        "",
        f"- File: {code(fingerprint['path'])} ({fingerprint['rows']} labelled rows, {fingerprint['bytes']} bytes)",
        f"- SHA-256: `{fingerprint['sha256']}`",
        f"- Label: {code(data['target'])}, positive = {code(data['positive_label'])}",
        f"- Split (stratified, seed {record.started.data['split']['seed']}): {split}",
        f"- Numeric features: {_names(features['numeric'])}",
        f"- Categorical features: {_names(features['categorical'])}",
        f"- Sensitive columns (not used as features unless listed above): {_names(data['sensitive'])}",
    ]
    lines += [f"- Note: {md(note)}" for note in data.get("notes", [])]
    return [*lines, ""]


def _names(names: Sequence[str]) -> str:
    return ", ".join(code(name) for name in names) or "none"


def _interval(pair: list[float | None] | None) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return NOT_EVALUATED
    return f"[{pair[0]:.4f}, {pair[1]:.4f}]"


def _metrics(record: RunRecord, name: str) -> list[str]:
    evidence = record.candidates[name].data.get("evidence")
    if not evidence:
        return ["## Metrics", "", f"{NOT_EVALUATED}: {md(record.candidates[name].data.get('error', ''))}", ""]
    baseline = record.candidates.get(evidence.get("baseline", ""))
    base_metrics = baseline.data["evidence"]["metrics"] if baseline and baseline.data.get("evidence") else {}
    intervals = evidence.get("intervals", {})
    comparison = evidence.get("comparisons", {}).get("baseline", {})
    rows = []
    for key, metric in METRICS.items():
        paired = comparison.get(key, {})
        p_value = paired.get("p_value")
        rows.append([
            metric.label, number(evidence["metrics"].get(key), UNDEFINED),
            _interval(intervals.get("metrics", {}).get(key)), number(base_metrics.get(key), UNDEFINED),
            number(paired.get("lift"), UNDEFINED), _interval(paired.get("interval")),
            NOT_EVALUATED if p_value is None else f"{p_value:.4f}",
        ])
    confidence = intervals.get("confidence")
    how = (f"{confidence:.0%} percentile intervals from {intervals['resamples']} Poisson bootstrap resamples "
           f"(seed {intervals['seed']}); the lift is paired: the same resamples for candidate and baseline"
           if intervals else "no bootstrap intervals (bootstrap = 0 in the spec)")
    return [
        f"## Metrics (held-out test split: {evidence['rows']} rows, threshold {evidence['threshold']})",
        "",
        *table(["metric", code(name), "interval", "baseline", "lift (positive = better)", "lift interval",
                "p (not better)"], rows),
        "",
        how + ".",
        "",
    ]


def _groups(evidence: dict[str, Any]) -> list[str]:
    slices = [s for s in evidence.get("slices", []) if len(s["columns"]) == 1]
    if not slices:
        return ["## Quantitative analysis by group", "", "No sensitive columns were declared in the spec.", ""]
    lines = ["## Quantitative analysis by group", ""]
    for s in slices:
        lines += [f"### By {code(s['name'])}", ""]
        rows = (
            [md(g["group"]) + (" (too small)" if g["too_small"] else ""), str(g["support"]), str(g["positives"]),
             *(number(g["metrics"].get(k)) for k in ("roc_auc", "selection_rate", "tpr", "fpr", "ppv")),
             _interval(g.get("intervals", {}).get("tpr"))]
            for g in s["groups"]
        )
        lines += [*table(["group", "rows", "positives", "ROC AUC", "selection rate", "TPR", "FPR", "PPV",
                          "TPR interval"], rows), ""]
        gap_rows = (
            [name.replace("_", " "), number(value), _interval(s.get("gap_intervals", {}).get(name))]
            for name, value in s["gaps"].items()
        )
        lines += [*table(["gap across groups", "value", "interval"], gap_rows), ""]
        lines += [f"Groups with fewer than {s['min_support']} test rows are marked too small and left out of the "
                  f"gaps ({s['groups_judged']} of {len(s['groups'])} groups judged).", ""]
    worst = evidence.get("error_analysis", {}).get("worst_slices", [])
    if worst:
        lines += ["### Weakest groups (any grouping, enough rows)", ""]
        lines += table(["grouping", "group", "rows", "metric", "value"],
                       ([code(w["grouping"]), md(w["group"]), str(w["support"]), w["metric"], number(w["value"])]
                        for w in worst))
        lines.append("")
    return lines


def _calibration(evidence: dict[str, Any]) -> list[str]:
    calibration = evidence.get("calibration")
    if not calibration:
        return ["## Calibration", "", NOT_EVALUATED, ""]
    summary = (
        [strategy, number(c["ece"]), number(c["mce"]), number(c["brier"]), number(c["reliability"]),
         number(c["resolution"]), number(c["uncertainty"])]
        for strategy, c in ((k, calibration[k]) for k in ("uniform", "quantile"))
    )
    diagram = (
        [f"{b['lower']:.2f}–{b['upper']:.2f}", str(b["count"]), number(b["mean_predicted"]),
         number(b["fraction_positive"])]
        for b in calibration["uniform"]["diagram"]
    )
    return [
        "## Calibration",
        "",
        *table(["bins", "ECE", "MCE", "Brier", "reliability", "resolution", "uncertainty"], summary),
        "",
        "Reliability diagram (equal-width bins):",
        "",
        *table(["predicted", "rows", "mean predicted", "observed positive rate"], diagram),
        "",
    ]


def _verdict(record: RunRecord, name: str) -> list[str]:
    current = view(record).candidate(name)
    if current is None or name not in record.rules:
        return ["## Policy verdict", "", NOT_EVALUATED, ""]
    policies = ", ".join(f"{md(p['name'])} {md(p['version'])}" for p in record.started.data["policies"])
    rows = (
        [
            code(o["id"]), code(o["checklist"]), o["severity"],
            f"**{o['status']}**" + (f" (was {o['recorded_status']})" if "recorded_status" in o else ""),
            number(o["observed"]), number(o["threshold"]), md(o["message"]),
        ]
        for o in current.outcomes
    )
    return [
        f"## Policy verdict: **{current.verdict.upper()}**",
        "",
        f"Policies: {policies}",
        "",
        *table(["rule", "checklist", "severity", "status", "observed", "threshold", "message"], rows),
        "",
    ]


def _review(record: RunRecord, name: str) -> list[str]:
    """Sign-offs and waivers recorded for this candidate, oldest first."""
    signoffs = [e for e in record.signoffs if e.data["candidate"] == name]
    waivers = [e for e in record.waivers if e.data["candidate"] == name]
    if not signoffs and not waivers:
        return ["## Review", "", "No sign-off or waiver recorded yet.", ""]
    lines = ["## Review", ""]
    if signoffs:
        lines += table(["when", "decision", "reviewer", "reason", "verdict then"],
                       ([e.recorded_at[:19], f"**{e.data['decision']}**", md(e.data["reviewer"]),
                         md(e.data["reason"]), e.data["verdict_at_signoff"]] for e in signoffs))
        lines.append("")
    if waivers:
        lines += table(["when", "rule waived", "reviewer", "reason", "until"],
                       ([e.recorded_at[:19], code(e.data["rule_id"]), md(e.data["reviewer"]), md(e.data["reason"]),
                         e.data["until"] or "no expiry"] for e in waivers))
        lines.append("")
    return lines


def _lineage(record: RunRecord) -> list[str]:
    started = record.started.data
    lineage = started["lineage"]
    libraries = ", ".join(f"{k} {v}" for k, v in lineage["libraries"].items() if v)
    commit = lineage["git_commit"] or "not a git checkout"
    dirty = " (uncommitted changes)" if lineage.get("git_dirty") else ""
    return [
        "## Lineage",
        "",
        f"- Code: {md(commit)}{dirty}",
        f"- Spec SHA-256: `{started['spec_sha256']}`",
        *(f"- Policy {code(p['path'])} SHA-256: `{p['sha256']}`" for p in started["policies"]),
        f"- Python {md(lineage['python'])} on {md(lineage['platform'])}",
        f"- Libraries: {md(libraries)}",
        f"- Recorded in the audit trail from event {record.started.seq} (run started {record.started.recorded_at})",
        "",
    ]


RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
CANDIDATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def card_path(cards_dir: Path, run_id: str, candidate: str) -> Path:
    """Where the card of a candidate of a run lives: always CARDS_DIR/RUN/CANDIDATE.md, nowhere else."""
    if not RUN_ID.match(run_id) or not CANDIDATE_NAME.match(candidate) or candidate in (".", ".."):
        raise ValueError(f"not a run id and candidate name a card can be written for: {run_id!r}, {candidate!r}")
    return cards_dir.resolve() / run_id / f"{candidate}.md"


def write_card(record: RunRecord, candidate: str, cards_dir: Path, audit_db: Path) -> dict[str, Any]:
    """Render and write one card (beside its final name, then renamed); the data of its `card_written` event.

    The cards folder is recorded relative to the trail's folder, so a trail and its cards can move together.
    """
    path = card_path(cards_dir, record.run_id, candidate)
    text = render_markdown(record, candidate)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    relative = os.path.relpath(cards_dir.resolve(), audit_db.resolve().parent)
    return {"candidate": candidate, "format": "md", "path": str(path), "cards_dir": relative,
            "sha256": sha256_text(text)}


def render_markdown(record: RunRecord, candidate: str) -> str:
    """The Markdown model card of one candidate of a recorded run."""
    evaluated = record.candidates[candidate].data
    title = f"# Model card: {md(candidate)}" + (" (baseline)" if evaluated.get("is_baseline") else "")
    sections: list[Any] = [
        [title, "", f"Audit `{md(record.started.data['spec']['name'])}`, run `{record.run_id}`.", ""],
        _details(record, candidate),
        _intended_use(record),
        _data(record),
        _metrics(record, candidate),
        *(
            [_groups(evidence), _calibration(evidence)]
            if (evidence := evaluated.get("evidence")) else []
        ),
        _verdict(record, candidate),
        _review(record, candidate),
        _lineage(record),
    ]
    return "\n".join(line for section in sections for line in section)
