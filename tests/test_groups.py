"""engine.evaluation.groups: sensitive columns as integer codes (values, buckets, missing), crosses, groupings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.evaluation.groups import (
    MAX_CATEGORIES_AS_IS,
    MISSING_GROUP,
    Grouping,
    bucket_labels,
    column_grouping,
    cross,
    sensitive_groupings,
)


def _row_labels(grouping: Grouping) -> list[str]:
    """The label of every row, read back through the codes."""
    return [grouping.labels[c] for c in grouping.codes]


def _assert_well_formed(grouping: Grouping, rows: int) -> None:
    assert grouping.codes.shape == (rows,)
    assert grouping.codes.dtype == np.intp
    assert grouping.codes.min() >= 0
    assert grouping.codes.max() < grouping.size
    assert len(set(grouping.labels)) == grouping.size  # labels are unique


# ---------------------------------------------------------------------------------------------------------------
# categorical columns


@pytest.mark.parametrize("column", ["sex", "race", "relationship"])
def test_categorical_column_groups_by_value(adult_sample: pd.DataFrame, column: str) -> None:
    values = adult_sample[column]
    grouping = column_grouping(values, column)
    _assert_well_formed(grouping, len(values))
    assert grouping.name == column
    assert grouping.columns == (column,)
    assert grouping.edges is None
    assert set(grouping.labels) == set(values.unique())
    assert _row_labels(grouping) == values.tolist()
    counts = dict(zip(grouping.labels, np.bincount(grouping.codes, minlength=grouping.size), strict=True))
    assert counts == values.value_counts().to_dict()


@pytest.mark.parametrize("column", ["workclass", "occupation", "native-country"])
def test_missing_categorical_values_form_their_own_group(adult_sample: pd.DataFrame, column: str) -> None:
    values = adult_sample[column]
    missing = values.isna().to_numpy()
    assert missing.any()  # the real sample has NULLs in these columns
    grouping = column_grouping(values, column)
    _assert_well_formed(grouping, len(values))
    assert grouping.labels[-1] == MISSING_GROUP
    assert MISSING_GROUP not in grouping.labels[:-1]
    labels = np.array(_row_labels(grouping), dtype=object)
    assert np.all(labels[missing] == MISSING_GROUP)
    assert labels[~missing].tolist() == values[~missing].tolist()
    assert np.count_nonzero(grouping.codes == grouping.size - 1) == missing.sum()


def test_no_missing_group_without_missing_values(adult_sample: pd.DataFrame) -> None:
    assert MISSING_GROUP not in column_grouping(adult_sample["sex"], "sex").labels


def test_boolean_column_is_categorical() -> None:
    grouping = column_grouping(pd.Series([True, False, True, None], dtype=object), "flag")
    assert _row_labels(grouping) == ["True", "False", "True", MISSING_GROUP]
    assert grouping.edges is None


# ---------------------------------------------------------------------------------------------------------------
# numeric columns with the spec's edges


@pytest.mark.parametrize(
    ("edges", "labels"),
    [
        ([25, 45, 65], ["<25", "25–45", "45–65", "≥65"]),
        ([25.0, 45.0], ["<25", "25–45", "≥45"]),
        ([0.5], ["<0.5", "≥0.5"]),
        ([18, 21.5, 30, 65], ["<18", "18–21.5", "21.5–30", "30–65", "≥65"]),
    ],
)
def test_bucket_labels(edges: list[float], labels: list[str]) -> None:
    assert bucket_labels(edges) == labels


# value, bucket with edges [25, 45, 65]: half-open buckets, the lower edge included
AGE_BUCKETS = [
    (17, "<25"),
    (24.999, "<25"),
    (25, "25–45"),
    (44, "25–45"),
    (45, "45–65"),
    (64.5, "45–65"),
    (65, "≥65"),
    (90, "≥65"),
    (-3, "<25"),
    (np.nan, MISSING_GROUP),
]


@pytest.mark.parametrize(("value", "bucket"), AGE_BUCKETS)
def test_value_falls_in_its_bucket(value: float, bucket: str) -> None:
    values = pd.Series([30.0, value, 70.0])
    grouping = column_grouping(values, "age", [25, 45, 65])
    assert _row_labels(grouping) == ["25–45", bucket, "≥65"]


def test_numeric_column_with_spec_edges(adult_sample: pd.DataFrame) -> None:
    age = adult_sample["age"]
    grouping = column_grouping(age, "age", [25, 45, 65])
    _assert_well_formed(grouping, len(age))
    assert grouping.labels == ("<25", "25–45", "45–65", "≥65")
    assert grouping.edges == (25, 45, 65)
    expected = np.select([age < 25, age < 45, age < 65], ["<25", "25–45", "45–65"], "≥65")
    assert _row_labels(grouping) == expected.tolist()


def test_edges_apply_even_to_a_few_valued_numeric_column() -> None:
    grouping = column_grouping(pd.Series([1, 2, 3, 1]), "n", [2])
    assert _row_labels(grouping) == ["<2", "≥2", "≥2", "<2"]
    assert grouping.edges == (2,)


@pytest.mark.parametrize("dtype", ["float64", "Int64", "Float64"])
def test_missing_numbers_with_edges_form_their_own_group(dtype: str) -> None:
    values = pd.Series([20, None, 50, 70, None], dtype=dtype)
    grouping = column_grouping(values, "age", [25, 45, 65])
    # the bucket 25–45 holds no row, so it is not a group (an empty group could only ever be "too small")
    assert grouping.labels == ("<25", "45–65", "≥65", MISSING_GROUP)
    assert _row_labels(grouping) == ["<25", MISSING_GROUP, "45–65", "≥65", MISSING_GROUP]
    assert grouping.edges == (25, 45, 65)


# ---------------------------------------------------------------------------------------------------------------
# numeric columns without edges: quartile buckets


def _bucket_shares(grouping: Grouping) -> list[float]:
    counts = np.bincount(grouping.codes, minlength=grouping.size)
    return (counts / counts.sum()).tolist()


QUARTILE_COLUMNS = {
    "uniform floats": pd.Series(np.random.default_rng(5).random(4000)),
    "normal floats": pd.Series(np.random.default_rng(6).normal(40, 12, 4000)),
    "birth years (four digits)": pd.Series(np.repeat(np.arange(1950, 2010), 10)),
    "incomes in the tens of thousands": pd.Series(np.random.default_rng(7).uniform(20_000, 90_000, 4000)),
}


@pytest.mark.parametrize("case", list(QUARTILE_COLUMNS))
def test_numeric_column_without_edges_is_cut_at_its_quartiles(case: str) -> None:
    """Four buckets of about a quarter of the rows each (edges may be rounded for the labels, not moved far)."""
    values = QUARTILE_COLUMNS[case]
    assert values.nunique() > MAX_CATEGORIES_AS_IS
    grouping = column_grouping(values, "x")
    _assert_well_formed(grouping, len(values))
    assert grouping.edges is not None and len(grouping.edges) == 3
    assert list(grouping.labels) == bucket_labels(grouping.edges)
    assert _bucket_shares(grouping) == pytest.approx([0.25] * 4, abs=0.03)
    # the codes are those of the recorded edges
    assert np.array_equal(grouping.codes, np.digitize(values.to_numpy(), grouping.edges))


def test_adult_age_without_edges_has_quartile_buckets(adult_sample: pd.DataFrame) -> None:
    age = adult_sample["age"]
    grouping = column_grouping(age, "age")
    assert grouping.edges == tuple(float(q) for q in np.quantile(age, [0.25, 0.5, 0.75]))
    assert grouping.labels == tuple(bucket_labels(grouping.edges))
    # ages are integers with ties, so the buckets are only about a quarter each
    assert _bucket_shares(grouping) == pytest.approx([0.25] * 4, abs=0.04)


def test_quartile_edges_ignore_missing_values() -> None:
    values = pd.Series([*np.arange(1.0, 101.0), *[np.nan] * 300])
    grouping = column_grouping(values, "x")
    assert grouping.edges is not None
    assert grouping.edges == pytest.approx(np.quantile(np.arange(1.0, 101.0), [0.25, 0.5, 0.75]), rel=5e-3)
    assert grouping.labels[-1] == MISSING_GROUP
    assert np.count_nonzero(grouping.codes == grouping.size - 1) == 300


def test_tied_quartiles_collapse_into_fewer_buckets(adult_sample: pd.DataFrame) -> None:
    """hours-per-week: the lower quartile and the median are both 40, so two edges, three buckets."""
    hours = adult_sample["hours-per-week"]
    grouping = column_grouping(hours, "hours-per-week")
    assert grouping.edges is not None
    assert list(grouping.edges) == sorted(set(grouping.edges))
    assert len(grouping.edges) < 3
    assert grouping.size == len(grouping.edges) + 1


# ---------------------------------------------------------------------------------------------------------------
# few-valued numeric columns: kept as values


@pytest.mark.parametrize("distinct", [2, 5, MAX_CATEGORIES_AS_IS])
def test_few_valued_numeric_column_is_grouped_by_value(distinct: int) -> None:
    values = pd.Series(np.arange(200) % distinct)
    grouping = column_grouping(values, "children")
    assert grouping.edges is None
    assert set(grouping.labels) == {str(v) for v in range(distinct)}
    assert _row_labels(grouping) == [str(v) for v in values]


def test_one_value_more_than_the_limit_is_bucketed() -> None:
    values = pd.Series(np.arange(220) % (MAX_CATEGORIES_AS_IS + 1))
    grouping = column_grouping(values, "n")
    assert grouping.edges is not None
    assert grouping.labels == tuple(bucket_labels(grouping.edges))


@pytest.mark.parametrize("dtype", ["float64", "Int64"])
def test_few_valued_numeric_column_with_missing_values(dtype: str) -> None:
    values = pd.Series([1, None, 2, 1, None, 3], dtype=dtype)
    grouping = column_grouping(values, "n")
    assert grouping.labels[-1] == MISSING_GROUP
    row_labels = _row_labels(grouping)
    assert [label == MISSING_GROUP for label in row_labels] == values.isna().tolist()
    present = [label for label in row_labels if label != MISSING_GROUP]
    assert [float(label) for label in present] == [1, 2, 1, 3]
    assert not any(label in {"nan", "<NA>", "None"} for label in grouping.labels)


# ---------------------------------------------------------------------------------------------------------------
# crosses and the groupings of a spec


def _cross_of(frame: pd.DataFrame, columns: list[str]) -> tuple[list[Grouping], Grouping]:
    singles = [column_grouping(frame[c], c) for c in columns]
    return singles, cross(singles)


@pytest.mark.parametrize("columns", [["sex", "race"], ["race", "sex"], ["sex", "race", "workclass"]])
def test_cross_codes_are_consistent_with_labels(adult_sample: pd.DataFrame, columns: list[str]) -> None:
    singles, crossed = _cross_of(adult_sample, columns)
    _assert_well_formed(crossed, len(adult_sample))
    assert crossed.name == " × ".join(columns)
    assert crossed.columns == tuple(columns)
    expected = [" × ".join(parts) for parts in zip(*(_row_labels(g) for g in singles), strict=True)]
    assert _row_labels(crossed) == expected
    # only combinations that occur become groups, each once
    assert set(crossed.labels) == set(expected)
    assert np.all(np.bincount(crossed.codes, minlength=crossed.size) > 0)


def test_cross_counts_equal_pandas_groupby(adult_sample: pd.DataFrame) -> None:
    _, crossed = _cross_of(adult_sample, ["sex", "race"])
    sizes = adult_sample.groupby(["sex", "race"]).size()
    expected = {f"{sex} × {race}": int(n) for (sex, race), n in sizes.items()}
    counts = np.bincount(crossed.codes, minlength=crossed.size)
    assert dict(zip(crossed.labels, counts.tolist(), strict=True)) == expected


def test_cross_with_a_bucketed_column_and_missing_values() -> None:
    frame = pd.DataFrame({"sex": ["F", "M", "F", None], "age": [20, 50, 70, 30]})
    singles = [column_grouping(frame["sex"], "sex"), column_grouping(frame["age"], "age", [25, 65])]
    crossed = cross(singles)
    assert _row_labels(crossed) == ["F × <25", "M × 25–65", "F × ≥65", f"{MISSING_GROUP} × 25–65"]


def test_cross_of_one_grouping_is_that_grouping(adult_sample: pd.DataFrame) -> None:
    single = column_grouping(adult_sample["race"], "race")
    crossed = cross([single])
    assert crossed.labels == single.labels
    assert np.array_equal(crossed.codes, single.codes)


SPEC_GROUPINGS = [
    (["sex"], ["sex"]),
    (["sex", "race"], ["sex", "race", "sex × race"]),
    (["sex", "race", "age"], ["sex", "race", "age", "sex × race", "sex × age", "race × age", "sex × race × age"]),
    (
        ["sex", "race", "age", "workclass"],
        [
            "sex", "race", "age", "workclass",
            "sex × race", "sex × age", "sex × workclass", "race × age", "race × workclass", "age × workclass",
            "sex × race × age × workclass",
        ],
    ),
]


@pytest.mark.parametrize(("sensitive", "names"), SPEC_GROUPINGS)
def test_sensitive_groupings_are_singles_pairs_and_the_full_intersection(
    adult_sample: pd.DataFrame, sensitive: list[str], names: list[str]
) -> None:
    groupings = sensitive_groupings(adult_sample, sensitive, {"age": [25, 45, 65]})
    assert [g.name for g in groupings] == names
    singles = {g.name: g for g in groupings if len(g.columns) == 1}
    for grouping in groupings:
        _assert_well_formed(grouping, len(adult_sample))
        parts = [_row_labels(singles[c]) for c in grouping.columns]
        assert _row_labels(grouping) == [" × ".join(p) for p in zip(*parts, strict=True)]


def test_sensitive_groupings_use_the_spec_bins_only_for_their_column(adult_sample: pd.DataFrame) -> None:
    groupings = sensitive_groupings(adult_sample, ["age", "hours-per-week"], {"age": [30, 50]})
    age, hours = groupings[0], groupings[1]
    assert age.labels == ("<30", "30–50", "≥50")
    assert age.edges == (30, 50)
    assert hours.edges is not None and hours.edges != (30, 50)  # its own quartiles
