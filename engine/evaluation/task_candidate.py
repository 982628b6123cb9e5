"""The `evaluate` stage of a multiclass or regression candidate: its `Evidence` from held-out rows.

The task's performance (metrics with intervals, per-group measures and gaps, the paired lift over the baseline) is
computed by `engine.evaluation.multiclass` / `.regression` from the candidate's test outputs (class probabilities,
or predictions) and the baseline's; the serving artifact is packaged and measured with parity in the output's
units; the retrain is compared; the lineage and the data's evidence are those of a binary audit. A multiclass
candidate's calibration comes with its performance, and its conformal prediction sets (`conformal_multiclass`)
are fitted on the validation split, as are a regression's conformal intervals (`conformal_regression`, and the
run's conformalized quantile regression, `conformal_quantile`). Explanations (each family's exact SHAP on the raw
output, per class for multiclass) and robustness (the task's metric under perturbation) come from `task_beyond`.
The sections that exist only for binary audits so far (regression calibration, reasons, the monitoring reference)
are recorded as not computed, with the reason, so their rules are `unknown`, never a pass. The champion,
re-scored on the same rows (`versus_champion.task_champion_reference`), is the second paired reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.canonical import jsonable
from engine.evaluation import reproducibility
from engine.evaluation.candidate import Evaluated, EvaluationContext, data_sections, reproducibility_evidence
from engine.evaluation.conformal_multiclass import conformal_multiclass_evidence
from engine.evaluation.conformal_quantile import cqr_evidence, cqr_once
from engine.evaluation.conformal_regression import conformal_regression_evidence
from engine.evaluation.evidence import Comparisons, Evidence, TaskPerformance
from engine.evaluation.multiclass import evaluate_multiclass
from engine.evaluation.regression import evaluate_regression
from engine.evaluation.task_beyond import task_beyond
from engine.evaluation.versus_champion import TaskChampion
from engine.lineage import candidate_lineage
from engine.progress import Progress, ProgressCallback
from engine.serving.evidence import serving_evidence
from engine.timings import timed
from engine.train import Trained, failure

NOT_YET = "{section} exists for binary audits only so far (this audit's task is {task})"


def not_computed(section: str, task: str) -> dict[str, str]:
    """A section this task has no evidence for yet: its rules read the error and are `unknown`."""
    return {"error": NOT_YET.format(section=section, task=task)}


def task_performance(task: str, y: NDArray[Any], output: NDArray[np.float64], context: EvaluationContext,
                     baseline: NDArray[np.float64] | None,
                     champion: NDArray[np.float64] | None = None) -> dict[str, Any]:
    """The task's performance evidence (with its comparisons with the baseline and the champion when their outputs
    on the same rows are given)."""
    plan = context.plan
    settings = plan.settings.performance
    if task == "regression":
        return evaluate_regression(np.asarray(y, dtype=np.float64), output, groupings=plan.groupings,
                                   settings=settings, baseline=baseline, champion=champion)
    return evaluate_multiclass(np.asarray(y, dtype=np.intp), output, list(plan.dataset.classes),
                               groupings=plan.groupings, settings=settings, baseline=baseline, champion=champion)


def task_conformal(model: Any, output: NDArray[np.float64], context: EvaluationContext, task: str) -> dict[str, Any]:
    """Conformal evidence calibrated on the validation split: a regression's split-conformal intervals, with the
    run's conformalized quantile regression intervals under `cqr`; a multiclass candidate's prediction sets."""
    plan = context.plan
    levels, min_group_size = plan.settings.beyond.levels, plan.settings.performance.min_group_size
    try:
        with timed("conformal"):
            valid_output = np.asarray(model.predict_proba(plan.training.x_valid), dtype=np.float64)
            if task == "multiclass":
                return conformal_multiclass_evidence(
                    np.asarray(plan.training.y_valid, dtype=np.intp), valid_output,
                    np.asarray(context.y_test, dtype=np.intp), output, levels=levels, groupings=plan.groupings,
                    min_group_size=min_group_size)
            split = conformal_regression_evidence(
                np.asarray(plan.training.y_valid, dtype=np.float64), valid_output,
                np.asarray(context.y_test, dtype=np.float64), output, levels=levels,
                groupings=plan.groupings, min_group_size=min_group_size)
    except Exception as exc:  # a part that fails leaves its rules unknown
        return {"error": failure(exc)}
    return {**split, "cqr": run_cqr(context)}


def run_cqr(context: EvaluationContext) -> dict[str, Any]:
    """The run's conformalized quantile regression intervals (computed for its first candidate, then reused)."""
    plan, training = context.plan, context.plan.training
    try:
        with timed("conformal"):
            return dict(cqr_once.get(context.serving.run_id, lambda: cqr_evidence(
                training.x_train, np.asarray(training.y_train, dtype=np.float64), training.x_valid,
                np.asarray(training.y_valid, dtype=np.float64), context.x_test,
                np.asarray(context.y_test, dtype=np.float64), features=training.features, seed=training.seed,
                levels=plan.settings.beyond.levels, groupings=plan.groupings,
                min_group_size=plan.settings.performance.min_group_size)))
    except Exception as exc:  # CQR that cannot fit leaves the cqr rules unknown, not the split ones
        return {"error": failure(exc)}


def task_reproducibility(trained: Trained, output: NDArray[np.float64], context: EvaluationContext,
                         task: str) -> dict[str, Any]:
    """The retrain compared in the output's units: no threshold labels; a multiclass task's most probable class."""
    device = reproducibility.device_of(trained.description)
    found = reproducibility_evidence(trained.retrain, output, context.x_test, threshold=0.5, device=device)
    if found.get("retrained") is not True or "error" in found or trained.retrain.twin is None:
        return found
    if task == "regression":
        return {**found, "label_disagreement": None}
    again = trained.retrain.twin.predict_proba(context.x_test)
    return {**found, "label_disagreement": float(np.mean(again.argmax(axis=1) != output.argmax(axis=1)))}


def evaluate_task_candidate(trained: Trained, context: EvaluationContext, progress: ProgressCallback, *,
                            baseline: tuple[str, NDArray[np.float64]] | None,
                            champion: TaskChampion) -> tuple[Evaluated, NDArray[np.float64] | None]:
    """One multiclass or regression candidate's evidence, and its test outputs (the baseline's are the reference
    of every later candidate). `baseline` is the baseline's name and test outputs, once evaluated."""
    model, plan = trained.model, context.plan
    task = plan.dataset.task
    if model is None or trained.error is not None:
        return Evaluated(trained, None, None, trained.error), None
    try:
        with timed("performance"):
            output = np.asarray(model.predict_proba(context.x_test), dtype=np.float64)
            document = task_performance(task, context.y_test, output, context,
                                        baseline[1] if baseline is not None else None, champion.output)
    except Exception as exc:  # outputs that cannot be evaluated (NaN, wrong shape) fail this candidate only
        return Evaluated(trained, None, None, failure(exc)), None
    name, spec = trained.candidate.name, trained.candidate
    progress(Progress("serve", f"packaging and measuring the ONNX artifact of {name}", name))
    serving = serving_evidence(model, name, plan.dataset.features, plan.training.x_train, context.x_test,
                               context.serving, native=output)
    with timed("reproducibility"):
        repro = task_reproducibility(trained, output, context, task)
    versus, mine = ((document.get("comparisons") or {}).get(reference) for reference in ("baseline", "champion"))
    document.setdefault("calibration", not_computed("calibration", task))
    evidence = Evidence(
        performance=TaskPerformance({key: value for key, value in jsonable(document).items() if key != "comparisons"}),
        **task_beyond(model, context),
        conformal=jsonable(task_conformal(model, output, context, task)),
        serving=jsonable(serving), reproducibility=jsonable(repro),
        lineage=candidate_lineage(context.run_lineage, family=spec.family, params=spec.params,
                                  seed=plan.spec.split.seed),
        comparisons=Comparisons(baseline=baseline[0] if baseline is not None and versus is not None else None,
                                versus_baseline=jsonable(versus) if versus is not None else None,
                                champion=champion.record, versus_champion=jsonable(mine) if mine is not None else None),
        not_applicable=dict(trained.description.get("not_applicable") or {}),
        **data_sections(plan, external=False),
    )
    return Evaluated(trained, evidence, None), output
