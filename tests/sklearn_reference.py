"""scikit-learn's value of every headline metric, the reference mlgate's metrics are checked against.

Undefined rates are NaN (`zero_division=np.nan`), where mlgate records None.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from sklearn import metrics as skm

BOTH_LABELS = [False, True]

Reference = Callable[[NDArray[np.bool_], NDArray[np.float64], float], float]

SKLEARN: dict[str, Reference] = {
    "roc_auc": lambda y, p, t: skm.roc_auc_score(y, p),
    "pr_auc": lambda y, p, t: skm.average_precision_score(y, p),
    "accuracy": lambda y, p, t: skm.accuracy_score(y, p >= t),
    "precision": lambda y, p, t: skm.precision_score(y, p >= t, zero_division=np.nan),
    "recall": lambda y, p, t: skm.recall_score(y, p >= t, zero_division=np.nan),
    "f1": lambda y, p, t: skm.f1_score(y, p >= t, zero_division=np.nan),
    "log_loss": lambda y, p, t: skm.log_loss(y, p, labels=BOTH_LABELS),
    "brier": lambda y, p, t: skm.brier_score_loss(y, p, labels=BOTH_LABELS),
}
