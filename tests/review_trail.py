"""One real audited trail for the review and decision tests, built once per test session.

An audit of the Adult sample (baseline, logistic, lightgbm) against a two-rule policy whose fairness rule fails
for the real candidates, plus an earlier run of the same spec interrupted before it completed. It is a pytest
plugin (`pytest_plugins = ["review_trail"]` in a test module) so that every module using `review_template`
shares one training; each test works on its own copy (`copy_template`), never on the template itself.

PYTEST_DONT_REWRITE: the test modules import their constants before pytest loads it as a plugin; it has no assert.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.audit import runs
from engine.audit.runs import load_run
from engine.audit.trail import read_events
from engine.service import Progress, run_audit
from engine.spec import build_spec

RULES: list[dict[str, Any]] = [
    {"id": "auc-floor", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.70,
     "use": "ci_lower", "severity": "block", "checklist": "optimizing_metric"},
    {"id": "dp-ratio", "kind": "fairness", "measure": "demographic_parity_ratio", "by": "sex", "min": 0.8,
     "severity": "block", "checklist": "fairness"},
]
POLICY = {"name": "review-test", "version": "1.0.0", "rules": RULES}
POLICY_FILE = "review-test.json"
CANDIDATES = [
    {"name": "baseline", "family": "baseline"},
    {"name": "logistic", "family": "logistic"},
    {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 30}},
]
CARDS = Path("cards")  # relative, like the CLI's default: the trail records it as given


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Template:
    """The folder an audit ran in: `audit.duckdb`, `cards/`, and the policy file."""

    base: Path
    run_id: str
    interrupted: str  # a run whose candidates were recorded but which never completed


class Interrupted(Exception):
    """Stands in for a kill after the candidates were recorded, before the run completed."""


@dataclass(frozen=True)
class Trail:
    base: Path
    db: Path
    run_id: str
    interrupted: str

    def card(self, candidate: str, run_id: str | None = None) -> Path:
        return self.base / str(load_run(self.db, run_id or self.run_id).cards[candidate].data["path"])


def copy_template(template: Template, folder: Path) -> Trail:
    shutil.copytree(template.base, folder)
    return Trail(folder, folder / "audit.duckdb", template.run_id, template.interrupted)


def build_template(adult_parquet: Path, base: Path) -> Template:
    """Audit the Adult sample in `base` twice: once interrupted before its cards, once to completion."""
    policy = write_json(base / POLICY_FILE, POLICY)
    spec = build_spec({
        "name": "adult-review",
        "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "split": {"seed": 11},
        "evaluation": {"bootstrap": 200},
        "candidates": CANDIDATES,
        "policies": [str(policy)],
    }, source="test_review")

    def stop_at_cards(step: Progress) -> None:
        if step.stage == "cards":
            raise Interrupted

    db = base / "audit.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(base)  # cards are recorded as `cards/RUN/NAME.md`, relative to this folder
        with pytest.raises(Interrupted):
            run_audit(spec, audit_db=db, cards_dir=CARDS, progress=stop_at_cards)
        result = run_audit(spec, audit_db=db, cards_dir=CARDS)
    interrupted = next(str(e.run_id) for e in read_events(db, kinds=[runs.RUN_STARTED]) if e.run_id != result.run_id)
    return Template(base, result.run_id, interrupted)


@pytest.fixture(scope="session")
def review_template(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Template:
    return build_template(adult_parquet, tmp_path_factory.mktemp("review"))
