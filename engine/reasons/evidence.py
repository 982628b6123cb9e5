"""The `decisions` evidence section: reason codes and recourse for the test split's adverse decisions, computed on
the served artifact the audit just packaged, so the rules `reason_codes` and `recourse_parity` can gate on them.

Computed only when the spec declares a `decisions` table (which outcome is adverse, the actionable features);
otherwise the section is absent and its rules report `unknown`. At most `decisions.rows` adverse rows are
explained (a seeded sample), and recourse is searched for the same rows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.evaluation.groups import Grouping
from engine.reasons import codes, parity
from engine.reasons import recourse as recourse_module
from engine.reasons.attribution import attribute, reference_row
from engine.reasons.config import DecisionSettings, decision_settings, sensitive_columns
from engine.reasons.served import Served, open_recorded

NOT_DECLARED = "the spec declares no actionable features (decisions.actionable)"
EXPLAINED_KEPT = 25  # decisions kept whole in the evidence, for a reviewer to read one by one


def _recourse(model: Served, x: pd.DataFrame, rows: np.ndarray, settings: DecisionSettings, *, threshold: float,
              groups: Sequence[tuple[Grouping, np.ndarray]], min_group_size: int, confidence: float,
              seed: int) -> tuple[dict[str, Any], list[dict[str, Any] | None]]:
    """The recourse part of the section, and each row's cheapest flipping change (None: none found); no rows
    when no feature is actionable."""
    acts = recourse_module.actions(settings.actionable, model.schema)
    if not acts:
        return {"error": NOT_DECLARED}, []
    found = recourse_module.search(model, x, rows, acts, threshold=threshold, adverse=settings.adverse,
                                   steps=settings.steps, max_features=settings.max_changes)
    feasible = np.asarray([f is not None for f in found], dtype=bool)
    cost = np.asarray([f["cost"] if f is not None else np.nan for f in found], dtype=np.float64)
    return {
        "method": recourse_module.METHOD.format(steps=settings.steps),
        "actionable": {a.feature: {"direction": a.direction, "min": a.low, "max": a.high} for a in acts},
        "immutable": [f for f in model.features if f not in {a.feature for a in acts}],
        "denied": int(rows.size), "feasible": int(feasible.sum()),
        "feasible_share": float(feasible.mean()) if feasible.size else None,
        "median_cost": float(np.median(cost[feasible])) if feasible.any() else None,
        "by_group": {g.name: parity.by_group(feasible, cost, codes_[rows], g.labels, min_group_size=min_group_size,
                                             confidence=confidence, seed=seed) for g, codes_ in groups},
        "examples": [{"test_row": int(r), **f} for r, f in zip(rows[:3], found[:3], strict=True) if f is not None],
    }, found


def kept_whole(explained: Sequence[Mapping[str, Any]], rows: np.ndarray,
               options: Sequence[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """The first `EXPLAINED_KEPT` decisions as explained: the test row, the score, the reasons, what was withheld
    and the recourse (None when none was found, or none searched: then the section's recourse says why)."""
    return [{"test_row": int(rows[k]), "score": d["score"], "reasons": d["reasons"], "withheld": d["withheld"],
             "recourse": options[k] if k < len(options) else None}
            for k, d in enumerate(explained[:EXPLAINED_KEPT])]


def explain_decisions(model: Served, x_test: pd.DataFrame, x_train: pd.DataFrame, *, settings: DecisionSettings,
                      explanations: Mapping[str, Any] | None, sensitive: Sequence[str],
                      groupings: Sequence[Grouping], threshold: float, min_group_size: int, confidence: float,
                      seed: int) -> dict[str, Any]:
    """The section's data for one served artifact."""
    started = time.perf_counter()
    x = x_test.loc[:, model.features].reset_index(drop=True)
    proba = model.proba(x)
    adverse = np.flatnonzero(codes.adverse_mask(proba, threshold=threshold, adverse=settings.adverse))
    rng = np.random.default_rng(seed)
    size = min(settings.rows, adverse.size)
    rows = np.sort(rng.choice(adverse, size=size, replace=False)) if adverse.size else adverse
    reference = reference_row(x_train, model.schema)
    found = attribute(model, x.iloc[rows].reset_index(drop=True), reference, seed=seed)
    screened = codes.screen(explanations, sensitive)
    explained = codes.decisions(found, x.iloc[rows].reset_index(drop=True), proba[rows], np.arange(rows.size),
                                catalog=settings.catalog, screened=screened, top=settings.top,
                                adverse=settings.adverse, threshold=threshold)
    groups = [(g, g.codes) for g in groupings]
    by_group = {g.name: {str(label): codes.summary([d for d, c in zip(explained, g.codes[rows], strict=True)
                                                     if c == k])["reasons"][:settings.top]
                         for k, label in enumerate(g.labels)} for g in groupings}
    summary = codes.summary(explained)
    recourse, options = _recourse(model, x, rows, settings, threshold=threshold, groups=groups,
                                  min_group_size=min_group_size, confidence=confidence, seed=seed)
    return {
        "adverse": settings.adverse, "threshold": threshold, "top_reasons": settings.top,
        "reference": reference, "attribution": found.summary(),
        "screen": {"withheld_features": screened.why, "proxy_threshold": screened.threshold},
        "rows": len(x), "adverse_rows": int(adverse.size), "explained_rows": int(rows.size),
        "summary": summary, "by_group": by_group,
        "withheld_share": summary["decisions_with_withheld"] / rows.size if rows.size else 0.0,
        "recourse": recourse, "explained": kept_whole(explained, rows, options),
        "seconds": round(time.perf_counter() - started, 4),
    }


def decisions_evidence(serving: Mapping[str, Any] | None, *, name: str, family: str, spec: Mapping[str, Any],
                       x_test: pd.DataFrame, x_train: pd.DataFrame, explanations: Mapping[str, Any] | None,
                       groupings: Sequence[Grouping], threshold: float, min_group_size: int, confidence: float,
                       seed: int) -> dict[str, Any] | None:
    """The `decisions` section of one candidate (None when the spec declares no `decisions`; its error if it fails)."""
    settings = decision_settings(spec)
    if not settings.declared:
        return None
    try:
        model = open_recorded(serving or {}, name=name, run_id="this run", family=family)
        return explain_decisions(model, x_test, x_train, settings=settings, explanations=explanations,
                                 sensitive=sensitive_columns(spec), groupings=groupings, threshold=threshold,
                                 min_group_size=min_group_size, confidence=confidence, seed=seed)
    except Exception as exc:  # a part that fails is stored as its error: its rules are then unknown
        return {"error": f"{type(exc).__name__}: {exc}"}
