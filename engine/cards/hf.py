"""The Hugging Face model card: a README.md whose YAML front matter the Hub and `huggingface_hub` read.

The front matter holds the license (a Hub license id when the spec's license is one, else `other`, and
`unknown` when the spec names none), tags, the pipeline tag, the data file, and a `model-index` with one
result per overall metric: its value as the number recorded, its interval in the metric's name and arguments.
The body is mlgate's Markdown card, so the verdict, checklist, lineage and trail head travel with it. The YAML
is written by PyYAML's safe dumper with control characters made inert, so recorded text (file names, spec
fields) is quoted, never structure, and never ends the front matter early.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import yaml

from engine.cards.exchange import artifact, confidence, datasets, overall_metrics
from engine.cards.markdown import render_markdown
from engine.safe_text import inert

TASK = {"type": "tabular-classification", "name": "Binary classification"}
TASKS = {"binary": TASK, "multiclass": {"type": "tabular-classification", "name": "Multiclass classification"},
         "regression": {"type": "tabular-regression", "name": "Regression"}}


def task_of_card(card: dict[str, Any]) -> dict[str, str]:
    """The Hub's task of a card's model (its label's task; binary for a card from before task types)."""
    return TASKS[card["model_parameters"]["label"].get("task", "binary")]
# Hub license ids a spec's `license` may name as is (compared case-insensitively); anything else is `other`.
HUB_LICENSES = frozenset({
    "apache-2.0", "mit", "bsd-2-clause", "bsd-3-clause", "isc", "mpl-2.0", "gpl-2.0", "gpl-3.0", "lgpl-2.1",
    "lgpl-3.0", "agpl-3.0", "epl-2.0", "eupl-1.2", "unlicense", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0",
    "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-4.0", "odc-by", "odbl", "pddl",
    "cdla-permissive-2.0", "openrail", "other", "unknown",
})


def _license(card: dict[str, Any]) -> str:
    texts = [lic["custom_text"].strip() for lic in card["model_details"]["licenses"]]
    if not texts:
        return "unknown"
    return texts[0].lower() if len(texts) == 1 and texts[0].lower() in HUB_LICENSES else "other"


def _metric(card: dict[str, Any], metric: dict[str, Any], level: float | None) -> dict[str, Any]:
    labels = {row["metric"]: row["label"] for row in card["mlgate"]["evaluation"].get("metrics", [])}
    name = str(labels.get(metric["type"], metric["type"]))
    args: dict[str, Any] = {"threshold": metric["threshold"]} if "threshold" in metric else {}
    if "confidence_interval" in metric and level is not None:
        low, high = metric["confidence_interval"]["lower_bound"], metric["confidence_interval"]["upper_bound"]
        name += f" ({level:.0%} CI {low:.4f} to {high:.4f})"
        args |= {"confidence": level, "lower_bound": low, "upper_bound": high}
    return {"type": metric["type"], "value": metric["value"], "name": name, "verified": False, "args": args}


def _model_index(card: dict[str, Any]) -> list[dict[str, Any]]:
    metrics = overall_metrics(card)
    if not metrics:
        return []
    evaluation = datasets(card)[1]
    level = confidence(card)
    dataset = {"type": PurePath(str(evaluation["link"])).name or "data", "name": evaluation["name"],
               "split": evaluation["split"]["part"], "revision": evaluation["sha256"],
               "args": {"rows": evaluation["rows"], "seed": evaluation["split"]["seed"]}}
    return [{"name": card["model_details"]["name"],
             "results": [{"task": dict(task_of_card(card)), "dataset": dataset,
                          "metrics": [_metric(card, m, level) for m in metrics]}]}]


def hf_metadata(card: dict[str, Any]) -> dict[str, Any]:
    """The YAML front matter of the Hugging Face card, as data."""
    details = card["model_details"]
    tags = ["mlgate", task_of_card(card)["type"], details["family"]]
    if artifact(card):
        tags.append("onnx")
    metadata: dict[str, Any] = {
        "license": _license(card),
        "tags": list(dict.fromkeys(str(tag) for tag in tags)),
        "pipeline_tag": task_of_card(card)["type"],
        "datasets": list(dict.fromkeys(PurePath(str(d["link"])).name for d in datasets(card))),
    }
    if model_index := _model_index(card):
        metadata["model-index"] = model_index
    return metadata


def _inert(value: Any) -> Any:
    """Recorded text with no control character left, so no line of the front matter can end it early."""
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, dict):
        return {_inert(k): _inert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_inert(v) for v in value]
    return value


def render_hf(card: dict[str, Any]) -> str:
    front = yaml.safe_dump(_inert(hf_metadata(card)), sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n{render_markdown(card)}"
