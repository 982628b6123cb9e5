"""The paired comparison of a champion and a challenger on the same labelled feedback rows (engine.monitor.paired),
checked against direct computations on the same rows: scikit-learn's ROC AUC and log loss, a Python loop of
scikit-learn over the very same Poisson resamples for the paired interval, and DeLong's test computed from its
definition (every positive against every negative) with numpy and scipy. Two real models: logistic regressions
fitted on real Adult rows with different features, scored on other Adult rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from engine.evaluation.bootstrap import resample_weights
from engine.evaluation.performance import EvidenceSettings
from engine.monitor.paired import VERDICTS, delong, paired_feedback, verdict

RESAMPLES = 200
SETTINGS = EvidenceSettings(resamples=RESAMPLES, seed=9, confidence=0.9)
NAMES = {"champion": {"run_id": "r", "candidate": "wide"}, "challenger": {"run_id": "r", "candidate": "narrow"}}


@pytest.fixture(scope="module")
def feedback(adult_sample: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels of 1,500 held-out Adult rows and the scores of two models trained on the other 1,500."""
    frame = adult_sample.dropna(subset=["income"]).reset_index(drop=True)
    y = (frame["income"].astype(str).str.strip() == ">50K").to_numpy()
    wide = ["age", "education-num", "hours-per-week", "capital-gain", "capital-loss"]
    narrow = ["age", "hours-per-week"]
    train, test = slice(0, 1500), slice(1500, None)

    def scores(columns: list[str]) -> np.ndarray:
        x = frame[columns].astype(float).to_numpy()
        model = LogisticRegression(max_iter=1000).fit(x[train], y[train])
        return model.predict_proba(x[test])[:, 1]

    return y[test], scores(wide), scores(narrow)


def _delong_by_definition(y: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[float, float, float]:
    """(difference, standard error, two-sided p) from the structural components built pair by pair."""
    components = []
    for scores in (first, second):
        x, z = scores[y][:, None], scores[~y][None, :]
        kernel = (x > z) + 0.5 * (x == z)
        components.append((kernel.mean(axis=1), kernel.mean(axis=0)))
    s10 = np.cov(np.vstack([components[0][0], components[1][0]]))
    s01 = np.cov(np.vstack([components[0][1], components[1][1]]))
    variance = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / y.sum() + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1])
                / (~y).sum())
    difference = components[1][0].mean() - components[0][0].mean()
    se = float(np.sqrt(variance))
    return float(difference), se, float(2 * stats.norm.sf(abs(difference / se)))


def test_metrics_of_both_are_scikit_learns_on_the_same_rows(feedback: tuple[np.ndarray, ...]) -> None:
    y, champion, challenger = feedback
    found = paired_feedback(y, champion, challenger, settings=SETTINGS, names=NAMES)
    auc = found["metrics"]["roc_auc"]
    assert auc["champion"] == pytest.approx(roc_auc_score(y, champion), abs=1e-12)
    assert auc["challenger"] == pytest.approx(roc_auc_score(y, challenger), abs=1e-12)
    assert auc["lift"] == pytest.approx(roc_auc_score(y, challenger) - roc_auc_score(y, champion), abs=1e-12)
    loss = found["metrics"]["log_loss"]  # a loss: the lift is positive when the challenger's loss is smaller
    assert loss["lift"] == pytest.approx(log_loss(y, champion) - log_loss(y, challenger), abs=1e-9)
    assert found["rows"] == y.size and found["positives"] == int(y.sum())
    assert found["challenger"]["candidate"] == "narrow"


def test_the_paired_interval_is_a_loop_over_the_same_resamples(feedback: tuple[np.ndarray, ...]) -> None:
    y, champion, challenger = feedback
    found = paired_feedback(y, champion, challenger, settings=SETTINGS, names=NAMES)
    differences = []
    for b in range(RESAMPLES):
        weights = resample_weights(y.size, SETTINGS.seed, b).astype(float)
        differences.append(roc_auc_score(y, challenger, sample_weight=weights)
                           - roc_auc_score(y, champion, sample_weight=weights))
    low, high = np.percentile(differences, [5, 95])
    entry = found["metrics"]["roc_auc"]
    assert entry["interval"] == pytest.approx([low, high], abs=1e-9)
    assert entry["p_value"] == pytest.approx((1 + np.sum(np.array(differences) <= 0)) / (RESAMPLES + 1))


def test_delong_equals_its_definition(feedback: tuple[np.ndarray, ...]) -> None:
    y, champion, challenger = feedback
    difference, se, p = _delong_by_definition(y, champion, challenger)
    found = delong(y, champion, challenger, confidence=0.9)
    assert found is not None
    assert found["difference"] == pytest.approx(difference, abs=1e-12)
    assert found["standard_error"] == pytest.approx(se, rel=1e-9)
    assert found["p_value"] == pytest.approx(p, rel=1e-9)
    half = stats.norm.ppf(0.95) * se
    assert found["interval"] == pytest.approx([difference - half, difference + half], abs=1e-12)
    tied = np.round(challenger, 2)  # ties: the half counts of the definition
    assert delong(y, champion, tied)["p_value"] == pytest.approx(_delong_by_definition(y, champion, tied)[2], rel=1e-9)
    assert delong(np.ones(5, bool), champion[:5], challenger[:5]) is None


def test_the_verdict_reads_the_whole_interval(feedback: tuple[np.ndarray, ...]) -> None:
    y, champion, challenger = feedback
    found = paired_feedback(y, champion, challenger, settings=SETTINGS, names=NAMES)
    # the narrow model lacks education and capital: on these rows it is worse over the whole interval
    assert found["metrics"]["roc_auc"]["interval"][1] < 0
    assert found["verdict"]["verdict"] == "champion_better" and found["verdict"]["supports"] == VERDICTS[
        "champion_better"]
    swapped = paired_feedback(y, challenger, champion, settings=SETTINGS, names=NAMES)
    assert swapped["verdict"]["verdict"] == "challenger_better"
    same = paired_feedback(y, champion, champion, settings=SETTINGS, names=NAMES)
    assert same["verdict"]["verdict"] == "no_difference" and same["metrics"]["roc_auc"]["lift"] == 0
    assert verdict(None, "roc_auc")["verdict"] == "no_difference"
