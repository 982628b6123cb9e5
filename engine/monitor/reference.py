"""The training reference a champion is monitored against, recorded with its evidence at audit time, and the
binning of a batch on the same bins.

The reference holds per-feature distributions, never rows: for a numeric feature its percentiles as bin edges
(99 inner edges, fewer where values repeat) with the training rows' count per bin, its deciles and their counts
for PSI, its range and missing count; for a categorical feature the count of each category and the missing
count; for the scores, the same as a numeric feature over the test split's predicted probabilities (the scores
the approval's figures were computed on). A bin is [edge_i, edge_i+1), the first and last open-ended, so a batch
falls into the same bins whatever its range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

REFERENCE_FORMAT = "mlgate-drift-reference-v1"
FINE_QUANTILES = np.arange(1, 100) / 100  # percentiles: KS resolution of at most 1% of the rows per bin
SCORE_SLACK = 1e-5  # ONNX scores are float32: within this of a native score they are the same score
PSI_STEP = 10  # every tenth percentile: the deciles PSI is computed over

JSON = dict[str, Any]


def numbers(values: pd.Series) -> NDArray[np.float64]:
    """A column as floats (missing and non-numeric values as NaN)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def bin_counts(values: NDArray[np.float64], edges: Sequence[float] | NDArray[np.float64]) -> list[int]:
    """How many of the (non-missing) values fall into each bin of `edges` (len(edges) + 1 bins)."""
    index = np.searchsorted(np.asarray(edges, float), values, side="right")
    return [int(c) for c in np.bincount(index, minlength=len(edges) + 1)]


def coarser_counts(counts: Sequence[int], edges: Sequence[float], coarse: Sequence[float]) -> list[int] | None:
    """The counts over the `coarse` edges, added up from the counts over the finer `edges`, when every coarse edge
    is one of them (the deciles are among the percentiles), so a batch is binned once; None otherwise."""
    fine, wide = np.asarray(edges, float), np.asarray(coarse, float)
    if not np.isin(wide, fine).all():
        return None
    lower = np.concatenate([[-np.inf], fine])  # fine bin b holds [edges[b-1], edges[b]): its coarse bin is lower's
    target = np.searchsorted(wide, lower, side="right")
    return [int(c) for c in np.bincount(target, weights=np.asarray(counts, float), minlength=len(wide) + 1)]


def category_counts(values: pd.Series) -> dict[str, int]:
    """How often each category occurs (as text, as the input schema stores categories), missing left out."""
    counts = values.dropna().astype(str).value_counts(sort=False)
    return {str(k): int(v) for k, v in counts.items()}


def numeric_summary(values: NDArray[np.float64], *, slack: float = 0.0) -> JSON:
    """One numeric column's reference: bins and counts (fine, and deciles for PSI), range and missing count.
    `slack` lowers every edge a little, so a value the served artifact computes in float32 lands in the same bin
    as the native score it equals (tied scores sit exactly on an edge)."""
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return {"kind": "numeric", "rows": 0, "missing": len(values), "edges": [], "counts": [0],
                "psi_edges": [], "psi_counts": [0], "range": None}
    quantiles = np.quantile(present, FINE_QUANTILES)
    edges = np.unique(quantiles) - slack
    psi_edges = np.unique(quantiles[PSI_STEP - 1::PSI_STEP]) - slack
    return {"kind": "numeric", "rows": len(present), "missing": int(len(values) - len(present)),
            "edges": [float(e) for e in edges], "counts": bin_counts(present, edges),
            "psi_edges": [float(e) for e in psi_edges], "psi_counts": bin_counts(present, psi_edges),
            "range": [float(present.min()), float(present.max())]}


def categorical_summary(values: pd.Series) -> JSON:
    counts = category_counts(values)
    return {"kind": "categorical", "rows": int(sum(counts.values())), "missing": int(values.isna().sum()),
            "counts": dict(sorted(counts.items()))}


def drift_reference(frame: pd.DataFrame, *, numeric: Sequence[str], categorical: Sequence[str],
                    scores: NDArray[np.float64] | None) -> JSON:
    """The `drift_reference` evidence section: the training rows' distributions and the test scores'."""
    features = [{"name": name, **numeric_summary(numbers(frame[name]))} for name in numeric]
    features += [{"name": name, **categorical_summary(frame[name])} for name in categorical]
    reference: JSON = {"format": REFERENCE_FORMAT, "rows": len(frame), "features": features}
    if scores is not None:
        reference["prediction"] = {"source": "test split",
                                   **numeric_summary(np.asarray(scores, np.float64), slack=SCORE_SLACK)}
    return reference


def reference_section(frame: pd.DataFrame, *, numeric: Sequence[str], categorical: Sequence[str],
                      scores: NDArray[np.float64] | None) -> JSON:
    """`drift_reference` for the audit: a reference that cannot be built is stored as its error (never fatal)."""
    try:
        return drift_reference(frame, numeric=numeric, categorical=categorical, scores=scores)
    except Exception as exc:  # a reference that cannot be built must not abort the audit
        return {"error": f"{type(exc).__name__}: {exc}"}
