"""The CycloneDX 1.6 ML bill of materials of a candidate: what supply-chain and AI-regulation tooling reads.

One `machine-learning-model` component for the candidate, hashed by its packaged ONNX file (each file of the
serving artifact a nested `file` component with its SHA-256) and carrying the model card (parameters,
quantitative analysis with intervals, considerations, fairness assessments); one `data` component per dataset
(training and evaluation rows) with the file's SHA-256; the model depends on its training data. mlgate's own
sections (verdict, checklist, sign-offs, lineage, trail head) are `mlgate:` properties of the model component.
The document is built by hand as plain JSON and is deterministic: its serial number is derived from the run and
candidate, its timestamp is the run's start, so `mlgate card` makes the same BOM again from the trail.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from engine.cards.exchange import (
    artifact,
    dataset_description,
    datasets,
    extras,
    limitations,
    number_text,
)

SPEC_VERSION = "1.6"
SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json"
SERIAL_NAMESPACE = uuid.UUID("6f9c1e0a-3b8e-5d4a-9a51-6d6c67617465")  # mlgate's namespace for BOM serial numbers
PARTS = ("train", "test")


def _hash(sha256: str) -> list[dict[str, str]]:
    return [{"alg": "SHA-256", "content": sha256}]


def _data_component(dataset: dict[str, Any], part: str) -> dict[str, Any]:
    return {
        "type": "data",
        "bom-ref": f"data:{part}",
        "name": dataset["name"],
        "hashes": _hash(dataset["sha256"]),
        "data": [{"type": "dataset", "name": dataset["name"], "description": dataset_description(dataset),
                  "contents": {"properties": [{"name": "mlgate:rows", "value": str(dataset["rows"])},
                                              {"name": "mlgate:split", "value": dataset["split"]["part"]},
                                              {"name": "mlgate:path", "value": str(dataset["link"])}]},
                  "sensitiveData": list(dataset["sensitive"]["sensitive_data"])}],
    }


def _metric(metric: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": metric["type"], "value": number_text(metric["value"]), "slice": metric["slice"]}
    if "confidence_interval" in metric:
        ci = metric["confidence_interval"]
        entry["confidenceInterval"] = {"lowerBound": number_text(ci["lower_bound"]),
                                       "upperBound": number_text(ci["upper_bound"])}
    return entry


def _fairness(card: dict[str, Any]) -> list[dict[str, str]]:
    groups = card["mlgate"]["groups"]
    if not isinstance(groups, list):
        return []
    assessments = []
    for grouping in groups:
        gaps = "; ".join(f"{gap['measure']} {number_text(gap['value'])}" for gap in grouping["gaps"]
                         if gap["value"] is not None)
        assessments.append({
            "groupAtRisk": f"groups of {grouping['by']}",
            "harms": f"Outcomes may differ across groups of {grouping['by']}; measured gaps: {gaps or 'none'}.",
            "mitigationStrategy": "Per-group metrics with intervals and the policy's fairness rules are checked "
                                  "before release; too-small groups are marked, not judged.",
        })
    return assessments


def _model_card(card: dict[str, Any]) -> dict[str, Any]:
    details, parameters = card["model_details"], card["model_parameters"]
    considerations = card["considerations"]
    return {
        "bom-ref": f"model-card:{details['name']}",
        "modelParameters": {
            "approach": {"type": "supervised"},
            "task": {"binary": "binary classification", "multiclass": "multiclass classification",
                     "regression": "regression"}[parameters["label"].get("task", "binary")],
            "architectureFamily": details["family"],
            "modelArchitecture": parameters["model_architecture"],
            "datasets": [{"ref": f"data:{part}"} for part in PARTS],
            "inputs": [{"format": parameters["input_format"]}],
            "outputs": [{"format": parameters["output_format"]}],
        },
        "quantitativeAnalysis": {
            "performanceMetrics": [_metric(m) for m in card["quantitative_analysis"]["performance_metrics"]],
        },
        "considerations": {
            "users": [u["description"] for u in considerations["users"]],
            "useCases": [u["description"] for u in considerations["use_cases"]],
            "technicalLimitations": limitations(card),
            "performanceTradeoffs": [t["description"] for t in considerations["tradeoffs"]],
            "ethicalConsiderations": [{"name": e["name"], "mitigationStrategy": e["mitigation_strategy"]}
                                      for e in considerations["ethical_considerations"]],
            "fairnessAssessments": _fairness(card),
        },
    }


def _model_component(card: dict[str, Any]) -> dict[str, Any]:
    details = card["model_details"]
    packaged = artifact(card)
    files = packaged["files"] if packaged else {}
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": f"model:{details['name']}",
        "name": details["name"],
        "version": details["version"]["name"],
        "description": details["overview"],
        "authors": [{"name": owner["name"]} for owner in details["owners"]],
        "licenses": [{"license": {"name": lic["custom_text"]}} for lic in details["licenses"]],
    }
    if "model.onnx" in files:
        component["hashes"] = _hash(files["model.onnx"]["sha256"])
    if files:
        component["components"] = [{"type": "file", "bom-ref": f"model:{details['name']}:{name}", "name": name,
                                    "hashes": _hash(entry["sha256"])} for name, entry in sorted(files.items())]
    component["modelCard"] = _model_card(card)
    packaging = ([("mlgate:artifact:path", str(packaged.get("path"))),
                  ("mlgate:artifact:exporter", str(packaged.get("exporter")))] if packaged
                 else [("mlgate:artifact", "no serving artifact was packaged for this candidate")])
    component["properties"] = [{"name": name, "value": value} for name, value in [*packaging, *extras(card)]]
    if not component["authors"]:
        del component["authors"]
    if not component["licenses"]:
        del component["licenses"]
    return component


def cyclonedx_bom(card: dict[str, Any]) -> dict[str, Any]:
    """The CycloneDX 1.6 BOM of a card document."""
    mlgate = card["mlgate"]
    model = _model_component(card)
    data = [_data_component(dataset, part) for dataset, part in zip(datasets(card), PARTS, strict=True)]
    return {
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid5(SERIAL_NAMESPACE, f"{mlgate['run_id']}/{mlgate['candidate']}").urn,
        "version": 1,
        "metadata": {
            "timestamp": mlgate["lineage"]["run_started_at"],
            "tools": {"components": [{"type": "application", "name": "mlgate",
                                      "version": str(mlgate["lineage"].get("mlgate_version"))}]},
            "component": {"type": "application", "bom-ref": f"audit:{mlgate['run_id']}",
                          "name": f"mlgate audit {mlgate['audit']}", "version": mlgate["run_id"]},
        },
        "components": [model, *data],
        "dependencies": [{"ref": model["bom-ref"], "dependsOn": ["data:train"]},
                         {"ref": f"audit:{mlgate['run_id']}", "dependsOn": [model["bom-ref"], "data:test"]}],
    }


def render_cyclonedx(card: dict[str, Any]) -> str:
    return json.dumps(cyclonedx_bom(card), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
