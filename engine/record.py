"""The `record` stage: what an audit appends to the trail, and when.

An audit writes three times, each in one short transaction (DuckDB locks the file against every other
process while it is open read-write): the run's start, before anything is trained (so a run killed half-way
shows as incomplete); every candidate's evidence and rule outcomes together; and the cards with the run's
completion. Between the writes no connection is held. The event bodies are built here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.audit import runs
from engine.audit.checkpoint import CHECKED, check_before_append
from engine.audit.exposure import identify_test_set
from engine.audit.trail import NewEvent, append
from engine.canonical import digest
from engine.decide import CandidateResult
from engine.evaluation.candidate import Evaluated
from engine.evaluation.evidence import EVIDENCE_VERSION
from engine.lineage import lineage, run_lineage
from engine.policy.loader import policy_record
from engine.prepare import Plan
from engine.spec import FLAGS_SUFFIX, AuditSpec


def code_folder(spec: AuditSpec) -> Path:
    """Where the audited code lives, for its git commit: the spec file's folder, else the working directory."""
    if spec.source_text is None:
        return Path.cwd()
    return Path(spec.source.removesuffix(FLAGS_SUFFIX)).resolve().parent


def split_record(plan: Plan) -> dict[str, Any]:
    """What a split other than the default adds to the record: its strategy, boundaries and a kept-apart test
    file (nothing for the default stratified split, so earlier runs' bodies are unchanged)."""
    record = {k: v for k, v in plan.splits.record.items() if k != "sizes"}
    if record.get("strategy", "stratified") == "stratified" and len(record) <= 1:
        return {}
    test_path = plan.spec.split.test_path
    test_file = {"test_file": str(test_path), "test_file_sha256": (plan.test_file or {}).get("sha256")}
    return {**record, "stratified": record.get("strategy") == "stratified",
            **(test_file if test_path is not None else {})}


def run_started(plan: Plan) -> dict[str, Any]:
    """The body of the run's first event: spec, policies, data, split, training set, lineage, and the test set
    that will inform the run's decisions (`engine.audit.exposure`)."""
    spec, dataset, policies = plan.spec, plan.dataset, plan.policies
    body = {
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
            **({"task": dataset.task, "classes": list(dataset.classes), "task_inferred": dataset.task_inferred}
               if dataset.task != "binary" else {}),  # absent: binary, as every earlier run
        },
        "split": {"sizes": plan.splits.sizes(), "seed": spec.split.seed, "stratified": True,
                  **split_record(plan)},
        "lineage": run_lineage(lineage(cwd=code_folder(spec)), spec_sha256=digest(spec.document),
                               policies=[policy_record(p) for p in policies],
                               data_sha256=dataset.fingerprint.get("sha256"), seed=spec.split.seed),
        "training": plan.trained_on,
        "external_models": plan.external_models,
    }
    return {**body, "test_set": identify_test_set(body)}


def start_run(plan: Plan, run_id: str, *, lock_timeout: float) -> dict[str, Any]:
    """Check the trail since the last audit's check, then append the run's start with the head it verified;
    returns the start's body (the run's lineage is stamped into every candidate's)."""
    body = run_started(plan)
    checked = check_before_append(plan.outputs.audit_db)
    if checked is not None:
        body[CHECKED] = checked
    append(plan.outputs.audit_db, [NewEvent(runs.RUN_STARTED, run_id, body)], wait=lock_timeout)
    return body


def candidate_events(run_id: str, plan: Plan, evaluated: list[Evaluated],
                     results: list[CandidateResult]) -> list[NewEvent]:
    """Each candidate's evaluation (description, evidence and its hash) and its checked rules."""
    policy_refs = [policy_record(p) for p in plan.policies]
    events = []
    for item, result in zip(evaluated, results, strict=True):
        candidate, trained = item.trained.candidate, item.trained
        evidence = item.evidence.to_json() if item.evidence is not None else None
        evidence_sha = digest(evidence) if evidence else None
        if trained.search is not None:  # the trials before the candidate they chose
            events.append(NewEvent(runs.SEARCH_COMPLETED, run_id, trained.search))
        events.append(NewEvent(runs.CANDIDATE_EVALUATED, run_id, {
            "candidate": candidate.name, "family": candidate.family, "is_baseline": result.is_baseline,
            "params": candidate.params, "description": trained.description, "evidence": evidence,
            "evidence_sha256": evidence_sha, "evidence_version": EVIDENCE_VERSION, "error": item.error,
            "train_seconds": round(trained.seconds, 3),
        }))
        events.append(NewEvent(runs.RULES_CHECKED, run_id, {
            "candidate": candidate.name, "evidence_sha256": evidence_sha, "policies": policy_refs,
            "outcomes": [o.to_json() for o in result.outcomes], "verdict": result.verdict,
        }))
    return events


def record_candidates(plan: Plan, run_id: str, evaluated: list[Evaluated], results: list[CandidateResult], *,
                      lock_timeout: float) -> None:
    append(plan.outputs.audit_db, candidate_events(run_id, plan, evaluated, results), wait=lock_timeout)


def complete_run(plan: Plan, run_id: str, card_events: list[NewEvent], results: list[CandidateResult], *,
                 verdict: str, recommended: str | None, lock_timeout: float,
                 timings: dict[str, Any] | None = None) -> str:
    """Append the cards and the run's completion in one transaction (with where the run's time went, when
    `timings` is given: `engine.timings`); returns the new chain head."""
    completed = NewEvent(runs.RUN_COMPLETED, run_id, {
        "verdict": verdict, "recommended": recommended, "optimizing_metric": plan.spec.optimizing_metric,
        "candidates": {r.name: r.verdict for r in results}, **({"timings": timings} if timings else {}),
    })
    return append(plan.outputs.audit_db, [*card_events, completed], wait=lock_timeout)
