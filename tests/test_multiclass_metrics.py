"""engine.evaluation.multiclass against scikit-learn, fairlearn's MetricFrame and a plain numpy bootstrap loop, on
real wage (ISLR, education) and CPS 1985 (AER, occupation) probabilities of a multinomial logistic regression
fitted on the other half of the rows."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from task_data import CLOSE, SENSITIVE, group_labels, held_out, same

from engine.canonical import jsonable
from engine.evaluation.bootstrap import resample_weights
from engine.evaluation.evidence import evidence_errors
from engine.evaluation.groups import Grouping
from engine.evaluation.multiclass import evaluate_multiclass
from engine.evaluation.performance import EvidenceSettings

pytestmark = pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one:UserWarning")
SETTINGS = EvidenceSettings(resamples=30, seed=5, confidence=0.9, min_group_size=10)
FloatArray = NDArray[np.float64]
Codes = NDArray[np.intp]


class Case:
    """Held-out class codes, probabilities, the baseline's (the training prior), groupings, and the evidence."""

    def __init__(self, y: Codes, proba: FloatArray, baseline: FloatArray, classes: list[str],
                 groupings: list[Grouping]) -> None:
        self.y, self.proba, self.baseline, self.classes, self.groupings = y, proba, baseline, classes, groupings
        self.labels = list(range(len(classes)))
        self.predicted = np.argmax(proba, axis=1)
        self.evidence = evaluate_multiclass(y, proba, classes, groupings=groupings, settings=SETTINGS,
                                            baseline=baseline)


def _case(name: str) -> Case:
    dataset = "cps1985" if name == "cps" else "wage"
    held = held_out(dataset, "multiclass")
    proba = held.output
    if name == "wage tied":  # probabilities on a 0.1 grid: tied scores, tied top classes, tied ranks
        proba = np.round(proba, 1)
    return Case(np.asarray(held.y, dtype=np.intp), proba, held.baseline, held.classes,
                held.groupings(SENSITIVE[dataset]))


@pytest.fixture(scope="module", params=["wage", "wage tied", "cps"])
def case(request: pytest.FixtureRequest) -> Case:
    return _case(request.param)


def _class_aucs(y: Codes, proba: FloatArray, labels: list[int]) -> FloatArray:
    return np.array([skm.roc_auc_score(y == c, proba[:, c]) if 0 < np.sum(y == c) < y.size else np.nan
                     for c in labels])


def _references(case: Case) -> dict[str, Callable[[Codes, FloatArray, Codes], float]]:
    labels = case.labels
    out: dict[str, Callable[[Codes, FloatArray, Codes], float]] = {
        "accuracy": lambda y, p, pred: skm.accuracy_score(y, pred),
        "balanced_accuracy": lambda y, p, pred: skm.balanced_accuracy_score(y, pred),
        "roc_auc_ovr_macro": lambda y, p, pred: float(np.nanmean(_class_aucs(y, p, labels))),
        "log_loss": lambda y, p, pred: skm.log_loss(y, p, labels=labels),
    }
    for metric, function in (("f1", skm.f1_score), ("precision", skm.precision_score), ("recall", skm.recall_score)):
        for average in ("macro", "micro", "weighted"):
            out[f"{metric}_{average}"] = partial(
                lambda y, p, pred, f=function, a=average: f(y, pred, labels=labels, average=a, zero_division=np.nan))
    for k in (2, 3, 5):
        if k < len(labels):
            out[f"top_{k}_accuracy"] = partial(lambda y, p, pred, k=k: skm.top_k_accuracy_score(y, p, k=k,
                                                                                                labels=labels))
    return out


def test_headline_metrics_equal_scikit_learn(case: Case) -> None:
    references = _references(case)
    assert set(references) == set(case.evidence["metrics"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, reference in references.items():
            assert same(case.evidence["metrics"][name], reference(case.y, case.proba, case.predicted)), name
    if np.allclose(case.proba.sum(axis=1), 1):  # scikit-learn's own one-vs-rest macro AUC takes probabilities only
        assert case.evidence["metrics"]["roc_auc_ovr_macro"] == pytest.approx(
            skm.roc_auc_score(case.y, case.proba, multi_class="ovr", labels=case.labels), **CLOSE)


def test_confusion_matrix_and_per_class_metrics_equal_scikit_learn(case: Case) -> None:
    assert case.evidence["confusion_matrix"] == skm.confusion_matrix(case.y, case.predicted,
                                                                     labels=case.labels).tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        case.y, case.predicted, labels=case.labels, zero_division=np.nan)
    aucs = _class_aucs(case.y, case.proba, case.labels)
    for c, entry in enumerate(case.evidence["per_class"]):
        assert entry["class"] == case.classes[c] and entry["support"] == support[c]
        assert entry["predicted"] == int(np.sum(case.predicted == c))
        for name, reference in (("precision", precision), ("recall", recall), ("f1", f1), ("roc_auc", aucs)):
            assert same(entry[name], reference[c]), (name, c)


def test_group_measures_equal_fairlearn(case: Case) -> None:
    group_metrics = {
        "accuracy": skm.accuracy_score,
        "balanced_accuracy": skm.balanced_accuracy_score,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balanced accuracy of a group missing a class
        for grouping, evidence in zip(case.groupings, case.evidence["slices"], strict=True):
            labels = group_labels(grouping)
            frame = MetricFrame(metrics=group_metrics, y_true=case.y, y_pred=case.predicted,
                                sensitive_features=labels)
            for group in evidence["groups"]:
                rows = labels == group["group"]
                for name in group_metrics:
                    assert same(group["metrics"][name], frame.by_group.loc[group["group"], name]), name
                assert same(group["metrics"]["log_loss"],
                             skm.log_loss(case.y[rows], case.proba[rows], labels=case.labels))
            for c in case.labels:
                truth, chosen = case.y == c, case.predicted == c
                rates = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate,
                                             "selection_rate": selection_rate},
                                    y_true=truth, y_pred=chosen, sensitive_features=labels)
                for group in evidence["groups"]:
                    positives = np.sum(truth[labels == group["group"]])
                    assert group["per_class"]["support"][c] == positives
                    for name in ("tpr", "fpr", "selection_rate"):
                        ours = group["per_class"][name][c]
                        if ours is None:  # undefined (a class absent from the group): fairlearn says 0
                            assert name == "tpr" and positives == 0
                            assert rates.by_group.loc[group["group"], name] == 0
                        else:
                            assert ours == pytest.approx(rates.by_group.loc[group["group"], name], **CLOSE)


def test_one_vs_rest_gaps_equal_fairlearn(case: Case) -> None:
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for grouping, evidence in zip(case.groupings, case.evidence["slices"], strict=True):
            if evidence["groups_judged"] < 2:
                continue
            labels = group_labels(grouping)
            eligible = [g["group"] for g in evidence["groups"] if not g["too_small"]]
            kept = np.isin(labels, eligible)
            for c in case.labels:
                truth, chosen = case.y[kept] == c, case.predicted[kept] == c
                defined = all(np.any(truth[labels[kept] == g]) for g in eligible)
                expected = {
                    "demographic_parity_difference": demographic_parity_difference(
                        truth, chosen, sensitive_features=labels[kept]),
                    "demographic_parity_ratio": demographic_parity_ratio(
                        truth, chosen, sensitive_features=labels[kept]),
                    "equalized_odds_difference": equalized_odds_difference(
                        truth, chosen, sensitive_features=labels[kept]),
                }
                for name, reference in expected.items():
                    if name == "equalized_odds_difference" and not defined:
                        continue  # fairlearn counts the undefined TPR as 0; ours leaves that group out
                    assert same(evidence["class_gaps"][name][c], reference), (grouping.name, name, c)
                    checked += 1
            worst = np.nanmax(np.array(evidence["class_gaps"]["equalized_odds_difference"], dtype=float))
            assert evidence["gaps"]["equalized_odds_difference"] == pytest.approx(worst, **CLOSE)
            named = evidence["worst_class"]["equalized_odds_difference"]
            by_class = evidence["class_gaps"]["equalized_odds_difference"]
            assert by_class[case.classes.index(named)] == pytest.approx(worst)
            accuracy = [g["metrics"]["accuracy"] for g in evidence["groups"] if not g["too_small"]]
            assert evidence["gaps"]["accuracy_difference"] == pytest.approx(max(accuracy) - min(accuracy), **CLOSE)
    assert checked > 0


def test_a_class_absent_from_a_group_is_undefined_not_zero() -> None:
    wage = _case("wage")
    race = next(s for s in wage.evidence["slices"] if s["name"] == "race")
    other = next(g for g in race["groups"] if g["group"] == "4. Other")
    college = wage.classes.index("4. College Grad")
    assert other["per_class"]["support"][college] == 0 and not other["too_small"]
    assert other["per_class"]["tpr"][college] is None
    assert other["per_class"]["fpr"][college] is not None
    tprs = [g["per_class"]["tpr"][college] for g in race["groups"] if g["per_class"]["tpr"][college] is not None]
    assert race["class_gaps"]["tpr_difference"][college] == pytest.approx(max(tprs) - min(tprs), **CLOSE)


def _loop(case: Case, statistic: Callable[[Codes, FloatArray, Codes, Codes], Any]) -> FloatArray:
    out = []
    for b in range(SETTINGS.resamples):
        w = resample_weights(case.y.size, SETTINGS.seed, b).astype(np.intp)
        rows = np.repeat(np.arange(case.y.size), w)
        out.append(statistic(case.y[rows], case.proba[rows], case.predicted[rows], rows))
    return np.asarray(out, dtype=np.float64)


def _percentile(samples: FloatArray) -> FloatArray:
    alpha = (1 - SETTINGS.confidence) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(np.nanpercentile(samples, [alpha, 100 - alpha], axis=0), dtype=np.float64)


def test_headline_intervals_equal_a_numpy_loop_over_the_same_resamples(case: Case) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, reference in _references(case).items():
            samples = _loop(case, lambda y, p, pred, _, f=reference: f(y, p, pred))  # type: ignore[misc]
            assert case.evidence["intervals"]["metrics"][name] == pytest.approx(_percentile(samples).tolist(),
                                                                                **CLOSE), name


def test_per_class_and_group_intervals_equal_a_numpy_loop(case: Case) -> None:
    aucs = _loop(case, lambda y, p, pred, _: _class_aucs(y, p, case.labels))
    for c, entry in enumerate(case.evidence["per_class"]):
        assert entry["intervals"]["roc_auc"] == pytest.approx(_percentile(aucs[:, c]).tolist(), **CLOSE)
    grouping, evidence = case.groupings[0], case.evidence["slices"][0]

    def tpr(y: Codes, p: FloatArray, pred: Codes, rows: Codes) -> FloatArray:
        g = grouping.codes[rows]
        return np.array([[np.mean(pred[(g == k) & (y == c)] == c) if np.any((g == k) & (y == c)) else np.nan
                          for c in case.labels] for k in range(grouping.size)])

    samples = _loop(case, tpr)
    expected = _percentile(samples)
    for k, group in enumerate(evidence["groups"]):
        for c in case.labels:
            assert _same_pair(group["per_class_intervals"]["tpr"][c], expected[:, k, c])


def _same_pair(ours: list[float | None], expected: FloatArray) -> bool:
    if ours[0] is None:
        return bool(np.all(np.isnan(expected)))
    return ours == pytest.approx(expected.tolist(), **CLOSE)


def test_paired_lift_over_the_prior_baseline(case: Case) -> None:
    lift = case.evidence["comparisons"]["baseline"]["log_loss"]
    expected = skm.log_loss(case.y, case.baseline, labels=case.labels) - skm.log_loss(case.y, case.proba,
                                                                                       labels=case.labels)
    assert lift["lift"] == pytest.approx(expected, **CLOSE)
    paired = []
    for b in range(SETTINGS.resamples):
        w = resample_weights(case.y.size, SETTINGS.seed, b)
        paired.append(skm.log_loss(case.y, case.baseline, labels=case.labels, sample_weight=w)
                      - skm.log_loss(case.y, case.proba, labels=case.labels, sample_weight=w))
    assert lift["interval"] == pytest.approx(_percentile(np.asarray(paired)).tolist(), **CLOSE)
    accuracy = case.evidence["comparisons"]["baseline"]["accuracy"]["lift"]
    prior_accuracy = skm.accuracy_score(case.y, np.argmax(case.baseline, axis=1))
    assert accuracy == pytest.approx(skm.accuracy_score(case.y, case.predicted) - prior_accuracy, **CLOSE)


def test_bad_probabilities_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluate_multiclass(np.zeros(3, dtype=np.intp), np.ones((3, 2)), ["a", "b", "c"], groupings=[],
                            settings=SETTINGS)
    with pytest.raises(ValueError, match="class codes"):
        evaluate_multiclass(np.array([0, 3, 1]), np.full((3, 3), 1 / 3), ["a", "b", "c"], groupings=[],
                            settings=SETTINGS)


def test_the_evidence_follows_the_schema_and_binary_keys_are_refused(case: Case) -> None:
    document = jsonable(case.evidence)
    assert evidence_errors(document) == []
    assert evidence_errors({**document, "positives": 3})
    assert evidence_errors({**document, "confusion_matrix": [[0.5]]})
    del document["per_class"]
    assert evidence_errors(document)


def _ece_by_calibration_curve(truth: NDArray[np.bool_], scores: FloatArray, bins: int) -> float:
    """Expected calibration error from scikit-learn's `calibration_curve` and the count in each non-empty bin."""
    fraction, mean_predicted = calibration_curve(truth, scores, n_bins=bins, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], scores), minlength=bins)
    counts = counts[counts > 0]
    return float(np.sum(counts / truth.size * np.abs(fraction - mean_predicted)))


def test_top_label_and_class_wise_calibration_equal_scikit_learn(case: Case) -> None:
    calibration = case.evidence["calibration"]
    bins = SETTINGS.calibration_bins
    confidence = case.proba[np.arange(case.y.size), case.predicted]
    correct = case.predicted == case.y
    fraction, mean_predicted = calibration_curve(correct, confidence, n_bins=bins, strategy="uniform")
    diagram = calibration["top_label"]["diagram"]
    assert [b["fraction_positive"] for b in diagram] == pytest.approx(fraction.tolist(), **CLOSE)
    assert [b["mean_predicted"] for b in diagram] == pytest.approx(mean_predicted.tolist(), **CLOSE)
    assert calibration["top_label"]["ece"] == pytest.approx(_ece_by_calibration_curve(correct, confidence, bins),
                                                            **CLOSE)
    per_class = [_ece_by_calibration_curve(case.y == c, case.proba[:, c], bins) for c in case.labels]
    assert [entry["ece"] for entry in calibration["per_class"]] == pytest.approx(per_class, **CLOSE)
    assert calibration["classwise_ece"] == pytest.approx(float(np.mean(per_class)), **CLOSE)
    grouping = case.groupings[0]
    for label, ece in calibration["ece_by_group"][grouping.name].items():
        rows = group_labels(grouping) == label
        assert ece == pytest.approx(
            np.sum(np.abs(_bin_sums(correct[rows], confidence[rows], bins))) / rows.sum(), **CLOSE)


def _bin_sums(truth: NDArray[np.bool_], scores: FloatArray, bins: int) -> FloatArray:
    ids = np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], scores)
    return np.bincount(ids, weights=truth - scores, minlength=bins)
