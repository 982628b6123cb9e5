"""Reading model files trained elsewhere: ONNX, LightGBM text models and skops files; pickles refused.

Each reader loads a file and returns a `LoadedModel`; `resolve()` then maps the model's inputs to raw data
columns by name (exactly, or after normalising punctuation, since converters rename `education-num` to
`education_num`) and finds which of its outputs is P(positive). Every problem is a `ModelError` naming the
file. onnxruntime, lightgbm and skops are imported only when a file of their format is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates.skops_trust import ALLOWED_CLASSES, ALLOWED_TYPES, untrusted_types
from engine.errors import ModelError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
PICKLE_REFUSED = (
    "{path}: a pickle file; mlgate never unpickles a model, because loading a pickle runs whatever code the file "
    "holds. Save a scikit-learn model with skops (skops.io.dump), export it to ONNX (skl2onnx), or save a LightGBM "
    "booster with booster.save_model('model.txt')"
)
UNKNOWN_FORMAT = (
    "{path}: unrecognised model file; mlgate reads ONNX (.onnx), LightGBM text models (booster.save_model) and "
    "scikit-learn models saved with skops (.skops)"
)
LIGHTGBM_JSON = (
    "{path}: a JSON file: LightGBM's JSON dump (dump_model) cannot be loaded for prediction; save the booster with "
    "booster.save_model('model.txt')"
)
NO_PROBABILITY = (
    "{path}: no probability output recognised among {outputs}; expected a ZipMap output (seq(map)) as the "
    "scikit-learn converters write, a float tensor [n, 2] (column 1 = P(positive)) or a float tensor [n, 1]"
)
WIDE_INPUT = (
    "{path}: input {name!r} takes {width} columns at once; mlgate feeds one input per data column, named like the "
    "column (with skl2onnx: initial_types=[(column, FloatTensorType([None, 1])), ...])"
)
ONNX_NUMBERS: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
}
ONNX_STRING = "tensor(string)"
BINARY_OBJECTIVES = ("binary", "cross_entropy", "xentropy")

Predict = Callable[[pd.DataFrame], NDArray[np.float64]]


@dataclass(frozen=True)
class Resolved:
    """A model mapped to the audited data: how to score raw rows, and how the mapping was made."""

    predict: Predict
    facts: dict[str, Any]


@dataclass(frozen=True)
class LoadedModel:
    """A model file read and checked; `resolve(frame, target=, positive=, negative=)` maps it to the data."""

    facts: dict[str, Any]
    resolve: Callable[..., Resolved]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def detect_format(path: Path) -> str:
    """The file's format from its first bytes and name; a pickle is refused before anything reads it."""
    with path.open("rb") as handle:
        head = handle.read(8)
    if path.suffix.lower() in PICKLE_SUFFIXES or head[:1] == b"\x80":
        raise ModelError(PICKLE_REFUSED.format(path=path))
    if not head:
        raise ModelError(f"{path}: the model file is empty")
    if head.startswith(b"PK\x03\x04"):
        return "skops"
    if head.startswith(b"tree"):
        return "lightgbm"
    if head.lstrip().startswith(b"{") or path.suffix.lower() == ".json":
        raise ModelError(LIGHTGBM_JSON.format(path=path))
    if path.suffix.lower() == ".onnx":
        return "onnx"
    raise ModelError(UNKNOWN_FORMAT.format(path=path))


def _normalised(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


def match_columns(wanted: Sequence[str], columns: Sequence[str], *, target: str, path: Path) -> dict[str, str]:
    """Each model input -> the data column it reads (same name, or the only one equal after normalising)."""
    by_form: dict[str, list[str]] = {}
    for column in columns:
        by_form.setdefault(_normalised(column), []).append(column)
    mapping: dict[str, str] = {}
    missing: list[str] = []
    for name in wanted:
        candidates = [name] if name in columns else by_form.get(_normalised(name), [])
        if len(candidates) == 1:
            mapping[name] = candidates[0]
        else:
            missing.append(name)
    if missing:
        raise ModelError(f"{path}: the model needs input column(s) {', '.join(map(repr, missing))} that the data "
                         f"does not have; the data's columns are: {', '.join(map(str, columns))}")
    if target in mapping.values():
        raise ModelError(f"{path}: the model reads the target column {target!r} as an input")
    return mapping


def _is_numeric(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))


def _text(values: pd.Series) -> pd.Series:
    """Text cells as Python strings, missing as NaN (what scikit-learn's imputers expect)."""
    return values.astype(str).astype(object).where(values.notna(), np.nan)


def _label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer) or (isinstance(value, float | np.floating) and float(value).is_integer()):
        return str(int(value))
    return str(value).strip()


def positive_index(classes: Sequence[Any], *, positive: str, negative: str, path: Path) -> int:
    """Which of the model's two classes is the audit's positive label (1/true when it was trained on 0/1)."""
    texts = [_label(c) for c in classes]
    if len(texts) != 2:
        raise ModelError(f"{path}: the model has {len(texts)} classes {texts[:5]}; mlgate audits binary "
                         "classification and needs exactly 2")
    folded = [t.casefold() for t in texts]
    if positive.casefold() in folded and negative.casefold() in folded:
        return folded.index(positive.casefold())
    if sorted(folded) in (["0", "1"], ["false", "true"]):
        return folded.index("1") if "1" in folded else folded.index("true")
    raise ModelError(f"{path}: the model's classes {texts} are not the data's labels {[negative, positive]} "
                     "(nor 0/1 for negative/positive)")


def load_onnx(path: Path) -> LoadedModel:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"{path}: not a readable ONNX model: {first_line(exc)}") from None
    inputs = session.get_inputs()
    for item in inputs:
        if item.type != ONNX_STRING and item.type not in ONNX_NUMBERS:
            raise ModelError(f"{path}: input {item.name!r} has type {item.type}; mlgate feeds float, double, "
                             "int32, int64 or string tensors")
        if len(item.shape) == 2 and isinstance(item.shape[1], int) and item.shape[1] != 1:
            raise ModelError(WIDE_INPUT.format(path=path, name=item.name, width=item.shape[1]))
    output, kind = _probability_output(session.get_outputs(), path)
    facts = {"inputs": [{"name": i.name, "type": i.type} for i in inputs], "output": {"name": output, "kind": kind}}

    def resolve(frame: pd.DataFrame, *, target: str, positive: str, negative: str) -> Resolved:
        mapping = match_columns([i.name for i in inputs], list(frame.columns), target=target, path=path)
        for item in inputs:
            if item.type != ONNX_STRING and not _is_numeric(frame[mapping[item.name]]):
                raise ModelError(f"{path}: input {item.name!r} is {item.type} but column "
                                 f"{mapping[item.name]!r} is not numeric")

        def feed_of(x: pd.DataFrame) -> dict[str, NDArray[Any]]:
            feed = {}
            for item in inputs:
                values = x[mapping[item.name]]
                if item.type == ONNX_STRING:
                    array = np.where(values.isna(), "", values.astype(str)).astype(object)
                else:
                    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
                    if np.isnan(numbers).any() and not np.issubdtype(ONNX_NUMBERS[item.type], np.floating):
                        raise ModelError(f"{path}: column {mapping[item.name]!r} has missing values and the "
                                         f"model's input {item.name!r} is {item.type}, which cannot hold them")
                    array = numbers.astype(ONNX_NUMBERS[item.type])
                feed[item.name] = array.reshape(-1, 1) if len(item.shape) == 2 else array
            return feed

        def predict(x: pd.DataFrame) -> NDArray[np.float64]:
            (result,) = session.run([output], feed_of(x))
            return _onnx_probability(result, kind, positive=positive, negative=negative, path=path)

        return Resolved(predict, {"input_columns": mapping})

    return LoadedModel(facts, resolve)


def _probability_output(outputs: Sequence[Any], path: Path) -> tuple[str, str]:
    """The output that holds P(positive), and how: a ZipMap, two columns, or one column."""
    for item in outputs:
        if item.type.startswith("seq(map("):
            return item.name, "zipmap"
    floats = [o for o in outputs if o.type in ("tensor(float)", "tensor(double)")]
    for item in floats:
        if len(item.shape) == 2 and item.shape[1] == 2:
            return item.name, "two columns"
    if len(floats) == 1 and (len(floats[0].shape) == 1 or (len(floats[0].shape) == 2 and floats[0].shape[1] == 1)):
        return floats[0].name, "one column"
    shown = ", ".join(f"{o.name} {o.type} {o.shape}" for o in outputs)
    raise ModelError(NO_PROBABILITY.format(path=path, outputs=shown))


def _onnx_probability(result: Any, kind: str, *, positive: str, negative: str, path: Path) -> NDArray[np.float64]:
    if kind == "zipmap":
        rows: list[dict[Any, float]] = result
        if not rows:
            return np.zeros(0, dtype=np.float64)
        keys = list(rows[0])
        key = keys[positive_index(keys, positive=positive, negative=negative, path=path)]
        return np.fromiter((row[key] for row in rows), dtype=np.float64, count=len(rows))
    array = np.asarray(result, dtype=np.float64)
    return array[:, 1] if kind == "two columns" else array.reshape(-1)


def load_lightgbm(path: Path) -> LoadedModel:
    import lightgbm

    try:
        booster = lightgbm.Booster(model_file=str(path))
    except Exception as exc:
        raise ModelError(f"{path}: not a readable LightGBM model: {first_line(exc)}") from None
    objective = str(booster.params.get("objective", "")).split(" ")[0]
    if objective not in BINARY_OBJECTIVES or booster.num_model_per_iteration() != 1:
        raise ModelError(f"{path}: the LightGBM objective is {objective!r}; mlgate audits binary classification "
                         "(objective 'binary')")
    names = list(booster.feature_name())
    if all(re.fullmatch(r"Column_\d+", n) for n in names):
        raise ModelError(f"{path}: the LightGBM model has no feature names (it was trained on an array), so its "
                         "inputs cannot be matched to the data; train it on a DataFrame or pass feature_name=[...]")
    categories: list[list[Any]] = booster.pandas_categorical or []
    facts = {"objective": objective, "trees": booster.num_trees(), "inputs": names,
             "positive_output": "P(label 1), taken as P(positive)"}

    def resolve(frame: pd.DataFrame, *, target: str, positive: str, negative: str) -> Resolved:
        mapping = match_columns(names, list(frame.columns), target=target, path=path)
        text = [n for n in names if not _is_numeric(frame[mapping[n]])]
        if len(text) != len(categories):
            raise ModelError(f"{path}: the model was trained with {len(categories)} categorical column(s), and "
                             f"{len(text)} of its inputs are text columns in the data ({', '.join(text)})")
        lists = dict(zip(text, categories, strict=True))

        def predict(x: pd.DataFrame) -> NDArray[np.float64]:
            columns = {
                n: pd.Categorical(_text(x[mapping[n]]), categories=lists[n]) if n in lists
                else pd.to_numeric(x[mapping[n]], errors="coerce").astype(np.float64)
                for n in names
            }
            return np.asarray(booster.predict(pd.DataFrame(columns, index=x.index)), dtype=np.float64)

        return Resolved(predict, {"input_columns": mapping, "categorical_inputs": text})

    return LoadedModel(facts, resolve)


def load_skops(path: Path) -> LoadedModel:
    import skops.io

    try:
        refused = untrusted_types(path)
        untrusted = list(skops.io.get_untrusted_types(file=path))
    except Exception as exc:  # RecursionError among them: a schema nested too deep
        raise ModelError(f"{path}: not a readable skops file: {first_line(exc)}") from None
    refused = sorted({*refused, *(t for t in untrusted if t not in ALLOWED_CLASSES | ALLOWED_TYPES)})
    if refused:
        raise ModelError(f"{path}: the skops file holds types outside mlgate's allow-list (listed scikit-learn "
                         "estimators and transformers, no functions or other callables), so it is not loaded: "
                         f"{', '.join(refused)}")
    try:
        model = skops.io.load(path, trusted=untrusted)
    except Exception as exc:
        raise ModelError(f"{path}: the skops file cannot be loaded: {first_line(exc)}") from None
    classes = getattr(model, "classes_", None)
    if classes is None or not hasattr(model, "predict_proba"):
        raise ModelError(f"{path}: {type(model).__name__} is not a fitted classifier with predict_proba")
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise ModelError(f"{path}: the estimator was fitted without column names, so its inputs cannot be matched "
                         "to the data; fit it on a DataFrame")
    inputs = [str(n) for n in names]
    facts = {"estimator": type(model).__name__, "inputs": inputs, "classes": [_label(c) for c in classes],
             "trusted_types": untrusted}

    def resolve(frame: pd.DataFrame, *, target: str, positive: str, negative: str) -> Resolved:
        mapping = match_columns(inputs, list(frame.columns), target=target, path=path)
        index = positive_index(list(classes), positive=positive, negative=negative, path=path)

        def predict(x: pd.DataFrame) -> NDArray[np.float64]:
            columns = {
                n: pd.to_numeric(x[mapping[n]], errors="coerce").astype(np.float64) if _is_numeric(x[mapping[n]])
                else _text(x[mapping[n]])
                for n in inputs
            }
            return np.asarray(model.predict_proba(pd.DataFrame(columns, index=x.index))[:, index], dtype=np.float64)

        return Resolved(predict, {"input_columns": mapping, "positive_class_index": index})

    return LoadedModel(facts, resolve)


FORMATS: dict[str, Callable[[Path], LoadedModel]] = {
    "onnx": load_onnx, "lightgbm": load_lightgbm, "skops": load_skops,
}
