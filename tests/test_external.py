"""Auditing models trained outside mlgate: ONNX (skl2onnx), LightGBM text models and skops files, pickles refused.

The models are trained here on one half of the real Adult sample with the libraries' own APIs, saved with
their own writers, and audited on the other half through the real CLI in a subprocess. The recorded metrics are
checked against scikit-learn's metrics of the same model's scores (onnxruntime, the booster, the pipeline) on
the same test rows.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import onnxruntime
import pandas as pd
import pytest
import skops.io
from conftest import run_cli
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn_reference import SKLEARN

from engine.audit.runs import load_run
from engine.data import load_dataset
from engine.errors import MlgateError, ModelError
from engine.evaluation.evidence import EVIDENCE_VERSION, evidence_errors, stored_evidence
from engine.jsonfiles import load_schema, schema_errors
from engine.spec import build_spec
from engine.split import split_holdout

pytestmark = pytest.mark.slow

TARGET, POSITIVE = "income", ">50K"
NUMERIC = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "marital-status", "occupation", "relationship"]
SEED = 5


@dataclass
class Outside:
    """Data and models made outside mlgate: training and evaluation halves of the sample, three model files."""

    folder: Path
    train: Path
    eval: Path
    train_frame: pd.DataFrame
    onnx: Path
    onnx_tensor: Path
    lightgbm: Path
    skops: Path
    pipeline: Pipeline
    booster: Any


def _positive(frame: pd.DataFrame) -> np.ndarray:
    return (frame[TARGET] == POSITIVE).to_numpy()


def _sklearn_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64, text as Python strings with missing as NaN."""
    out = frame[NUMERIC + CATEGORICAL].copy()
    out[NUMERIC] = out[NUMERIC].astype(np.float64)
    for column in CATEGORICAL:
        out[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
    return out


def _onnx_feed(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """One input per column named as skl2onnx names it; missing text as the empty string."""
    feed = {c.replace("-", "_"): frame[[c]].to_numpy(np.float32) for c in NUMERIC}
    for column in CATEGORICAL:
        feed[column.replace("-", "_")] = frame[[column]].fillna("").astype(str).to_numpy(object)
    return feed


def _lightgbm_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[NUMERIC + CATEGORICAL].copy()
    out[NUMERIC] = out[NUMERIC].astype(np.float64)
    for column in CATEGORICAL:
        out[column] = out[column].astype("category")
    return out


@pytest.fixture(scope="module")
def outside(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Outside:
    folder = tmp_path_factory.mktemp("outside")
    half = len(adult_sample) // 2
    train_frame, eval_frame = adult_sample.iloc[:half], adult_sample.iloc[half:]
    train, evaluated = folder / "train.parquet", folder / "eval.parquet"
    train_frame.to_parquet(train, index=False)
    eval_frame.to_parquet(evaluated, index=False)
    y = _positive(train_frame)

    pipeline = Pipeline([
        ("pre", ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                  OneHotEncoder(handle_unknown="ignore")), CATEGORICAL),
        ])),
        ("model", LogisticRegression(max_iter=1000)),
    ]).fit(_sklearn_frame(train_frame), y)
    skops_path = folder / "pipeline.skops"
    skops.io.dump(pipeline, skops_path)

    onnx_x = _sklearn_frame(train_frame)
    onnx_x[CATEGORICAL] = onnx_x[CATEGORICAL].fillna("")
    onnx_pipeline = Pipeline([
        ("pre", ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ])),
        ("model", LogisticRegression(C=0.3, max_iter=1000)),
    ]).fit(onnx_x, y)
    types = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    onnx_path = folder / "pipeline.onnx"
    onnx_path.write_bytes(to_onnx(onnx_pipeline, initial_types=types, target_opset=17).SerializeToString())
    tensor_path = folder / "tensor.onnx"  # probabilities as a float tensor [n, 2] instead of a ZipMap
    tensor_path.write_bytes(to_onnx(onnx_pipeline, initial_types=types, target_opset=17,
                                    options={id(onnx_pipeline.steps[-1][1]): {"zipmap": False}}).SerializeToString())

    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "seed": SEED},
                             lightgbm.Dataset(_lightgbm_frame(train_frame), y.astype(int)), num_boost_round=40)
    booster_path = folder / "booster.txt"
    booster.save_model(booster_path)
    return Outside(folder, train, evaluated, train_frame, onnx_path, tensor_path, booster_path, skops_path, pipeline,
                   booster)


def _held_out(eval_path: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The test rows and labels mlgate holds out, as it reads and splits the evaluation file; validation labels."""
    spec = build_spec({"data": {"path": str(eval_path), "target": TARGET, "positive": POSITIVE},
                       "split": {"seed": SEED}}, source="test")
    dataset = load_dataset(spec.data)
    splits = split_holdout(dataset.y, spec.split)
    return dataset.frame.iloc[splits.test], dataset.y[splits.test], dataset.y[splits.validation]


def _reference_scores(outside: Outside, kind: str, frame: pd.DataFrame) -> np.ndarray:
    """The same model's P(positive), computed with its own library."""
    if kind.startswith("onnx"):
        session = onnxruntime.InferenceSession(str(getattr(outside, kind)), providers=["CPUExecutionProvider"])
        _, probabilities = session.run(None, _onnx_feed(frame))  # the converter's outputs: label, probabilities
        if kind == "onnx_tensor":
            return np.asarray(probabilities, dtype=np.float64)[:, 1]
        return np.array([row[1] for row in probabilities], dtype=np.float64)
    if kind == "lightgbm":
        return np.asarray(outside.booster.predict(_lightgbm_frame(frame)), dtype=np.float64)
    return np.asarray(outside.pipeline.predict_proba(_sklearn_frame(frame))[:, 1], dtype=np.float64)


def _audit(tmp_path: Path, model: Path, *extra: str | Path) -> tuple[dict[str, Any], Path]:
    db = tmp_path / "trail.duckdb"
    done = run_cli("audit", "--model", model, "--data", model.parent / "eval.parquet", "--target", TARGET,
                   "--positive", POSITIVE, "--sensitive", "sex,race", "--seed", SEED, "--audit-db", db,
                   "--cards-dir", tmp_path / "cards", "--format", "json", *extra)
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result, db


@pytest.mark.parametrize("kind", ["onnx", "onnx_tensor", "lightgbm", "skops"])
def test_a_model_trained_elsewhere_is_audited_on_held_out_rows(outside: Outside, kind: str, tmp_path: Path) -> None:
    model: Path = getattr(outside, kind)
    result, db = _audit(tmp_path, model)
    name = model.stem
    assert [c["name"] for c in result["candidates"]] == ["baseline", name]
    record = load_run(db, result["run_id"])
    evaluated = record.candidates[name].data
    assert evaluated["family"] == "external" and evaluated["error"] is None

    frame, y, y_validation = _held_out(outside.eval)
    scores = _reference_scores(outside, kind, frame)
    recorded = evaluated["evidence"]["metrics"]
    assert evaluated["evidence"]["rows"] == len(y)
    for metric, reference in SKLEARN.items():
        assert recorded[metric] == pytest.approx(reference(y, scores, 0.5), abs=1e-6), metric
    assert recorded["roc_auc"] > 0.8, "a real model, not noise"

    sha256 = hashlib.sha256(model.read_bytes()).hexdigest()
    started = record.started.data
    kind = kind.removesuffix("_tensor")
    assert started["external_models"] == {name: {"path": str(model), "sha256": sha256, "format": kind,
                                                 "bytes": model.stat().st_size}}
    assert started["spec"]["candidates"][1] == {"name": name, "model": str(model), "sha256": sha256}
    assert started["split"]["sizes"]["train"] == 0 and started["split"]["sizes"]["test"] == len(y)
    assert started["training"]["source"].startswith("validation part of the data")
    described = evaluated["description"]["external_model"]
    assert described["sha256"] == sha256 and described["format"] == kind
    assert "retrained" in evaluated["evidence"]["not_applicable"]["reproducibility"]
    baseline = record.candidates["baseline"].data["description"]
    assert baseline["prior"] == pytest.approx(float(np.mean(y_validation)))
    written = record.cards[name].data["files"]
    assert set(written) == {"md", "html", "json", "mct", "hf", "cyclonedx"}
    card = json.loads(Path(written["json"]["path"]).read_text(encoding="utf-8"))
    assert schema_errors(card, load_schema("engine.cards", "model-card-v1.schema.json")) == []
    assert sha256 in json.dumps(card), "the card names the audited file by its hash"


def test_the_baseline_is_trained_on_the_given_training_data(outside: Outside, tmp_path: Path) -> None:
    result, db = _audit(tmp_path, outside.lightgbm, "--train-data", outside.train)
    record = load_run(db, result["run_id"])
    prior = float(np.mean(_positive(outside.train_frame)))
    assert record.candidates["baseline"].data["description"]["prior"] == pytest.approx(prior)
    training = record.started.data["training"]
    assert training["source"] == "training data file" and training["rows"] == len(outside.train_frame)
    assert training["fingerprint"]["sha256"] == hashlib.sha256(outside.train.read_bytes()).hexdigest()
    assert record.started.data["spec"]["data"]["train_path"] == str(outside.train)


def test_a_spec_file_declares_external_models_with_calibration(outside: Outside, tmp_path: Path) -> None:
    spec = outside.folder / "external.toml"
    spec.write_text(f"""
name = "outside"
[data]
path = "eval.parquet"
train_path = "train.parquet"
target = "{TARGET}"
positive = "{POSITIVE}"
sensitive = ["sex"]
[split]
seed = {SEED}
[[candidates]]
name = "onnx-lr"
model = "pipeline.onnx"
calibration = ["platt"]
[[candidates]]
name = "gbm"
model = "booster.txt"
sha256 = "{hashlib.sha256(outside.lightgbm.read_bytes()).hexdigest()}"
""", encoding="utf-8")
    db = tmp_path / "trail.duckdb"
    done = run_cli("audit", "--spec", spec, "--audit-db", db, "--cards-dir", tmp_path / "cards", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    result = json.loads(done.stdout)
    assert [c["name"] for c in result["candidates"]] == ["baseline", "onnx-lr", "onnx-lr.platt", "gbm"]
    record = load_run(db, result["run_id"])
    assert set(record.started.data["external_models"]) == {"onnx-lr", "gbm"}
    calibrated = record.candidates["onnx-lr.platt"].data
    assert calibrated["description"]["calibration"]["rows"] == record.started.data["split"]["sizes"]["validation"]
    assert calibrated["evidence"]["not_applicable"]["reproducibility"]
    for name, event in record.candidates.items():  # models trained elsewhere keep the evidence contract too
        assert event.data["evidence_version"] == EVIDENCE_VERSION
        assert evidence_errors(stored_evidence(event.data)) == [], name


def test_a_pickle_is_refused_before_anything_is_recorded(outside: Outside, tmp_path: Path) -> None:
    payload = pickle.dumps({"a": 1})
    for name in ("model.pkl", "model.bin"):  # by its name, and by the pickle's first byte
        path = outside.folder / name
        path.write_bytes(payload)
        done = run_cli("audit", "--model", path, "--data", outside.eval, "--target", TARGET, "--positive",
                       POSITIVE, "--audit-db", tmp_path / "trail.duckdb", "--cards-dir", tmp_path / "cards")
        assert done.returncode == 2, done.stderr
        line = done.stderr.strip()
        assert len(line.splitlines()) == 1 and str(path) in line
        assert "never unpickles" in line and "skops" in line and "ONNX" in line
    assert not (tmp_path / "trail.duckdb").exists()


@pytest.mark.parametrize("kind", ["onnx", "lightgbm", "skops"])
def test_a_model_whose_feature_column_is_missing_is_refused(outside: Outside, kind: str, tmp_path: Path) -> None:
    data = tmp_path / "no-occupation.parquet"
    pd.read_parquet(outside.eval).drop(columns=["occupation"]).to_parquet(data, index=False)
    model: Path = getattr(outside, kind)
    done = run_cli("audit", "--model", model, "--data", data, "--target", TARGET, "--positive", POSITIVE,
                   "--audit-db", tmp_path / "trail.duckdb", "--cards-dir", tmp_path / "cards")
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and str(model) in line and "'occupation'" in line
    assert not (tmp_path / "trail.duckdb").exists()


def test_unfit_model_files_are_refused_with_the_reason(outside: Outside, tmp_path: Path) -> None:
    frame = _lightgbm_frame(outside.train_frame)
    regression = lightgbm.train({"objective": "regression", "verbose": -1}, lightgbm.Dataset(frame, frame["age"]), 3)
    regression_path = tmp_path / "regression.txt"
    regression.save_model(regression_path)
    classifier = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(
        frame[NUMERIC], _positive(outside.train_frame))
    foreign_path = tmp_path / "lgbm.skops"
    skops.io.dump(classifier, foreign_path)
    json_path = tmp_path / "dump.json"
    json_path.write_text(json.dumps(outside.booster.dump_model()), encoding="utf-8")
    numbers = _sklearn_frame(outside.train_frame)[NUMERIC].fillna(0)
    wide = LogisticRegression(max_iter=1000).fit(numbers, _positive(outside.train_frame))
    wide_path = tmp_path / "wide.onnx"
    wide_path.write_bytes(to_onnx(wide, initial_types=[("X", FloatTensorType([None, len(NUMERIC)]))],
                                  target_opset=17).SerializeToString())
    ages = LinearRegression().fit(numbers[["hours-per-week"]], numbers["age"])
    ages_path = tmp_path / "ages.onnx"
    ages_path.write_bytes(to_onnx(ages, initial_types=[("hours-per-week", FloatTensorType([None, 1]))],
                                  target_opset=17).SerializeToString())
    garbage_path = tmp_path / "garbage.onnx"
    garbage_path.write_bytes(b"\x08\x07 not an ONNX graph")
    zip_path = tmp_path / "archive.skops"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("readme.txt", "not a skops file")
    expected = {
        garbage_path: "not a readable ONNX model",
        zip_path: "not a readable skops file",
        regression_path: "objective is 'regression'",
        foreign_path: "lightgbm.sklearn.LGBMClassifier",
        json_path: "save_model",
        wide_path: "takes 5 columns at once",
        ages_path: "not one probability in [0, 1] per row",
    }
    for path, reason in expected.items():
        done = run_cli("audit", "--model", path, "--data", outside.eval, "--target", TARGET, "--positive", POSITIVE,
                       "--audit-db", tmp_path / "trail.duckdb", "--cards-dir", tmp_path / "cards")
        assert done.returncode == 2, done.stderr
        assert reason in done.stderr and str(path) in done.stderr


def test_a_pinned_hash_must_match_the_file(outside: Outside) -> None:
    document = {"data": {"path": str(outside.eval), "target": TARGET},
                "candidates": [{"name": "gbm", "model": str(outside.lightgbm), "sha256": "0" * 64}]}
    with pytest.raises(ModelError, match="SHA-256"):
        build_spec(document, source="pinned.json")


@pytest.mark.parametrize(("candidate", "message"), [
    ({"name": "x", "model": "m.onnx", "family": "logistic"}, "/candidates/0: give a family to train or a model file"),
    ({"name": "x"}, "/candidates/0: needs a family to train or a model file"),
    ({"name": "x", "family": "logistic", "sha256": "0" * 64}, "/candidates/0/sha256: only a model file"),
    ({"name": "x", "model": "missing.onnx"}, "missing.onnx: model file not found (spec.json: /candidates/0/model)"),
])
def test_a_candidate_is_a_family_or_a_model_file(outside: Outside, candidate: dict[str, Any], message: str) -> None:
    candidate = {**candidate, "model": str(outside.folder / candidate["model"])} if "model" in candidate else candidate
    with pytest.raises(MlgateError, match=re.escape(message)):
        build_spec({"data": {"path": str(outside.eval), "target": TARGET}, "candidates": [candidate]},
                   source="spec.json")
