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
            values = {str(key): value for key, value in x.iloc[int(rows[k])].to_dict().items()}
            for option in _candidates(values, acts, steps, size):
                owners.append(k)
                changes.append(option)
        if not changes:
            continue
        scores = model.proba(_changed(x, [int(rows[k]) for k in owners], [c for c, _ in changes]))
        flips = ~adverse_mask(scores, threshold=threshold, adverse=adverse)
        best: dict[int, int] = {}
        for found in np.flatnonzero(flips).tolist():
            owner = owners[found]
            if owner not in best or changes[found][1] < changes[best[owner]][1]:
                best[owner] = found
        for owner, hit in best.items():
            moves, cost = changes[hit]
            source = x.iloc[int(rows[owner])]
            moved = [{"feature": f, "from": _plain(source[f]), "to": _plain(v)} for f, v in moves.items()]
            results[owner] = {"changes": moved, "cost": round(cost, 6), "score": float(scores[hit])}
        open_rows = [k for k in open_rows if k not in best]
    return results


def _changed(x: pd.DataFrame, sources: list[int], moves: list[dict[str, Any]]) -> pd.DataFrame:
    """One hybrid row per move: the source row with the move's features set (built column by column)."""
    frame = x.iloc[sources].reset_index(drop=True)
    columns = {name: frame[name].to_numpy(dtype=object).copy() for name in frame.columns}
    for i, move in enumerate(moves):
        for feature, value in move.items():
            columns[feature][i] = value
    return pd.DataFrame(columns).infer_objects()


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
