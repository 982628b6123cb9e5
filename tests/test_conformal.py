"""engine.evaluation.conformal: coverage and set size equal MAPIE's own metrics, run on the candidate's pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from beyond_data import Fitted, fit
from mapie.classification import SplitConformalClassifier
from mapie.metrics.classification import classification_coverage_score, classification_mean_width_score

from engine.candidates.base import MISSING_CATEGORY, categorical_frame
from engine.evaluation.conformal import conformal_evidence

LEVELS = [0.8, 0.9, 0.95]


@pytest.fixture(scope="module")
def logistic(adult_sample: pd.DataFrame) -> Fitted:
    return fit(adult_sample, "logistic")


def _evidence(fitted: Fitted, min_group_size: int = 30) -> dict[str, object]:
    c = fitted.context
    return conformal_evidence(c.y_valid, fitted.model.predict_proba(c.x_valid), c.y_test, fitted.test_proba,
                              levels=LEVELS, groupings=c.groupings, min_group_size=min_group_size)


def _mapie_sets(fitted: Fitted) -> np.ndarray:
    """MAPIE end to end on the candidate's own scikit-learn pipeline (prefit), over raw feature columns."""
    c = fitted.context
    pipeline = fitted.model.pipeline  # type: ignore[attr-defined]
    mapie = SplitConformalClassifier(pipeline, confidence_level=LEVELS, conformity_score="lac", prefit=True)
    mapie.conformalize(categorical_frame(c.x_valid, c.features, missing=MISSING_CATEGORY), c.y_valid)
    _, sets = mapie.predict_set(categorical_frame(c.x_test, c.features, missing=MISSING_CATEGORY))
    return np.asarray(sets)


def test_coverage_and_set_size_equal_mapie_metrics(logistic: Fitted) -> None:
    evidence = _evidence(logistic)
    sets = _mapie_sets(logistic)
    coverage = classification_coverage_score(logistic.context.y_test.astype(int), sets)
    width = classification_mean_width_score(sets)
    assert [lv["confidence"] for lv in evidence["levels"]] == LEVELS  # type: ignore[index]
    for k, level in enumerate(evidence["levels"]):  # type: ignore[arg-type]
        assert level["coverage"] == pytest.approx(coverage[k], abs=1e-12)
        assert level["mean_set_size"] == pytest.approx(width[k], abs=1e-12)
        assert level["coverage"] >= level["confidence"] - 0.06, "split conformal covers close to its level"
    assert evidence["calibration_rows"] == logistic.context.y_valid.size
    assert evidence["seconds"] >= 0  # type: ignore[operator]


def test_group_coverage_equals_mapie_on_each_group(logistic: Fitted) -> None:
    evidence = _evidence(logistic, min_group_size=100)
    sets = _mapie_sets(logistic)
    y = logistic.context.y_test.astype(int)
    sex = logistic.context.x_test["sex"].to_numpy()
    for k, level in enumerate(evidence["levels"]):  # type: ignore[arg-type]
        by_sex = next(g for g in level["by_group"] if g["columns"] == ["sex"])
        for group in by_sex["groups"]:
            rows = sex == group["group"]
            assert group["support"] == rows.sum()
            assert group["too_small"] == (rows.sum() < 100)
            assert group["coverage"] == pytest.approx(classification_coverage_score(y[rows], sets[rows])[k], abs=1e-12)
            assert group["mean_set_size"] == pytest.approx(classification_mean_width_score(sets[rows])[k], abs=1e-12)
        assert any(g["too_small"] for grouping in level["by_group"] for g in grouping["groups"])


def test_higher_confidence_gives_larger_sets(logistic: Fitted) -> None:
    sizes = [lv["mean_set_size"] for lv in _evidence(logistic)["levels"]]  # type: ignore[index]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[-1]
