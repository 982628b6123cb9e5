"""engine.data: reading CSV/Parquet through DuckDB, labels, every unusable-file error, features, splits, fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine.data import Dataset, load_dataset
from engine.errors import DataError
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
from engine.split import split_rows

ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
ADULT_CATEGORICAL = ("workclass", "education", "marital-status", "occupation", "relationship", "native-country")
SENSITIVE = ("sex", "race")


def _spec(path: Path, target: str = "label", **changes: Any) -> DataSpec:
    spec = DataSpec(
        path=path,
        target=target,
        positive=None,
        sensitive=(),
        features=None,
        include_sensitive=False,
        missing_values=DEFAULT_MISSING_VALUES,
    )
    return dataclasses.replace(spec, **changes)


def _adult(path: Path, **changes: Any) -> Dataset:
    return load_dataset(_spec(path, "income", positive=">50K", sensitive=SENSITIVE, **changes))


def _csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _labelled(labels: list[str], extra: str = "") -> str:
    """A small CSV: a text feature, a numeric feature and the given labels."""
    rows = [f"{'ab'[i % 2]},{i},{label}{extra}" for i, label in enumerate(labels)]
    return "colour,size,label\n" + "\n".join(rows) + "\n"


def test_csv_and_parquet_of_the_same_rows_agree(
    adult_csv: Path, adult_parquet: Path, adult_sample: pd.DataFrame
) -> None:
    csv, parquet = _adult(adult_csv), _adult(adult_parquet)
    assert csv.frame.shape == parquet.frame.shape == adult_sample.shape
    assert list(csv.frame.columns) == list(adult_sample.columns)
    assert np.array_equal(csv.y, parquet.y)
    assert np.array_equal(csv.y, (adult_sample["income"] == ">50K").to_numpy())
    assert (
        (csv.positive_label, csv.negative_label)
        == (parquet.positive_label, parquet.negative_label)
        == (">50K", "<=50K")
    )
    assert csv.features == parquet.features
    pd.testing.assert_frame_equal(csv.frame, parquet.frame, check_dtype=False)
    for column in ("workclass", "occupation", "native-country"):
        assert csv.frame[column].isna().sum() == adult_sample[column].isna().sum() > 0


def test_adult_feature_typing_and_sensitive_columns_excluded(adult_parquet: Path) -> None:
    data = _adult(adult_parquet)
    assert data.features.numeric == ADULT_NUMERIC
    assert data.features.categorical == ADULT_CATEGORICAL
    assert "income" not in data.features.all
    assert data.sensitive == SENSITIVE
    for column in SENSITIVE:
        assert column not in data.features.all
        assert column in data.frame.columns  # still there for slices and fairness


def test_include_sensitive_uses_them_as_features(adult_parquet: Path) -> None:
    data = _adult(adult_parquet, include_sensitive=True)
    assert set(SENSITIVE) <= set(data.features.categorical)
    assert "income" not in data.features.all


def test_explicit_features(adult_parquet: Path) -> None:
    data = _adult(adult_parquet, features=("age", "sex", "education"))
    assert data.features.numeric == ("age",)
    assert data.features.categorical == ("sex", "education")


def test_target_as_a_feature_is_refused(adult_parquet: Path) -> None:
    with pytest.raises(DataError, match="target 'income' cannot also be a feature") as caught:
        _adult(adult_parquet, features=("age", "income"))
    assert str(adult_parquet) in caught.value.message


def test_fingerprint_is_the_sha256_of_the_file_bytes(adult_csv: Path, adult_parquet: Path) -> None:
    for path in (adult_csv, adult_parquet):
        data = _adult(path)
        assert data.fingerprint["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert data.fingerprint["bytes"] == path.stat().st_size
        assert data.fingerprint["rows"] == len(data.frame)
        assert data.fingerprint["path"] == str(path)


def test_schema_lists_every_column_with_its_type(adult_parquet: Path, adult_sample: pd.DataFrame) -> None:
    data = _adult(adult_parquet)
    assert [c["name"] for c in data.schema] == list(adult_sample.columns)
    types = {c["name"]: c["type"] for c in data.schema}
    assert types["age"] == "BIGINT"
    assert types["workclass"] == "VARCHAR"


@pytest.mark.parametrize("marker", ["?", "", "NA", " ? ", "  "])
def test_missing_markers_become_missing(tmp_path: Path, marker: str) -> None:
    labels = ["p", "n"] * 10
    text = _labelled(labels).replace("\na,0,", f"\n{marker},0,", 1)
    data = load_dataset(_spec(_csv(tmp_path, text), positive="p"))
    assert data.frame["colour"].isna().sum() == 1
    assert pd.isna(data.frame.loc[0, "colour"])
    assert data.frame["colour"].notna().sum() == len(labels) - 1


def test_missing_markers_come_from_the_spec(tmp_path: Path) -> None:
    text = "colour,label\n" + "\n".join(f"{c},{'xy'[i % 2]}" for i, c in enumerate(["-", "?", "a", "b"] * 5)) + "\n"
    data = load_dataset(_spec(_csv(tmp_path, text), positive="x", missing_values=("-",)))
    assert data.frame["colour"].isna().sum() == 5
    assert (data.frame["colour"] == "?").sum() == 5


def test_text_cells_are_trimmed(tmp_path: Path) -> None:
    text = "colour,label\n" + "\n".join(f"  {'ab'[i % 3 == 0]} ,{' x ' if i % 2 else 'y'}" for i in range(30)) + "\n"
    data = load_dataset(_spec(_csv(tmp_path, text), positive="x"))
    assert set(data.frame["colour"]) == {"a", "b"}
    assert set(data.frame["label"]) == {"x", "y"}
    assert int(data.y.sum()) == 15


def test_parquet_text_cells_are_trimmed_and_markers_missing(tmp_path: Path) -> None:
    frame = pd.DataFrame({"colour": [" red ", "blue", "?", "NA"] * 10, "label": ["p ", "n"] * 20})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False)
    data = load_dataset(_spec(path, positive="p"))
    assert data.frame["colour"].isna().sum() == 20
    assert set(data.frame["colour"].dropna()) == {"red", "blue"}
    assert data.positive_label == "p"


def test_numeric_column_with_missing_markers_is_numeric(tmp_path: Path) -> None:
    """`?` and `NA` are missing markers, so a column of numbers with a few of them is a numeric feature."""
    rows = [f"{'ab'[i % 2]},{'?' if i == 3 else 'NA' if i == 5 else i},{'pn'[i % 2]}" for i in range(30)]
    data = load_dataset(_spec(_csv(tmp_path, "colour,size,label\n" + "\n".join(rows) + "\n"), positive="p"))
    assert data.frame["size"].isna().sum() == 2
    assert data.features.numeric == ("size",)
    assert data.features.categorical == ("colour",)


def test_numeric_and_boolean_typing(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "count": list(range(40)),
            "ratio": [i / 7 for i in range(40)],
            "flag": [i % 3 == 0 for i in range(40)],
            "code": [f"c{i % 4}" for i in range(40)],
            "label": ["p", "n"] * 20,
        }
    )
    path = tmp_path / "typed.parquet"
    frame.to_parquet(path, index=False)
    data = load_dataset(_spec(path, positive="p"))
    assert data.features.numeric == ("count", "ratio")
    assert data.features.categorical == ("flag", "code")


def test_all_numeric_file_loads(tmp_path: Path) -> None:
    """A file with no text column at all (numeric features, 0/1 labels) is the simplest audit there is."""
    text = "x,z,label\n" + "\n".join(f"{i},{i * 0.5},{i % 2}" for i in range(40)) + "\n"
    data = load_dataset(_spec(_csv(tmp_path, text)))
    assert data.positive_label == "1"
    assert data.features.numeric == ("x", "z")
    assert int(data.y.sum()) == 20


@pytest.mark.parametrize(
    ("values", "positive"),
    [
        ([0, 1], "1"),
        ([1.0, 0.0], "1"),
        (["0", "1"], "1"),
        ([True, False], "true"),
        (["true", "false"], "true"),
        (["False", "True"], "True"),
    ],
)
def test_boolean_like_labels_pick_the_positive(tmp_path: Path, values: list[Any], positive: str) -> None:
    frame = pd.DataFrame({"colour": ["a", "b", "c", "d"] * 10, "label": values * 20})
    path = tmp_path / "labels.parquet"
    frame.to_parquet(path, index=False)
    data = load_dataset(_spec(path))
    assert data.positive_label == positive
    truthy = next(v for v in values if str(v).casefold() in ("1", "1.0", "true"))
    assert np.array_equal(data.y, (frame["label"] == truthy).to_numpy())


def test_csv_true_false_labels_pick_the_positive(tmp_path: Path) -> None:
    data = load_dataset(_spec(_csv(tmp_path, _labelled(["true", "false"] * 10))))
    assert data.positive_label.casefold() == "true"
    assert int(data.y.sum()) == 10
    assert bool(data.y[0]) is True


def test_string_labels_without_a_positive_list_the_labels(tmp_path: Path) -> None:
    path = _csv(tmp_path, _labelled([">50K", "<=50K"] * 10))
    with pytest.raises(DataError) as caught:
        load_dataset(_spec(path))
    message = caught.value.message
    assert message.startswith(str(path))
    assert "'<=50K'" in message and "'>50K'" in message
    assert caught.value.hint is not None and "positive" in caught.value.hint


def test_yes_no_labels_keep_their_text(tmp_path: Path) -> None:
    """Labels written yes/no are string labels: `no` can be the positive one, and must be found by that name."""
    path = _csv(tmp_path, _labelled(["yes", "no", "no"] * 10))
    data = load_dataset(_spec(path, positive="no"))
    assert data.positive_label == "no"
    assert data.negative_label == "yes"
    assert int(data.y.sum()) == 20


@pytest.mark.parametrize(("positive", "expected"), [(">50k", ">50K"), (">50K", ">50K"), ("<=50K", "<=50K")])
def test_explicit_positive(adult_parquet: Path, positive: str, expected: str) -> None:
    data = load_dataset(_spec(adult_parquet, "income", positive=positive))
    assert data.positive_label == expected
    assert np.array_equal(data.y, (data.frame["income"] == expected).to_numpy())


@pytest.mark.parametrize("positive", [">60K", 1, True])
def test_wrong_positive(adult_parquet: Path, positive: Any) -> None:
    with pytest.raises(DataError, match="is not one of the labels found") as caught:
        load_dataset(_spec(adult_parquet, "income", positive=positive))
    assert caught.value.message.startswith(str(adult_parquet))
    assert "'>50K'" in caught.value.message


def test_integer_positive_on_integer_labels(tmp_path: Path) -> None:
    data = load_dataset(_spec(_csv(tmp_path, _labelled(["0", "1", "1"] * 10)), positive=0))
    assert data.positive_label == "0"
    assert int(data.y.sum()) == 10


def test_rows_without_a_label_are_left_out(tmp_path: Path) -> None:
    data = load_dataset(_spec(_csv(tmp_path, _labelled(["p", "n", "?"] * 12)), positive="p"))
    assert len(data.frame) == 24 == data.y.size
    assert any("12 rows without a 'label' label" in note for note in data.notes)


def test_empty_feature_columns_are_dropped_with_a_note(tmp_path: Path) -> None:
    text = "colour,blank,label\n" + "\n".join(f"{'ab'[i % 2]},?,{'pn'[i % 2]}" for i in range(20)) + "\n"
    data = load_dataset(_spec(_csv(tmp_path, text), positive="p"))
    assert data.features.all == ["colour"]
    assert "features with no values dropped: blank" in data.notes


def test_no_usable_feature(tmp_path: Path) -> None:
    text = "blank,label\n" + "\n".join(f"?,{'pn'[i % 2]}" for i in range(20)) + "\n"
    path = _csv(tmp_path, text)
    with pytest.raises(DataError, match="no usable feature columns") as caught:
        load_dataset(_spec(path, positive="p"))
    assert caught.value.message.startswith(str(path))


UNUSABLE = {
    "3 classes": ("data.csv", _labelled(["a", "b", "c"] * 10), "3 distinct labels"),
    "1 class": ("data.csv", _labelled(["a"] * 30), "1 distinct labels"),
    "1 class, task inferred": ("data.csv", _labelled(["a"] * 30), "has one label ['a']; an audit needs at least 2"),
    "too few of one class": ("data.csv", _labelled(["a"] * 30 + ["b"] * 9), "only 9 rows of one label"),
    "empty file": ("data.csv", "", "data file is empty"),
    "header only": ("data.csv", "colour,size,label\n", "header but no rows"),
    "unsupported extension": ("data.xlsx", _labelled(["0", "1"] * 10), "unsupported file type '.xlsx'"),
    "not really parquet": ("data.parquet", _labelled(["0", "1"] * 10), "cannot be read as parquet"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_file_is_a_data_error_naming_the_file(tmp_path: Path, case: str) -> None:
    name, text, expected = UNUSABLE[case]
    path = _csv(tmp_path, text, name)
    with pytest.raises(DataError) as caught:
        load_dataset(_spec(path, positive=None if "inferred" in case else "a"))
    assert caught.value.message.startswith(str(path))
    assert expected in caught.value.message


def test_many_labels_are_shortened(tmp_path: Path) -> None:
    path = _csv(tmp_path, _labelled([f"l{i}" for i in range(8)] * 3))
    with pytest.raises(DataError, match="8 distinct labels") as caught:
        load_dataset(_spec(path, task="binary"))
    assert "'...'" in caught.value.message
    assert "'l7'" not in caught.value.message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match="data file not found") as caught:
        load_dataset(_spec(path))
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"target": "salary"}, "salary"),
        ({"sensitive": ("sex", "gender")}, "gender"),
        ({"features": ("age", "height")}, "height"),
    ],
)
def test_unknown_column(adult_parquet: Path, changes: dict[str, Any], column: str) -> None:
    spec = dataclasses.replace(_spec(adult_parquet, "income", positive=">50K"), **changes)
    with pytest.raises(DataError) as caught:
        load_dataset(spec)
    message = caught.value.message
    assert message.startswith(f"{adult_parquet}: no column '{column}'")
    assert "columns are: age, workclass" in message


@pytest.fixture(scope="module")
def adult_labels(adult_parquet: Path) -> np.ndarray:
    return _adult(adult_parquet).y


@pytest.mark.parametrize(("test", "validation"), [(0.2, 0.2), (0.1, 0.3), (0.3, 0.1)])
def test_split_is_stratified_disjoint_and_complete(adult_labels: np.ndarray, test: float, validation: float) -> None:
    y = adult_labels
    splits = split_rows(y, SplitSpec(test=test, validation=validation, seed=42))
    parts = (splits.train, splits.validation, splits.test)
    everything = np.concatenate(parts)
    assert np.array_equal(np.sort(everything), np.arange(y.size))  # covers all rows, each once
    for part in parts:
        assert abs(y[part].mean() - y.mean()) < 0.01
        assert np.array_equal(part, np.sort(part))
    assert len(set(splits.train) & set(splits.validation)) == 0
    assert len(set(splits.train) & set(splits.test)) == 0
    assert len(set(splits.validation) & set(splits.test)) == 0
    sizes = splits.sizes()
    assert sizes["test"] == pytest.approx(test * y.size, abs=1)
    assert sizes["validation"] == pytest.approx(validation * y.size, abs=1)
    assert sum(sizes.values()) == y.size


def test_split_is_reproducible_from_the_seed(adult_labels: np.ndarray) -> None:
    first = split_rows(adult_labels, SplitSpec(0.2, 0.2, 42))
    again = split_rows(adult_labels, SplitSpec(0.2, 0.2, 42))
    other = split_rows(adult_labels, SplitSpec(0.2, 0.2, 43))
    for name in ("train", "validation", "test"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.test, other.test)
    assert not np.array_equal(first.train, other.train)


def test_an_unknown_target_in_a_csv_lists_the_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b,label\n" + "".join(f"{i},x,{i % 2}\n" for i in range(40)))
    with pytest.raises(DataError, match=r"no column 'income'; columns are: a, b, label"):
        load_dataset(_spec(path, "income"))


def test_no_missing_markers_at_all_reads_text_as_is(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b,label\n" + "".join(f"{i},{'?' if i == 3 else 'x'},{i % 2}\n" for i in range(40)))
    frame = load_dataset(_spec(path, missing_values=())).frame
    assert frame.loc[3, "b"] == "?"  # with no markers, "?" is a value
    assert load_dataset(_spec(path)).frame["b"].isna().sum() == 1  # with the default markers it is missing


def test_bins_on_a_text_column_are_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,b,label\n" + "".join(f"{i},x{i % 3},{i % 2}\n" for i in range(40)))
    with pytest.raises(DataError, match=r"sensitive_bins names 'b', which is not a numeric column"):
        load_dataset(_spec(path, sensitive=("b",), sensitive_bins={"b": [1.0]}))
