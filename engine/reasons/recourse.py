"""Recourse: for a denied row, the cheapest change to actionable features that flips the served decision.

The spec declares which features a person can act on (`decisions.actionable`: the allowed direction,
`increase`, `decrease` or `any`, and bounds); every other feature is immutable and never moves. The search is
one that can be explained in a sentence: every single actionable feature is tried on a grid of steps from the
row's value to its bound (every allowed category for a categorical one), then every pair of features on the same
grids; each candidate is scored by the served artifact in one batch, and the cheapest that flips the decision
wins. The cost of a change is its size in units of the feature's allowed range (a category change costs 1),
summed over the features changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.reasons.codes import adverse_mask
from engine.reasons.served import Served

DEFAULT_STEPS = 8
METHOD = ("every single actionable feature, then every pair, on a grid of {steps} steps towards each bound "
          "(every allowed category); cost = change in units of the feature's allowed range (a category: 1), "
          "summed; the cheapest change that flips the served decision")


@dataclass(frozen=True)
class Action:
    """One actionable feature: its direction, its bounds (numeric) or allowed values (categorical)."""

    feature: str
    direction: str
    low: float | None
    high: float | None
    values: tuple[str, ...]

    @property
    def span(self) -> float:
        if self.low is None or self.high is None or self.high <= self.low:
            return 1.0
        return self.high - self.low


def actions(actionable: Mapping[str, Mapping[str, Any]], schema: Mapping[str, Any]) -> list[Action]:
    """The actionable features the artifact reads, bounds defaulting to the training range."""
    columns = {c["name"]: c for c in schema["columns"]}
    found = []
    for feature, rule in actionable.items():
        column = columns.get(feature)
        if column is None:
            continue
        seen = column.get("training_range") or [None, None]
        low, high = rule.get("min", seen[0]), rule.get("max", seen[1])
        values = tuple(str(v) for v in rule.get("values", column.get("categories") or ()))
        found.append(Action(feature, str(rule.get("direction", "any")), low, high, values))
    return found


def _options(action: Action, current: Any, steps: int) -> list[tuple[Any, float]]:
    """(new value, cost) pairs this action allows from `current`."""
    if action.values and action.low is None:
        return [(value, 1.0) for value in action.values if value != str(current)]
    try:
        now = float(current)
    except (TypeError, ValueError):
        return []
    if np.isnan(now):
        return []
    targets = []
    if action.direction in ("increase", "any") and action.high is not None and action.high > now:
        targets.append(action.high)
    if action.direction in ("decrease", "any") and action.low is not None and action.low < now:
        targets.append(action.low)
    grid = np.linspace(0, 1, steps + 1)[1:]
    return [(now + t * (bound - now), abs(t * (bound - now)) / action.span) for bound in targets for t in grid]


def _candidates(row: Mapping[str, Any], acts: list[Action], steps: int, size: int
                ) -> list[tuple[dict[str, Any], float]]:
    per = [[(a.feature, value, cost) for value, cost in _options(a, row[a.feature], steps)] for a in acts]
    found: list[tuple[dict[str, Any], float]] = []
    for group in itertools.combinations(range(len(acts)), size):
        for combo in itertools.product(*(per[k] for k in group)):
            found.append(({f: v for f, v, _ in combo}, float(sum(c for _, _, c in combo))))
    return found


def search(model: Served, x: pd.DataFrame, rows: NDArray[np.intp], acts: list[Action], *, threshold: float,
           adverse: str, steps: int = DEFAULT_STEPS, max_features: int = 2) -> list[dict[str, Any] | None]:
    """For each row of `rows`: the cheapest flipping change ({changes, cost, score}), or None when none is found."""
    results: list[dict[str, Any] | None] = [None] * len(rows)
    open_rows = list(range(len(rows)))
    for size in range(1, max_features + 1):
        if not open_rows or size > len(acts):
            break
        owners: list[int] = []
        changes: list[tuple[dict[str, Any], float]] = []
        for k in open_rows:
            row = x.iloc[int(rows[k])].to_dict()
            for change in _candidates(row, acts, steps, size):
                owners.append(k)
                changes.append(change)
        if not changes:
            continue
        frame = x.iloc[[int(rows[k]) for k in owners]].reset_index(drop=True).astype(object)
        for i, (change, _) in enumerate(changes):
            for feature, value in change.items():
                frame.at[i, feature] = value
        scores = model.proba(frame.infer_objects())
        flips = ~adverse_mask(scores, threshold=threshold, adverse=adverse)
        best: dict[int, int] = {}
        for i in np.flatnonzero(flips):
            k = owners[i]
            if k not in best or changes[i][1] < changes[best[k]][1]:
                best[k] = int(i)
        for k, i in best.items():
            change, cost = changes[i]
            row = x.iloc[int(rows[k])]
            moved = [{"feature": f, "from": _plain(row[f]), "to": _plain(v)} for f, v in change.items()]
            results[k] = {"changes": moved,
                          "cost": round(cost, 6), "score": float(scores[i])}
        open_rows = [k for k in open_rows if k not in best]
    return results


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def apply(x: pd.DataFrame, row: int, found: Mapping[str, Any]) -> pd.DataFrame:
    """Row `row` of `x` with a recourse's changes applied (a one-row frame), to score it again."""
    changed = x.iloc[[row]].reset_index(drop=True).astype(object)
    for change in found["changes"]:
        changed.at[0, change["feature"]] = change["to"]
    return changed.infer_objects()
