"""The data checks that read the target, for a multiclass or regression audit: label conflicts, the leakage screen
and the target's shift between the parts of the split.

A binary audit's checks read booleans (`integrity.py`, `data_quality.py`); here the target is class codes or
numbers. Label conflicts: rows whose exact feature values appear elsewhere with a different target (a different
class, or a different number). The leakage screen: each feature alone, binned as the binary screen bins it, on
(a sample of) the training rows: for a regression the in-sample R² of predicting the target by each bin's mean
(flagged at `LEAK_R2`), for a multiclass target the macro mean of each class's one-vs-rest ROC AUC by each bin's
class share (flagged at the binary screen's ROC AUC). The target's shift: a regression's two-sample
Kolmogorov–Smirnov statistic (scipy's, with its p-value) between the training part and each other part; a
multiclass target's largest difference of a class's share. `split_integrity` and `data_quality` (the rule kinds of
`engine.policy.rules_data`) judge them with the same parameters as binary ones (`max_single_feature_r2` for the
regression screen).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import ks_2samp

from engine.candidates import Features
from engine.evaluation.columns import Columns, read_columns, row_hashes, same_values
from engine.evaluation.integrity import (
    LEAK_AUC,
    SCREEN_ROWS,
    TOP_FEATURES,
    HashGroups,
    SplitRows,
    binned,
    duplicates_across,
    entity_overlap,
    exact_groups,
    examples,
    identifier_like,
    single_feature_auc,
    time_overlap,
)

JSON = dict[str, Any]
Rows = NDArray[np.intp]
LEAK_R2 = 0.95


def target_conflicts(groups: HashGroups, y: NDArray[Any], columns: Columns) -> JSON:
    """Rows whose exact feature values appear elsewhere with a different target; the rows of a group of equal
    hashes whose targets differ are checked value by value against the group's first row, and regrouped by their
    exact values should any differ (a hash collision)."""
    rows = groups.order.size
    values = np.asarray(y, dtype=np.float64)
    ordered = values[groups.order]
    mixed = (np.minimum.reduceat(ordered, groups.starts) != np.maximum.reduceat(ordered, groups.starts)) if rows \
        else np.zeros(0, dtype=bool)
    in_order = np.flatnonzero(mixed[groups.group])
    suspects = groups.order[in_order]
    first = groups.order[groups.starts[groups.group[in_order]]]
    found, conflicts = suspects, int(mixed.sum())
    if not same_values(columns, suspects, first).all():
        exact = exact_groups(columns, suspects)
        frame = pd.DataFrame({"group": exact, "y": values[suspects]}).groupby("group")["y"]
        really = (frame.min() != frame.max()).to_numpy()
        found, conflicts = suspects[really[exact]], int(really.sum())
    found = np.sort(found)
    return {"rows": int(found.size), "rate": float(found.size / rows) if rows else 0.0,
            "groups": conflicts, "examples": examples(found)}


def single_feature_r2(bins: NDArray[np.intp], y: NDArray[np.float64]) -> float | None:
    """The in-sample R² of predicting the target by its mean in the feature's bin (the correlation ratio)."""
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return None
    counts = np.bincount(bins).astype(np.float64)
    means = np.bincount(bins, weights=y) / np.where(counts > 0, counts, 1.0)
    return float(1.0 - np.sum((y - means[bins]) ** 2) / total)


def single_feature_ovr_auc(bins: NDArray[np.intp], y: NDArray[np.intp], classes: int) -> float | None:
    """The macro mean over the classes of each class's one-vs-rest ROC AUC by its share in the feature's bin."""
    scores = [single_feature_auc(bins, y == k) for k in range(classes)]
    known = [s for s in scores if s is not None]
    return float(np.mean(known)) if known else None


def target_leakage(columns: Columns, y: NDArray[Any], rows: Rows, names: list[str], *, task: str, seed: int,
                   threshold: float) -> JSON:
    """Each feature alone against the target on (a sample of) the training rows: those at or above `threshold`
    (R² for a regression, macro one-vs-rest ROC AUC for a multiclass target)."""
    if rows.size > SCREEN_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, SCREEN_ROWS, replace=False))
    target = y[rows]
    key = "r2" if task == "regression" else "auc"
    classes = int(np.max(y)) + 1 if task != "regression" and y.size else 0

    def score(name: str) -> float | None:
        bins = binned(columns, name, rows)
        if task == "regression":
            return single_feature_r2(bins, target.astype(np.float64))
        return single_feature_ovr_auc(bins, target.astype(np.intp), classes)

    scores = {name: score(name) for name in names}
    ranked = sorted(((value, name) for name, value in scores.items() if value is not None), reverse=True)
    return {"rows": int(rows.size), "threshold": threshold, "measure": key,
            "top": [{"feature": name, key: round(value, 6)} for value, name in ranked[:TOP_FEATURES]],
            "flagged": [{"feature": name, key: round(value, 6)} for value, name in ranked if value >= threshold]}


def task_integrity(frame: pd.DataFrame, y: NDArray[Any], parts: SplitRows, features: Features, *, task: str,
                   data_sha256: str | None, seed: int, time_values: NDArray[np.float64] | None = None,
                   time_column: str | None = None, group_column: str | None = None,
                   columns: Columns | None = None) -> JSON:
    """The split-integrity certificate of a multiclass or regression audit (`integrity.split_integrity`'s, with
    this module's label conflicts and leakage screen)."""
    names = features.all
    columns = columns if columns is not None else read_columns(frame, features)
    groups = HashGroups.of(row_hashes(columns, len(frame)))
    identifiers = identifier_like(frame, parts.development, names, seed=seed)
    named_ids = {entry["feature"] for entry in identifiers}
    certificate: JSON = {
        "data_sha256": data_sha256, "features": len(names),
        "duplicates": duplicates_across(groups, parts, columns),
        "conflicting_labels": target_conflicts(groups, y, columns),
        "leakage": target_leakage(columns, y, parts.screened, [c for c in names if c not in named_ids], task=task,
                                  seed=seed, threshold=LEAK_R2 if task == "regression" else LEAK_AUC),
        "identifiers": identifiers,
    }
    if group_column is not None:
        certificate["entity_overlap"] = entity_overlap(frame, group_column, parts)
    if time_values is not None and time_column is not None:
        certificate["time_overlap"] = time_overlap(time_values, parts, column=time_column)
    return certificate


def label_shift(y: NDArray[Any], parts: dict[str, Rows], *, task: str) -> JSON:
    """How far the target moves between the training part and each other part: the KS statistic (regression) or
    the largest difference of a class's share (multiclass); `value` is the largest, judged by `max_label_shift`."""
    present = {name: rows for name, rows in parts.items() if rows.size}
    reference = "train" if "train" in present else next(iter(present))
    against = {}
    if task == "regression":
        values = np.asarray(y, dtype=np.float64)
        for name, rows in present.items():
            if name != reference:
                test = ks_2samp(values[present[reference]], values[rows])
                against[name] = {"statistic": round(float(test.statistic), 6), "p_value": float(test.pvalue)}
        means = {name: round(float(values[rows].mean()), 6) for name, rows in present.items()}
        return {"measure": "ks", "reference": reference, "means": means, "against": against,
                "value": max((a["statistic"] for a in against.values()), default=0.0)}
    codes = np.asarray(y, dtype=np.intp)
    k = int(codes.max()) + 1 if codes.size else 0
    shares = {name: np.bincount(codes[rows], minlength=k) / rows.size for name, rows in present.items()}
    for name, share in shares.items():
        if name != reference:
            against[name] = {"largest_share_difference": round(float(np.abs(share - shares[reference]).max()), 6)}
    return {"measure": "class_share", "reference": reference,
            "shares": {name: [round(float(v), 6) for v in share] for name, share in shares.items()},
            "against": against,
            "value": max((a["largest_share_difference"] for a in against.values()), default=0.0)}
