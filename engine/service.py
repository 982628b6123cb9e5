"""`run_audit()`: the one headless core behind the CLI and the TUI, as a straight line of stages.

    prepare  -> Plan          spec, policies, data, split, training set, settings, candidates (engine.prepare)
    record   -> run started   one short write, before anything is trained (engine.record)
    train    -> Trained       each candidate, its calibrated variants, their retrained twins (engine.train)
    evaluate -> Evaluated     each candidate's whole Evidence (engine.evaluation.candidate), then the paired
                              comparisons with the baseline and the champion in one step (.comparisons), and
                              the test set's earlier uses (engine.audit.exposure)
    decide   -> results       rule outcomes, verdicts, recommendation (engine.decide, engine.decision)
    record   -> candidates    evidence and outcomes in one short write
    render   -> cards         from what the trail recorded (engine.render), then the run's completion

This module only sequences the stages and reports progress; each stage's types live with the stage.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import record
from engine.audit.exposure import exposure_evidence
from engine.audit.locks import lock_timeout as trail_lock_timeout
from engine.audit.trail import DEFAULT_AUDIT_DB, LOCK_WAIT_SECONDS
from engine.candidates import BASELINE
from engine.cards import DEFAULT_CARDS_DIR
from engine.champion import champion_evidence
from engine.decide import AuditResult, CandidateResult, decide_candidate
from engine.decision import Contender, recommend, run_verdict
from engine.evaluation.candidate import Evaluated, EvaluationContext, evaluate_candidate, evaluation_context
from engine.evaluation.comparisons import compare_all
from engine.evaluation.multiplicity import adjust_all
from engine.evaluation.task_candidate import evaluate_task_candidate
from engine.evaluation.versus_champion import (
    ChampionReference,
    TaskChampion,
    champion_reference,
    task_champion_reference,
)
from engine.prepare import Outputs, Plan, prepare
from engine.progress import Progress, ProgressCallback, ignore
from engine.render import render_cards
from engine.serving.evidence import DEFAULT_ARTIFACTS_DIR
from engine.spec import AuditSpec
from engine.timings import for_candidate, recording, timed
from engine.train import calibrate, train_candidate

__all__ = ["AuditResult", "CandidateResult", "Progress", "ProgressCallback", "new_run_id", "run_audit"]


def task_line(plan: Plan) -> str:
    """What the audit says about its task: which, and why when it was inferred from the target."""
    dataset = plan.dataset
    why = f" (inferred from {plan.spec.data.target!r}: {dataset.task_inferred}; --task overrides)" \
        if dataset.task_inferred else ""
    classes = f", classes: {', '.join(dataset.classes)}" if dataset.classes else ""
    return f"task: {dataset.task}{why}{classes}; policies: {', '.join(p.name for p in plan.policies)}"


def new_run_id() -> str:
    """Sortable by time, unique across concurrent processes."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _champion(context: EvaluationContext, progress: ProgressCallback) -> ChampionReference:
    """The model's current champion, re-scored on this run's test rows from its ONNX artifact."""
    plan = context.plan
    champion = champion_evidence(plan.outputs.audit_db, plan.spec.name)
    if champion["current"] is not None:
        progress(Progress("champion", f"re-scoring the champion {champion['current']['candidate']} on the test rows"))
    return champion_reference(champion, context.x_test, context.y_test, groupings=plan.groupings,
                              settings=plan.settings.performance)


def _with_exposure(evaluated: list[Evaluated], audit_db: Path, test_set: dict[str, Any],
                   progress: ProgressCallback) -> list[Evaluated]:
    """Every candidate's evidence with the run's test-set exposure (its uses before this run, from the trail)."""
    with timed("exposure"):
        exposure = exposure_evidence(audit_db, test_set)
    earlier = exposure.get("prior_runs")
    if earlier:
        progress(Progress("exposure", f"this test set informed {earlier} earlier run{'s' if earlier != 1 else ''}"))
    return [replace(e, evidence=replace(e.evidence, exposure=exposure)) if e.evidence is not None else e
            for e in evaluated]
def _task_champion(context: EvaluationContext, progress: ProgressCallback) -> TaskChampion:
    """A regression or multiclass run's champion, re-scored on its test rows from its ONNX artifact."""
    plan = context.plan
    champion = champion_evidence(plan.outputs.audit_db, plan.spec.name)
    if champion["current"] is not None:
        progress(Progress("champion", f"re-scoring the champion {champion['current']['candidate']} on the test rows"))
    return task_champion_reference(champion, context.x_test, context.y_test, audit_db=plan.outputs.audit_db,
                                   task=plan.dataset.task, classes=list(plan.dataset.classes))


def _train_and_evaluate_task(plan: Plan, context: EvaluationContext, progress: ProgressCallback) -> list[Evaluated]:
    """Every candidate of a multiclass or regression audit, the baseline first: its test outputs are every other
    candidate's reference (the paired lifts over it and the champion are part of the task's evidence); each
    p-value is then also adjusted across the run's candidates."""
    evaluated = []
    baseline = None
    champion = _task_champion(context, progress)
    for candidate in sorted(plan.spec.candidates, key=lambda c: c.family != BASELINE):
        with for_candidate(candidate.name):
            item, output = evaluate_task_candidate(train_candidate(plan, candidate, progress), context, progress,
                                                   baseline=baseline, champion=champion)
        evaluated.append(item)
        if candidate.family == BASELINE and output is not None:
            baseline = (candidate.name, output)
    first = next((c.name for c in plan.spec.candidates if c.family == BASELINE), "")
    return adjust_all(evaluated, baseline=first)


def _train_and_evaluate(plan: Plan, context: EvaluationContext, progress: ProgressCallback) -> list[Evaluated]:
    """Every candidate of the spec, then each calibrated variant it asks for (on top of the fitted model)."""
    evaluated = []
    for candidate in plan.spec.candidates:
        with for_candidate(candidate.name):
            base = train_candidate(plan, candidate, progress)
            evaluated.append(evaluate_candidate(base, context, progress))
        if evaluated[-1].error is not None:
            continue
        for method in candidate.calibration:
            with for_candidate(f"{candidate.name}.{method}"):
                evaluated.append(evaluate_candidate(calibrate(plan, base, method, progress), context, progress))
    return evaluated


def run_audit(
    spec: AuditSpec,
    *,
    audit_db: Path = DEFAULT_AUDIT_DB,
    cards_dir: Path = DEFAULT_CARDS_DIR,
    artifacts_dir: Path | None = None,
    progress: ProgressCallback = ignore,
    lock_timeout: float = LOCK_WAIT_SECONDS,
) -> AuditResult:
    """Train, evaluate, check, record and card every candidate of `spec`; raises `MlgateError` on bad input.

    Artifacts go under `artifacts_dir` (default: `artifacts/` beside the cards folder). Every trail access of the
    run (writes, the champion lookup, the head its cards name) waits at most `lock_timeout` seconds.
    """
    with trail_lock_timeout(lock_timeout), recording() as timings:  # one patience for every trail access
        plan = prepare(spec, Outputs(audit_db, cards_dir, artifacts_dir or cards_dir.parent / DEFAULT_ARTIFACTS_DIR))
        spec = plan.spec  # with its task known
        sizes = ", ".join(f"{k} {v}" for k, v in plan.splits.sizes().items())
        progress(Progress("data", f"read {len(plan.dataset.y)} labelled rows of {spec.data.path.name}: {sizes}"))
        if plan.dataset.task != "binary":  # a binary audit's output stays as it was
            progress(Progress("data", task_line(plan)))

        run_id = new_run_id()
        started = record.start_run(plan, run_id, lock_timeout=lock_timeout)
        context = evaluation_context(plan, run_id=run_id, run_lineage=started["lineage"])
        if plan.dataset.task == "binary":
            evaluated = _train_and_evaluate(plan, context, progress)
            baseline = next(e.name for e in evaluated if e.trained.candidate.family == BASELINE)
            evaluated = compare_all(evaluated, baseline=baseline, champion=_champion(context, progress),
                                    confidence=plan.settings.confidence)
        else:
            evaluated = _train_and_evaluate_task(plan, context, progress)
        evaluated = _with_exposure(evaluated, audit_db, started["test_set"], progress)

        results = []
        for item in evaluated:
            progress(Progress("check", f"checking {item.name} against the policies", item.name))
            with timed("check"):
                results.append(decide_candidate(item, plan.policies, fail_on=plan.settings.fail_on))
        progress(Progress("record", f"recording {len(results)} candidates in {audit_db}"))
        with timed("record"):
            record.record_candidates(plan, run_id, evaluated, results, lock_timeout=lock_timeout)

        with timed("cards"):
            card_events = render_cards(audit_db, run_id, results, cards_dir)
        progress(Progress("cards", f"wrote {len(results)} model cards under {cards_dir / run_id}"))
        metric = spec.optimizing_metric
        recommended = recommend([Contender(r.name, r.metrics.get(metric), r.is_baseline, r.verdict) for r in results],
                                metric=metric)
        verdict = run_verdict(complete=True, recommended=recommended)
        head = record.complete_run(plan, run_id, card_events, results, verdict=verdict, recommended=recommended,
                                   lock_timeout=lock_timeout, timings=timings.to_json())
        return AuditResult(run_id, verdict, recommended, spec.optimizing_metric, audit_db, head, results)
