"""Multiclass metrics from a confusion matrix, a histogram of the true class's rank and a log-loss sum.

Every headline metric of a multiclass candidate is a function of three small arrays: the (true, predicted)
confusion counts, the counts of the rank of the true class among the scores (top-k accuracy), and the summed
negative log-likelihood. The functions below work on any leading shape, so the same code gives the point
estimate (counts of every row once) and every bootstrap resample's value (weighted counts, shape (resamples,
...)). They equal scikit-learn with `zero_division=np.nan`: a per-class rate whose denominator is zero is
undefined (NaN, stored as None) and left out of the macro and weighted averages, never counted as 0. One-vs-rest
ROC AUC per class needs each class's own score order and is computed apart (`class_auc` here for the point,
engine.evaluation.multiclass_kernel for resamples).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.metrics import Scores, roc_auc
from engine.evaluation.resampling import divide
from engine.evaluation.task_metrics import AVERAGED, TOP_K

FloatArray = NDArray[np.float64]
LOSSES = ("log_loss",)


def top_k_names(classes: int) -> tuple[str, ...]:
    """The top-k accuracies that mean something for `classes` classes (k below the number of classes)."""
    return tuple(f"top_{k}_accuracy" for k in TOP_K if k < classes)


def headline_names(classes: int) -> tuple[str, ...]:
    return ("accuracy", "balanced_accuracy", *AVERAGED, "roc_auc_ovr_macro", "log_loss", *top_k_names(classes))


def _nanmean(x: FloatArray, weights: FloatArray | None = None) -> FloatArray:
    """Mean over the last axis of the defined (non-NaN) entries, weighted or not; NaN if none is defined."""
    w = np.ones_like(x) if weights is None else np.broadcast_to(weights, x.shape)
    defined = ~np.isnan(x)
    return divide(np.where(defined, x * w, 0.0).sum(axis=-1), np.where(defined, w, 0.0).sum(axis=-1))


def per_class(confusion: FloatArray) -> dict[str, FloatArray]:
    """Per-class counts and rates from (..., K, K) confusion counts (rows: true class, columns: predicted)."""
    support = confusion.sum(axis=-1)
    predicted = confusion.sum(axis=-2)
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    total = support.sum(axis=-1, keepdims=True)
    return {
        "support": support,
        "predicted": predicted,
        "precision": divide(tp, predicted),
        "recall": divide(tp, support),
        "f1": divide(2 * tp, support + predicted),
        "tpr": divide(tp, support),
        "fpr": divide(predicted - tp, total - support),
        "selection_rate": divide(predicted, total),
    }


def confusion_metrics(confusion: FloatArray) -> dict[str, FloatArray]:
    """Accuracy, balanced accuracy and the macro / micro / weighted F1, precision and recall."""
    classes = per_class(confusion)
    total = classes["support"].sum(axis=-1)
    correct = np.diagonal(confusion, axis1=-2, axis2=-1).sum(axis=-1)
    accuracy = divide(correct, total)
    out = {"accuracy": accuracy, "balanced_accuracy": _nanmean(classes["recall"])}
    for metric in ("f1", "precision", "recall"):
        out[f"{metric}_macro"] = _nanmean(classes[metric])
        out[f"{metric}_micro"] = accuracy  # single-label, every class counted: micro averages are the accuracy
        out[f"{metric}_weighted"] = _nanmean(classes[metric], classes["support"])
    return out


def true_rank(proba: FloatArray, y: NDArray[np.intp]) -> NDArray[np.intp]:
    """Rank (0 = first) of each row's true class among its scores, ties broken towards the higher class index
    as scikit-learn's `top_k_accuracy_score` breaks them."""
    truth = proba[np.arange(y.size), y][:, None]
    above = (proba > truth).sum(axis=1)
    tied_after = ((proba == truth) & (np.arange(proba.shape[1])[None, :] > y[:, None])).sum(axis=1)
    return np.asarray(above + tied_after, dtype=np.intp)


def top_k(rank_counts: FloatArray) -> dict[str, FloatArray]:
    """Top-k accuracies from (..., K) counts of the true class's rank."""
    classes = rank_counts.shape[-1]
    cumulative = np.cumsum(rank_counts, axis=-1)
    total = cumulative[..., -1]
    return {name: divide(cumulative[..., k - 1], total) for name, k in zip(top_k_names(classes), TOP_K, strict=False)}


def negative_log_likelihood(proba: FloatArray, y: NDArray[np.intp]) -> FloatArray:
    """-log p(true class) per row, clipped to [eps, 1 - eps] as scikit-learn's `log_loss` clips."""
    eps = np.finfo(np.float64).eps
    return np.asarray(-np.log(np.clip(proba[np.arange(y.size), y], eps, 1 - eps)), dtype=np.float64)


def class_auc(y: NDArray[np.intp], proba: FloatArray, orders: NDArray[np.intp]) -> FloatArray:
    """One-vs-rest ROC AUC of each class (NaN for a class absent from, or alone in, the rows), from each class's
    descending score order (`orders`, one row per class: sorted once, shared with the bootstrap)."""
    aucs = [roc_auc(Scores.presorted(y[order] == c, proba[order, c], 0.5)) for c, order in enumerate(orders)]
    return np.array([np.nan if a is None else a for a in aucs], dtype=np.float64)


def macro(values: FloatArray) -> FloatArray:
    """Mean over classes (last axis) of the defined values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _nanmean(values)
