"""Whether a multiclass candidate's probabilities mean what they say: top-label and class-wise calibration.

Top-label: the most probable class's probability (the confidence) against whether that class is right, in the
binary reliability of engine.evaluation.calibration (equal-width bins exactly as scikit-learn's
`calibration_curve`), overall and per sensitive group. Class-wise: each class's probability against whether the
row is of that class, one reliability diagram per class; the class-wise ECE is their mean ECE (Kull et al.,
2019). No new binning code: both reuse the binary functions on one-vs-rest views of the probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.calibration import ece_by_group, reliability
from engine.evaluation.groups import Grouping

FloatArray = NDArray[np.float64]


def multiclass_calibration(y: NDArray[np.intp], proba: FloatArray, classes: list[str], groupings: list[Grouping], *,
                           bins: int) -> dict[str, Any]:
    """The multiclass `calibration` section (empty rows: nothing to say, an empty dict)."""
    if y.size == 0:
        return {}
    predicted = np.argmax(proba, axis=1)
    confidence = proba[np.arange(y.size), predicted]
    correct = predicted == y
    per_class = [{"class": label, **reliability(y == c, proba[:, c], bins=bins, strategy="uniform")}
                 for c, label in enumerate(classes)]
    return {
        "top_label": reliability(correct, confidence, bins=bins, strategy="uniform"),
        "classwise_ece": float(np.mean([entry["ece"] for entry in per_class])),
        "per_class": per_class,
        "ece_by_group": {g.name: dict(zip(g.labels, ece_by_group(g, correct, confidence, bins=bins), strict=True))
                         for g in groupings},
    }
