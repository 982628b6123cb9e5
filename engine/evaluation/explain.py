"""Explanations of one candidate: which features drive it, whether the explanation is faithful, and whether a
sensitive column or a proxy of one is among the drivers.

A family that can explain itself exactly does (`Explainable.explain`: LightGBM's TreeSHAP through
`pred_contrib`, the linear model's exact SHAP, the baseline's zeros); any other candidate (calibrated variants,
families added later) goes through shap's model-agnostic KernelExplainer on a small seeded sample with a
training background. Either way the contributions plus the base value must equal the model's own output
(faithfulness, checked here and stored), and every feature of the ranking carries its association with each
sensitive column (normalized mutual information on the test split), so a policy can flag proxies.

Every task is explained on its model's own output: a binary model's log-odds or P(positive), a regression's
prediction, and a multiclass model's output per class (each class's logit, or probability): the check then holds
for every class, the ranking is the mean |contribution| over rows and classes with each class's own beside it,
and the base value is one number per class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import normalized_mutual_info_score

from engine.candidates.base import Candidate, Contributions, Explainable, Features, OutputSpace
from engine.evaluation.groups import Grouping

FloatArray = NDArray[np.float64]
ASSOCIATION = "normalized mutual information (arithmetic), numeric columns in up to 10 quantile bins, on the test split"
NUMERIC_BINS = 10


@dataclass(frozen=True)
class ExplainSettings:
    """Sample sizes of the explanations (from the spec's `evaluation` table)."""

    rows: int = 50
    background: int = 25
    samples: int = 100
    proxy_threshold: float = 0.2
    top_rows: int = 3
    top_contributions: int = 5
    seed: int = 42


def _encoded(x: pd.DataFrame, background: pd.DataFrame
             ) -> tuple[FloatArray, FloatArray, Callable[[FloatArray], pd.DataFrame]]:
    """The frames as float matrices (categories and booleans as their codes, missing as NaN) and the function that
    decodes them: shap's maskers mix rows arithmetically, so they need numbers, while the candidate needs its raw
    columns."""
    joined = pd.concat([x, background], ignore_index=True)
    columns = list(joined.columns)
    categories: dict[str, NDArray[Any]] = {}
    encoded = joined.copy()
    for column in columns:
        if not pd.api.types.is_numeric_dtype(joined[column]) or pd.api.types.is_bool_dtype(joined[column]):
            codes, uniques = pd.factorize(joined[column], use_na_sentinel=True)
            categories[column] = np.asarray(uniques, dtype=object)
            encoded[column] = np.where(codes < 0, np.nan, codes)
    matrix = encoded.to_numpy(dtype=np.float64, na_value=np.nan)

    def decode(values: FloatArray) -> pd.DataFrame:
        frame = pd.DataFrame(values, columns=columns)
        for column, uniques in categories.items():
            codes = frame[column].to_numpy()
            known = np.isfinite(codes)
            decoded = np.full(codes.size, None, dtype=object)
            decoded[known] = uniques[codes[known].astype(np.intp)]
            frame[column] = decoded
        return frame

    return matrix[:len(x)], matrix[len(x):], decode


def model_agnostic(predict: Callable[[pd.DataFrame], FloatArray], x: pd.DataFrame, background: pd.DataFrame, *,
                   samples: int, seed: int, space: OutputSpace = "probability") -> Contributions:
    """shap's KernelExplainer on the model's output (P(positive), a prediction, or each class's probability): its
    values are estimates, but its constraint makes them add up to the output exactly (local accuracy), so the
    faithfulness check holds for it as for the exact explainers."""
    import shap

    rows, reference, decode = _encoded(x, background)
    explainer = shap.KernelExplainer(lambda values: predict(decode(values)), reference, seed=seed)
    values = np.asarray(explainer.shap_values(rows, nsamples=samples, l1_reg=False, silent=True), dtype=np.float64)
    output = predict(x)
    method = f"shap KernelExplainer ({samples} coalitions a row, {len(background)} background rows)"
    if output.ndim == 2:  # one column per class: [rows, features, classes]
        return Contributions(values.reshape(len(x), -1, output.shape[1]),
                             np.asarray(explainer.expected_value, dtype=np.float64).reshape(-1), output, space,
                             method)
    return Contributions(values.reshape(len(x), -1), float(np.ravel(explainer.expected_value)[0]), output, space,
                         method)


def contributions(model: Candidate, x: pd.DataFrame, background: pd.DataFrame, settings: ExplainSettings, *,
                  task: str = "binary") -> Contributions:
    """The family's own exact explanation where it has one, else the model-agnostic one."""
    if isinstance(model, Explainable):
        return model.explain(x, background)
    return model_agnostic(model.predict_proba, x, background, samples=settings.samples, seed=settings.seed,
                          space="prediction" if task == "regression" else "probability")


def _codes(values: pd.Series) -> NDArray[np.intp]:
    """Integer codes of a column for mutual information: numbers in quantile bins, missing values their own code."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > NUMERIC_BINS:
        binned = pd.qcut(values.astype(np.float64), NUMERIC_BINS, labels=False, duplicates="drop")
        return np.asarray(binned.fillna(-1).to_numpy(), dtype=np.intp)
    return np.asarray(pd.factorize(values.astype(str).where(values.notna(), None))[0], dtype=np.intp)


def associations(frame: pd.DataFrame, features: Features, sensitive: Sequence[Grouping]) -> dict[str, dict[str, float]]:
    """{feature: {sensitive column: normalized mutual information}} over the rows of `frame`."""
    singles = [g for g in sensitive if len(g.columns) == 1]
    return {
        feature: {g.name: round(float(normalized_mutual_info_score(g.codes, _codes(frame[feature]))), 6)
                  for g in singles}
        for feature in features.all
    }


def _sample(n: int, size: int, seed: int) -> NDArray[np.intp]:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(size, n), replace=False))


def _text(value: Any) -> str | None:
    missing = value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
    return None if missing else str(value)


def _row(x: pd.DataFrame, values: FloatArray, output: float, position: int, top: int,
         label: str | None = None) -> dict[str, Any]:
    order = np.argsort(-np.abs(values), kind="mergesort")[:top]
    return {
        "test_row": position, "output": output, **({"class": label} if label is not None else {}),
        "contributions": [{"feature": str(x.columns[j]), "value": _text(x.iloc[0, j]),
                           "contribution": float(values[j])} for j in order],
    }


def _per_class(found: Contributions, rows: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Values [rows, features, outputs], base [outputs] and output [rows, outputs]: one output unless multiclass."""
    values = found.values if found.values.ndim == 3 else found.values[:, :, None]
    return values, np.atleast_1d(np.asarray(found.base, dtype=np.float64)), found.output.reshape(rows, -1)


def explanation_evidence(model: Candidate, x_test: pd.DataFrame, x_train: pd.DataFrame, *, features: Features,
                         association: Mapping[str, Mapping[str, float]], sensitive: Sequence[str],
                         settings: ExplainSettings, task: str = "binary", classes: Sequence[str] = ()
                         ) -> dict[str, Any]:
    """Global ranking (mean |contribution|), the highest-output rows explained, and the faithfulness check; for
    a multiclass model every class's column is checked and ranked (`classes` names them)."""
    started = time.perf_counter()
    rows = _sample(len(x_test), settings.rows, settings.seed)
    x = x_test.iloc[rows].loc[:, features.all]
    background = x_train.iloc[_sample(len(x_train), settings.background, settings.seed + 1)].loc[:, features.all]
    found = contributions(model, x, background, settings, task=task)
    values, base, output = _per_class(found, len(x))
    error = np.abs(values.sum(axis=1) + base - output)
    by_class = np.abs(values).mean(axis=0)  # [features, outputs]
    strength = by_class.mean(axis=1)
    multiclass = found.values.ndim == 3
    names = [str(c) for c in classes] if len(classes) == values.shape[2] else [str(k) for k in range(values.shape[2])]
    ranking = [
        {"feature": features.all[j], "mean_abs": float(strength[j]), "sensitive": features.all[j] in sensitive,
         "associations": dict(association.get(features.all[j], {})),
         **({"per_class": {names[k]: float(by_class[j, k]) for k in range(len(names))}} if multiclass else {})}
        for j in np.argsort(-strength, kind="mergesort")
    ]
    chosen = output.argmax(axis=1) if multiclass else np.zeros(len(x), dtype=np.intp)
    top = output[np.arange(len(x)), chosen]
    riskiest = np.argsort(-top, kind="mergesort")[:settings.top_rows]
    return {
        "method": found.method,
        "output_space": found.space,
        "rows": int(rows.size),
        "background_rows": len(background),
        "seed": settings.seed,
        "base_value": [float(b) for b in base] if multiclass else float(base[0]),
        **({"classes": names} if multiclass else {}),
        "faithfulness": {"max_abs_error": float(error.max()) if error.size else 0.0,
                         "check": "sum of contributions + base value vs the model's own output"
                                  + (", for every class" if multiclass else "")},
        "ranking": ranking,
        "proxy_threshold": settings.proxy_threshold,
        "association": ASSOCIATION,
        "highest_risk_rows": [_row(x.iloc[[i]], values[i, :, chosen[i]], float(top[i]), int(rows[i]),
                                   settings.top_contributions, names[chosen[i]] if multiclass else None)
                              for i in riskiest],
        "seconds": round(time.perf_counter() - started, 4),
    }
