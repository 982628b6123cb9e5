"""`run_audit()`: the one headless core behind the CLI and the TUI.

It validates everything first (spec, policies, data, output folders), so a bad input fails before anything
is written. Then it records the start of the run (one short write), trains and evaluates each candidate on
held-out rows with no connection open, compares each with the baseline on the same bootstrap resamples,
checks the evidence against the policies, appends all candidates in one short transaction, renders the model
cards from what was recorded, and closes the run with a last short write. Progress is
reported through a callback so any front end can show it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.audit import runs
from engine.audit.trail import DEFAULT_AUDIT_DB, LOCK_WAIT_SECONDS, NewEvent, append, current_head
from engine.candidates import BASELINE, EXTERNAL, FAMILIES, Candidate, TrainingData
from engine.candidates.calibrated import CalibratedCandidate
from engine.candidates.external import external_record
from engine.canonical import digest, jsonable
from engine.cards import DEFAULT_CARDS_DIR, write_cards
from engine.champion import champion_evidence
from engine.data import Dataset, Splits, load_dataset
from engine.errors import SpecError
from engine.evaluation import reproducibility, versus_champion
from engine.evaluation.beyond import BeyondContext, BeyondSettings, beyond_context, beyond_evidence, beyond_settings
from engine.evaluation.bootstrap import BootstrapSamples
from engine.evaluation.evidence import EvidenceSettings, compare, evaluate
from engine.evaluation.groups import Grouping, sensitive_groupings
from engine.external_audit import build_candidates, load_training_set, split, training_data
from engine.lineage import candidate_lineage, lineage, run_lineage
from engine.policy.checker import Outcome, check, verdict
from engine.policy.loader import Policy, load_policies, policy_record
from engine.serving.evidence import DEFAULT_ARTIFACTS_DIR, ServingSettings, serving_evidence
from engine.spec import FLAGS_SUFFIX, AuditSpec, CandidateSpec


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


@dataclass
class Scored:
    """A trained candidate's description and evidence (or the error that stopped it)."""

    candidate: CandidateSpec
    description: dict[str, Any]
    evidence: dict[str, Any] | None
    samples: BootstrapSamples | None
    error: str | None
    seconds: float
    model: Candidate | None = None


def _ignore(_: Progress) -> None:
    return None


def new_run_id() -> str:
    """Sortable by time, unique across concurrent processes."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def evidence_settings(spec: AuditSpec) -> EvidenceSettings:
    e = spec.evaluation
    return EvidenceSettings(
        threshold=spec.threshold, optimizing_metric=spec.optimizing_metric, resamples=int(e["bootstrap"]),
        confidence=float(e["confidence"]), seed=spec.split.seed, calibration_bins=int(e["calibration_bins"]),
        min_group_size=int(e["min_group_size"]),
    )


def _code_folder(spec: AuditSpec) -> Path:
    """Where the audited code lives, for its git commit: the spec file's folder, else the working directory."""
    if spec.source_text is None:
        return Path.cwd()
    return Path(spec.source.removesuffix(FLAGS_SUFFIX)).resolve().parent


def _run_started(spec: AuditSpec, policies: list[Policy], dataset: Dataset, sizes: dict[str, int]) -> dict[str, Any]:
    return {
        "spec": spec.document,
        "spec_sha256": digest(spec.document),
        "spec_source": spec.source,
        "spec_text": spec.source_text,
        "policies": [policy_record(p, with_sources=True) for p in policies],
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
        "lineage": run_lineage(lineage(cwd=_code_folder(spec)), spec_sha256=digest(spec.document),
                               policies=[policy_record(p) for p in policies],
                               data_sha256=dataset.fingerprint.get("sha256"), seed=spec.split.seed),
    }


def _score(candidate: CandidateSpec, model: Candidate, training: TrainingData, dataset: Dataset,
           test_rows: np.ndarray, groupings: list[Grouping], settings: EvidenceSettings,
           beyond: BeyondContext) -> Scored:
    """Fit one candidate (preprocessing and model on the training split) and evaluate it on the test rows."""
    started = time.perf_counter()
    try:
        model.fit(training)
        proba = model.predict_proba(dataset.frame.iloc[test_rows])
        evidence, samples = evaluate(dataset.y[test_rows], proba, groupings=groupings, settings=settings)
        evidence.update(beyond_evidence(model, proba, beyond))
    except Exception as exc:  # one family failing (LightGBM, a solver) must not abort the other candidates
        error = f"{type(exc).__name__}: {exc}"
        return Scored(candidate, {"params": candidate.params}, None, None, error, time.perf_counter() - started)
    description = jsonable(model.describe())
    if "not_applicable" in description:  # evidence that cannot exist for this candidate, with the reason
        evidence = {**evidence, "not_applicable": description["not_applicable"]}
    return Scored(candidate, description, jsonable(evidence), samples, None, time.perf_counter() - started, model)


def _train_all(spec: AuditSpec, dataset: Dataset, splits: Splits, training: TrainingData,
               models: dict[str, Candidate], progress: ProgressCallback, beyond_spec: BeyondSettings) -> list[Scored]:
    """Every candidate of the spec, then each calibrated variant it asks for (reusing the fitted model)."""
    frame = dataset.frame
    groupings = sensitive_groupings(frame.iloc[splits.test], dataset.sensitive, spec.data.sensitive_bins)
    settings = evidence_settings(spec)
    beyond = replace(beyond_context(beyond_spec, frame, dataset.y, train=splits.train, validation=splits.validation,
                                    test=splits.test, features=dataset.features, sensitive=dataset.sensitive,
                                    groupings=groupings), x_train=training.x_train)  # or a training file
    scored = []
    for candidate in spec.candidates:
        doing = "evaluating" if candidate.family == EXTERNAL else "training and evaluating"
        progress(Progress("train", f"{doing} {candidate.name} ({candidate.family})", candidate.name))
        model = models[candidate.name]
        scored.append(_score(candidate, model, training, dataset, splits.test, groupings, settings, beyond))
        if scored[-1].error is not None:
            continue
        fresh = None if candidate.family == EXTERNAL else FAMILIES[candidate.family].build(candidate.params)
        twin = _reproduce(spec, scored[-1], model, fresh, training, frame.iloc[splits.test], progress)
        for method in candidate.calibration:
            variant = CandidateSpec(f"{candidate.name}.{method}", candidate.family, candidate.params)
            progress(Progress("train", f"calibrating {candidate.name} ({method}, on the validation split)",
                              variant.name))
            calibrated = CalibratedCandidate(model, method)
            scored.append(_score(variant, calibrated, training, dataset, splits.test, groupings, settings, beyond))
            if scored[-1].error is None:
                _reproduce(spec, scored[-1], calibrated, CalibratedCandidate(twin, method) if twin else None,
                           training, frame.iloc[splits.test], progress)
    return scored


def _add_serving(run_id: str, spec: AuditSpec, dataset: Dataset, splits: Splits, x_train: pd.DataFrame,
                 scored: list[Scored], artifacts_dir: Path, progress: ProgressCallback) -> None:
    """Package each trained candidate's ONNX artifact and add its serving evidence (skew, latency, features)."""
    settings = ServingSettings(
        run_id=run_id, artifacts_dir=artifacts_dir, threshold=spec.threshold,
        serving_features=spec.data.serving_features, measure=dict(spec.serving),
        provenance={"spec_sha256": digest(spec.document), "data_sha256": dataset.fingerprint.get("sha256")},
    )
    x_test = dataset.frame.iloc[splits.test]
    for item in scored:
        if item.model is None or item.evidence is None:
            continue
        progress(Progress("serve", f"packaging and measuring the ONNX artifact of {item.candidate.name}",
                          item.candidate.name))
        serving = serving_evidence(item.model, item.candidate.name, dataset.features, x_train, x_test, settings)
        item.evidence = {**item.evidence, "serving": jsonable(serving)}


def _reproduce(spec: AuditSpec, item: Scored, model: Candidate, twin: Candidate | None, training: TrainingData,
               x_test: pd.DataFrame, progress: ProgressCallback) -> Candidate | None:
    """Add `reproducibility` to a scored candidate's evidence: retrain its unfitted `twin` and compare test scores.

    Returns the fitted twin (a calibrated variant is reproduced on top of its retrained base), or None.
    """
    if item.evidence is None:
        return None
    if not spec.evaluation["reproducibility"]:
        item.evidence["reproducibility"] = reproducibility.not_retrained(
            "evaluation.reproducibility is false in the spec: no retrain was run")
        return None
    if twin is None:
        item.evidence["reproducibility"] = reproducibility.not_retrained(
            "a model trained elsewhere has no trainer here to retrain it" if item.candidate.family == EXTERNAL
            else "its base model could not be retrained")
        return None
    progress(Progress("reproduce", f"retraining {item.candidate.name} with the same seed", item.candidate.name))
    evidence, fitted = reproducibility.retrain(
        twin, training, x_test, model.predict_proba(x_test), threshold=spec.threshold,
        device=reproducibility.device_of(item.description))
    item.evidence["reproducibility"] = jsonable(evidence)
    return fitted


def _release_evidence(spec: AuditSpec, dataset: Dataset, splits: Splits, scored: list[Scored], run: dict[str, Any],
                      audit_db: Path, progress: ProgressCallback) -> None:
    """Add each candidate's lineage, its model's champion (re-scored on this run's test rows from its ONNX
    artifact) and the paired comparison with that champion to its evidence."""
    champion = champion_evidence(audit_db, spec.name)
    rescored = None
    if champion["current"] is not None:
        progress(Progress("champion", f"re-scoring the champion {champion['current']['candidate']} on the test rows"))
        x_test = dataset.frame.iloc[splits.test]
        try:
            rescored = versus_champion.rescore(
                champion["current"], x_test, dataset.y[splits.test], settings=evidence_settings(spec),
                groupings=sensitive_groupings(x_test, dataset.sensitive, spec.data.sensitive_bins))
            champion = {**champion, "rescored": jsonable(rescored.record)}
        except versus_champion.NotRescored as exc:
            champion = {**champion, "rescored_error": str(exc)}
    for item in scored:
        if item.evidence is None:
            continue
        item.evidence["lineage"] = candidate_lineage(run, family=item.candidate.family,
                                                     params=item.candidate.params, seed=spec.split.seed)
        item.evidence["champion"] = champion
        if rescored is not None:
            item.evidence.setdefault("comparisons", {})["champion"] = jsonable(compare(
                item.evidence, item.samples, rescored.evidence, rescored.samples,
                confidence=float(spec.evaluation["confidence"])))


def _with_comparison(item: Scored, baseline: Scored, confidence: float) -> dict[str, Any] | None:
    """The evidence with its paired comparison against the baseline added."""
    if item.evidence is None or baseline.evidence is None:
        return item.evidence
    comparison = compare(item.evidence, item.samples, baseline.evidence, baseline.samples, confidence=confidence)
    return {
        **item.evidence,
        "baseline": baseline.candidate.name,
        "comparisons": {**item.evidence.get("comparisons", {}), "baseline": comparison},
        "lift_over_baseline": {name: entry["lift"] for name, entry in comparison.items()},
    }


def _check_all(run_id: str, scored: list[Scored], policies: list[Policy], confidence: float, fail_on: str,
               progress: ProgressCallback) -> tuple[list[CandidateResult], list[NewEvent]]:
    baseline = next(s for s in scored if s.candidate.family == BASELINE)
    policy_refs = [policy_record(p) for p in policies]
    results: list[CandidateResult] = []
    events: list[NewEvent] = []
    for item in scored:
        candidate = item.candidate
        evidence = _with_comparison(item, baseline, confidence)
        progress(Progress("check", f"checking {candidate.name} against the policies", candidate.name))
        outcomes = check(policies, evidence or {})
        result = CandidateResult(
            name=candidate.name, family=candidate.family, is_baseline=candidate.family == BASELINE,
            verdict="fail" if item.error else verdict(outcomes, fail_on),
            metrics=(evidence or {}).get("metrics", {}),
            lift=(evidence or {}).get("lift_over_baseline", {}), outcomes=outcomes, seconds=item.seconds,
            error=item.error,
        )
        results.append(result)
        evidence_sha = digest(evidence) if evidence else None
        events.append(NewEvent(runs.CANDIDATE_EVALUATED, run_id, {
            "candidate": candidate.name, "family": candidate.family, "is_baseline": result.is_baseline,
            "params": candidate.params, "description": item.description, "evidence": evidence,
            "evidence_sha256": evidence_sha, "error": item.error, "train_seconds": round(item.seconds, 3),
        }))
        events.append(NewEvent(runs.RULES_CHECKED, run_id, {
            "candidate": candidate.name, "evidence_sha256": evidence_sha, "policies": policy_refs,
            "outcomes": [o.to_json() for o in outcomes], "verdict": result.verdict,
        }))
    return results, events


def _write_cards(audit_db: Path, run_id: str, results: list[CandidateResult], cards_dir: Path) -> list[NewEvent]:
    record = runs.load_run(audit_db, run_id)
    head = current_head(audit_db)
    events = []
    for result in results:
        written = write_cards(record, result.name, cards_dir, audit_db, trail_head=head)
        result.card = written["path"]
        events.append(NewEvent(runs.CARD_WRITTEN, run_id, written))
    return events


def _check_writable(audit_db: Path, cards_dir: Path, artifacts_dir: Path) -> None:
    """Refuse unusable output places before the run is recorded, so a mistake leaves nothing half-written."""
    for folder, what in ((audit_db.parent, "--audit-db"), (cards_dir, "--cards-dir"),
                         (artifacts_dir, "--artifacts-dir")):
        if folder.exists() and not folder.is_dir():
            raise SpecError(f"{folder}: {what} needs a folder here, and this is a file")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecError(f"{folder}: cannot create the folder for {what}: {exc.strerror}") from None
    if audit_db.is_dir():
        raise SpecError(f"{audit_db}: --audit-db names a folder; give a file such as {audit_db / 'audit.duckdb'}")


def run_audit(
    spec: AuditSpec,
    *,
    audit_db: Path = DEFAULT_AUDIT_DB,
    cards_dir: Path = DEFAULT_CARDS_DIR,
    artifacts_dir: Path | None = None,
    progress: ProgressCallback = _ignore,
    lock_timeout: float = LOCK_WAIT_SECONDS,
) -> AuditResult:
    """Train, evaluate, check, record and card every candidate of `spec`; raises `MlgateError` on bad input.

    Artifacts go under `artifacts_dir` (default: `artifacts/` beside the cards folder).
    """
    policies = load_policies(spec.policies)
    dataset = load_dataset(spec.data)
    train_set = load_training_set(spec, dataset)
    splits = split(spec, dataset)
    beyond_spec = beyond_settings(spec.evaluation, threshold=spec.threshold, seed=spec.split.seed,
                                  features=dataset.features, source=spec.source)
    models = build_candidates(spec, dataset)
    artifacts_dir = artifacts_dir or cards_dir.parent / DEFAULT_ARTIFACTS_DIR
    _check_writable(audit_db, cards_dir, artifacts_dir)
    sizes = ", ".join(f"{k} {v}" for k, v in splits.sizes().items())
    progress(Progress("data", f"read {len(dataset.y)} labelled rows of {spec.data.path.name}: {sizes}"))

    run_id = new_run_id()
    training, trained_on = training_data(spec, dataset, splits, train_set)
    started = NewEvent(runs.RUN_STARTED, run_id, {
        **_run_started(spec, policies, dataset, splits.sizes()),
        "training": trained_on, "external_models": external_record(models),
    })
    append(audit_db, [started], wait=lock_timeout)
    scored = _train_all(spec, dataset, splits, training, models, progress, beyond_spec)
    _add_serving(run_id, spec, dataset, splits, training.x_train, scored, artifacts_dir, progress)
    _release_evidence(spec, dataset, splits, scored, started.data["lineage"], audit_db, progress)
    results, events = _check_all(run_id, scored, policies, float(spec.evaluation["confidence"]),
                                 str(spec.evaluation["fail_on"]), progress)
    progress(Progress("record", f"recording {len(results)} candidates in {audit_db}"))
    append(audit_db, events, wait=lock_timeout)

    card_events = _write_cards(audit_db, run_id, results, cards_dir)
    progress(Progress("cards", f"wrote {len(results)} model cards under {cards_dir / run_id}"))
    recommended = runs.recommend(
        [(r.name, r.metrics.get(spec.optimizing_metric)) for r in results if not r.is_baseline and r.verdict == "pass"],
        spec.optimizing_metric,
    )
    run_verdict = "pass" if recommended is not None else "fail"
    head = append(audit_db, [*card_events, NewEvent(runs.RUN_COMPLETED, run_id, {
        "verdict": run_verdict, "recommended": recommended, "optimizing_metric": spec.optimizing_metric,
        "candidates": {r.name: r.verdict for r in results},
    })], wait=lock_timeout)
    return AuditResult(run_id, run_verdict, recommended, spec.optimizing_metric, audit_db, head, results)

