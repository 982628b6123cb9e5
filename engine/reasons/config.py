"""What the spec says about decisions: which outcome is adverse, how many reasons to give, the reason catalog
(`[reasons]`: feature -> sentence) and the actionable features of recourse (`[decisions.actionable]`).

Read from the spec document the run recorded (its `run_started` event), so `mlgate reasons` explains a recorded
run's decisions with the catalog that run was audited with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.reasons.codes import DEFAULT_TOP
from engine.reasons.recourse import DEFAULT_STEPS

DEFAULT_ROWS = 200
DEFAULT_RECOURSE_FEATURES = 2


@dataclass(frozen=True)
class DecisionSettings:
    """The `decisions` table and `reasons` catalog of a spec (defaults where absent)."""

    adverse: str = "negative"
    top: int = DEFAULT_TOP
    catalog: dict[str, str] = field(default_factory=dict)
    actionable: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: int = DEFAULT_ROWS
    steps: int = DEFAULT_STEPS
    max_changes: int = DEFAULT_RECOURSE_FEATURES
    declared: bool = False


def decision_settings(document: Mapping[str, Any]) -> DecisionSettings:
    """The settings of a (validated) spec document; `declared` says whether it has a `decisions` table."""
    table = document.get("decisions")
    catalog = {str(k): str(v) for k, v in (document.get("reasons") or {}).items()}
    if not isinstance(table, Mapping):
        return DecisionSettings(catalog=catalog)
    return DecisionSettings(
        adverse=str(table.get("adverse", "negative")), top=int(table.get("top_reasons", DEFAULT_TOP)),
        catalog=catalog, actionable={str(k): dict(v) for k, v in (table.get("actionable") or {}).items()},
        rows=int(table.get("rows", DEFAULT_ROWS)), steps=int(table.get("recourse_steps", DEFAULT_STEPS)),
        max_changes=int(table.get("recourse_max_features", DEFAULT_RECOURSE_FEATURES)), declared=True,
    )


def sensitive_columns(document: Mapping[str, Any]) -> list[str]:
    return [str(c) for c in (document.get("data") or {}).get("sensitive") or []]
