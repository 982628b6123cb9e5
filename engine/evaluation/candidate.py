"""The `evaluate` stage: `evaluate_candidate()` turns one trained candidate into its whole `Evidence`.

Everything is computed on held-out rows: the test scores give the performance, slice, fairness and calibration
sections and the bootstrap samples; the fitted model gives conformal, explanation and robustness evidence; its
ONNX artifact is packaged and measured (serving); its retrained twin is compared (reproducibility); the run's
lineage is stamped with the candidate's own. A part that fails is stored as its error (its rules are then
`unknown`); a candidate whose test scores cannot be evaluated at all keeps the error instead of evidence.
What every candidate shares (test rows, groupings, settings) is prepared once in an `EvaluationContext`.
The comparisons with the baseline and the champion need every candidate, so `comparisons.compare_all` adds them
in one step afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import EXTERNAL
from engine.canonical import digest, jsonable
from engine.evaluation import reproducibility
from engine.evaluation.beyond import BeyondContext, beyond_context, beyond_evidence
from engine.evaluation.bootstrap import BootstrapSamples
from engine.evaluation.cv import cross_validation
from engine.evaluation.evidence import Evidence, Performance
from engine.evaluation.generalization import curve_fractions, generalization
from engine.evaluation.integrity import preprocessing_record
from engine.evaluation.performance import evaluate
from engine.lineage import candidate_lineage
from engine.monitor.reference import reference_section
from engine.prepare import Plan
from engine.progress import Progress, ProgressCallback
from engine.reasons.evidence import decisions_evidence
from engine.serving.evidence import ServingSettings, serving_evidence
from engine.timings import timed
from engine.train import Retrain, Trained, failure


@dataclass(frozen=True)
class EvaluationContext:
    """What every candidate of one audit is evaluated against, prepared once per run."""

    plan: Plan
    x_test: pd.DataFrame
    y_test: NDArray[np.bool_]
    beyond: BeyondContext
    serving: ServingSettings
    run_lineage: Mapping[str, Any]


@dataclass(frozen=True)
class Evaluated:
    """A trained candidate with its evidence and bootstrap samples, or the error that left it without them."""

    trained: Trained
    evidence: Evidence | None
    samples: BootstrapSamples | None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.trained.candidate.name


def evaluation_context(plan: Plan, *, run_id: str, run_lineage: Mapping[str, Any]) -> EvaluationContext:
    """The shared part of every candidate's evaluation in run `run_id`."""
    dataset, splits, spec = plan.dataset, plan.splits, plan.spec
    beyond = beyond_context(plan.settings.beyond, dataset.frame, dataset.y,
                            validation=splits.validation, test=splits.test, features=dataset.features,
                            sensitive=dataset.sensitive, groupings=plan.groupings, x_train=plan.training.x_train)
    serving = ServingSettings(
        run_id=run_id, artifacts_dir=plan.outputs.artifacts_dir, threshold=spec.threshold,
        serving_features=plan.settings.serving_features, measure=plan.settings.serving_measure,
        provenance={"spec_sha256": digest(spec.document), "data_sha256": dataset.fingerprint.get("sha256")},
    )
    return EvaluationContext(plan, dataset.frame.iloc[splits.test], dataset.y[splits.test], beyond, serving,
                             run_lineage)


def reproducibility_evidence(retrain: Retrain, proba: NDArray[np.float64], x_test: pd.DataFrame, *,
                             threshold: float, device: str) -> dict[str, Any]:
    """The `reproducibility` section: the twin's test scores against the candidate's, or why there are none."""
    if retrain.skipped is not None:
        return reproducibility.not_retrained(retrain.skipped)
    seconds = retrain.seconds
    if retrain.twin is not None and retrain.error is None:
        try:
            again = retrain.twin.predict_proba(x_test)
        except Exception as exc:  # a twin that cannot score is a finding about this candidate
            return reproducibility.failed(failure(exc), seconds=seconds, device=device)
        return reproducibility.compare_predictions(proba, again, threshold=threshold, seconds=seconds, device=device)
    return reproducibility.failed(retrain.error or "the retrain left no model", seconds=seconds, device=device)


def evaluate_candidate(trained: Trained, context: EvaluationContext, progress: ProgressCallback) -> Evaluated:
    """The whole evidence of one trained candidate (without its comparisons: see `comparisons.compare_all`)."""
    model, settings = trained.model, context.plan.settings
    if model is None or trained.error is not None:
        return Evaluated(trained, None, None, trained.error)
    try:
        with timed("performance"):
            proba = model.predict_proba(context.x_test)
            performance, samples = evaluate(context.y_test, proba, groupings=context.plan.groupings,
                                            settings=settings.performance)
        beyond = beyond_evidence(model, proba, context.beyond)
    except Exception as exc:  # scores that cannot be evaluated (NaN, wrong shape) fail this candidate only
        return Evaluated(trained, None, None, failure(exc))
    name, spec = trained.candidate.name, trained.candidate
    progress(Progress("serve", f"packaging and measuring the ONNX artifact of {name}", name))
    plan = context.plan
    serving = serving_evidence(model, name, plan.dataset.features, plan.training.x_train, context.x_test,
                               context.serving, native=proba)
    device = reproducibility.device_of(trained.description)
    with timed("reproducibility"):
        repro = reproducibility_evidence(trained.retrain, proba, context.x_test, threshold=plan.spec.threshold,
                                         device=device)
    evidence = Evidence(
        performance=Performance.from_json(jsonable(performance)),
        conformal=jsonable(beyond["conformal"]), explanations=jsonable(beyond["explanations"]),
        robustness=jsonable(beyond["robustness"]), serving=jsonable(serving),
        reproducibility=jsonable(repro),
        lineage=candidate_lineage(context.run_lineage, family=spec.family, params=spec.params,
                                  seed=plan.spec.split.seed),
        not_applicable=dict(trained.description.get("not_applicable") or {}),
        **data_sections(plan, external=spec.family == EXTERNAL),
        **fit_sections(trained, context, proba, progress),

        drift_reference=reference_section(plan.training.x_train, numeric=plan.dataset.features.numeric,
                                          categorical=plan.dataset.features.categorical, scores=proba),

        decisions=decisions_evidence(serving, name=name, family=spec.family, spec=plan.spec.document,
                                     x_test=context.x_test, x_train=plan.training.x_train,
                                     explanations=beyond["explanations"], groupings=plan.groupings,
                                     threshold=plan.spec.threshold, min_group_size=settings.performance.min_group_size,
                                     confidence=settings.performance.confidence, seed=plan.spec.split.seed),
    )
    return Evaluated(trained, evidence, samples)


def data_sections(plan: Plan, *, external: bool) -> dict[str, Any]:
    """The data's evidence shared by every candidate, with this candidate's preprocessing record."""
    shared = plan.data_evidence or {}
    integrity = shared.get("split_integrity")
    if integrity is not None and "error" not in integrity:
        integrity = {**integrity, "preprocessing": preprocessing_record(
            plan.trained_on, plan.training.x_train, plan.splits.test, external=external)}
    return {"split_integrity": integrity, "data_quality": shared.get("data_quality")}


def fit_sections(trained: Trained, context: EvaluationContext, proba: NDArray[np.float64],
                 progress: ProgressCallback) -> dict[str, Any]:
    """How well the candidate fits beyond its one test score: the folds of the development rows
    (`cross_validation`, when the spec asks for folds) and the train/held-out gap with the learning curve."""
    plan, candidate, model = context.plan, trained.candidate, trained.model
    assert model is not None
    split, metric, threshold = plan.spec.split, plan.spec.optimizing_metric, plan.spec.threshold
    development = len(plan.splits.train) + len(plan.splits.validation)
    with timed("cross_validation") if split.folds else nullcontext():
        folds = cross_validation(model, candidate, plan.folds, frame=plan.dataset.frame, y=plan.dataset.y,
                                 features=plan.dataset.features, metric=metric, threshold=threshold, seed=split.seed,
                                 strategy=split.strategy, asked=split.folds, progress=progress,
                                 early_stopping_share=len(plan.splits.validation) / max(development, 1))
    with timed("generalization"):
        try:
            fit = generalization(model, candidate, plan.training, trained_on=str(plan.trained_on.get("source", "")),
                                 y_test=context.y_test, proba_test=proba, metric=metric, threshold=threshold,
                                 fractions=curve_fractions(plan.spec.evaluation.get("learning_curve")),
                                 progress=progress)
        except Exception as exc:  # scores that cannot be computed leave the gap's rule unknown, never a pass
            fit = {"metric": metric, "error": failure(exc)}
    return {"cross_validation": jsonable(folds) if folds is not None else None,
            "generalization": jsonable(fit)}
