"""engine.leaderboard: the one model of a run's leaderboard, and how its numbers read in every view."""

from __future__ import annotations

from engine.leaderboard import Counts, Leaderboard, Row, interval_of


def row(**changes: object) -> Row:
    fields: dict[str, object] = {"name": "logistic", "family": "logistic", "is_baseline": False, "recommended": True,
                                 "value": 0.87654, "interval": (0.85, 0.9), "lift": 0.123456,
                                 "counts": Counts(passed=14, failed=2, unknown=3), "verdict": "pass"}
    return Row(**{**fields, **changes})  # type: ignore[arg-type]


def test_rule_counts_put_errors_with_unknown_and_keep_waivers_apart() -> None:
    counts = Counts.of(["pass", "pass", "fail", "unknown", "error", "waived", "pass"])
    assert counts == Counts(passed=3, failed=1, unknown=2, waived=1)
    assert row(counts=counts).counts_text() == "3/1/2"


def test_numbers_read_the_same_in_every_view() -> None:
    assert (row().marker, row().value_text(), row().lift_text()) == ("★", "0.8765", "+0.1235")
    assert row(recommended=False).marker == ""
    assert row(value=None).value_text() == "—" and row(lift=None).lift_text() == "—"
    assert row(is_baseline=True, lift=0.0).lift_text() == "—", "the baseline is the reference, not lifted"
    assert row(lift=-0.01).lift_text() == "-0.0100"


def test_the_metric_reads_as_its_label_and_rows_are_found_by_name() -> None:
    board = Leaderboard(metric="roc_auc", recommended="logistic", rows=[row(), row(name="baseline")])
    assert board.metric_label == "ROC AUC"
    assert Leaderboard(metric="made_up", recommended=None, rows=[]).metric_label == "made_up"
    assert board.row("baseline") is board.rows[1] and board.row("absent") is None


def test_a_recorded_interval_counts_only_when_both_ends_were_computed() -> None:
    assert interval_of([0.1, 0.2]) == (0.1, 0.2)
    assert interval_of([None, 0.2]) is None and interval_of(None) is None and interval_of([0.1]) is None
