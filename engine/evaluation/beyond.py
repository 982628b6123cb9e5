"""Evidence beyond metrics, for every candidate: conformal coverage, explanations and robustness.

`beyond_settings` reads (and checks against the data) the spec's settings before anything is recorded;
`beyond_context` prepares what every candidate shares (the splits' rows, the sensitive groupings, the
feature-to-sensitive associations) once per audit; `beyond_evidence` computes the three parts for one fitted
candidate. A part that fails is stored as its error, so its rules are `unknown` rather than the candidate lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates.base import Candidate, Features
from engine.errors import SpecError
from engine.evaluation.conformal import conformal_evidence
from engine.evaluation.explain import ExplainSettings, associations, explanation_evidence
from engine.evaluation.groups import Grouping
from engine.evaluation.robustness import RobustnessSettings, directional_tests, robustness_evidence
from engine.timings import timed


@dataclass(frozen=True)
class BeyondSettings:
    levels: tuple[float, ...]
    min_group_size: int
    explain: ExplainSettings
    robustness: RobustnessSettings


@dataclass(frozen=True)
class BeyondContext:
    """What every candidate of one audit shares."""

    settings: BeyondSettings
    x_train: pd.DataFrame
    x_valid: pd.DataFrame
    y_valid: NDArray[np.bool_]
    x_test: pd.DataFrame
    y_test: NDArray[np.bool_]
    features: Features
    sensitive: tuple[str, ...]
    groupings: list[Grouping]
    association: dict[str, dict[str, float]]


def beyond_settings(evaluation: Mapping[str, Any], *, threshold: float, seed: int, features: Features,
                    source: str) -> BeyondSettings:
    """The settings of the spec's `evaluation` table; a directional test on a non-numeric feature is a SpecError."""
    for index, test in enumerate(evaluation["directional"]):
        if test["feature"] not in features.numeric:
            raise SpecError(f"{source}: /evaluation/directional/{index}/feature: {test['feature']!r} is not a "
                            f"numeric feature of this audit (numeric features: {', '.join(features.numeric)})")
    return BeyondSettings(
        levels=tuple(float(v) for v in evaluation["conformal_levels"]),
        min_group_size=int(evaluation["min_group_size"]),
        explain=ExplainSettings(rows=int(evaluation["shap_rows"]), background=int(evaluation["shap_background"]),
                                samples=int(evaluation["shap_samples"]),
                                proxy_threshold=float(evaluation["proxy_threshold"]), seed=seed),
        robustness=RobustnessSettings(rows=int(evaluation["robustness_rows"]),
                                      noise_scale=float(evaluation["noise_scale"]),
                                      swap_rate=float(evaluation["swap_rate"]),
                                      missing_rate=float(evaluation["missing_rate"]), threshold=threshold,
                                      directional=directional_tests(evaluation["directional"]), seed=seed),
    )


def beyond_context(settings: BeyondSettings, frame: pd.DataFrame, y: NDArray[np.bool_], *, x_train: pd.DataFrame,
                   validation: NDArray[np.intp], test: NDArray[np.intp], features: Features,
                   sensitive: Sequence[str], groupings: list[Grouping]) -> BeyondContext:
    """What every candidate shares; `x_train` is what the candidates were fitted on (split or training file)."""
    x_test = frame.iloc[test]
    return BeyondContext(settings, x_train, frame.iloc[validation], y[validation], x_test, y[test],
                         features, tuple(sensitive), groupings, associations(x_test, features, groupings))


def part(name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`compute()`, timed as `name`; its error instead when it fails."""
    try:
        with timed(name):
            return compute()
    except Exception as exc:  # one part failing (a library, a family) leaves its rules unknown, not the audit lost
        return {"error": f"{type(exc).__name__}: {exc}"}


def beyond_evidence(model: Candidate, test_proba: NDArray[np.float64], context: BeyondContext) -> dict[str, Any]:
    """`conformal`, `explanations` and `robustness` evidence of one fitted candidate."""
    s = context.settings
    return {
        "conformal": part("conformal", lambda: conformal_evidence(
            context.y_valid, model.predict_proba(context.x_valid), context.y_test, test_proba, levels=s.levels,
            groupings=context.groupings, min_group_size=s.min_group_size)),
        "explanations": part("explanations", lambda: explanation_evidence(
            model, context.x_test, context.x_train, features=context.features, association=context.association,
            sensitive=context.sensitive, settings=s.explain)),
        "robustness": part("robustness", lambda: robustness_evidence(
            model.predict_proba, context.x_test, context.y_test, features=context.features,
            sensitive=context.sensitive, settings=s.robustness)),
    }
