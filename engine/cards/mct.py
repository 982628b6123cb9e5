"""The Model Card Toolkit card: the card document as JSON that the published MCT schema v0.0.2 accepts.

The schema (vendored beside this module with its Apache-2.0 notice, never fetched) wants metric values and
interval bounds as strings, datasets as an array, and nothing at the top level beyond its own sections. So
numbers are written as text that reads back to the recorded float, each dataset's rows, split and SHA-256 go in
its description, rules that did not pass and out-of-scope uses join the limitations, and mlgate's own sections
are summarised in `model_details.documentation`, which points to mlgate's full JSON card beside it.
"""

from __future__ import annotations

import json
from typing import Any

from engine.cards.exchange import artifact, dataset_description, datasets, limitations, number_text, summary
from engine.jsonfiles import load_schema, schema_errors

SCHEMA = "model-card-toolkit-v0.0.2.schema.json"
SCHEMA_VERSION = "0.0.2"


def _metric(metric: dict[str, Any]) -> dict[str, Any]:
    entry = {"type": metric["type"], "value": number_text(metric["value"]), "slice": metric["slice"]}
    if "confidence_interval" in metric:
        ci = metric["confidence_interval"]
        entry["confidence_interval"] = {"lower_bound": number_text(ci["lower_bound"]),
                                        "upper_bound": number_text(ci["upper_bound"])}
    return entry


def _model_details(card: dict[str, Any]) -> dict[str, Any]:
    details = card["model_details"]
    packaged = artifact(card)
    return {
        "name": details["name"],
        "overview": details["overview"],
        "documentation": summary(card),
        "owners": [{"name": owner["name"]} for owner in details["owners"]],
        "version": {"name": details["version"]["name"], "date": details["version"]["date"]},
        "licenses": [{"custom_text": lic["custom_text"]} for lic in details["licenses"]],
        "references": [],
        "citations": [],
        **({"path": str(packaged["path"])} if packaged and packaged.get("path") else {}),
    }


def _model_parameters(card: dict[str, Any]) -> dict[str, Any]:
    parameters = card["model_parameters"]
    evaluation = card["mlgate"]["evaluation"]
    threshold = evaluation.get("threshold")
    features = parameters["features"]
    output = [{"key": "probability", "value": parameters["output_format"]}]
    if threshold is not None:
        output.append({"key": "label", "value": f"{parameters['label']['positive']} when the probability is at "
                                                f"least {number_text(threshold)}"})
    return {
        "model_architecture": parameters["model_architecture"],
        "data": [{"name": d["name"], "sensitive": {"sensitive_data": list(d["sensitive"]["sensitive_data"])},
                  "description": dataset_description(d)} for d in datasets(card)],
        "input_format": parameters["input_format"],
        "input_format_map": [{"key": column, "value": kind}
                             for kind in ("numeric", "categorical") for column in features.get(kind, [])],
        "output_format": parameters["output_format"],
        "output_format_map": output,
    }


def mct_document(card: dict[str, Any]) -> dict[str, Any]:
    """The Model Card Toolkit (schema v0.0.2) form of a card document."""
    considerations = card["considerations"]
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": _model_details(card),
        "model_parameters": _model_parameters(card),
        "quantitative_analysis": {
            "performance_metrics": [_metric(m) for m in card["quantitative_analysis"]["performance_metrics"]],
        },
        "considerations": {
            "users": [{"description": u["description"]} for u in considerations["users"]],
            "use_cases": [{"description": u["description"]} for u in considerations["use_cases"]],
            "limitations": [{"description": text} for text in limitations(card)],
            "tradeoffs": [{"description": t["description"]} for t in considerations["tradeoffs"]],
            "ethical_considerations": [{"name": e["name"], "mitigation_strategy": e["mitigation_strategy"]}
                                       for e in considerations["ethical_considerations"]],
        },
    }


def render_mct(card: dict[str, Any]) -> str:
    return json.dumps(mct_document(card), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def mct_errors(document: Any) -> list[str]:
    """Every way `document` breaks the vendored Model Card Toolkit schema v0.0.2 (empty: it is valid)."""
    return schema_errors(document, load_schema("engine.cards", SCHEMA))
