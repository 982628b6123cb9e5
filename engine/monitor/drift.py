"""Drift evidence of one batch against the champion's training reference: per feature PSI (with the seeds'
warning and action levels), a KS test (numeric) or chi-squared test (categorical) with its p-value, effect size
and the p-value adjusted for testing every feature at once, the missing-value rate beside the reference's; and
prediction drift, the same for the champion's scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.monitor import stats
from engine.monitor.reference import bin_counts, category_counts, coarser_counts, numbers

PSI_WARNING = 0.1  # the seeds' thresholds: 0.1 warning, 0.25 action
PSI_ACTION = 0.25
DEFAULT_ALPHA = 0.05
CORRECTIONS = ("bh", "holm")

JSON = dict[str, Any]


def psi_level(value: float | None) -> str | None:
    """`stable`, `warning` (PSI >= 0.1) or `action` (PSI >= 0.25), the seeds' levels."""
    if value is None:
        return None
    return "action" if value >= PSI_ACTION else "warning" if value >= PSI_WARNING else "stable"


def numeric_drift(reference: Mapping[str, Any], values: NDArray[np.float64]) -> JSON:
    """PSI over the reference's deciles and KS over its percentiles, for one numeric column of the batch."""
    present = values[~np.isnan(values)]
    fine = bin_counts(present, reference["edges"])
    coarse = coarser_counts(fine, reference["edges"], reference["psi_edges"])
    if coarse is None:  # a reference whose PSI edges are not among its fine edges: binned again
        coarse = bin_counts(present, reference["psi_edges"])
    value = stats.psi(np.asarray(reference["psi_counts"]), np.asarray(coarse))
    ks = stats.ks_binned(np.asarray(reference["counts"]), np.asarray(fine))
    return {"kind": "numeric", "rows": len(present), "psi": value, "psi_level": psi_level(value),
            "test": "ks", "statistic": None if ks is None else ks[0], "p_value": None if ks is None else ks[1],
            "effect_size": None if ks is None else ks[0], "mean": float(present.mean()) if len(present) else None,
            "missing_rate": _rate(len(values) - len(present), len(values)),
            "reference_missing_rate": _rate(reference["missing"], reference["rows"] + reference["missing"])}


def categorical_drift(reference: Mapping[str, Any], values: pd.Series) -> JSON:
    """PSI and chi-squared over the union of the reference's and the batch's categories, for one column."""
    seen, now = dict(reference["counts"]), category_counts(values)
    categories = sorted(set(seen) | set(now))
    ref = np.array([seen.get(c, 0) for c in categories], float)
    cur = np.array([now.get(c, 0) for c in categories], float)
    value = stats.psi(ref, cur)
    chi = stats.chi_squared(ref, cur)
    missing = int(values.isna().sum())
    return {"kind": "categorical", "rows": int(cur.sum()), "psi": value, "psi_level": psi_level(value),
            "test": "chi2", "statistic": None if chi is None else chi[0], "p_value": None if chi is None else chi[1],
            "effect_size": None if chi is None else chi[2], "dof": None if chi is None else chi[3],
            "new_categories": [c for c in categories if c not in seen],
            "missing_rate": _rate(missing, len(values)),
            "reference_missing_rate": _rate(reference["missing"], reference["rows"] + reference["missing"])}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def feature_drift(reference: Mapping[str, Any], frame: pd.DataFrame, *, alpha: float = DEFAULT_ALPHA,
                  correction: str = "bh") -> list[JSON]:
    """Every reference feature's drift in `frame`, with p-values adjusted across the features tested."""
    found: list[JSON] = []
    for feature in reference["features"]:
        name = feature["name"]
        if name not in frame.columns:
            found.append({"name": name, "kind": feature["kind"], "absent": True, "psi": None, "psi_level": None,
                          "p_value": None, "missing_rate": 1.0})
            continue
        entry = (numeric_drift(feature, numbers(frame[name])) if feature["kind"] == "numeric"
                 else categorical_drift(feature, frame[name]))
        found.append({"name": name, **entry})
    adjusted = stats.adjust([f["p_value"] for f in found], method=correction)
    for entry, p in zip(found, adjusted, strict=True):
        entry["p_adjusted"] = p
        entry["drifted"] = None if p is None else bool(p < alpha)
    return found


def prediction_drift(reference: Mapping[str, Any] | None, scores: NDArray[np.float64]) -> JSON | None:
    """PSI and KS of the batch's scores against the reference's test scores (None: no scores recorded)."""
    if reference is None:
        return None
    entry = numeric_drift(reference, np.asarray(scores, np.float64))
    return {"psi": entry["psi"], "psi_level": entry["psi_level"], "statistic": entry["statistic"],
            "p_value": entry["p_value"], "mean": entry["mean"], "rows": entry["rows"]}


def drift_evidence(reference: Mapping[str, Any], frame: pd.DataFrame, scores: NDArray[np.float64] | None, *,
                   alpha: float = DEFAULT_ALPHA, correction: str = "bh") -> JSON:
    """The `drift` part of a monitoring run: features (worst PSI first) and the scores."""
    features = feature_drift(reference, frame, alpha=alpha, correction=correction)
    ordered = sorted(features, key=lambda f: -1.0 if f["psi"] is None else -f["psi"])
    return {"reference_rows": reference["rows"], "rows": len(frame), "alpha": alpha, "correction": correction,
            "thresholds": {"psi_warning": PSI_WARNING, "psi_action": PSI_ACTION},
            "features": ordered,
            "prediction": None if scores is None else prediction_drift(reference.get("prediction"), scores)}


def worst(features: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The feature with the largest PSI (None when none was measured)."""
    measured = [f for f in features if f.get("psi") is not None]
    return max(measured, key=lambda f: f["psi"]) if measured else None
