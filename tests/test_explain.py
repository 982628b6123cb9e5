"""engine.evaluation.explain: faithful explanations for every family, checked against shap on the same rows, and
the `explainability` rule flagging a model that uses a sensitive column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from beyond_data import CATEGORICAL, NUMERIC, Fitted, fit
from sklearn.metrics import normalized_mutual_info_score

from engine.candidates.base import MISSING_CATEGORY, Explainable, Features, categorical_frame
from engine.evaluation.explain import explanation_evidence, model_agnostic
from engine.policy.rules_beyond import explainability

# family, calibration, params, the explainer each must use
FAMILIES = [
    ("baseline", None, {}, "exact (constant model"),
    ("logistic", None, {}, "exact linear SHAP"),
    ("lightgbm", None, {"n_estimators": 100}, "LightGBM pred_contrib"),
    ("logistic", "isotonic", {}, "shap KernelExplainer"),
    ("lightgbm", "platt", {"n_estimators": 100}, "shap KernelExplainer"),
    ("torch_mlp", None, {"hidden_sizes": [8], "epochs": 3}, "DeepSHAP"),
]


def _explained(fitted: Fitted) -> dict[str, Any]:
    c = fitted.context
    return explanation_evidence(fitted.model, c.x_test, c.x_train, features=c.features, association=c.association,
                                sensitive=c.sensitive, settings=c.settings.explain)


def _sample(fitted: Fitted) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The explained rows and the background, as explanation_evidence draws them (seeded)."""
    c, s = fitted.context, fitted.context.settings.explain
    rows = np.sort(np.random.default_rng(s.seed).choice(len(c.x_test), size=min(s.rows, len(c.x_test)), replace=False))
    back = np.sort(np.random.default_rng(s.seed + 1).choice(len(c.x_train), size=min(s.background, len(c.x_train)),
                                                             replace=False))
    return c.x_test.iloc[rows].loc[:, c.features.all], c.x_train.iloc[back].loc[:, c.features.all]


@pytest.mark.slow
@pytest.mark.parametrize(("family", "calibration", "params", "method"), FAMILIES)
def test_contributions_plus_base_equal_the_model_output(adult_sample: pd.DataFrame, family: str,
                                                        calibration: str | None, params: dict[str, Any],
                                                        method: str) -> None:
    fitted = fit(adult_sample, family, calibration=calibration, params=params)
    evidence = _explained(fitted)
    assert evidence["method"].startswith(method)
    assert evidence["faithfulness"]["max_abs_error"] <= 1e-6
    assert evidence["rows"] == 50 and evidence["background_rows"] == 25
    assert [e["feature"] for e in evidence["ranking"]] != [] and len(evidence["ranking"]) == len(NUMERIC + CATEGORICAL)
    strengths = [e["mean_abs"] for e in evidence["ranking"]]
    assert strengths == sorted(strengths, reverse=True)
    x, background = _sample(fitted)
    proba = fitted.model.predict_proba(x)
    chosen = [fitted.test_proba[r["test_row"]] for r in evidence["highest_risk_rows"]]
    assert chosen == pytest.approx(sorted(proba, reverse=True)[:3], abs=1e-12)
    for row in evidence["highest_risk_rows"]:
        sizes = [abs(c["contribution"]) for c in row["contributions"]]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) == 5
    if family == "baseline":
        assert strengths == [0.0] * len(strengths)
        assert evidence["base_value"] == pytest.approx(float(proba[0]))
    if not isinstance(fitted.model, Explainable):  # KernelExplainer's base: the mean output over the background
        assert evidence["base_value"] == pytest.approx(float(fitted.model.predict_proba(background).mean()), abs=1e-12)
    if family == "torch_mlp":  # DeepSHAP's base too, computed in float64 (the model scores in float32)
        assert evidence["base_value"] == pytest.approx(float(fitted.model.predict_proba(background).mean()), abs=1e-6)


@pytest.mark.slow
def test_mlp_deepshap_agrees_with_kernel_shap_and_adds_up_exactly(adult_sample: pd.DataFrame) -> None:
    """The MLP's DeepSHAP values against shap's KernelExplainer with many coalitions on the same rows: the same
    picture (correlation above 0.95, the same top driver), while DeepSHAP adds up exactly (float64, before the
    model's float32 scoring)."""
    fitted = fit(adult_sample, "torch_mlp", params={"hidden_sizes": [32, 16], "epochs": 10})
    x, background = _sample(fitted)
    x = x.iloc[:12]
    deep = fitted.model.explain(x, background)
    kernel = model_agnostic(fitted.model.predict_proba, x, background, samples=1000, seed=3)
    assert np.corrcoef(deep.values.ravel(), kernel.values.ravel())[0, 1] > 0.95
    assert np.argmax(np.abs(deep.values).mean(0)) == np.argmax(np.abs(kernel.values).mean(0))
    assert np.abs(deep.values.sum(axis=1) + deep.base - deep.output).max() <= 1e-6


@pytest.mark.slow
def test_lightgbm_contributions_equal_shap_tree_explainer(adult_sample: pd.DataFrame) -> None:
    fitted = fit(adult_sample, "lightgbm", params={"n_estimators": 100})
    x, background = _sample(fitted)
    ours = fitted.model.explain(x, background)  # type: ignore[attr-defined]
    pipeline = fitted.model.pipeline  # type: ignore[attr-defined]
    z = pipeline.named_steps["preprocess"].transform(categorical_frame(x, fitted.context.features))
    explainer = shap.TreeExplainer(pipeline.named_steps["model"].booster_)
    reference = explainer.shap_values(z)
    np.testing.assert_allclose(ours.values, reference, atol=1e-6)
    assert ours.base == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-6)


def test_logistic_contributions_equal_shap_linear_explainer_summed_by_feature(adult_sample: pd.DataFrame) -> None:
    fitted = fit(adult_sample, "logistic")
    x, background = _sample(fitted)
    ours = fitted.model.explain(x, background)  # type: ignore[attr-defined]
    pipeline = fitted.model.pipeline  # type: ignore[attr-defined]
    preprocess, model = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    features = fitted.context.features
    z = preprocess.transform(categorical_frame(x, features, missing=MISSING_CATEGORY))
    z_background = preprocess.transform(categorical_frame(background, features, missing=MISSING_CATEGORY))
    explainer = shap.LinearExplainer(model, z_background)
    reference = explainer.shap_values(z)
    names = list(preprocess.get_feature_names_out())
    for j, feature in enumerate(features.all):
        columns = [k for k, n in enumerate(names) if n == feature or n.startswith(f"{feature}_")]
        assert columns, feature
        np.testing.assert_allclose(ours.values[:, j], reference[:, columns].sum(axis=1), atol=1e-9)
    assert ours.base == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-9)


def test_associations_are_normalized_mutual_information(adult_sample: pd.DataFrame) -> None:
    fitted = fit(adult_sample, "baseline")
    c = fitted.context
    for feature in CATEGORICAL:
        for column in ("sex", "race"):
            labels = c.x_test[feature].astype(str).where(c.x_test[feature].notna(), "(missing)")
            expected = normalized_mutual_info_score(c.x_test[column].astype(str), labels)
            assert c.association[feature][column] == pytest.approx(expected, abs=1e-6)
    assert c.association["relationship"]["sex"] > 0.2, "relationship (husband/wife) is a proxy of sex on Adult"


@pytest.mark.slow
@pytest.mark.parametrize("family", ["lightgbm", "logistic"])
def test_a_model_using_the_sensitive_column_fails_explainability(adult_sample: pd.DataFrame, family: str) -> None:
    params = {"n_estimators": 200} if family == "lightgbm" else {}
    rule = {"top_k": 5}
    with_sex = fit(adult_sample, family, features=Features(NUMERIC, ("sex", "occupation", "workclass")), params=params)
    evidence = _explained(with_sex)
    assert next(e for e in evidence["ranking"] if e["feature"] == "sex")["sensitive"]
    finding = explainability({"explanations": evidence}, rule)
    assert finding.status == "fail"
    assert "sex (a sensitive column)" in finding.message
    assert explainability({"explanations": evidence}, {**rule, "allow": ["sex"]}).status == "pass"
    without = fit(adult_sample, family, features=Features(NUMERIC, ("occupation", "workclass")), params=params)
    assert explainability({"explanations": _explained(without)}, rule).status == "pass"


def test_a_proxy_among_the_top_drivers_fails_explainability(adult_sample: pd.DataFrame) -> None:
    fitted = fit(adult_sample, "logistic", features=Features(NUMERIC, ("relationship",)))
    evidence = _explained(fitted)
    finding = explainability({"explanations": evidence}, {"top_k": len(evidence["ranking"])})
    assert finding.status == "fail"
    assert "relationship (proxy: NMI with sex" in finding.message
    strict = explainability({"explanations": evidence}, {"top_k": len(evidence["ranking"]), "proxy_threshold": 0.9})
    assert strict.status == "pass"
