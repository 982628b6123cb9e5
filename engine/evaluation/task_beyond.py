"""Explanations and robustness of a multiclass or regression candidate, over the binary ones' parts.

The same seeded rows, background and settings as a binary audit (`engine.evaluation.beyond`); the explanation is
on the task's raw output (a regression's prediction, each class's logit or probability) and robustness reports
the task's metrics (`engine.evaluation.robustness`). A part that fails is stored as its error, so its rules are
`unknown`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.candidates.base import Candidate
from engine.canonical import jsonable
from engine.evaluation.beyond import part
from engine.evaluation.candidate import EvaluationContext
from engine.evaluation.explain import explanation_evidence
from engine.evaluation.robustness import robustness_evidence


def task_beyond(model: Candidate, context: EvaluationContext) -> dict[str, Any]:
    """{"explanations": ..., "robustness": ...} of one fitted multiclass or regression candidate."""
    shared, dataset = context.beyond, context.plan.dataset
    settings = shared.settings
    return {
        "explanations": jsonable(part("explanations", lambda: explanation_evidence(
            model, shared.x_test, shared.x_train, features=shared.features, association=shared.association,
            sensitive=shared.sensitive, settings=settings.explain, task=dataset.task, classes=dataset.classes))),
        "robustness": jsonable(part("robustness", lambda: robustness_evidence(
            model.predict_proba, shared.x_test, shared.y_test, features=shared.features, sensitive=shared.sensitive,
            settings=replace(settings.robustness, task=dataset.task)))),
    }
