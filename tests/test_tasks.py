"""Task types: the target's task inferred (or given), every family trained for it, and its ONNX artifact scoring
what the trained model scores, in the output's own units, on real data (ISLR Wage and CPS 1985)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, mean_squared_error

from engine.candidates import FAMILIES, TrainingData
from engine.data import Dataset, load_dataset
from engine.errors import DataError
from engine.serving import measure
from engine.serving.onnx_export import export_onnx
from engine.serving.schema import feeds, input_schema
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
from engine.split import split_rows

FIXTURES = Path(__file__).parent / "fixtures"
WAGE = FIXTURES / "wage" / "wage.csv"
CPS = FIXTURES / "cps1985" / "cps1985.csv"
# Small but real fits: enough to beat the baseline, fast on a loaded machine.
FAST = {"lightgbm": {"n_estimators": 60}, "torch_mlp": {"epochs": 6, "hidden_sizes": [16]}}
CASES = {  # (data file, target, leave out, task)
    "wage regression": (WAGE, "wage", ("logwage",), "regression"),
    "wage multiclass": (WAGE, "education", ("logwage",), "multiclass"),
    "cps1985 regression": (CPS, "wage", (), "regression"),
    "cps1985 multiclass": (CPS, "occupation", (), "multiclass"),
}


def _spec(path: Path, target: str, **changes: Any) -> DataSpec:
    spec = DataSpec(path=path, target=target, positive=None, sensitive=(), features=None, include_sensitive=False,
                    missing_values=DEFAULT_MISSING_VALUES)
    return replace(spec, **changes)


def _csv(tmp_path: Path, labels: list[Any]) -> Path:
    path = tmp_path / "data.csv"
    pd.DataFrame({"x": np.arange(len(labels)) % 7, "label": labels}).to_csv(path, index=False)
    return path


INFERRED = {
    "two labels": (["yes", "no"] * 20, "binary"),
    "text labels": (["a", "b", "c"] * 20, "multiclass"),
    "integer labels": ([1, 2, 3, 4] * 20, "multiclass"),
    "50 integers": (list(range(50)) * 10, "multiclass"),
    "51 integers": (list(range(51)) * 10, "regression"),
    "non-integer numbers": ([0.5, 1.5, 2.25] * 20, "regression"),
}


@pytest.mark.parametrize("case", list(INFERRED))
def test_the_task_is_inferred_from_the_target(tmp_path: Path, case: str) -> None:
    labels, task = INFERRED[case]
    data = load_dataset(_spec(_csv(tmp_path, labels), "label", positive="yes" if task == "binary" else None))
    assert data.task == task
    if task == "multiclass":
        assert len(data.classes) == len(set(labels)) and data.y.dtype == np.int64
        assert [data.classes[c] for c in data.y[:3]] == [str(v) for v in labels[:3]]
    if task == "regression":
        assert np.array_equal(data.y, np.asarray(labels, dtype=np.float64))


def test_the_real_targets_are_inferred() -> None:
    wage = load_dataset(_spec(WAGE, "wage"))
    assert (wage.task, wage.task_inferred) == ("regression", "numeric target with 508 distinct values (numbers)")
    education = load_dataset(_spec(WAGE, "education"))
    assert education.task == "multiclass" and education.task_inferred == "5 text labels"
    assert education.classes[0] == "1. < HS Grad" and np.bincount(education.y).tolist() == [268, 971, 650, 685, 426]


def test_task_given_overrides_inference(tmp_path: Path) -> None:
    path = _csv(tmp_path, list(range(1, 11)) * 10)  # an integer score with ten values
    assert load_dataset(_spec(path, "label")).task == "multiclass"
    as_regression = load_dataset(_spec(path, "label", task="regression"))
    assert as_regression.task == "regression" and as_regression.task_inferred is None
    assert as_regression.y.dtype == np.float64


REFUSED = {
    "one label": ([7] * 30, None, "has one label ['7']"),
    "51 text labels": ([f"l{i}" for i in range(51)] * 10, None, "51 distinct text labels"),
    "text as regression": (["a", "b", "c"] * 20, "regression", "is not numeric ('a')"),
    "two labels as multiclass": (["a", "b"] * 20, "multiclass", "a multiclass audit needs 3 to 50"),
    "a rare class": (["a", "b"] * 20 + ["c"] * 3, None, "only 3 rows of label 'c'"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_target_that_fits_no_task_is_one_data_error(tmp_path: Path, case: str) -> None:
    labels, task, expected = REFUSED[case]
    path = _csv(tmp_path, labels)
    with pytest.raises(DataError) as caught:
        load_dataset(_spec(path, "label", task=task))
    assert caught.value.message.startswith(str(path)) and expected in caught.value.message
    assert "\n" not in caught.value.one_line()


def test_an_all_missing_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("x,label\n" + "\n".join(f"{i},NA" for i in range(20)) + "\n")
    with pytest.raises(DataError, match="has no values"):
        load_dataset(_spec(path, "label"))


def _training(data: Dataset) -> tuple[TrainingData, pd.DataFrame, Any]:
    splits = split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=7))
    frame = data.frame
    training = TrainingData(frame.iloc[splits.train], data.y[splits.train], frame.iloc[splits.validation],
                            data.y[splits.validation], data.features, 7, data.task, max(len(data.classes), 2))
    return training, frame.iloc[splits.test], data.y[splits.test]


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request: pytest.FixtureRequest) -> dict[str, Any]:
    path, target, left_out, task = CASES[request.param]
    data = load_dataset(_spec(path, target, task=task))
    features = [c for c in data.frame.columns if c not in (target, *left_out)]
    data = load_dataset(_spec(path, target, task=task, features=tuple(features)))
    training, x_test, y_test = _training(data)
    models = {}
    for name, family in FAMILIES.items():
        model = family.build({**family.default_params, **FAST.get(name, {})})
        model.fit(training)
        models[name] = model
    return {"data": data, "training": training, "x_test": x_test, "y_test": y_test, "models": models}


def test_every_family_predicts_in_the_task_units(fitted: dict[str, Any]) -> None:
    data, training, x_test, y_test = fitted["data"], fitted["training"], fitted["x_test"], fitted["y_test"]
    outputs = {name: model.predict_proba(x_test) for name, model in fitted["models"].items()}
    if data.task == "regression":
        assert all(out.shape == (len(x_test),) for out in outputs.values())
        assert np.allclose(outputs["baseline"], training.y_train.mean())
        losses = {name: mean_squared_error(y_test, out) for name, out in outputs.items()}
    else:
        k = len(data.classes)
        assert all(out.shape == (len(x_test), k) and np.allclose(out.sum(axis=1), 1) for out in outputs.values())
        frequencies = np.bincount(training.y_train, minlength=k) / len(training.y_train)
        assert np.allclose(outputs["baseline"], frequencies)
        losses = {name: log_loss(y_test, out / out.sum(axis=1, keepdims=True), labels=list(range(k)))
                  for name, out in outputs.items()}
    # every trained family learns something the baseline does not (scikit-learn's loss on the test rows)
    assert all(losses[name] < losses["baseline"] for name in ("logistic", "lightgbm")), losses


def test_every_family_exports_onnx_with_parity_in_the_output_units(fitted: dict[str, Any]) -> None:
    data, training, x_test = fitted["data"], fitted["training"], fitted["x_test"]
    for name, model in fitted["models"].items():
        graph = export_onnx(model, data.features)
        output = graph.graph.output[0]
        assert output.name == ("prediction" if data.task == "regression" else "probability")
        schema = input_schema(data.features, training.x_train, [i.name for i in graph.graph.input])
        served = measure.score(measure.session(graph.SerializeToString(), threads=1), feeds(schema, x_test))
        native = model.predict_proba(x_test)
        assert served.shape == native.shape, name
        skew = measure.task_skew(served, native, 0.5, data.task)
        if data.task == "regression":  # absolute error of the prediction, in the target's units
            assert skew["max_abs_diff"] == pytest.approx(np.abs(served - native).max())
            assert skew["max_abs_diff"] < 1e-3 * max(1.0, float(np.abs(native).max()) / 100), (name, skew)
            assert skew["label_disagreement"] is None
        else:  # probabilities, and how often the most probable class differs
            assert skew["max_abs_diff"] == pytest.approx(np.abs(served - native).max())
            assert skew["max_abs_diff"] < 1e-4, (name, skew)
            assert skew["label_disagreement"] == float(np.mean(served.argmax(1) != native.argmax(1))) == 0.0
