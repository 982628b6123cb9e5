"""Temperature scaling, the calibrated variant of a multiclass model: the fitted temperature minimises the validation
log loss as scikit-learn computes it, recovers an overconfidence put in on purpose, never changes a row's most
probable class, exports to ONNX with parity, and goes through a real audit of the ISLR Wage data; a calibration
method made for another task is one line and exit 2 before anything is recorded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from task_data import design
from task_runs import BASELINE, FEATURES, TARGETS, WAGE

from engine.audit.runs import load_run
from engine.candidates.calibrated import CalibratedCandidate, fit_temperature, temperature_scaled
from engine.service import run_audit
from engine.spec import build_spec

ROOT = Path(__file__).resolve().parents[1]


def _overconfident(sharpen: float, rows: int = 20_000, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the probabilities a model would give if it multiplied z by `sharpen`."""
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=1.5, size=(rows, classes))
    truth = softmax(logits, axis=1)
    labels = (rng.random(rows)[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    return softmax(logits * sharpen, axis=1), labels


@pytest.mark.parametrize("sharpen", [0.5, 1.0, 2.5])
def test_the_fitted_temperature_recovers_the_miscalibration_put_in(sharpen: float) -> None:
    proba, labels = _overconfident(sharpen)
    assert fit_temperature(proba, labels) == pytest.approx(sharpen, rel=0.05)


def test_no_temperature_is_made_up_for_outputs_that_are_not_probabilities() -> None:
    proba, labels = _overconfident(2.0, rows=100)
    proba[3, 1] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        fit_temperature(proba, labels)
    with pytest.raises(ValueError, match="not finite"):
        fit_temperature(proba[:0], labels[:0])


def test_the_temperature_minimises_scikit_learns_log_loss_and_keeps_every_rows_class() -> None:
    frame, x = design("wage", "multiclass")
    codes = np.unique(frame[TARGETS["multiclass"]], return_inverse=True)[1]
    half = len(frame) // 2
    proba = LogisticRegression(C=100.0, max_iter=3000).fit(x[:half], codes[:half]).predict_proba(x[half:])
    labels = codes[half:]
    temperature = fit_temperature(proba, labels)
    classes = list(range(proba.shape[1]))

    def loss(t: float) -> float:
        return float(log_loss(labels, temperature_scaled(proba, t), labels=classes))

    assert temperature != pytest.approx(1.0, abs=1e-3)  # this model is miscalibrated on these rows
    best = loss(temperature)
    assert best < loss(1.0)
    assert best <= min(loss(temperature * 0.98), loss(temperature * 1.02))
    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 400))  # no temperature on a fine grid does better
    assert best <= min(loss(t) for t in grid) + 1e-9
    scaled = temperature_scaled(proba, temperature)
    assert np.allclose(scaled.sum(axis=1), 1.0)
    assert (scaled.argmax(axis=1) == proba.argmax(axis=1)).all()


def test_a_temperature_variant_of_each_family_exports_with_parity() -> None:
    from engine.candidates import FAMILIES, TrainingData
    from engine.data import load_dataset
    from engine.serving import measure
    from engine.serving.onnx_export import export_onnx
    from engine.serving.schema import feeds, input_schema
    from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
    from engine.split import split_rows

    spec = DataSpec(path=WAGE, target="education", positive=None, sensitive=("race",),
                    features=("year", "age", "maritl", "jobclass", "health", "health_ins", "wage"),
                    include_sensitive=False, missing_values=DEFAULT_MISSING_VALUES)
    data = load_dataset(spec)
    splits = split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=7))
    frame = data.frame
    training = TrainingData(frame.iloc[splits.train], data.y[splits.train], frame.iloc[splits.validation],
                            data.y[splits.validation], data.features, 7, data.task, len(data.classes))
    x_test = frame.iloc[splits.test]
    fast = {"lightgbm": {"n_estimators": 60}, "torch_mlp": {"epochs": 6, "hidden_sizes": [16]}}
    for name, family in FAMILIES.items():
        base = family.build({**family.default_params, **fast.get(name, {})})
        base.fit(training)
        variant = CalibratedCandidate(base, "temperature")
        variant.fit(training)
        assert variant.temperature == fit_temperature(base.predict_proba(training.x_valid), training.y_valid)
        assert variant.describe()["calibration"]["temperature"] == variant.temperature
        native = variant.predict_proba(x_test)
        assert np.allclose(native, temperature_scaled(base.predict_proba(x_test), variant.temperature))
        graph = export_onnx(variant, data.features)
        schema = input_schema(data.features, training.x_train, [i.name for i in graph.graph.input])
        served = measure.score(measure.session(graph.SerializeToString(), threads=1), feeds(schema, x_test))
        assert served.shape == native.shape, name
        assert np.abs(served - native).max() < 1e-4, name
        assert (served.argmax(axis=1) == native.argmax(axis=1)).all(), name


def test_an_audit_records_the_temperature_variant_with_its_evidence_and_card(tmp_path: Path) -> None:
    linear = {"name": "logistic", "family": "logistic", "params": {"C": 100.0}, "calibration": ["temperature"]}
    db, cards = tmp_path / "audit.duckdb", tmp_path / "cards"
    spec = build_spec({"name": "wage-temperature", "task": "multiclass",
                       "data": {"path": str(WAGE), "target": "education", "sensitive": ["race"],
                                "features": FEATURES["multiclass"]},
                       "split": {"seed": 42}, "evaluation": {"bootstrap": 200, "min_group_size": 30},
                       "candidates": [BASELINE, linear]}, source="temperature test")
    result = run_audit(spec, audit_db=db, cards_dir=cards)
    run = load_run(db, result.run_id)
    assert list(run.candidates) == ["baseline", "logistic", "logistic.temperature"]
    assert run.candidates["logistic.temperature"].data["error"] is None
    fitted = run.candidates["logistic.temperature"].data["description"]["calibration"]
    assert fitted["method"] == "temperature" and fitted["fitted_on"] == "validation split"
    assert fitted["temperature"] > 0 and fitted["temperature"] != pytest.approx(1.0, abs=1e-3)
    base, variant = run.evidence("logistic"), run.evidence("logistic.temperature")
    # every row keeps its most probable class, so the metrics of the predicted class are the base model's
    assert variant["metrics"]["accuracy"] == base["metrics"]["accuracy"]
    assert variant["metrics"]["f1_macro"] == base["metrics"]["f1_macro"]
    assert variant["metrics"]["log_loss"] != base["metrics"]["log_loss"]
    assert set(variant["calibration"]) >= {"top_label", "classwise_ece", "per_class"}
    outcomes = {o["id"]: o for o in run.rules["logistic.temperature"].data["outcomes"]}
    assert outcomes["onnx-parity"]["status"] == "pass", outcomes["onnx-parity"]
    card = next(cards.glob("*/logistic.temperature.md")).read_text(encoding="utf-8")
    assert f"temperature scaling of the class probabilities (T = {fitted['temperature']:.4g})" in card


@pytest.mark.parametrize(("target", "method", "task"), [("education", "platt", "multiclass"),
                                                        ("wage", "temperature", "regression"),
                                                        ("health", "temperature", "binary")])
def test_a_method_made_for_another_task_is_one_line_and_exit_2(tmp_path: Path, target: str, method: str,
                                                               task: str) -> None:
    spec = tmp_path / "audit.toml"
    positive = 'positive = "2. >=Very Good"\n' if task == "binary" else ""
    spec.write_text(f'name = "wrong-method"\n[data]\npath = "{WAGE}"\ntarget = "{target}"\n{positive}'
                    f'sensitive = ["race"]\n[[candidates]]\nname = "logistic"\nfamily = "logistic"\n'
                    f'calibration = ["{method}"]\n', encoding="utf-8")
    db = tmp_path / "audit.duckdb"
    done = subprocess.run([sys.executable, "-m", "cli", "audit", "--spec", str(spec), "--audit-db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"candidate 'logistic': calibration {method!r} does not calibrate a {task} model" in lines[0]
    assert str(spec) in lines[0]
    assert not db.exists()  # refused before anything is recorded
