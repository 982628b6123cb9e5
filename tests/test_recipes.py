"""The recipes of ARCHITECTURE.md, followed step by step: add a model family, add an evidence section.

(The third recipe, add a rule kind, is followed by tests/test_rule_kind_recipe.py.) Each test does exactly what
its recipe says and checks that the new piece reaches every place the recipe promises, so a recipe that no
longer matches the code fails here.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import DEFAULT_POLICY, ROOT
from numpy.typing import NDArray
from sklearn.neighbors import NearestCentroid

import engine.spec
from engine.audit import runs
from engine.candidates import FAMILIES
from engine.candidates.base import Family, Features, TrainingData, categorical_frame
from engine.errors import SpecError
from engine.evaluation.evidence import evidence_errors, stored_evidence
from engine.jsonfiles import load_schema
from engine.service import run_audit
from engine.spec import build_spec

pytestmark = pytest.mark.slow


# Recipe "Add a model family", step 1: one module with the candidate class and its `Family` record.
class NearestCentroidCandidate:
    """Distance to the two class centroids of the scaled numeric features, as a probability."""

    family = "nearest_centroid"

    def __init__(self, params: dict[str, Any]) -> None:
        self.model: NearestCentroid | None = None
        self.features: Features | None = None
        self.scale = float(params["scale"])

    def fit(self, data: TrainingData) -> None:
        self.features = data.features
        x = categorical_frame(data.x_train, data.features)[list(data.features.numeric)].fillna(0.0)
        self.model = NearestCentroid().fit(x.to_numpy(), data.y_train)

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        if self.model is None or self.features is None:
            raise RuntimeError("nearest_centroid candidate used before fit")
        rows = categorical_frame(x, self.features)[list(self.features.numeric)].fillna(0.0).to_numpy()
        centroids = self.model.centroids_
        distance = np.linalg.norm(rows[:, None, :] - centroids[None, :, :], axis=2) / self.scale
        positive = list(self.model.classes_).index(True)
        return np.asarray(1.0 / (1.0 + np.exp(distance[:, positive] - distance[:, 1 - positive])), dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        return {"scale": self.scale}


FAMILY = Family(
    name="nearest_centroid", summary="nearest class centroid of the numeric features",
    params_schema={"type": "object", "additionalProperties": False,
                   "properties": {"scale": {"type": "number", "exclusiveMinimum": 0}}},
    default_params={"scale": 1000.0}, build=NearestCentroidCandidate,
)


def spec_of(data: Path, candidates: list[dict[str, Any]], **evaluation: Any) -> Any:
    return build_spec({
        "name": "recipe", "policies": [str(DEFAULT_POLICY)],
        "data": {"path": str(data), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "evaluation": {"bootstrap": 50, "shap_rows": 10, "shap_background": 5, "robustness_rows": 200, **evaluation},
        "candidates": candidates,
    }, source="test_recipes")


def test_add_a_model_family(adult_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    candidates = [{"name": "centroid", "family": "nearest_centroid", "params": {"scale": 500.0}}]
    # Step 2: one entry in the registry of families.
    monkeypatch.setitem(FAMILIES, FAMILY.name, FAMILY)
    # Step 3: the spec schema's list of families (tests/test_spec.py holds it equal to the registry): until
    # it names the family, a spec that uses it is refused as bad input.
    with pytest.raises(SpecError, match="/candidates/0/family"):
        spec_of(adult_parquet, candidates)
    schema = copy.deepcopy(load_schema("engine", "spec-v1.schema.json"))
    schema["properties"]["candidates"]["items"]["properties"]["family"]["enum"].append(FAMILY.name)
    monkeypatch.setattr(engine.spec, "load_schema", lambda package, name: schema)
    with pytest.raises(SpecError, match="/candidates/0/params/scale"):
        spec_of(adult_parquet, [{**candidates[0], "params": {"scale": -1}}])  # its parameters are validated

    # Then the family is trained and audited like every other: evidence, rules, card.
    result = run_audit(spec_of(adult_parquet, candidates), audit_db=tmp_path / "audit.duckdb",
                       cards_dir=tmp_path / "cards")
    centroid = next(c for c in result.candidates if c.name == "centroid")
    assert centroid.error is None
    assert centroid.metrics["roc_auc"] is not None and centroid.metrics["roc_auc"] > 0.5
    event = runs.load_run(tmp_path / "audit.duckdb", result.run_id).candidates["centroid"].data
    evidence = stored_evidence(event)
    assert evidence_errors(evidence) == []
    assert evidence["reproducibility"]["identical"] is True, "a deterministic family retrains bit for bit"
    # Step 4 (optional) is its ONNX exporter: without one, the serving evidence says so and the serving
    # rules are unknown, never a silent pass.
    assert "KeyError" in evidence["serving"]["error"] and "nearest_centroid" in evidence["serving"]["error"]
    parity = next(o for o in centroid.outcomes if o.kind == "onnx_parity")
    assert parity.status == "unknown"
    assert "nearest_centroid" in Path(str(centroid.card)).read_text(encoding="utf-8")


# Recipe "Add an evidence section": the edits, as the recipe lists them, applied to a copy of the engine.
SECTION_MODULE = '''"""`score_summary()`: how the test scores are spread (a recipe example)."""

from typing import Any

import numpy as np
from numpy.typing import NDArray


def score_summary(proba: NDArray[np.float64]) -> dict[str, Any]:
    return {"mean": float(proba.mean()), "min": float(proba.min()), "max": float(proba.max())}
'''
EDITS: list[tuple[str, str, str]] = [  # (file, text it contains, the text that replaces it)
    ("engine/evaluation/evidence.py", "    lineage: JSON | None = None\n",
     "    lineage: JSON | None = None\n    score_summary: JSON | None = None\n"),
    ("engine/evaluation/evidence.py", "SECTIONS: tuple[Section, ...] = (\n",
     "SECTIONS: tuple[Section, ...] = (\n"
     "    Section(\"score_summary\", (\"score_summary\",), BINARY, \"spread of the test scores\"),\n"),
    ("engine/evaluation/candidate.py", "        not_applicable=dict(",
     "        score_summary=score_summary(proba),\n        not_applicable=dict("),
    ("engine/evaluation/candidate.py", "from engine.evaluation.performance import evaluate\n",
     "from engine.evaluation.performance import evaluate\nfrom engine.evaluation.score_summary import score_summary\n"),
]
CHECK = """
import json, sys
from pathlib import Path
from engine.audit import runs
from engine.evaluation.evidence import evidence_errors, evidence_schema, SECTIONS, stored_evidence
from engine.service import run_audit
from engine.spec import build_spec
spec = build_spec({"name": "recipe", "policies": [sys.argv[2]],
                   "data": {"path": sys.argv[1], "target": "income", "positive": ">50K"},
                   "evaluation": {"bootstrap": 20, "shap_rows": 5, "shap_background": 5, "robustness_rows": 100,
                                  "reproducibility": False},
                   "candidates": [{"name": "logistic", "family": "logistic"}]}, source="recipe")
out = Path(sys.argv[3])
result = run_audit(spec, audit_db=out / "audit.duckdb", cards_dir=out / "cards")
event = runs.load_run(out / "audit.duckdb", result.run_id).candidates["logistic"].data
evidence = stored_evidence(event)
owned = {key for section in SECTIONS for key in section.keys}
print(json.dumps({"summary": evidence.get("score_summary"), "errors": evidence_errors(evidence),
                  "schema_keys_match": set(evidence_schema()["properties"]) == owned}))
"""


def test_add_an_evidence_section(adult_parquet: Path, tmp_path: Path) -> None:
    copy_root = tmp_path / "project"
    shutil.copytree(ROOT / "engine", copy_root / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    # Step 1: a module that computes the section.
    (copy_root / "engine" / "evaluation" / "score_summary.py").write_text(SECTION_MODULE, encoding="utf-8")
    # Steps 2 and 4: a field of `Evidence` and a row of `SECTIONS`; the call in `evaluate_candidate()`.
    for name, old, new in EDITS:
        path = copy_root / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"the recipe's anchor {old!r} is no longer in {name}"
        path.write_text(text.replace(old, new), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(copy_root)}

    def check() -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-c", CHECK, str(adult_parquet), str(DEFAULT_POLICY), str(tmp_path)],
                              capture_output=True, text=True, cwd=copy_root, env=env, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout.splitlines()[-1]))

    # Without step 3 the schema refuses the new key, and the schema no longer matches the sections.
    before = check()
    assert before["summary"] is not None and 0.0 <= before["summary"]["min"] <= before["summary"]["max"] <= 1.0
    assert any("score_summary" in error for error in before["errors"]), before["errors"]
    assert before["schema_keys_match"] is False
    # Step 3: the section's property in evidence-v1.schema.json.
    schema_path = copy_root / "engine" / "evaluation" / "evidence-v1.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    schema["properties"]["score_summary"] = {"type": "object", "required": ["mean", "min", "max"]}
    schema_path.write_text(json.dumps(schema), encoding="utf-8")
    after = check()
    assert after["errors"] == []
    assert after["schema_keys_match"] is True
