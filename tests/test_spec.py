"""engine.spec: reading spec files (TOML, JSON), validation with JSON paths, defaults, flags merged over files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DEFAULT_POLICY, ROOT

from engine.candidates import BASELINE, FAMILIES
from engine.canonical import canonical_json
from engine.errors import SpecError
from engine.jsonfiles import load_schema
from engine.policy.loader import DEFAULT_POLICY as LOADER_DEFAULT_POLICY
from engine.spec import (
    DEFAULT_MISSING_VALUES,
    AuditSpec,
    build_spec,
    default_candidates,
    flags_document,
    merge_documents,
    read_spec_file,
)

TOML_SPEC = """\
name = "toml-audit"
policies = ["policies/bank.json", "/abs/other.json"]

[data]
path = "data/adult.csv"
target = "income"
positive = ">50K"
sensitive = ["sex"]

[split]
seed = 7

[[candidates]]
name = "lr"
family = "logistic"
params = { C = 0.5 }
"""

JSON_SPEC = {
    "name": "json-audit",
    "policies": ["policies/bank.json"],
    "data": {"path": "data/adult.parquet", "target": "income", "positive": ">50K"},
    "evaluation": {"threshold": 0.4, "optimizing_metric": "pr_auc"},
    "candidates": [{"name": "gbm", "family": "lightgbm", "params": {"n_estimators": 50}}],
}


def _spec(**parts: Any) -> dict[str, Any]:
    return {"data": {"path": "/data/x.csv", "target": "y"}, **parts}


def _build(document: dict[str, Any]) -> AuditSpec:
    return build_spec(document, source="test-spec")


def test_family_enum_equals_the_registry() -> None:
    schema = load_schema("engine", "spec-v1.schema.json")
    assert set(schema["properties"]["candidates"]["items"]["properties"]["family"]["enum"]) == set(FAMILIES)
    assert BASELINE in FAMILIES


def test_toml_spec_paths_are_relative_to_the_spec_file(tmp_path: Path) -> None:
    folder = tmp_path / "audits"
    folder.mkdir()
    path = folder / "audit.toml"
    path.write_text(TOML_SPEC, encoding="utf-8")
    document, text = read_spec_file(path)
    assert text == TOML_SPEC
    assert document["data"]["path"] == str(folder / "data" / "adult.csv")
    assert document["policies"] == [str(folder / "policies" / "bank.json"), "/abs/other.json"]
    spec = build_spec(document, source=str(path), source_text=text)
    assert spec.name == "toml-audit"
    assert spec.data.path == folder / "data" / "adult.csv"
    assert spec.data.positive == ">50K"
    assert spec.data.sensitive == ("sex",)
    assert spec.split.seed == 7
    assert (spec.split.test, spec.split.validation) == (0.2, 0.2)
    assert [(c.name, c.family) for c in spec.candidates] == [(BASELINE, BASELINE), ("lr", "logistic")]
    assert spec.candidates[1].params == {**FAMILIES["logistic"].default_params, "C": 0.5}
    assert spec.policies == (folder / "policies" / "bank.json", Path("/abs/other.json"))
    assert spec.source_text == TOML_SPEC


def test_json_spec_paths_are_relative_to_the_spec_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(JSON_SPEC), encoding="utf-8")
    document, _ = read_spec_file(path)
    spec = build_spec(document, source=str(path))
    assert spec.data.path == tmp_path / "data" / "adult.parquet"
    assert spec.policies == (tmp_path / "policies" / "bank.json",)
    assert spec.threshold == 0.4
    assert spec.optimizing_metric == "pr_auc"
    assert spec.candidates[1].params["n_estimators"] == 50
    assert spec.candidates[1].params["learning_rate"] == FAMILIES["lightgbm"].default_params["learning_rate"]


def test_relative_spec_path_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "audit.json").write_text(json.dumps(JSON_SPEC), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    document, _ = read_spec_file(Path("audit.json"))
    assert Path(document["data"]["path"]).is_absolute()
    assert Path(document["data"]["path"]) == tmp_path / "data" / "adult.parquet"


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[data\npath = "a.csv"\n', encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        read_spec_file(path)
    message = caught.value.message
    assert message.startswith(str(path))
    assert "not valid TOML" in message
    assert "line 2" in message


def test_json_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "data": {\n    "path": "a.csv",,\n  }\n}\n', encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        read_spec_file(path)
    message = caught.value.message
    assert message.startswith(f"{path}: line 3, column")
    assert "not valid JSON" in message


@pytest.mark.parametrize("text", ["[1, 2]", '"a spec"', "null"])
def test_spec_that_is_not_an_object(tmp_path: Path, text: str) -> None:
    path = tmp_path / "audit.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="must be an object") as caught:
        read_spec_file(path)
    assert caught.value.message.startswith(f"{path}: /: ")


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file not found") as caught:
        read_spec_file(tmp_path / "nope.toml")
    assert str(tmp_path / "nope.toml") in caught.value.message


# A document and the JSON path its error must name.
INVALID = {
    "target empty": ({"data": {"path": "/x.csv", "target": ""}}, "/data/target"),
    "target not a string": ({"data": {"path": "/x.csv", "target": 3}}, "/data/target"),
    "target missing": ({"data": {"path": "/x.csv"}}, "/data"),
    "data missing": ({"name": "x"}, "/"),
    "unknown top-level key": (_spec(colour="red"), "/"),
    "unknown data key": ({"data": {"path": "/x.csv", "target": "y", "label": "z"}}, "/data"),
    "duplicate sensitive": ({"data": {"path": "/x.csv", "target": "y", "sensitive": ["a", "a"]}}, "/data/sensitive"),
    "test too large": (_spec(split={"test": 0.95}), "/split/test"),
    "test zero": (_spec(split={"test": 0}), "/split/test"),
    "negative seed": (_spec(split={"seed": -1}), "/split/seed"),
    "threshold 1": (_spec(evaluation={"threshold": 1}), "/evaluation/threshold"),
    "unknown metric": (_spec(evaluation={"optimizing_metric": "gini"}), "/evaluation/optimizing_metric"),
    "no candidates": (_spec(candidates=[]), "/candidates"),
    "unknown family": (_spec(candidates=[{"name": "x", "family": "svm"}]), "/candidates/0/family"),
    "bad candidate name": (_spec(candidates=[{"name": "a b", "family": "logistic"}]), "/candidates/0/name"),
    "empty policies": (_spec(policies=[]), "/policies"),
    "negative C": (
        _spec(candidates=[{"name": "lr", "family": "logistic", "params": {"C": -1}}]),
        "/candidates/0/params/C",
    ),
    "C as text": (
        _spec(candidates=[{"name": "lr", "family": "logistic", "params": {"C": "1"}}]),
        "/candidates/0/params/C",
    ),
    "unknown logistic param": (
        _spec(candidates=[{"name": "lr", "family": "logistic", "params": {"penalty": "l1"}}]),
        "/candidates/0/params",
    ),
    "unknown lightgbm param": (
        _spec(
            candidates=[
                {"name": "lr", "family": "logistic"},
                {"name": "g", "family": "lightgbm", "params": {"depth": 3}},
            ]
        ),
        "/candidates/1/params",
    ),
    "param for the baseline": (
        _spec(candidates=[{"name": "baseline", "family": "baseline", "params": {"C": 1}}]),
        "/candidates/0/params",
    ),
    "bad class_weight": (
        _spec(candidates=[{"name": "lr", "family": "logistic", "params": {"class_weight": "auto"}}]),
        "/candidates/0/params/class_weight",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_schema_errors_name_the_source_and_json_path(case: str) -> None:
    document, json_path = INVALID[case]
    with pytest.raises(SpecError) as caught:
        _build(document)
    assert caught.value.message.startswith(f"test-spec: {json_path}: "), caught.value.message


def test_unknown_param_error_names_the_param() -> None:
    document = _spec(candidates=[{"name": "lr", "family": "logistic", "params": {"penalty": "l1"}}])
    with pytest.raises(SpecError, match="'penalty' was unexpected"):
        _build(document)


def test_many_problems_are_counted() -> None:
    document = {"data": {"path": "", "target": ""}, "split": {"test": 2, "validation": 2, "seed": -1}}
    with pytest.raises(SpecError) as caught:
        _build(document)
    message = caught.value.message
    assert "/data/path" in message and "/data/target" in message
    assert "(and 2 more)" in message


def test_test_plus_validation_must_leave_training_rows() -> None:
    with pytest.raises(SpecError, match="/split: test \\+ validation"):
        _build(_spec(split={"test": 0.5, "validation": 0.45}))


def test_duplicate_candidate_names() -> None:
    document = _spec(
        candidates=[
            {"name": "m", "family": "logistic"},
            {"name": "m", "family": "lightgbm"},
        ]
    )
    with pytest.raises(SpecError, match="/candidates/1/name: duplicate candidate name 'm'"):
        _build(document)


def test_baseline_name_is_reserved() -> None:
    with pytest.raises(SpecError, match="/candidates/0/name: the name 'baseline' is reserved"):
        _build(_spec(candidates=[{"name": "baseline", "family": "logistic"}]))


@pytest.mark.parametrize(
    "candidates",
    [
        [{"name": "lr", "family": "logistic"}],
        [{"name": "g", "family": "lightgbm"}, {"name": "lr", "family": "logistic"}],
    ],
)
def test_baseline_is_always_added_first(candidates: list[dict[str, Any]]) -> None:
    spec = _build(_spec(candidates=candidates))
    assert spec.candidates[0].family == BASELINE
    assert spec.candidates[0].name == BASELINE
    assert [c.name for c in spec.candidates[1:]] == [c["name"] for c in candidates]
    assert sum(c.family == BASELINE for c in spec.candidates) == 1


def test_an_explicit_baseline_is_not_duplicated() -> None:
    spec = _build(_spec(candidates=[{"name": "lr", "family": "logistic"}, {"name": "prior", "family": "baseline"}]))
    assert [(c.name, c.family) for c in spec.candidates] == [("lr", "logistic"), ("prior", "baseline")]


def test_quick_mode_defaults() -> None:
    spec = _build({"data": {"path": "/data/adult.csv", "target": "income"}})
    assert [c.family for c in spec.candidates] == list(FAMILIES)
    assert sorted(c.family for c in spec.candidates) == sorted(set(FAMILIES))
    for candidate in spec.candidates:
        assert candidate.params == FAMILIES[candidate.family].default_params
    assert spec.policies == (LOADER_DEFAULT_POLICY,)
    assert LOADER_DEFAULT_POLICY.resolve() == DEFAULT_POLICY.resolve()
    assert spec.name == "adult"
    assert spec.description == ""
    assert (spec.split.test, spec.split.validation, spec.split.seed) == (0.2, 0.2, 42)
    assert (spec.threshold, spec.optimizing_metric) == (0.5, "roc_auc")
    assert spec.data.positive is None
    assert spec.data.sensitive == ()
    assert spec.data.features is None
    assert spec.data.include_sensitive is False
    assert spec.data.missing_values == DEFAULT_MISSING_VALUES
    assert default_candidates() == [{"name": name, "family": name} for name in FAMILIES]


def test_spec_document_is_complete_plain_json() -> None:
    spec = _build(_spec(candidates=[{"name": "lr", "family": "logistic", "params": {"C": 2.0}}]))
    text = canonical_json(spec.document)
    document = json.loads(text)
    assert document["data"]["path"] == "/data/x.csv"
    assert document["split"] == {"test": 0.2, "validation": 0.2, "seed": 42}
    assert document["candidates"][1] == {"name": "lr", "family": "logistic", "params": spec.candidates[1].params}
    assert document["policies"] == [str(LOADER_DEFAULT_POLICY)]
    assert "positive" not in document["data"]
    assert "features" not in document["data"]
    assert document["data"]["missing_values"] == list(DEFAULT_MISSING_VALUES)
    assert document["evaluation"] == {
        "threshold": 0.5, "optimizing_metric": "roc_auc", "bootstrap": 1000, "confidence": 0.95,
        "calibration_bins": 10, "min_group_size": 30, "fail_on": "block",
        "conformal_levels": [0.9], "shap_rows": 50, "shap_background": 25, "shap_samples": 100,
        "proxy_threshold": 0.2, "robustness_rows": 2000, "noise_scale": 0.1, "swap_rate": 0.1, "missing_rate": 0.1,
        "directional": [], "reproducibility": True,
    }
    # the recorded document is itself a valid spec that rebuilds the same audit (a re-check needs this)
    rebuilt = _build(document)
    assert rebuilt.document == spec.document


def test_merge_documents_flags_win_and_tables_merge() -> None:
    base = {
        "name": "file",
        "data": {"path": "/file.csv", "target": "income", "sensitive": ["sex", "race"]},
        "split": {"test": 0.3, "seed": 1},
        "policies": ["/a.json", "/b.json"],
    }
    snapshot = json.loads(json.dumps(base))
    flags = {"data": {"target": "label", "sensitive": ["age"]}, "split": {"seed": 9}, "policies": ["/c.json"]}
    merged = merge_documents(base, flags)
    assert merged == {
        "name": "file",
        "data": {"path": "/file.csv", "target": "label", "sensitive": ["age"]},
        "split": {"test": 0.3, "seed": 9},
        "policies": ["/c.json"],
    }
    assert base == snapshot  # the file's document is not changed


def test_flags_document_and_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    flags = flags_document(data=Path("d.csv"), target="t", policies=[Path("p.json")], seed=3, sensitive=["s"])
    assert flags == {
        "data": {"path": str(tmp_path / "d.csv"), "target": "t", "sensitive": ["s"]},
        "policies": [str(tmp_path / "p.json")],
        "split": {"seed": 3},
    }
    assert flags_document() == {}
    spec = build_spec(merge_documents({"data": {"path": "/x.csv", "target": "y", "positive": "1"}}, flags), source="f")
    assert spec.data.path == tmp_path / "d.csv"
    assert spec.data.target == "t"
    assert spec.data.positive == "1"
    assert spec.split.seed == 3


def test_example_adult_spec_builds() -> None:
    path = ROOT / "examples" / "adult" / "audit.toml"
    document, text = read_spec_file(path)
    spec = build_spec(document, source=str(path), source_text=text)
    assert spec.name == "adult-income"
    assert spec.data.path.resolve() == (ROOT / "examples" / "adult" / "adult.parquet").resolve()
    assert spec.data.path.is_file()
    assert spec.data.positive == ">50K"
    assert spec.data.sensitive == ("sex", "race", "age")
    assert spec.data.features is not None and "age" in spec.data.features and "sex" not in spec.data.features
    assert spec.data.sensitive_bins == {"age": [25.0, 45.0, 65.0]}
    assert [c.family for c in spec.candidates] == ["baseline", "logistic", "lightgbm", "torch_mlp"]
    assert spec.data.serving_features == spec.data.features
    assert spec.candidates[1].calibration == ("isotonic",)
    assert spec.candidates[2].params["n_estimators"] == 1000
    assert [p.resolve() for p in spec.policies] == [DEFAULT_POLICY.resolve()]
    assert spec.card["owners"] == ["mlgate maintainers"]
    assert spec.compute == {"workers": 2}


@pytest.mark.parametrize(("evaluation", "where"), [
    ({"directional": [{"feature": "a", "shift": 0, "expect": "non_decreasing"}]}, "/evaluation/directional/0/shift"),
    ({"directional": [{"feature": "a", "shift": 1, "expect": "up"}]}, "/evaluation/directional/0/expect"),
    ({"directional": [{"feature": "a", "expect": "non_decreasing"}]}, "/evaluation/directional/0"),
    ({"conformal_levels": [1.0]}, "/evaluation/conformal_levels/0"),
    ({"shap_rows": 0}, "/evaluation/shap_rows"),
    ({"missing_rate": 1.5}, "/evaluation/missing_rate"),
])
def test_evidence_settings_are_checked(evaluation: dict[str, Any], where: str) -> None:
    with pytest.raises(SpecError, match=f"test-spec: {where}"):
        _build(_spec(evaluation=evaluation))
