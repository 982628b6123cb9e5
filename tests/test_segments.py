"""engine.evaluation.segments against numpy: the radix descending order equals numpy's stable sort of the negated
scores (real Adult scores, rounded so that ties abound, and the floats a comparison sort treats specially), and a
column laid out by group equals it indexed by the counting order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from adult_scores import score_half
from numpy.typing import NDArray

from engine.evaluation.groups import sensitive_groupings
from engine.evaluation.segments import counting_order, descending_order, grouped

NAN_WITH_SIGN_BIT = float(np.array([0xFFF8000000000000], dtype=np.uint64).view(np.float64)[0])  # what 0/0 gives on x86


def _numpy_order(scores: NDArray[np.float64]) -> NDArray[np.intp]:
    return np.argsort(-scores, kind="mergesort")


def test_the_descending_order_of_real_scores_is_numpys_stable_sort(adult_sample: pd.DataFrame) -> None:
    proba = score_half(adult_sample).proba
    for scores in (proba, np.round(proba, 2), np.round(proba, 1), 1.0 - proba, np.zeros_like(proba)):
        assert np.array_equal(descending_order(scores), _numpy_order(scores))


@pytest.mark.parametrize("scores", [
    [0.0, -0.0, 0.5, -0.0, 0.0],  # signed zeros tie, as a comparison sort has them
    [np.inf, -np.inf, 1e-310, -1e-310, 5e-324, 0.0, 1.0, -1.0],  # infinities and subnormals
    [-3.5e300, 2.0, -2.0, 7.0, -3.5e300, 2.0],  # negative scores and ties among them
    [0.2, np.nan, 0.9, NAN_WITH_SIGN_BIT, np.inf, np.nan, 0.0],  # NaN of either sign last, in row order
    [],
])
def test_the_descending_order_of_special_floats_is_numpys_stable_sort(scores: list[float]) -> None:
    array = np.array(scores, dtype=np.float64)
    assert np.array_equal(descending_order(array), _numpy_order(array))


def test_a_column_laid_out_by_group_equals_it_indexed_by_the_counting_order(adult_sample: pd.DataFrame) -> None:
    scored = score_half(adult_sample)
    cells = sensitive_groupings(scored.frame, ["sex", "race"], {})[-1]
    order, bounds = counting_order(cells.codes, cells.size)
    assert np.array_equal(order, np.argsort(cells.codes, kind="stable"))
    for values in (scored.proba, scored.y, cells.codes):
        assert np.array_equal(grouped(cells.codes, bounds, values), values[order])
