"""Each row's contributions on the served model's output, against one reference row, in log-odds of P(positive).

Three methods, chosen by what the served graph is, each checked the same way (the contributions plus the base
value against the served output, computed apart):

- `exact additive` for the linear family: the served log-odds is a sum of one term per feature, so the
  contribution of a feature is the served output with only that feature taken from the row, minus the reference's.
  One batched call scores every such hybrid; the check measures what is left over (float32 rounding only).
- `exact TreeSHAP` for a tree ensemble (LightGBM): the trees read from the ONNX graph (`engine.reasons.trees`),
  on the encoded input the graph itself computes.
- `sampled Shapley` for anything else (the MLP, calibrated variants, external models): permutation sampling of the
  same Shapley values in antithetic pairs. Each permutation telescopes to the output, so the sum is exact; each
  single value is an estimate, and its standard error over the permutations is stated with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.reasons import served as served_module
from engine.reasons import trees
from engine.reasons.served import Served

FloatArray = NDArray[np.float64]
ADDITIVE_FAMILIES = ("logistic",)
TREE_FAMILIES = ("lightgbm",)
DEFAULT_PERMUTATIONS = 16
EXACT_ADDITIVE = "exact additive (the served log-odds with one feature at a time taken from the row)"
EXACT_TREES = "exact TreeSHAP on the served trees (interventional, one reference row)"
SAMPLED = "sampled Shapley ({m} permutations in antithetic pairs, one reference row): values are estimates"


@dataclass(frozen=True)
class Attribution:
    """Contributions (rows, features) with the base value F(reference) and the served output F(x), in log-odds."""

    features: list[str]
    values: FloatArray
    base: float
    output: FloatArray
    method: str
    exact: bool
    standard_error: FloatArray | None = None

    @property
    def error(self) -> FloatArray:
        """Per row: |sum of contributions + base - served output| (the faithfulness check)."""
        return np.asarray(np.abs(self.values.sum(axis=1) + self.base - self.output), dtype=np.float64)

    def summary(self) -> dict[str, Any]:
        err = self.error
        document: dict[str, Any] = {
            "method": self.method, "exact": self.exact, "output_space": "log_odds of the served P(positive)",
            "base_value": self.base, "rows": len(self.output),
            "max_abs_error": float(err.max()) if err.size else 0.0,
            "check": "sum of contributions + base value vs the served artifact's output (onnxruntime)",
        }
        if self.standard_error is not None:
            document["max_standard_error"] = float(self.standard_error.max()) if self.standard_error.size else 0.0
        return document


def reference_row(x_train: pd.DataFrame, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The reference applicant: each numeric feature's training median, each categorical one's most frequent value."""
    row: dict[str, Any] = {}
    for column in schema["columns"]:
        values = x_train[column["name"]].dropna()
        if column["kind"] == "numeric":
            row[column["name"]] = float(pd.to_numeric(values, errors="coerce").median()) if len(values) else None
        else:
            row[column["name"]] = str(values.astype(str).mode().iloc[0]) if len(values) else None
    return row


def mix(x: pd.DataFrame, reference: Mapping[str, Any], take: NDArray[np.bool_], rows: NDArray[np.intp]) -> pd.DataFrame:
    """Hybrid rows: hybrid k takes feature j from row `rows[k]` of `x` where `take[k, j]`, else from the reference."""
    columns: dict[str, Any] = {}
    for j, name in enumerate(x.columns):
        source = x[name].to_numpy(dtype=object)[rows]
        columns[name] = np.where(take[:, j], source, np.asarray(reference[name], dtype=object))
    frame = pd.DataFrame(columns)
    return frame.infer_objects()


def additive(model: Served, x: pd.DataFrame, reference: Mapping[str, Any]) -> Attribution:
    n, d = len(x), x.shape[1]
    rows = np.repeat(np.arange(n, dtype=np.intp), d)
    take = np.tile(np.eye(d, dtype=bool), (n, 1))
    ref_frame = pd.DataFrame([dict(reference)], columns=list(x.columns))
    base = float(model.logit(ref_frame)[0])
    hybrid = model.logit(mix(x, reference, take, rows)).reshape(n, d)
    return Attribution(list(x.columns), hybrid - base, base, model.logit(x), EXACT_ADDITIVE, True)


def tree_shap(model: Served, x: pd.DataFrame, reference: Mapping[str, Any]) -> Attribution | None:
    """TreeSHAP on the served trees, or None when the graph is not one tree ensemble over one column per feature."""
    found = served_module.tree_node(model.model_bytes)
    if found is None:
        return None
    node, tensor = found
    sess = served_module.intermediate(model.model_bytes, tensor)
    ref_frame = pd.DataFrame([dict(reference)], columns=list(x.columns))
    z, z_ref = (served_module.encoded(sess, model.schema, f, tensor) for f in (x, ref_frame))
    if z.shape[1] != x.shape[1]:
        return None
    ensemble = trees.read_ensemble(node, inputs=z.shape[1])
    phi, base = trees.shapley(ensemble, z, z_ref[0])
    output = model.logit(x)
    if len(x) and np.abs(phi.sum(axis=1) + base - output).max() > np.abs(-phi.sum(axis=1) - base - output).max():
        phi, base = -phi, -base  # the graph's weights are stated for the other class
    return Attribution(list(x.columns), phi, base, output, EXACT_TREES, True)


def sampled(model: Served, x: pd.DataFrame, reference: Mapping[str, Any], *, permutations: int, seed: int
            ) -> Attribution:
    n, d = len(x), x.shape[1]
    rng = np.random.default_rng(seed)
    half = max(1, permutations // 2)
    orders = [rng.permutation(d) for _ in range(half)]
    orders += [order[::-1] for order in orders]
    ref_frame = pd.DataFrame([dict(reference)], columns=list(x.columns))
    base = float(model.logit(ref_frame)[0])
    steps = np.zeros((len(orders), d + 1, d), dtype=bool)
    for p, order in enumerate(orders):
        for k in range(1, d + 1):
            steps[p, k, order[:k]] = True
    take = np.tile(steps.reshape(-1, d), (n, 1))
    rows = np.repeat(np.arange(n, dtype=np.intp), len(orders) * (d + 1))
    scores = model.logit(mix(x, reference, take, rows)).reshape(n, len(orders), d + 1)
    gains = np.diff(scores, axis=2)
    per = np.zeros((n, len(orders), d))
    for p, order in enumerate(orders):
        per[:, p, order] = gains[:, p, :]
    values = per.mean(axis=1)
    pair = (per[:, :half, :] + per[:, half:, :]) / 2
    error = pair.std(axis=1, ddof=1) / np.sqrt(half) if half > 1 else np.full((n, d), np.inf)
    return Attribution(list(x.columns), values, base, model.logit(x), SAMPLED.format(m=len(orders)), False,
                       np.asarray(error, dtype=np.float64))


def attribute(model: Served, x: pd.DataFrame, reference: Mapping[str, Any], *,
              permutations: int = DEFAULT_PERMUTATIONS, seed: int = 42) -> Attribution:
    """The contributions of every row of `x` (its columns: the artifact's features, in order)."""
    x = x.loc[:, model.features]
    if model.family in ADDITIVE_FAMILIES:
        return additive(model, x, reference)
    if model.family in TREE_FAMILIES and (found := tree_shap(model, x, reference)) is not None:
        return found
    return sampled(model, x, reference, permutations=permutations, seed=seed)
