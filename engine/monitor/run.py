"""One monitoring run of a model's champion: `monitor()` reads the batch, scores it with the champion's checked
ONNX artifact, computes the monitoring evidence, judges the conditions and records it all in the trail.

It appends one `monitoring_run` event (on the champion's audit run: batch fingerprint, window, rows, evidence,
outcomes, alerts) and, when a critical condition fails, an `approval_lapsed` event naming the rule, the batch
and the figures; then the champion's model card is written again with its monitoring section (`card_written`);
with `rollback_on="critical"` the rollback itself follows (`engine.champion.rollback`).
A champion audited before the reference was recorded is still scored and checked: its drift evidence says the
reference is missing and the drift rules are `unknown`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import champion as registry_of
from engine.audit import runs
from engine.audit.runs import APPROVAL_LAPSED, MONITORING_RUN
from engine.audit.trail import LOCK_WAIT_SECONDS, NewEvent, append
from engine.canonical import jsonable
from engine.evaluation.groups import sensitive_groupings
from engine.evaluation.performance import EvidenceSettings, evaluate
from engine.monitor import conditions as conds
from engine.monitor.batch import Batch, MonitorError, checked_artifact, labels, read_batch, score_batch
from engine.monitor.drift import drift_evidence
from engine.monitor.feedback import estimated_performance, versus_approval
from engine.monitor.paired import Challenger, challenger_of, versus_challenger
from engine.monitor.schema import schema_violations
from engine.review import rerender_card

NO_REFERENCE = ("the champion's audit recorded no training reference (it was audited before mlgate recorded "
                "one): re-audit it to monitor drift")
ROLLBACK_REVIEWER = "mlgate monitor"

JSON = dict[str, Any]


@dataclass(frozen=True)
class Options:
    """How one monitoring run is made."""

    model: str | None = None
    policy: Path | None = None
    window_column: str | None = None
    window: str | None = None
    fail_on: str = "critical"
    rollback_on: str | None = None
    resamples: int | None = None
    challenger: str | None = None  # `[RUN_ID:]CANDIDATE`, compared with the champion on the same labelled rows
    lock_timeout: float = LOCK_WAIT_SECONDS


@dataclass
class Result:
    """What a monitoring run recorded and what it means for a scheduler (exit 0 healthy, 1 a condition failed)."""

    model: str
    champion: JSON
    record: JSON
    head: str
    lapsed: JSON | None = None
    rolled_back: JSON | None = None
    failed: list[JSON] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.failed


def _champion(audit_db: Path, model: str | None) -> tuple[str, registry_of.Registry]:
    if not audit_db.is_file():
        raise MonitorError(f"{audit_db}: no audit trail here", hint="run `mlgate audit` first or pass --audit-db")
    found = registry_of.registries(audit_db)
    if model is None:
        if len(found) != 1:
            raise MonitorError("no champion has been promoted in this trail" if not found else
                               f"the trail has champions of several models ({', '.join(sorted(found))}); "
                               "name one with --model")
        model = next(iter(found))
    if model not in found or found[model].current is None:
        raise MonitorError(f"model {model!r} has no champion in this trail",
                           hint="promote a candidate first (`mlgate promote`)")
    return model, found[model]


def _settings(spec: Mapping[str, Any], resamples: int | None) -> EvidenceSettings:
    evaluation = spec.get("evaluation") or {}
    base = EvidenceSettings()
    return EvidenceSettings(threshold=float(spec.get("threshold", evaluation.get("threshold", base.threshold))),
                            optimizing_metric=evaluation.get("optimizing_metric", base.optimizing_metric),
                            resamples=int(resamples if resamples is not None
                                          else evaluation.get("bootstrap", base.resamples)),
                            confidence=float(evaluation.get("confidence", base.confidence)),
                            seed=int(evaluation.get("seed", base.seed)),
                            calibration_bins=int(evaluation.get("calibration_bins", base.calibration_bins)),
                            min_group_size=int(evaluation.get("min_group_size", base.min_group_size)))


def monitoring_evidence(batch: Batch, *, approved: Mapping[str, Any], model: bytes, schema: Mapping[str, Any],
                        data: Mapping[str, Any], positive: str | None, settings: EvidenceSettings,
                        challenger: tuple[Challenger, Mapping[str, Any]] | None = None) -> JSON:
    """Everything one batch says about the champion: schema, drift, and performance on feedback or its estimate;
    with a `challenger` (and the champion's reference), the two compared paired on the batch's labelled rows."""
    frame = batch.frame
    evidence: JSON = {"schema": schema_violations(schema, frame),
                      "approved": {k: v for k, v in (approved.get("metrics") or {}).items() if v is not None}}
    scores = None
    if evidence["schema"]["missing_columns"]:
        evidence["scoring"] = {"error": "the batch lacks required column(s): "
                                        + ", ".join(evidence["schema"]["missing_columns"])}
    else:
        try:
            scores = score_batch(model, schema, frame)
            evidence["scoring"] = {"rows": len(scores), "mean_score": float(scores.mean())}
        except Exception as exc:  # an artifact that cannot score the batch is a finding, recorded as such
            evidence["scoring"] = {"error": f"{type(exc).__name__}: {exc}"}
    reference = approved.get("drift_reference")
    if not reference:
        evidence["drift"] = {"error": NO_REFERENCE}
    elif reference.get("error"):
        evidence["drift"] = {"error": f"the training reference could not be recorded: {reference['error']}"}
    else:
        evidence["drift"] = drift_evidence(reference, frame, scores)
    if scores is None:
        return evidence
    y = labels(frame, target=data["target"], positive=positive)
    if challenger is not None:
        evidence["versus_challenger"] = versus_challenger(challenger[0], frame, y, scores, champion=challenger[1],
                                                          settings=settings)
    if y is None:
        evidence["estimated"] = estimated_performance(scores, threshold=settings.threshold)
        return evidence
    groupings = sensitive_groupings(frame, [c for c in data.get("sensitive", []) if c in frame.columns],
                                    data.get("sensitive_bins") or {})
    performance, _ = evaluate(y, scores, groupings=groupings, settings=settings)
    evidence.update(jsonable(performance))
    evidence["split"] = "feedback"
    evidence["versus_approval"] = versus_approval(evidence, approved, confidence=settings.confidence)
    return evidence


def _lapse(model: str, entry: Mapping[str, Any], batch: Batch, critical: list[JSON],
           target: Mapping[str, Any] | None) -> JSON:
    first = critical[0]
    return {"model": model, "champion": registry_of.reference(dict(entry)), "batch": batch.record(),
            "rule": first["id"], "policy": first["policy"], "observed": first["observed"],
            "threshold": first["threshold"], "message": first["message"],
            "failed": [{k: o[k] for k in ("id", "kind", "observed", "threshold", "message")} for o in critical],
            "rollback_recommended_to": registry_of.reference(dict(target)) if target else None}


def monitor(audit_db: Path, batch_path: Path, options: Options = Options()) -> Result:
    """Monitor the champion of `options.model` on one batch and record the run (see the module's docstring)."""
    model, found = _champion(audit_db, options.model)
    entry = found.current
    assert entry is not None  # _champion refuses otherwise
    record = runs.load_run(audit_db, entry["run_id"])
    spec = record.started.data["spec"]
    data = spec["data"]
    stored, source = conds.conditions(given=options.policy, attached=entry.get("conditions"))
    onnx, schema = checked_artifact(entry.get("artifact"))
    batch = read_batch(batch_path, missing=data.get("missing_values", []), window_column=options.window_column,
                       window=options.window)
    approved = record.evidence(entry["candidate"])
    named = registry_of.reference(entry) or {}
    challenger = None if options.challenger is None else (
        challenger_of(audit_db, options.challenger, entry), {k: named[k] for k in ("run_id", "candidate")})
    positive = record.started.data.get("data", {}).get("positive_label", data.get("positive"))
    evidence = monitoring_evidence(batch, approved=approved, model=onnx, schema=schema, data=data,
                                   positive=None if positive is None else str(positive),
                                   settings=_settings(spec, options.resamples), challenger=challenger)
    outcomes = conds.judge(stored, evidence)
    failed = conds.failed_at(outcomes, options.fail_on)
    critical = conds.failed_at(outcomes, "critical")
    body = jsonable({"model": model, "champion": registry_of.reference(entry), "batch": batch.record(),
                     "conditions": {k: stored[k] for k in ("name", "version", "sha256")} | {"source": source},
                     "evidence": evidence, "outcomes": outcomes, "alerts": conds.alerts(outcomes),
                     "status": "lapsed" if critical else "failed" if failed else "healthy"})
    events = [NewEvent(MONITORING_RUN, entry["run_id"], body)]
    lapsed = None
    if critical and not entry.get("lapsed"):
        lapsed = jsonable(_lapse(model, entry, batch, critical, found.rollback_target))
        events.append(NewEvent(APPROVAL_LAPSED, entry["run_id"], lapsed))
    head = append(audit_db, events, wait=options.lock_timeout)
    head = rerender_card(audit_db, entry["run_id"], entry["candidate"], options.lock_timeout) or head
    result = Result(model, registry_of.reference(entry) or {}, body, head, lapsed, None, failed)
    if critical and options.rollback_on == "critical" and found.rollback_target is not None:
        head, withdrawn, restored = registry_of.rollback(
            audit_db, model=model, reviewer=ROLLBACK_REVIEWER, lock_timeout=options.lock_timeout,
            reason=f"monitoring: {critical[0]['id']} failed on batch {batch.sha256[:16]}: "
                   f"{str(critical[0]['message'])[:300]}")
        result.head, result.rolled_back = head, {"withdrawn": registry_of.reference(withdrawn),
                                                 "restored": registry_of.reference(restored)}
    return result
