"""The input contract of a serving graph: its input schema and signature, how rows become inputs, and the
check that refuses a serving row the model was not trained for.

The input schema lists every feature column with its ONNX input name, type, the categories and the numeric range
seen in the training rows. A serving row is refused when a required column is absent, a numeric column holds
something that is not a number, or a categorical column holds a category never seen in training (a missing
value, None or NaN, is allowed: the graph handles it as the trained model does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.candidates.base import MISSING_CATEGORY, Features

SCHEMA_FORMAT = "mlgate-input-schema-v1"
SIGNATURE_FORMAT = "mlgate-signature-v1"
_ONNX_TYPES = {1: "float32", 8: "string", 11: "float64", 7: "int64"}


def input_schema(features: Features, x_train: pd.DataFrame, onnx_inputs: list[str]) -> dict[str, Any]:
    """Columns, types, allowed categories and training ranges; `onnx_inputs` are the graph's inputs in order."""
    columns: list[dict[str, Any]] = []
    for column, onnx_name in zip(features.all, onnx_inputs, strict=True):
        values = x_train[column]
        entry: dict[str, Any] = {"name": column, "onnx_input": onnx_name, "required": True, "nullable": True}
        if column in features.numeric:
            numbers = pd.to_numeric(values, errors="coerce").dropna()
            observed = [float(numbers.min()), float(numbers.max())] if len(numbers) else None
            entry.update(kind="numeric", dtype="float32", training_range=observed)
        else:
            entry.update(kind="categorical", dtype="string",
                         categories=sorted({str(v) for v in values.dropna()}))
        columns.append(entry)
    return {"format": SCHEMA_FORMAT, "columns": columns,
            "missing": {"numeric": "NaN", "categorical": MISSING_CATEGORY}}


OUTPUT_MEANINGS = {"probability": {"probability": "P(positive label) for each row"},
                   "prediction": {"prediction": "the predicted target value for each row"}}


def signature(model: Any) -> dict[str, Any]:
    """The graph's inputs and outputs as stored in the ONNX file (names, element types, shapes)."""

    def describe(value: Any) -> dict[str, Any]:
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        return {"name": value.name, "dtype": _ONNX_TYPES.get(tensor.elem_type, str(tensor.elem_type)), "shape": shape}

    return {"format": SIGNATURE_FORMAT, "inputs": [describe(i) for i in model.graph.input],
            "outputs": [describe(o) for o in model.graph.output],
            "output_meaning": OUTPUT_MEANINGS[model.graph.output[0].name]
            if len(model.graph.output[0].type.tensor_type.shape.dim) < 2
            else {"probability": "each class's probability per row, in the order of the data's classes"}}


def feeds(schema: Mapping[str, Any], frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """onnxruntime inputs for the raw feature columns of `frame` (missing values as the schema says)."""
    out: dict[str, np.ndarray] = {}
    for column in schema["columns"]:
        values = frame[column["name"]]
        if column["kind"] == "numeric":
            out[column["onnx_input"]] = pd.to_numeric(values, errors="coerce").to_numpy(np.float32).reshape(-1, 1)
        else:
            text = values.astype(str).where(values.notna(), MISSING_CATEGORY)
            out[column["onnx_input"]] = text.to_numpy(dtype=object).reshape(-1, 1)
    return out


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def row_problems(schema: Mapping[str, Any], row: Mapping[str, Any]) -> list[str]:
    """Why a serving row must be refused (empty when it may be scored); extra keys are ignored."""
    problems: list[str] = []
    for column in schema["columns"]:
        name = column["name"]
        if name not in row:
            problems.append(f"missing required column {name!r}")
            continue
        value = row[name]
        if _is_missing(value):
            continue
        if column["kind"] == "numeric":
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"column {name!r}: expected a number, got {value!r}")
        elif str(value) not in column["categories"]:
            problems.append(f"column {name!r}: unknown category {str(value)!r} (not seen in training)")
    return problems
