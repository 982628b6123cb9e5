"""`evaluate_multiclass()`: the evidence of a multiclass candidate from its class probabilities on the test split.

The counterpart of `performance.evaluate` for a target with K classes (codes 0..K-1 into `classes`; the
predicted class is the most probable, the first on a tie): accuracy, balanced accuracy, macro / micro /
weighted F1, precision and recall, one-vs-rest macro ROC AUC, log loss and top-k accuracy, each with a seeded
Poisson bootstrap interval; the confusion matrix; every per-class metric with its interval; measures and
one-vs-rest fairness gaps per sensitive group (engine.evaluation.multiclass_slices); and, when the baseline's or
the champion's probabilities on the same rows are given, the paired lift over each. Every number equals
scikit-learn / fairlearn on the same rows (tests/test_multiclass_metrics.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.calibration_multiclass import multiclass_calibration
from engine.evaluation.groups import Grouping
from engine.evaluation.multiclass_kernel import MulticlassSamples, multiclass_bootstrap, score_orders
from engine.evaluation.multiclass_metrics import (
    class_auc,
    confusion_metrics,
    headline_names,
    macro,
    negative_log_likelihood,
    per_class,
    top_k,
    true_rank,
)
from engine.evaluation.multiclass_slices import multiclass_slice
from engine.evaluation.performance import EvidenceSettings
from engine.evaluation.resampling import INTERVAL_METHOD, Finest, Reference, bounds, comparisons, value
from engine.evaluation.task_metrics import CLASS_METRICS

FloatArray = NDArray[np.float64]
WORST_SLICES = 5
LOWER_IS_BETTER = ("log_loss",)


class Scored:
    """Labels and probabilities with what every metric needs computed once: prediction, true rank, -log p."""

    def __init__(self, y: NDArray[np.intp], proba: FloatArray) -> None:
        self.y = y
        self.proba = proba
        self.classes = proba.shape[1]
        self.predicted = np.asarray(np.argmax(proba, axis=1), dtype=np.intp)
        self.rank = true_rank(proba, y)
        self.nll = negative_log_likelihood(proba, y)
        self.orders = score_orders(proba)  # each class's descending score order: the point AUC and the bootstrap's

    def confusion(self) -> FloatArray:
        cells = self.y * self.classes + self.predicted
        return np.bincount(cells, minlength=self.classes**2).reshape(self.classes, self.classes).astype(np.float64)

    def metrics(self) -> tuple[dict[str, float | None], dict[str, FloatArray]]:
        """The headline metrics, and the per-class arrays (precision, recall, f1, roc_auc, support, predicted)."""
        if self.y.size == 0:
            return dict.fromkeys(headline_names(self.classes)), {}
        confusion = self.confusion()
        auc = class_auc(self.y, self.proba, self.orders)
        ranks = np.bincount(self.rank, minlength=self.classes).astype(np.float64)
        arrays = {**confusion_metrics(confusion), "roc_auc_ovr_macro": macro(auc),
                  "log_loss": np.float64(self.nll.mean()), **top_k(ranks)}
        classes = per_class(confusion)
        return ({name: value(float(arrays[name])) for name in headline_names(self.classes)},
                {**{name: classes[name] for name in (*CLASS_METRICS, "support", "predicted")}, "roc_auc": auc})

    def bootstrap(self, finest: Finest, settings: EvidenceSettings) -> MulticlassSamples:
        return multiclass_bootstrap(self.y, self.predicted, self.rank, self.nll, self.proba, orders=self.orders,
                                    finest=finest.codes, n_finest=finest.size, seed=settings.seed,
                                    resamples=settings.resamples)


def resampled_metrics(samples: MulticlassSamples) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """Each resample's headline metrics (resamples,) and per-class metrics (resamples, K)."""
    confusion = samples.confusion.sum(axis=1)
    total = confusion.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_loss = np.where(total > 0, samples.losses.sum(axis=1) / total, np.nan)
    headline = {**confusion_metrics(confusion), "roc_auc_ovr_macro": macro(samples.auc), "log_loss": log_loss,
                **top_k(samples.ranks)}
    classes = per_class(confusion)
    return headline, {**{name: classes[name] for name in CLASS_METRICS}, "roc_auc": samples.auc}


def _checked(y: NDArray[np.intp], proba: FloatArray, classes: list[str], name: str = "probabilities"
             ) -> tuple[NDArray[np.intp], FloatArray]:
    codes = np.asarray(y, dtype=np.intp)
    p = np.asarray(proba, dtype=np.float64)
    k = len(classes)
    if codes.ndim != 1 or p.shape != (codes.size, k):
        raise ValueError(f"{name} have shape {p.shape}, expected ({codes.size}, {k}) for {k} classes")
    if codes.size and (codes.min() < 0 or codes.max() >= k):
        raise ValueError(f"class codes must lie in 0..{k - 1}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{int(np.sum(~np.isfinite(p)))} predicted {name} are NaN or infinite")
    return codes, p


def _per_class_table(classes: list[str], arrays: dict[str, FloatArray], sampled: dict[str, FloatArray] | None,
                     confidence: float) -> list[dict[str, Any]]:
    names = (*CLASS_METRICS, "roc_auc")
    sampled_bounds = {name: bounds(sampled[name], confidence) for name in names} if sampled is not None else {}
    table = []
    for c, label in enumerate(classes):
        entry: dict[str, Any] = {
            "class": label, "support": int(arrays["support"][c]), "predicted": int(arrays["predicted"][c]),
            **{name: value(arrays[name][c]) for name in (*CLASS_METRICS, "roc_auc")},
        }
        if sampled_bounds:
            entry["intervals"] = {name: sampled_bounds[name][c] for name in names}
        table.append(entry)
    return table


def _worst_slices(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [
        {"grouping": s["name"], "group": g["group"], "support": g["support"], "metric": "accuracy",
         "value": g["metrics"]["accuracy"]}
        for s in slices for g in s["groups"] if not g["too_small"] and g["metrics"]["accuracy"] is not None
    ]
    return sorted(found, key=lambda c: c["value"])[:WORST_SLICES]


def _reference(name: str, y: NDArray[np.intp], proba: FloatArray | None, classes: list[str],
               settings: EvidenceSettings) -> Reference | None:
    if proba is None:
        return None
    scored = Scored(*_checked(y, proba, classes, f"{name} probabilities"))
    samples = None
    if settings.resamples > 0 and y.size:
        samples = resampled_metrics(scored.bootstrap(Finest.of([], y.size), settings))[0]
    return scored.metrics()[0], samples


def evaluate_multiclass(y: NDArray[np.intp], proba: FloatArray, classes: list[str], *, groupings: list[Grouping],
                        settings: EvidenceSettings, baseline: FloatArray | None = None,
                        champion: FloatArray | None = None) -> dict[str, Any]:
    """The evidence of one multiclass candidate on held-out class codes `y` and probabilities `proba` (n, K)."""
    scored = Scored(*_checked(y, proba, classes))
    points, class_arrays = scored.metrics()
    samples = None
    grouped: list[tuple[FloatArray, FloatArray] | None] = [None] * len(groupings)
    if settings.resamples > 0 and scored.y.size:
        finest = Finest.of(groupings, scored.y.size)
        samples = scored.bootstrap(finest, settings)
        grouped = list(zip(finest.by_grouping(samples.confusion, groupings),
                           finest.by_grouping(samples.losses, groupings), strict=True))
    slices = [
        multiclass_slice(g, scored.y, scored.predicted, scored.nll, classes, min_support=settings.min_group_size,
                         resampled=s, confidence=settings.confidence)
        for g, s in zip(groupings, grouped, strict=True)
    ]
    headline_samples, class_samples = resampled_metrics(samples) if samples is not None else (None, None)
    evidence: dict[str, Any] = {
        "task": "multiclass",
        "split": "test",
        "rows": int(scored.y.size),
        "classes": list(classes),
        "metrics": points,
        "per_class": _per_class_table(classes, class_arrays, class_samples, settings.confidence)
        if class_arrays else [],
        "confusion_matrix": scored.confusion().astype(np.int64).tolist(),
        "slices": slices,
        "calibration": multiclass_calibration(scored.y, scored.proba, classes, groupings,
                                              bins=settings.calibration_bins),
        "error_analysis": {"worst_slices": _worst_slices(slices)},
    }
    if headline_samples is not None:
        evidence["intervals"] = {
            "method": INTERVAL_METHOD, "confidence": settings.confidence, "resamples": settings.resamples,
            "seed": settings.seed,
            "metrics": {name: bounds(headline_samples[name], settings.confidence) for name in points},
        }
    references = {name: ref for name, other in (("baseline", baseline), ("champion", champion))
                  if (ref := _reference(name, scored.y, other, classes, settings)) is not None}
    if references:
        directions = {name: "lower" if name in LOWER_IS_BETTER else "higher" for name in points}
        evidence["comparisons"] = comparisons(points, headline_samples, references, directions=directions,
                                              confidence=settings.confidence)
    return evidence
