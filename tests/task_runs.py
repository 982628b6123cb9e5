"""Trained regression and multiclass runs shared by the champion, card and TUI tests (session fixtures).

Each is two real audits of the ISLR Wage data in one trail: the first's linear candidate is promoted to champion,
the second re-scores it on its test rows beside the same candidate (a champion compared with itself) and a more
strongly regularised one. The sensitive column's name is Rich markup and one of its groups carries a terminal
escape sequence, so every view shows recorded text literally.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.audit.runs import load_run
from engine.champion import promote
from engine.review import waive
from engine.service import run_audit
from engine.spec import AuditSpec, build_spec

ROOT = Path(__file__).resolve().parents[1]
WAGE = ROOT / "examples" / "wage" / "wage.csv"
TARGETS = {"regression": "wage", "multiclass": "education"}
FEATURES = {"regression": ["year", "age", "maritl", "education", "jobclass", "health", "health_ins"],
            "multiclass": ["year", "age", "maritl", "jobclass", "health", "health_ins", "wage"]}
STRONG = {"regression": {"alpha": 300.0}, "multiclass": {"C": 0.01}}
MARKUP_COLUMN = "[bold red]race[/bold red]"
ESCAPED_GROUP = "2. Black\x1b[31m"
RESAMPLES = 200


@dataclass(frozen=True)
class TaskRuns:
    """One trail with two runs of one task: `first` promoted its `logistic`, `second` compared with it."""

    task: str
    data: Path
    db: Path
    cards: Path
    first: str
    second: str

    def spec(self, *candidates: dict[str, Any]) -> AuditSpec:
        return task_spec(self.task, self.data, candidates)


def task_spec(task: str, data: Path, candidates: tuple[dict[str, Any], ...]) -> AuditSpec:
    return build_spec({
        "name": f"wage-{task}", "task": task,
        "data": {"path": str(data), "target": TARGETS[task], "sensitive": [MARKUP_COLUMN],
                 "features": FEATURES[task]},
        "split": {"seed": 42}, "evaluation": {"bootstrap": RESAMPLES, "min_group_size": 30},
        "candidates": list(candidates),
    }, source=f"task runs ({task})")


BASELINE = {"name": "baseline", "family": "baseline"}
LINEAR = {"name": "logistic", "family": "logistic"}


def make_task_runs(task: str, base: Path) -> TaskRuns:
    frame = pd.read_csv(WAGE).rename(columns={"race": MARKUP_COLUMN})
    frame[MARKUP_COLUMN] = frame[MARKUP_COLUMN].replace({"2. Black": ESCAPED_GROUP})
    data = base / "wage.csv"
    frame.to_csv(data, index=False)
    db, cards = base / "audit.duckdb", base / "cards"
    first = run_audit(task_spec(task, data, (BASELINE, LINEAR)), audit_db=db, cards_dir=cards)
    for outcome in load_run(db, first.run_id).rules["logistic"].data["outcomes"]:  # a reviewer's waivers
        if outcome["severity"] == "block" and outcome["status"] != "pass":
            waive(db, first.run_id, "logistic", outcome["id"], reviewer="tests", reason="a test model")
    promote(db, first.run_id, "logistic", reviewer="tests", reason="the first model of this task")
    strong = {"name": "strong", "family": "logistic", "params": STRONG[task]}
    second = run_audit(task_spec(task, data, (BASELINE, LINEAR, strong)), audit_db=db, cards_dir=cards)
    return TaskRuns(task, data, db, cards, first.run_id, second.run_id)


@pytest.fixture(scope="session")
def regression_runs(tmp_path_factory: pytest.TempPathFactory) -> TaskRuns:
    return make_task_runs("regression", tmp_path_factory.mktemp("regression-runs"))


@pytest.fixture(scope="session")
def multiclass_runs(tmp_path_factory: pytest.TempPathFactory) -> TaskRuns:
    return make_task_runs("multiclass", tmp_path_factory.mktemp("multiclass-runs"))
