"""Rule kinds about how a candidate fits beyond its one test score: stability across folds and overfitting.

`cv_stability` reads the `cross_validation` section (`engine.evaluation.cv`: the optimizing metric on each fold of
the development rows) and bounds the spread across folds and the worst fold; `generalization_gap` reads the
`generalization` section (`engine.evaluation.generalization`) and bounds how much better the metric is on the
training rows than on the test rows. A section that was not computed (no `split.folds` in the spec), was skipped
(a model trained elsewhere, a calibrated variant's folds) or holds its error makes the rule `unknown` with the
reason: never a pass. The observed value is the measure the message leads with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.policy.finding import Evidence, Finding, Params, fmt


def usable(section: Any, what: str, needed: str) -> Finding | Mapping[str, Any]:
    """The section when it holds its numbers, else the `unknown` finding that says why not."""
    if not isinstance(section, Mapping):
        return Finding("unknown", None, None, f"{what} was not computed for this candidate ({needed})")
    for key, why in (("error", "failed"), ("skipped", "was skipped")):
        if key in section:
            return Finding("unknown", None, None, f"{what} {why}: {section[key]}")
    return section


def cv_stability(evidence: Evidence, params: Params) -> Finding:
    """The optimizing metric moves little across the folds: standard deviation, spread and worst fold in bounds."""
    section = usable(evidence.get("cross_validation"), "cross-validation", "set split.folds in the spec")
    if isinstance(section, Finding):
        return section
    metric, folds = section["metric"], section["folds"]
    std, spread, worst = section.get("std"), section.get("spread"), section.get("worst")
    if std is None or spread is None or worst is None:
        return Finding("unknown", None, None, f"{metric} is undefined on a fold of the {folds}-fold cross-validation")
    higher = bool(section.get("higher_is_better", True))
    said = f"{metric} over {folds} {section.get('strategy', '')} folds: std {fmt(std)}, spread {fmt(spread)}, " \
           f"worst fold {fmt(worst)}"
    broken = []
    if "max_std" in params and std > float(params["max_std"]):
        broken.append((std, float(params["max_std"]), f"std above {fmt(float(params['max_std']))}"))
    if "max_spread" in params and spread > float(params["max_spread"]):
        broken.append((spread, float(params["max_spread"]), f"spread above {fmt(float(params['max_spread']))}"))
    if "worst_fold" in params:
        bound = float(params["worst_fold"])
        if (worst < bound) if higher else (worst > bound):
            broken.append((worst, bound, f"worst fold {'below' if higher else 'above'} {fmt(bound)}"))
    if broken:
        observed, bound, _ = broken[0]
        return Finding("fail", observed, bound, f"{said}: " + "; ".join(b[2] for b in broken))
    first = next((float(params[k]) for k in ("max_std", "max_spread", "worst_fold") if k in params), None)
    observed = std if "max_std" in params else spread if "max_spread" in params else worst
    return Finding("pass", observed, first, said)


def generalization_gap(evidence: Evidence, params: Params) -> Finding:
    """The optimizing metric on the training rows is at most `max_gap` better than on the test rows."""
    section = usable(evidence.get("generalization"), "the train/test comparison", "an audit records it")
    if isinstance(section, Finding):
        return section
    gap, bound, metric = section.get("gap"), float(params["max_gap"]), section["metric"]
    if gap is None:
        return Finding("unknown", None, bound, f"{metric} is undefined on the training or the test rows")
    said = (f"{metric} {fmt(section['train'])} on the {section.get('train_rows', '?')} training rows, "
            f"{fmt(section['test'])} on the test rows: a gap of {fmt(gap, bound)}")
    if gap > bound:
        return Finding("fail", gap, bound, f"{said}, above {fmt(bound)} (overfitting)")
    return Finding("pass", gap, bound, f"{said}, within {fmt(bound)}")


def say_cv_stability(params: Params) -> str:
    bounds = [f"{label} {fmt(float(params[key]))}" for key, label in
              (("max_std", "a standard deviation of at most"), ("max_spread", "a spread of at most"),
               ("worst_fold", "a worst fold no worse than")) if key in params]
    return "the optimizing metric is stable across the cross-validation folds: " + ", ".join(bounds)


def say_generalization_gap(params: Params) -> str:
    return (f"the optimizing metric is at most {fmt(float(params['max_gap']))} better on the training rows than on "
            "the test rows (no overfitting)")


BOUND = {"type": "number", "minimum": 0}

CV_STABILITY_PARAMS: dict[str, Any] = {
    "description": "The optimizing metric is stable across the cross-validation folds of the development rows "
                   "(split.folds): its standard deviation, its spread (best minus worst fold) and its worst fold "
                   "within bounds. Unknown without split.folds.",
    "properties": {
        "max_std": {**BOUND, "description": "Largest standard deviation of the metric across folds (ddof 0)."},
        "max_spread": {**BOUND, "description": "Largest difference between the best and the worst fold."},
        "worst_fold": {"type": "number", "description": "The worst fold's metric must be at least this (at most "
                                                        "this for a loss: log_loss, brier)."},
    },
    "anyOf": [{"required": ["max_std"]}, {"required": ["max_spread"]}, {"required": ["worst_fold"]}],
    "examples": [{"id": "stable-folds", "kind": "cv_stability", "max_std": 0.02, "worst_fold": 0.8,
                  "severity": "warn", "checklist": "data_and_split"}],
}

GENERALIZATION_GAP_PARAMS: dict[str, Any] = {
    "description": "The optimizing metric on the training rows is at most max_gap better than on the test rows "
                   "(train minus test; test minus train for a loss): a bound on overfitting.",
    "properties": {
        "max_gap": {**BOUND, "description": "Largest gap between the training rows' metric and the test rows'."},
    },
    "required": ["max_gap"],
    "examples": [{"id": "no-overfitting", "kind": "generalization_gap", "max_gap": 0.05, "severity": "warn",
                  "checklist": "data_and_split"}],
}
