"""Real trails for the TUI tests: a real audit of the Adult sample, with untrusted names in the data and spec.

The sensitive column is named like Rich markup and one of its groups carries a terminal escape sequence, so
every screen that shows them is tested to show them literally. `build_trail` can fix the clock and the run id
(`stable=True`) so the SVG snapshots of the screens are the same on every machine and every run.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from rich.console import Console
from textual.app import App
from textual.worker import WorkerCancelled

from engine import service
from engine.audit import trail
from engine.service import run_audit
from engine.spec import build_spec

MARKUP_NAME = "[bold red]x[/] audit"
MARKUP_COLUMN = "[bold red]sex[/]"
ESCAPE_GROUP = "\x1b[31mOther\x1b[0m"
STABLE_TIME = "2026-01-02T03:04:05.000000Z"
STABLE_RUN = "20260102T030405Z-000001"
STABLE_LOG_ID = 0x5EED
POLICY_RULES: list[dict[str, Any]] = [
    {"id": "auc-floor", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.70,
     "use": "ci_lower", "severity": "block", "checklist": "optimizing_metric"},
    {"id": "auc-beats-baseline", "kind": "beats_baseline", "metric": "roc_auc", "min_lift": 0.05,
     "significance": 0.05, "severity": "block", "checklist": "optimizing_metric"},
    {"id": "dp-ratio", "kind": "fairness", "measure": "demographic_parity_ratio", "by": MARKUP_COLUMN, "min": 0.8,
     "severity": "block", "checklist": "fairness"},
    {"id": "ece-ceiling", "kind": "calibration", "measure": "ece", "max": 0.05, "severity": "warn",
     "checklist": "calibration"},
    {"id": "slice-auc-gap", "kind": "slice_metric", "metric": "roc_auc", "max_gap_from_overall": 0.10,
     "severity": "warn", "checklist": "slice_metrics"},
]


@dataclass(frozen=True)
class Trail:
    db: Path
    run_id: str


def write_inputs(sample: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """The data (markup-named column, an escape sequence in a group) and the policy, written under `folder`."""
    import json

    frame = sample.rename(columns={"sex": MARKUP_COLUMN}).copy()
    frame["race"] = frame["race"].replace({"Other": ESCAPE_GROUP})
    data = folder / "adult.csv"  # text, so its fingerprint is the same with any Parquet writer
    frame.to_csv(data, index=False)
    policy = folder / "tui-policy.json"
    policy.write_text(json.dumps({"name": "tui-test", "version": "1.0.0", "rules": POLICY_RULES}), encoding="utf-8")
    return data, policy


DECISIONS = {"rows": 40, "actionable": {"hours-per-week": {"direction": "increase", "max": 60}}}


def spec_document(data: Path, policy: Path, *, decisions: bool = False) -> dict[str, Any]:
    """The spec; with `decisions`, its adverse decisions explained too (the decisions evidence section)."""
    return {**({"decisions": DECISIONS} if decisions else {}),
        "name": MARKUP_NAME, "policies": [str(policy)],
        "data": {"path": str(data), "target": "income", "positive": ">50K", "sensitive": [MARKUP_COLUMN, "race"]},
        "split": {"seed": 42},
        "evaluation": {"bootstrap": 100, "min_group_size": 30},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
    }


def build_trail(sample: pd.DataFrame, folder: Path, *, stable: bool = False, decisions: bool = False) -> Trail:
    """Audit the sample for real into folder/audit.duckdb (cards in folder/cards).

    `stable=True` fixes what differs between two runs of this audit apart from measured figures: the clock, the
    run id, the trail's log id (a random UUID, so the first event and its hash are the same byte for byte) and
    the paths the events record (the audit runs inside `folder` on relative paths; the TUI finds the cards
    through the cards folder recorded relative to the trail). The measured figures (latencies, seconds) and so
    the hashes of the later events still differ: a snapshot shows none of them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data, policy = write_inputs(sample, folder)
    db = folder / "audit.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        if stable:
            patch.setattr(trail, "now_utc", lambda: STABLE_TIME)
            patch.setattr(service, "new_run_id", lambda: STABLE_RUN)
            patch.setattr(trail, "uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(int=STABLE_LOG_ID)))
            patch.chdir(folder)
            data, policy = Path(data.name), Path(policy.name)
        spec = build_spec(spec_document(data, policy, decisions=decisions), source="tui test")
        result = run_audit(spec, audit_db=Path(db.name) if stable else db,
                           cards_dir=Path("cards") if stable else folder / "cards")
    return Trail(db, result.run_id)


def screen_text(app: App[Any]) -> str:
    """Exactly the characters the terminal shows for the current screen (as `export_screenshot` draws it)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


async def settle(pilot: Any, until: Callable[[], bool] | None = None, *, seconds: float = 30.0,
                 workers: bool = True) -> None:
    """Wait for the app's workers (unless `workers=False`: an audit may be running), and for `until` to hold."""
    waited = 0.0
    while True:
        try:
            if workers:
                await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that one
            continue
        await pilot.pause()
        if until is None or until():
            return
        if waited >= seconds:
            raise AssertionError("the screen never showed what the test waited for")
        await pilot.pause(0.1)
        waited += 0.1
