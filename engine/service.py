"""`run_audit()`: the one headless core behind the CLI and the TUI.

It validates everything first (spec, policies, data), so a bad input fails before anything is written. Then
it records the start of the run, trains and evaluates each candidate on held-out rows, checks the evidence
against the policies, appends all of it in one short transaction, renders the model cards from what was
recorded, and closes the run. Progress is reported through a callback so any front end can show it.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.audit import runs
from engine.audit.trail import NewEvent, append
from engine.candidates import BASELINE, FAMILIES, TrainingData
from engine.canonical import digest, jsonable, sha256_text
from engine.cards import render_markdown
from engine.data import Dataset, load_dataset, split_rows
from engine.evaluation.evidence import add_lift, evaluate
from engine.evaluation.metrics import METRICS
from engine.lineage import lineage
from engine.policy.checker import Outcome, check, verdict
from engine.policy.loader import Policy, load_policies
from engine.spec import AuditSpec, CandidateSpec

DEFAULT_AUDIT_DB = Path("audit_log") / "audit.duckdb"
DEFAULT_CARDS_DIR = Path("model_cards")


@dataclass(frozen=True)
class Progress:
    """One step of an audit, for a progress display."""

    stage: str
    message: str
    candidate: str | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass
class CandidateResult:
    name: str
    family: str
    is_baseline: bool
    verdict: str
    metrics: dict[str, float | None]
    lift: dict[str, float | None]
    outcomes: list[Outcome]
    seconds: float
    error: str | None = None
    card: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "is_baseline": self.is_baseline,
            "verdict": self.verdict,
            "metrics": self.metrics,
            "lift_over_baseline": self.lift,
            "rules": [o.to_json() for o in self.outcomes],
            "train_seconds": round(self.seconds, 3),
            "error": self.error,
            "card": self.card,
        }


@dataclass
class AuditResult:
    run_id: str
    verdict: str
    recommended: str | None
    optimizing_metric: str
    audit_db: Path
    chain_head: str
    candidates: list[CandidateResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "verdict": self.verdict,
            "recommended": self.recommended,
            "optimizing_metric": self.optimizing_metric,
            "audit_db": str(self.audit_db),
            "chain_head": self.chain_head,
            "candidates": [c.to_json() for c in self.candidates],
        }


def _ignore(_: Progress) -> None:
    return None


def new_run_id() -> str:
    """Sortable by time, unique across concurrent processes."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _run_started(spec: AuditSpec, policies: list[Policy], dataset: Dataset, sizes: dict[str, int]) -> dict[str, Any]:
    return {
        "spec": spec.document,
        "spec_sha256": digest(spec.document),
        "spec_source": spec.source,
        "spec_text": spec.source_text,
        "policies": [
            {"name": p.name, "version": p.version, "path": str(p.path), "sha256": p.sources[-1].sha256,
             "sources": [s.__dict__ for s in p.sources]}
            for p in policies
        ],
        "data": {
            "fingerprint": dataset.fingerprint,
            "schema": dataset.schema,
            "target": spec.data.target,
            "positive_label": dataset.positive_label,
            "negative_label": dataset.negative_label,
            "features": {"numeric": dataset.features.numeric, "categorical": dataset.features.categorical},
            "sensitive": dataset.sensitive,
            "notes": dataset.notes,
        },
        "split": {"sizes": sizes, "seed": spec.split.seed, "stratified": True},
        "lineage": lineage(cwd=Path.cwd()),
    }


def _train_and_score(
    candidate: CandidateSpec, training: TrainingData, dataset: Dataset, test_rows: Any, threshold: float
) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """Fit one candidate and evaluate it on the test rows: (description, evidence, error)."""
    model = FAMILIES[candidate.family].build(candidate.params)
    try:
        model.fit(training)
        proba = model.predict_proba(dataset.frame.iloc[test_rows])
    except (ValueError, RuntimeError, ArithmeticError, MemoryError) as exc:
        return {"params": candidate.params}, None, f"{type(exc).__name__}: {exc}"
    return jsonable(model.describe()), evaluate(dataset.y[test_rows], proba, threshold=threshold), None


def _recommend(results: list[CandidateResult], metric: str) -> str | None:
    passing = [r for r in results if not r.is_baseline and r.verdict == "pass" and r.metrics.get(metric) is not None]
    if not passing:
        return None
    sign = 1.0 if METRICS[metric].higher_is_better else -1.0
    return max(passing, key=lambda r: sign * float(r.metrics[metric] or 0.0)).name


def run_audit(
    spec: AuditSpec,
    *,
    audit_db: Path = DEFAULT_AUDIT_DB,
    cards_dir: Path = DEFAULT_CARDS_DIR,
    progress: ProgressCallback = _ignore,
) -> AuditResult:
    """Train, evaluate, check, record and card every candidate of `spec`; raises `MlgateError` on bad input."""
    policies = load_policies(spec.policies)
    dataset = load_dataset(spec.data)
    splits = split_rows(dataset.y, spec.split)
    sizes = ", ".join(f"{k} {v}" for k, v in splits.sizes().items())
    progress(Progress("data", f"read {len(dataset.y)} labelled rows of {spec.data.path.name}: {sizes}"))

    run_id = new_run_id()
    append(audit_db, [NewEvent(runs.RUN_STARTED, run_id, _run_started(spec, policies, dataset, splits.sizes()))])

    frame = dataset.frame
    training = TrainingData(
        x_train=frame.iloc[splits.train], y_train=dataset.y[splits.train],
        x_valid=frame.iloc[splits.validation], y_valid=dataset.y[splits.validation],
        features=dataset.features, seed=spec.split.seed,
    )
    scored: list[tuple[CandidateSpec, dict[str, Any], dict[str, Any] | None, str | None, float]] = []
    for candidate in spec.candidates:
        progress(Progress("train", f"training {candidate.name} ({candidate.family})", candidate.name))
        started = time.perf_counter()
        description, evidence, error = _train_and_score(candidate, training, dataset, splits.test, spec.threshold)
        scored.append((candidate, description, evidence, error, time.perf_counter() - started))

    baseline_name = next(c.name for c in spec.candidates if c.family == BASELINE)
    baseline_evidence = next(e for c, _, e, _, _ in scored if c.name == baseline_name)
    results: list[CandidateResult] = []
    events: list[NewEvent] = []
    for candidate, description, evidence, error, seconds in scored:
        if evidence is not None and baseline_evidence is not None:
            evidence = add_lift(evidence, baseline_evidence, baseline_name=baseline_name)
        progress(Progress("check", f"checking {candidate.name} against the policies", candidate.name))
        outcomes = check(policies, evidence or {})
        result = CandidateResult(
            name=candidate.name, family=candidate.family, is_baseline=candidate.family == BASELINE,
            verdict=verdict(outcomes), metrics=(evidence or {}).get("metrics", {}),
            lift=(evidence or {}).get("lift_over_baseline", {}), outcomes=outcomes, seconds=seconds, error=error,
        )
        results.append(result)
        evidence_sha = digest(evidence) if evidence else None
        events.append(NewEvent(runs.CANDIDATE_EVALUATED, run_id, {
            "candidate": candidate.name, "family": candidate.family, "is_baseline": result.is_baseline,
            "params": candidate.params, "description": description, "evidence": evidence,
            "evidence_sha256": evidence_sha, "error": error, "train_seconds": round(seconds, 3),
        }))
        events.append(NewEvent(runs.RULES_CHECKED, run_id, {
            "candidate": candidate.name, "evidence_sha256": evidence_sha,
            "policies": [{"name": p.name, "version": p.version, "sha256": p.sources[-1].sha256} for p in policies],
            "outcomes": [o.to_json() for o in outcomes], "verdict": result.verdict,
        }))
    progress(Progress("record", f"recording {len(results)} candidates in {audit_db}"))
    append(audit_db, events)

    record = runs.load_run(audit_db, run_id)
    card_events = []
    for result in results:
        path = cards_dir / run_id / f"{result.name}.md"
        text = render_markdown(record, result.name)
        _write_atomic(path, text)
        result.card = str(path)
        card_events.append(NewEvent(runs.CARD_WRITTEN, run_id, {
            "candidate": result.name, "format": "md", "path": str(path), "sha256": sha256_text(text),
        }))
    progress(Progress("cards", f"wrote {len(results)} model cards under {cards_dir / run_id}"))

    recommended = _recommend(results, spec.optimizing_metric)
    run_verdict = "pass" if recommended is not None else "fail"
    head = append(audit_db, [*card_events, NewEvent(runs.RUN_COMPLETED, run_id, {
        "verdict": run_verdict, "recommended": recommended, "optimizing_metric": spec.optimizing_metric,
        "candidates": {r.name: r.verdict for r in results},
    })])
    return AuditResult(run_id, run_verdict, recommended, spec.optimizing_metric, audit_db, head, results)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
