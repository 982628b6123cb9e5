"""The champion of a regression and of a multiclass model, re-scored on a later run's test rows: its metrics and
every candidate's paired lift over it equal scikit-learn on the same rows and the same resamples, the p-values
are adjusted across the run's candidates, and a champion compared with itself passes the packs' rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from numpy.typing import NDArray
from sklearn import metrics as skm
from statsmodels.stats.multitest import multipletests
from task_runs import LINEAR, STRONG, TaskRuns

from engine.audit.runs import load_run
from engine.evaluation.bootstrap import resample_weights
from engine.evaluation.candidate import evaluation_context
from engine.evaluation.performance import EvidenceSettings
from engine.evaluation.versus_champion import task_champion_reference
from engine.prepare import Outputs, prepare
from engine.serving.schema import feeds
from engine.train import train_candidate

pytestmark = pytest.mark.slow
CLOSE = {"rel": 1e-9, "abs": 1e-9}
METRIC = {"regression": "rmse", "multiclass": "accuracy"}


def _score(task: str, y: NDArray[np.float64], output: NDArray[np.float64], w: NDArray[np.float64] | None = None
           ) -> float:
    if task == "regression":
        return -float(skm.root_mean_squared_error(y, output, sample_weight=w))  # higher is better
    return float(skm.accuracy_score(y, output.argmax(axis=1), sample_weight=w))


Outputs3 = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], EvidenceSettings]


def _outputs(runs: TaskRuns, name: str) -> Outputs3:
    """The second run's test targets, candidate `name`'s outputs (retrained: bit-identical, the retrain rule
    checks it), the champion artifact's outputs scored by onnxruntime on the same raw rows, and the settings."""
    record = load_run(runs.db, runs.second)
    candidate = LINEAR if name == "logistic" else {"name": name, "family": "logistic", "params": STRONG[runs.task]}
    plan = prepare(runs.spec(candidate), Outputs(runs.db, runs.cards, runs.cards.parent / "scratch-artifacts"))
    context = evaluation_context(plan, run_id="check", run_lineage={})
    chosen = next(c for c in plan.spec.candidates if c.name == name)
    model = train_candidate(plan, chosen, lambda _: None).model
    output = np.asarray(model.predict_proba(context.x_test), dtype=np.float64)
    artifact = record.evidence(name)["champion"]["current"]["artifact"]
    folder = Path(artifact["path"])
    schema = json.loads((folder / "input_schema.json").read_text(encoding="utf-8"))
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    served = np.asarray(session.run(None, feeds(schema, context.x_test))[0], dtype=np.float64)
    return np.asarray(context.y_test, dtype=np.float64), output, served.reshape(output.shape), plan.settings.performance


@pytest.fixture(scope="module", params=["regression", "multiclass"])
def runs(request: pytest.FixtureRequest) -> TaskRuns:
    return request.getfixturevalue(f"{request.param}_runs")  # type: ignore[no-any-return]


def test_the_champion_is_rescored_and_its_metrics_equal_scikit_learn(runs: TaskRuns) -> None:
    record = load_run(runs.db, runs.second)
    champion = record.evidence("logistic")["champion"]
    assert champion["current"]["run_id"] == runs.first and "rescored_error" not in champion
    y, _, served, _ = _outputs(runs, "logistic")
    rescored = champion["rescored"]
    assert rescored["rows"] == y.size
    expected = -_score(runs.task, y, served) if runs.task == "regression" else _score(runs.task, y, served)
    assert rescored["metrics"][METRIC[runs.task]] == pytest.approx(expected, **CLOSE)


@pytest.mark.parametrize("name", ["strong", "logistic"])
def test_the_paired_lift_over_the_champion_equals_scikit_learn_on_the_same_resamples(runs: TaskRuns,
                                                                                    name: str) -> None:
    record = load_run(runs.db, runs.second)
    evidence = record.evidence(name)
    y, output, served, settings = _outputs(runs, name)
    metric = METRIC[runs.task]
    ours = evidence["metrics"][metric]
    assert ours == pytest.approx(abs(_score(runs.task, y, output)), **CLOSE)  # the same model on the same rows
    entry = evidence["comparisons"]["champion"][metric]
    assert entry["lift"] == pytest.approx(_score(runs.task, y, output) - _score(runs.task, y, served), **CLOSE)
    paired = np.array([_score(runs.task, y, output, w) - _score(runs.task, y, served, w)
                       for w in (resample_weights(y.size, settings.seed, b) for b in range(settings.resamples))])
    alpha = (1 - settings.confidence) / 2 * 100
    assert entry["interval"] == pytest.approx(np.percentile(paired, [alpha, 100 - alpha]).tolist(), **CLOSE)
    assert entry["p_value"] == pytest.approx((1 + np.sum(paired <= 0)) / (paired.size + 1), **CLOSE)


def test_p_values_are_adjusted_across_the_candidates_for_both_references(runs: TaskRuns) -> None:
    record = load_run(runs.db, runs.second)
    metric = METRIC[runs.task]
    for reference in ("baseline", "champion"):
        entries = [record.evidence(n)["comparisons"][reference][metric] for n in ("logistic", "strong")]
        raw = [e["p_value"] for e in entries]
        for method, name in (("holm", "holm"), ("bh", "fdr_bh")):
            expected = multipletests(raw, method=name)[1]
            assert [e["p_adjusted"][method] for e in entries] == pytest.approx(expected.tolist(), **CLOSE)
        assert all(e["p_adjusted"]["family"] == 2 for e in entries)
    assert "p_adjusted" not in record.evidence("baseline")["comparisons"]["champion"][metric]  # not a contender


def test_a_champion_compared_with_itself_passes_and_a_worse_candidate_does_not(runs: TaskRuns) -> None:
    record = load_run(runs.db, runs.second)
    status = {name: next(o for o in record.rules[name].data["outcomes"] if o["id"] == "no-worse-than-champion")
              for name in ("logistic", "strong")}
    assert status["logistic"]["status"] == "pass", status["logistic"]
    assert abs(status["logistic"]["observed"]) < 1e-4  # the artifact's float32 rounding only
    assert status["strong"]["status"] == "fail", status["strong"]  # heavily regularised: clearly worse


def test_a_champion_of_another_task_is_not_rescored_and_says_why(runs: TaskRuns, tmp_path: Path) -> None:
    record = load_run(runs.db, runs.second)
    champion = {k: v for k, v in record.evidence("logistic")["champion"].items() if k != "rescored"}
    other = "multiclass" if runs.task == "regression" else "regression"
    rows = pd.read_csv(runs.data).head(3)
    found = task_champion_reference(champion, rows, np.zeros(3), audit_db=runs.db, task=other,
                                    classes=["a", "b", "c"])
    assert found.output is None
    assert found.record["rescored_error"] == f"it is a {runs.task} model and this audit's task is {other}"
    if runs.task == "multiclass":
        classes = ["a", "b", "c", "d", "e"]
        wrong = task_champion_reference(champion, rows, np.zeros(3), audit_db=runs.db, task="multiclass",
                                        classes=classes)
        assert wrong.output is None and "not this run's a, b, c, d, e" in wrong.record["rescored_error"]
