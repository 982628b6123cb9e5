"""Explanations and robustness of regression and multiclass candidates, on real data (ISLR Wage, CPS 1985): every
family's contributions add up to its raw output (per class for multiclass) and equal shap's own explainer on the
same rows; robustness reports the task's metric change as scikit-learn computes it on the same perturbed rows;
a regression's directional expectations and the rules that judge all of it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from scipy.special import softmax
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error
from test_tasks import CASES, FAST, _spec, _training

from engine.candidates import FAMILIES
from engine.candidates.base import MISSING_CATEGORY, categorical_frame
from engine.candidates.onehot import input_origins
from engine.data import load_dataset
from engine.evaluation.explain import ExplainSettings, explanation_evidence, model_agnostic
from engine.evaluation.robustness import PERTURBATIONS, Directional, RobustnessSettings, robustness_evidence
from engine.policy.rules_beyond import explainability, robustness

TRAINED = ("baseline", "logistic", "lightgbm", "torch_mlp")
METHODS = {"baseline": "exact (constant model", "logistic": "exact linear SHAP",
           "lightgbm": "LightGBM pred_contrib", "torch_mlp": "DeepSHAP"}
SETTINGS = ExplainSettings(rows=40, background=20)


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request: pytest.FixtureRequest) -> dict[str, Any]:
    path, target, left_out, task = CASES[request.param]
    data = load_dataset(_spec(path, target, task=task))
    features = [c for c in data.frame.columns if c not in (target, *left_out)]
    data = load_dataset(_spec(path, target, task=task, features=tuple(features)))
    training, x_test, y_test = _training(data)
    models = {}
    for name in TRAINED:
        family = FAMILIES[name]
        models[name] = family.build({**family.default_params, **FAST.get(name, {})})
        models[name].fit(training)
    return {"data": data, "training": training, "x_test": x_test, "y_test": y_test, "models": models}


def _explained(fitted: dict[str, Any], name: str) -> dict[str, Any]:
    data = fitted["data"]
    return explanation_evidence(fitted["models"][name], fitted["x_test"], fitted["training"].x_train,
                                features=data.features, association={}, sensitive=(), settings=SETTINGS,
                                task=data.task, classes=data.classes)


def _rows(fitted: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The explained rows and the background, drawn as explanation_evidence draws them (seeded)."""
    x_test, x_train, features = fitted["x_test"], fitted["training"].x_train, fitted["data"].features.all
    rng = np.random.default_rng
    rows = np.sort(rng(SETTINGS.seed).choice(len(x_test), size=SETTINGS.rows, replace=False))
    back = np.sort(rng(SETTINGS.seed + 1).choice(len(x_train), size=SETTINGS.background, replace=False))
    return x_test.iloc[rows].loc[:, features], x_train.iloc[back].loc[:, features]


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINED)
def test_contributions_add_up_to_the_raw_output_for_every_family(fitted: dict[str, Any], name: str) -> None:
    data, model = fitted["data"], fitted["models"][name]
    evidence = _explained(fitted, name)
    assert evidence["method"].startswith(METHODS[name])
    assert evidence["faithfulness"]["max_abs_error"] <= 1e-6
    assert len(evidence["ranking"]) == len(data.features.all)
    strengths = [e["mean_abs"] for e in evidence["ranking"]]
    assert strengths == sorted(strengths, reverse=True)
    x, _ = _rows(fitted)
    found = model.explain(x, _rows(fitted)[1])
    predicted = model.predict_proba(x)
    if data.task == "regression":  # the explained output is the prediction itself
        assert evidence["output_space"] == "prediction" and isinstance(evidence["base_value"], float)
        assert found.output == pytest.approx(predicted, rel=1e-5, abs=1e-4)
        assert [r["output"] for r in evidence["highest_risk_rows"]] == pytest.approx(
            sorted(found.output, reverse=True)[:3], abs=1e-9)
        return
    k = len(data.classes)
    assert evidence["classes"] == list(data.classes) and len(evidence["base_value"]) == k
    assert found.values.shape == (len(x), len(data.features.all), k)
    for entry in evidence["ranking"]:  # the ranking is the mean over the classes of each class's own
        assert entry["mean_abs"] == pytest.approx(np.mean(list(entry["per_class"].values())), abs=1e-12)
    probabilities = found.output if name == "baseline" else softmax(found.output, axis=1)
    assert probabilities == pytest.approx(predicted, abs=1e-5)  # each class's logit, through softmax
    for row in evidence["highest_risk_rows"]:  # each row explained for its most probable class
        own = model.predict_proba(fitted["x_test"].iloc[[row["test_row"]]])[0]
        assert row["class"] == data.classes[int(np.argmax(own))]
    if name == "baseline":
        assert strengths == [0.0] * len(strengths)
        assert evidence["base_value"] == pytest.approx(list(predicted[0]))


@pytest.mark.slow
def test_lightgbm_contributions_equal_shap_tree_explainer(fitted: dict[str, Any]) -> None:
    model = fitted["models"]["lightgbm"]
    x, background = _rows(fitted)
    ours = model.explain(x, background)
    z = model.pipeline.named_steps["preprocess"].transform(categorical_frame(x, model.features))
    explainer = shap.TreeExplainer(model.pipeline.named_steps["model"].booster_)
    reference = np.asarray(explainer.shap_values(z))
    assert ours.values == pytest.approx(reference.reshape(ours.values.shape), abs=1e-6)
    assert np.ravel(ours.base) == pytest.approx(np.ravel(explainer.expected_value), abs=1e-6)


@pytest.mark.slow
def test_linear_contributions_equal_shap_linear_explainer_summed_by_feature(fitted: dict[str, Any]) -> None:
    model = fitted["models"]["logistic"]
    x, background = _rows(fitted)
    ours = model.explain(x, background)
    preprocess, linear = model.pipeline.named_steps["preprocess"], model.pipeline.named_steps["model"]
    z, z_background = (np.asarray(preprocess.transform(categorical_frame(frame, model.features,
                                                                         missing=MISSING_CATEGORY)), dtype=np.float64)
                       for frame in (x, background))
    explainer = shap.LinearExplainer(linear, z_background)
    reference = np.asarray(explainer.shap_values(z))  # [rows, model inputs] or [rows, model inputs, classes]
    if reference.ndim == 2:
        reference = reference[:, :, None]
    origins = input_origins(preprocess, model.features)
    summed = np.zeros((len(x), len(model.features.all), reference.shape[2]))
    np.add.at(summed.transpose(1, 0, 2), origins, reference.transpose(1, 0, 2))
    assert ours.values.reshape(summed.shape) == pytest.approx(summed, abs=1e-9)
    assert np.ravel(ours.base) == pytest.approx(np.ravel(explainer.expected_value), abs=1e-9)


@pytest.mark.slow
def test_mlp_deepshap_equals_shap_deep_explainer_on_the_raw_output(fitted: dict[str, Any]) -> None:
    """shap's own DeepExplainer (DeepLIFT rescale, torch, float32) on the network's raw outputs against the same
    background: the same numbers, to float32 precision."""
    import torch

    model = fitted["models"]["torch_mlp"]
    x, background = _rows(fitted)
    ours = model.explain(x, background)
    inputs, references = (torch.from_numpy(model._inputs(frame)) for frame in (x, background))
    reference = np.asarray(shap.DeepExplainer(model.net, references).shap_values(inputs, check_additivity=False))
    if reference.ndim == 2:
        reference = reference[:, :, None]
    origins = input_origins(model.preprocess, model.features)
    summed = np.zeros((len(x), len(model.features.all), reference.shape[2]))
    np.add.at(summed.transpose(1, 0, 2), origins, reference.transpose(1, 0, 2))
    scale = max(1.0, float(np.abs(summed).max()))
    assert ours.values.reshape(summed.shape) == pytest.approx(summed, abs=1e-4 * scale)


@pytest.mark.slow
def test_the_model_agnostic_explainer_adds_up_per_class(fitted: dict[str, Any]) -> None:
    """A model with no explainer of its own (a wrapped predict function): shap's KernelExplainer, one column of
    contributions per class, adding up to each class's probability (or the prediction)."""
    data, model = fitted["data"], fitted["models"]["lightgbm"]
    x, background = _rows(fitted)
    x, background = x.iloc[:5], background.iloc[:10]
    found = model_agnostic(model.predict_proba, x, background, samples=200, seed=1,
                           space="prediction" if data.task == "regression" else "probability")
    output = model.predict_proba(x)
    if data.task == "multiclass":
        assert found.values.shape == (5, len(data.features.all), len(data.classes))
        assert found.base == pytest.approx(model.predict_proba(background).mean(axis=0), abs=1e-9)
        assert found.values.sum(axis=1) + found.base == pytest.approx(output, abs=1e-9)
    else:
        assert found.values.sum(axis=1) + found.base == pytest.approx(output, rel=1e-9, abs=1e-9)


def _perturbed_metrics(fitted: dict[str, Any], name: str, settings: RobustnessSettings
                       ) -> dict[str, dict[str, float]]:
    """scikit-learn's metrics on each perturbation of the same sampled rows, drawn with the same seeds."""
    data, model = fitted["data"], fitted["models"][name]
    x_test, y_test = fitted["x_test"], fitted["y_test"]
    rows = np.sort(np.random.default_rng(settings.seed).choice(len(x_test), size=min(settings.rows, len(x_test)),
                                                                replace=False))
    x, y = x_test.iloc[rows].reset_index(drop=True), y_test[rows]
    found = {}
    for index, (perturbation, (_, perturb)) in enumerate(PERTURBATIONS.items()):
        output = model.predict_proba(perturb(x, data.features, settings,
                                             np.random.default_rng([settings.seed, index])))
        if data.task == "regression":
            found[perturbation] = {"rmse": float(np.sqrt(mean_squared_error(y, output))),
                                   "mae": float(mean_absolute_error(y, output))}
        else:
            found[perturbation] = {"accuracy": float(accuracy_score(y, output.argmax(axis=1))),
                                   "f1_macro": float(f1_score(y, output.argmax(axis=1), average="macro",
                                                              labels=list(range(len(data.classes))),
                                                              zero_division=0))}
    clean = model.predict_proba(x)
    found["clean"] = ({"rmse": float(np.sqrt(mean_squared_error(y, clean))), "mae": mean_absolute_error(y, clean)}
                      if data.task == "regression" else
                      {"accuracy": float(accuracy_score(y, clean.argmax(axis=1))),
                       "f1_macro": float(f1_score(y, clean.argmax(axis=1), average="macro",
                                                  labels=list(range(len(data.classes))), zero_division=0))})
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lightgbm", "logistic"])
def test_robustness_reports_the_task_metric_change_as_scikit_learn_computes_it(fitted: dict[str, Any],
                                                                                name: str) -> None:
    data = fitted["data"]
    settings = RobustnessSettings(rows=300, task=data.task)
    evidence = robustness_evidence(fitted["models"][name].predict_proba, fitted["x_test"], fitted["y_test"],
                                   features=data.features, sensitive=(), settings=settings)
    reference = _perturbed_metrics(fitted, name, settings)
    clean = reference["clean"]
    assert evidence["metric"] == ("rmse" if data.task == "regression" else "accuracy")
    assert evidence["clean"] == pytest.approx(clean, rel=1e-12)
    for perturbation, result in evidence["perturbations"].items():
        after = reference[perturbation]
        assert result["metrics"] == pytest.approx(after, rel=1e-12)
        for metric, value in clean.items():  # positive = worse: an error's increase, a score's drop
            worse = after[metric] - value if data.task == "regression" else value - after[metric]
            assert result["drop"][metric] == pytest.approx(worse, abs=1e-12)
            assert result["relative_drop"][metric] == pytest.approx(worse / value, abs=1e-12)
        assert (result["flip_rate"] is None) == (data.task == "regression")
    rule = {"max_relative_drop": 0.5}
    assert robustness({"robustness": evidence}, rule).status == "pass"
    worst = max(r["relative_drop"][evidence["metric"]] for r in evidence["perturbations"].values())
    if worst > 0:
        failed = robustness({"robustness": evidence}, {"max_relative_drop": worst / 2})
        assert failed.status == "fail" and failed.observed == pytest.approx(worst)


@pytest.mark.slow
def test_directional_expectations_of_a_regression_follow_the_linear_model(fitted: dict[str, Any]) -> None:
    """Ridge regression moves every prediction the same way when a numeric feature rises: the expectation that
    agrees with its weight's sign is never violated, the opposite one on every row; a multiclass model has no one
    output to move, so its expectations are recorded as not applicable and the rule is unknown."""
    data, model = fitted["data"], fitted["models"]["logistic"]
    feature = "age"
    tests = (Directional(feature, 5.0, "non_decreasing"), Directional(feature, 5.0, "non_increasing"))
    settings = RobustnessSettings(rows=200, task=data.task, directional=tests)
    evidence = robustness_evidence(model.predict_proba, fitted["x_test"], fitted["y_test"], features=data.features,
                                   sensitive=(), settings=settings)
    rule = {"max_directional_violation_rate": 0.05}
    if data.task == "multiclass":
        assert all("error" in test for test in evidence["directional"])
        assert robustness({"robustness": evidence}, rule).status == "unknown"
        return
    sample = fitted["x_test"].iloc[:5].copy()
    raised = sample.assign(**{feature: sample[feature] + 5.0})
    rises = bool(np.all(model.predict_proba(raised) > model.predict_proba(sample)))
    rates = [test["violation_rate"] for test in evidence["directional"]]
    assert rates == ([0.0, 1.0] if rises else [1.0, 0.0])
    finding = robustness({"robustness": evidence}, rule)
    assert finding.status == "fail" and finding.observed == 1.0
    agreeing = {**evidence, "directional": [evidence["directional"][0 if rises else 1]]}
    assert robustness({"robustness": agreeing}, rule).status == "pass"


@pytest.mark.slow
def test_explainability_judges_task_explanations(fitted: dict[str, Any]) -> None:
    evidence = _explained(fitted, "lightgbm")
    assert explainability({"explanations": evidence}, {"max_faithfulness_error": 1e-6}).status == "pass"
    broken = {**evidence, "faithfulness": {**evidence["faithfulness"], "max_abs_error": 0.5}}
    assert explainability({"explanations": broken}, {"max_faithfulness_error": 1e-6}).status == "fail"
    assert explainability({"explanations": {"error": "x"}}, {}).status == "unknown"
