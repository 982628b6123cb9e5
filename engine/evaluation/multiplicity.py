"""Multiplicity: the p-values of one run's comparisons, adjusted for the number of candidates compared.

A run that compares five candidates with the baseline makes five tests; the smallest of five raw p-values is
small by chance far more often than one. So every paired comparison's p-value (`engine.evaluation.comparisons`)
is kept raw and also adjusted across the run's candidates that were compared with the same reference on the same
metric (the reference itself and the baseline excluded: they are not contenders): Holm's step-down (controls the
family-wise error, the default a rule judges) and Benjamini–Hochberg (controls the false discovery rate). Both are
stored, so a policy picks one (`adjust` of `beats_baseline` / `beats_champion`) and a re-check under another
policy needs no retraining. Tested equal to statsmodels' `multipletests` on the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.candidate import Evaluated
from engine.evaluation.evidence import Comparisons

Adjust = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def holm(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values: sorted ascending, the i-th (0-based) times (m - i), running maximum."""
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Benjamini–Hochberg adjusted p-values: sorted descending, m / rank times p, running minimum."""
    m = p.size
    order = np.argsort(p, kind="stable")[::-1]
    stepped = np.minimum.accumulate(m / np.arange(m, 0, -1) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


METHODS: dict[str, Adjust] = {"holm": holm, "bh": benjamini_hochberg}
DEFAULT_METHOD = "holm"


def adjusted(p_values: Sequence[float]) -> dict[str, list[float]]:
    """Every method's adjusted p-values for one family of raw p-values (same order)."""
    p = np.asarray(p_values, dtype=float)
    return {name: [float(v) for v in method(p)] for name, method in METHODS.items()} if p.size else {}


def _adjust_reference(entries: list[dict[str, Any]]) -> None:
    """Add `p_adjusted` (each method, and the family's size) to the comparisons of one reference, metric by metric,
    in place; an entry without a p-value (no bootstrap, undefined metric) is not part of the family. The metrics are
    those the entries hold (a regression or multiclass task's own)."""
    for metric in dict.fromkeys(name for entry in entries for name in entry):
        family = [e[metric] for e in entries if e.get(metric, {}).get("p_value") is not None]
        values = adjusted([float(e["p_value"]) for e in family])
        for index, entry in enumerate(family):
            entry["p_adjusted"] = {**{name: values[name][index] for name in METHODS}, "family": len(family)}


def adjust_all(evaluated: list[Evaluated], *, baseline: str) -> list[Evaluated]:
    """The run's candidates with every comparison's p-value adjusted across the contenders (not the baseline)."""
    copies: dict[tuple[str, str], dict[str, Any]] = {}
    for reference in ("versus_baseline", "versus_champion"):
        entries = []
        for item in evaluated:
            comparisons = item.evidence.comparisons if item.evidence is not None else None
            pairs = getattr(comparisons, reference, None) if comparisons is not None else None
            if pairs is None or item.name == baseline:
                continue
            copy = {metric: dict(entry) for metric, entry in pairs.items()}
            copies[item.name, reference] = copy
            entries.append(copy)
        _adjust_reference(entries)
    result = []
    for item in evaluated:
        if item.evidence is None or not any(name == item.name for name, _ in copies):
            result.append(item)
            continue
        old = item.evidence.comparisons
        new = Comparisons(baseline=old.baseline, champion=old.champion,
                          versus_baseline=copies.get((item.name, "versus_baseline"), old.versus_baseline),
                          versus_champion=copies.get((item.name, "versus_champion"), old.versus_champion))
        result.append(replace(item, evidence=replace(item.evidence, comparisons=new)))
    return result
