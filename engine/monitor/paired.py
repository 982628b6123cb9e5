"""Champion and challenger on the same labelled feedback rows: a paired comparison, and the verdict it supports.

The approval's figures were computed on other rows (the audit's test split), so a batch is compared with them by a
two-sample interval (`engine.monitor.feedback`). A challenger (another audited candidate with a packaged ONNX
artifact, such as the champion it replaced) can be scored on exactly the batch's rows, so the two are compared
paired: both are resampled with the same bootstrap seed (the same Poisson row weights in every resample), and each
metric's difference, its percentile interval and a one-sided p-value for "the challenger is not better" come from
the same resamples (`engine.evaluation.comparisons.compare`, as an audit compares a candidate with its champion).
For ROC AUC, DeLong's test for two correlated AUCs gives the analytic interval and a two-sided p-value beside it.
The verdict is read on the optimizing metric's paired interval: it supports promoting the challenger only when
the whole interval favours it, keeping the champion when the whole interval favours the champion, else neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from engine.audit import runs
from engine.evaluation.bootstrap import BootstrapSamples, bootstrap
from engine.evaluation.comparisons import compare
from engine.evaluation.metrics import Scores, headline_metrics
from engine.evaluation.performance import EvidenceSettings
from engine.monitor.batch import MonitorError, checked_artifact, score_batch

METHOD = ("paired bootstrap: champion and challenger scored on the same feedback rows, resampled with the same "
          "Poisson row weights; DeLong's test for the two correlated ROC AUCs")
VERDICTS = {
    "challenger_better": "promoting the challenger: on these rows it is better over the whole interval",
    "champion_better": "keeping the champion: on these rows it is better over the whole interval",
    "no_difference": "neither: the interval holds zero, so these rows cannot tell the two apart",
}

JSON = dict[str, Any]


def _samples(y: NDArray[np.bool_], proba: NDArray[np.float64], settings: EvidenceSettings) -> BootstrapSamples:
    """Headline metrics of every resample (no groups): the seed fixes the row weights, so two calls pair."""
    return bootstrap(y, proba, threshold=settings.threshold, cells=np.zeros((y.size, 0), dtype=np.intp), n_cells=0,
                     seed=settings.seed, resamples=settings.resamples)


def delong(y: NDArray[np.bool_], first: NDArray[np.float64], second: NDArray[np.float64], *,
           confidence: float = 0.95) -> JSON | None:
    """DeLong's test for the difference of two correlated ROC AUCs (second - first) on the same rows: the AUCs,
    the difference with its normal interval, z and the two-sided p-value (None without both classes)."""
    positives, negatives = np.flatnonzero(y), np.flatnonzero(~y)
    m, n = positives.size, negatives.size
    if m < 2 or n < 2:
        return None
    v10, v01 = np.empty((2, m)), np.empty((2, n))
    for k, scores in enumerate((first, second)):
        x, z = scores[positives], scores[negatives]
        everything = stats.rankdata(np.concatenate([x, z]))
        v10[k] = (everything[:m] - stats.rankdata(x)) / n  # each positive's share of negatives ranked below it
        v01[k] = 1.0 - (everything[m:] - stats.rankdata(z)) / m
    aucs = v10.mean(axis=1)
    contrast = np.array([-1.0, 1.0])
    variance = float(contrast @ np.cov(v10) @ contrast / m + contrast @ np.cov(v01) @ contrast / n)
    difference = float(aucs[1] - aucs[0])
    if variance <= 0:
        return {"first": float(aucs[0]), "second": float(aucs[1]), "difference": difference, "interval": None,
                "z": None, "p_value": None}
    se = float(np.sqrt(variance))
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * se
    z_value = difference / se
    return {"first": float(aucs[0]), "second": float(aucs[1]), "difference": difference, "standard_error": se,
            "interval": [difference - half, difference + half], "z": z_value,
            "p_value": float(2 * stats.norm.sf(abs(z_value)))}


def verdict(entry: Mapping[str, Any] | None, metric: str) -> JSON:
    """What the paired interval of `metric` supports (challenger - champion, positive: the challenger is better)."""
    found = entry or {}
    bounds = found.get("interval") or [None, None]
    if bounds[0] is None or bounds[1] is None or found.get("lift") is None:
        key = "no_difference"
        reason = f"{metric}: no paired interval could be computed"
    else:
        key = "challenger_better" if bounds[0] > 0 else "champion_better" if bounds[1] < 0 else "no_difference"
        reason = f"{metric} difference {found['lift']:+.4f} [{bounds[0]:+.4f}, {bounds[1]:+.4f}]"
    return {"metric": metric, "verdict": key, "supports": VERDICTS[key], "because": reason}


def paired_feedback(y: NDArray[np.bool_], champion: NDArray[np.float64], challenger: NDArray[np.float64], *,
                    settings: EvidenceSettings, names: Mapping[str, Any]) -> JSON:
    """The `versus_challenger` part of a monitoring run: every metric of both on the same rows, the paired
    differences (challenger - champion, in each metric's better direction) with intervals, DeLong for ROC AUC,
    and the verdict on the optimizing metric. `names` says which models the two are (champion, challenger)."""
    ours, theirs = _samples(y, champion, settings), _samples(y, challenger, settings)
    mine = headline_metrics(Scores.of(y, champion, settings.threshold))
    other = headline_metrics(Scores.of(y, challenger, settings.threshold))
    lifts = compare({"metrics": other}, theirs, {"metrics": mine}, ours, confidence=settings.confidence)
    metrics = {name: {"champion": mine[name], "challenger": other[name], **lifts[name]} for name in lifts}
    return {"method": METHOD, "rows": int(y.size), "positives": int(np.count_nonzero(y)),
            "resamples": settings.resamples, "seed": settings.seed, "confidence": settings.confidence,
            "threshold": settings.threshold, **dict(names), "metrics": metrics,
            "delong_roc_auc": delong(y, champion, challenger, confidence=settings.confidence),
            "verdict": verdict(metrics.get(settings.optimizing_metric), settings.optimizing_metric)}


@dataclass(frozen=True)
class Challenger:
    """The model compared with the champion on the batch: how the trail names it, its checked artifact."""

    reference: JSON
    model: bytes
    schema: JSON


def challenger_of(audit_db: Path, named: str, champion: Mapping[str, Any]) -> Challenger:
    """The candidate `[RUN_ID:]CANDIDATE` (default run: the champion's) with its packaged artifact, SHA-256
    checked; a `MonitorError` (exit 2) when it is the champion itself, unknown, or has no artifact."""
    run_id, _, candidate = named.rpartition(":")
    run_id = run_id or str(champion["run_id"])
    if (run_id, candidate) == (champion["run_id"], champion["candidate"]):
        raise MonitorError(f"--challenger {named}: that is the champion itself; name another candidate")
    record = runs.load_run(audit_db, run_id)
    if candidate not in record.candidates:
        raise MonitorError(f"--challenger {named}: run {run_id} has no candidate {candidate!r} (it has "
                           f"{', '.join(sorted(record.candidates)) or 'none'})")
    artifact = (record.evidence(candidate).get("serving") or {}).get("artifact")
    model, schema = checked_artifact(artifact if isinstance(artifact, dict) else None, whose="the challenger")
    files = artifact.get("files") or {} if isinstance(artifact, dict) else {}
    return Challenger({"run_id": run_id, "candidate": candidate,
                       "model_sha256": (files.get("model.onnx") or {}).get("sha256")}, model, schema)


def versus_challenger(challenger: Challenger, frame: Any, y: NDArray[np.bool_] | None,
                      champion_scores: NDArray[np.float64], *, champion: Mapping[str, Any],
                      settings: EvidenceSettings) -> JSON:
    """The paired comparison on the batch's rows, or why it could not be made (no labels, a column missing)."""
    names = {"champion": dict(champion), "challenger": challenger.reference}
    if y is None:
        return {"error": "the batch has no labels: champion and challenger are compared on labelled feedback", **names}
    missing = [c["name"] for c in challenger.schema["columns"] if c["name"] not in frame.columns]
    if missing:
        return {"error": f"the batch lacks column(s) the challenger needs: {', '.join(missing)}", **names}
    try:
        scores = score_batch(challenger.model, challenger.schema, frame)
    except Exception as exc:  # an artifact that cannot score the batch is a finding, recorded as such
        return {"error": f"the challenger could not score the batch: {type(exc).__name__}: {exc}", **names}
    return paired_feedback(y, champion_scores, scores, settings=settings, names=names)
