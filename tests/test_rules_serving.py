"""engine.policy.rules_serving: each serving rule kind passes, fails and is unknown (never a silent pass), and the
policy schema accepts and refuses their parameters."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_rules import GOOD_SERVING

from engine.jsonfiles import load_schema, schema_errors
from engine.policy.registry import RULE_KINDS


def _serving(**changes: Any) -> dict[str, Any]:
    """The good serving evidence with parts replaced (a None part is removed)."""
    serving = copy.deepcopy(GOOD_SERVING)
    for key, value in changes.items():
        if value is None:
            serving.pop(key)
        else:
            serving[key] = {**serving.get(key, {}), **value}
    return {"serving": serving}


EXPORT_FAILED = {"serving": {"features": GOOD_SERVING["features"], "error": "RuntimeError: no converter"}}

# kind, params, evidence, expected status, a word the message must contain
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("onnx_parity", {"max_abs_diff": 1e-6}, _serving(), "pass", "0.000%"),
    ("onnx_parity", {"max_abs_diff": 1e-7}, _serving(), "fail", "is not <="),
    ("onnx_parity", {"max_abs_diff": 1e-7, "use": "p99"}, _serving(), "pass", "99th-percentile"),
    ("onnx_parity", {"max_abs_diff": 1e-6, "max_disagreement": 0.001},
     _serving(skew={"label_disagreement": 0.002}), "fail", "labels disagree on 0.200%"),
    ("onnx_parity", {"max_abs_diff": 1e-6}, _serving(skew=None), "unknown", "not measured"),
    ("onnx_parity", {"max_abs_diff": 1e-6}, EXPORT_FAILED, "unknown", "export failed"),
    ("onnx_parity", {"max_abs_diff": 1e-6}, {}, "unknown", "no serving evidence"),
    ("latency", {"max_ms": 100}, _serving(), "pass", "p99 single-row latency"),
    ("latency", {"max_ms": 0.1, "percentile": "p99"}, _serving(), "fail", "is not <="),
    ("latency", {"max_ms": 0.1, "percentile": "p50"}, _serving(), "pass", "p50"),
    ("latency", {"max_ms": 100}, EXPORT_FAILED, "unknown", "no converter"),
    ("throughput", {"min_rows_per_second": 1000}, _serving(), "pass", "rows/s"),
    ("throughput", {"min_rows_per_second": 1e6}, _serving(), "fail", "is not >="),
    ("throughput", {"min_rows_per_second": 1000}, _serving(throughput={"rows_per_second": None}), "unknown",
     "undefined"),
    ("model_size", {"max_mb": 50}, _serving(), "pass", "MB"),
    ("model_size", {"max_mb": 0.001}, _serving(), "fail", "is not <="),
    ("model_size", {"max_mb": 50}, {}, "unknown", "not measured"),
    ("feature_availability", {}, _serving(), "pass", "all 2 features"),
    ("feature_availability", {}, _serving(features={"available": ["age"], "unavailable": ["workclass"]}), "fail",
     "'workclass'"),
    ("feature_availability", {}, _serving(features={"available": None, "unavailable": None}), "unknown",
     "serving_features"),
    ("feature_availability", {}, {}, "unknown", "not recorded"),
    ("artifacts_packaged", {}, _serving(), "pass", "model.onnx"),
    ("artifacts_packaged", {}, _serving(artifact={"complete": False}), "fail", "incomplete"),
    ("artifacts_packaged", {}, _serving(artifact={"files": {"model.onnx": {"sha256": "ab" * 32}}}), "fail",
     "signature.json"),
    ("artifacts_packaged", {}, EXPORT_FAILED, "fail", "export failed"),
    ("artifacts_packaged", {}, {}, "unknown", "not measured"),
]


@pytest.mark.parametrize(("kind", "params", "evidence", "status", "word"), CASES)
def test_serving_rule_kinds(kind: str, params: dict[str, Any], evidence: dict[str, Any], status: str,
                            word: str) -> None:
    finding = RULE_KINDS[kind](evidence, params)
    assert finding.status == status, finding.message
    assert word in finding.message
    if status == "unknown":
        assert finding.observed is None


def test_every_serving_kind_has_passing_fail_and_unknown_cases() -> None:
    kinds = {"onnx_parity", "latency", "throughput", "model_size", "feature_availability", "artifacts_packaged"}
    for kind in kinds:
        assert {s for k, _, _, s, _ in CASES if k == kind} == {"pass", "fail", "unknown"}


def _errors(kind: str, params: dict[str, Any]) -> list[str]:
    document = {"name": "p", "version": "1",
                "rules": [{"id": "r", "kind": kind, "severity": "block", "checklist": "skew", **params}]}
    return schema_errors(document, load_schema("engine.policy", "policy-v1.schema.json"))


@pytest.mark.parametrize(("kind", "params"), sorted({(k, tuple(sorted(p.items()))) for k, p, *_ in CASES}))
def test_the_schema_accepts_these_rules(kind: str, params: tuple[tuple[str, Any], ...]) -> None:
    assert _errors(kind, dict(params)) == []


@pytest.mark.parametrize(("kind", "params"), [
    ("onnx_parity", {}),
    ("onnx_parity", {"max_abs_diff": -1}),
    ("onnx_parity", {"max_abs_diff": 0.1, "use": "mean"}),
    ("onnx_parity", {"max_abs_diff": 0.1, "max_disagreement": 2}),
    ("latency", {"max_ms": 100, "percentile": "p90"}),
    ("latency", {"max_ms": 0}),
    ("throughput", {}),
    ("model_size", {"max_mb": "50"}),
    ("feature_availability", {"features": ["age"]}),
    ("artifacts_packaged", {"strict": True}),
])
def test_the_schema_refuses_bad_serving_rules(kind: str, params: dict[str, Any]) -> None:
    assert _errors(kind, params) != []
