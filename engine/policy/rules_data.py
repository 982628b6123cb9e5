"""Rule kinds about the data and its split: the split-integrity certificate, the data-quality profile, and how
often the test set has informed a decision (`test_reuse`, over the `exposure` section of `engine.audit.exposure`).

Each reads the evidence computed once per audit in `prepare` (`split_integrity`, `data_quality`; see
`engine.evaluation.integrity` and `engine.evaluation.data_quality`). Evidence that was not computed, or holds its
error, makes the rule `unknown` with the reason: never a pass. The observed value is the number of problems found;
the message names them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.policy.finding import Evidence, Finding, Params, fmt

MAX_NAMED = 3


def _names(entries: list[Mapping[str, Any]], key: str = "feature") -> str:
    shown = [str(e[key]) for e in entries[:MAX_NAMED]]
    return ", ".join(shown) + (f" (+{len(entries) - MAX_NAMED} more)" if len(entries) > MAX_NAMED else "")


def _rows(found: Mapping[str, Any]) -> str:
    shown = ", ".join(map(str, found.get("examples", [])))
    return f" (rows {shown})" if shown else ""


def integrity_problems(cert: Mapping[str, Any], params: Params) -> list[str]:
    """Every finding of the certificate that breaks the rule's bounds, as one phrase each."""
    problems = []
    duplicates = cert.get("duplicates", {})
    if duplicates.get("rate", 0.0) > float(params.get("max_duplicate_rate", 0.0)):
        problems.append(f"{duplicates['rows']} of {duplicates['test_rows']} test rows repeat a development row's "
                        f"features{_rows(duplicates)}")
    conflicts = cert.get("conflicting_labels", {})
    if conflicts.get("rate", 0.0) > float(params.get("max_conflict_rate", 0.0)):
        problems.append(f"{conflicts['rows']} rows repeat features with the other label{_rows(conflicts)}")
    leaks = cert.get("leakage", {}).get("flagged", [])
    bounds = {"auc": float(params.get("max_single_feature_auc", 0.98)),
              "r2": float(params.get("max_single_feature_r2", 0.95))}
    leaks = [(key, e) for e in leaks for key in ("auc", "r2") if key in e and e[key] >= bounds[key]]
    if leaks:
        problems.append("a single feature predicts the label: " + ", ".join(
            f"{e['feature']} ({'ROC AUC' if key == 'auc' else 'R²'} {fmt(e[key])})" for key, e in leaks[:MAX_NAMED]))
    if cert.get("identifiers") and not params.get("allow_identifiers", False):
        problems.append(f"identifier-like feature(s) unique per row: {_names(cert['identifiers'])}")
    entity = cert.get("entity_overlap")
    if entity and entity.get("groups"):
        problems.append(f"{entity['groups']} {entity['column']} group(s) on both sides of the split, "
                        f"{entity['rows']} test rows{_rows(entity)}")
    time = cert.get("time_overlap")
    if time and time.get("rows"):
        problems.append(f"{time['rows']} test rows not later than the latest training {time['column']}"
                        f"{_rows(time)}")
    fitted = cert.get("preprocessing") or {}
    if fitted.get("test_rows_in_fit"):
        problems.append(f"preprocessing fitted on {fitted['test_rows_in_fit']} test rows")
    return problems


Problems = Callable[[Mapping[str, Any], Params], list[str]]


def _judge(section: Any, what: str, problems_of: Problems, params: Params,
           holds: Callable[[Mapping[str, Any]], str]) -> Finding:
    """`unknown` when the section is absent or holds its error, `fail` naming every problem, else `pass`."""
    if not isinstance(section, Mapping):
        return Finding("unknown", None, 0.0, f"{what} was not computed for this candidate")
    if "error" in section:
        return Finding("unknown", None, 0.0, f"{what} failed: {section['error']}")
    problems = problems_of(section, params)
    if problems:
        return Finding("fail", float(len(problems)), 0.0, "; ".join(problems))
    return Finding("pass", 0.0, 0.0, holds(section))


def _split_holds(cert: Mapping[str, Any]) -> str:
    sizes = cert.get("sizes", {})
    return (f"the {cert.get('strategy', 'stratified')} split holds: no test row repeats a development row, no label "
            f"leak, no ID feature ({sizes.get('test', '?')} test rows, data {str(cert.get('data_sha256'))[:12]})")


def split_integrity(evidence: Evidence, params: Params) -> Finding:
    """No duplicates, label copies, identifiers, entities or future rows across the split."""
    return _judge(evidence.get("split_integrity"), "the split-integrity certificate", integrity_problems, params,
                  _split_holds)


def quality_problems(quality: Mapping[str, Any], params: Params) -> list[str]:
    """Every data-quality measure beyond the rule's bounds, as one phrase each."""
    problems = []
    bound = float(params.get("max_missing_change", 0.1))
    moved = [m for m in quality.get("missing", []) if abs(m.get("change", 0.0)) > bound]
    if moved:
        problems.append(f"missing rate changes by more than {fmt(bound)} from train to test: {_names(moved)}")
    if quality.get("constant") and not params.get("allow_constant", False):
        problems.append(f"constant or near-constant feature(s): {_names(quality['constant'])}")
    bound = float(params.get("max_unseen_rate", 0.01))
    unseen = [u for u in quality.get("unseen_categories", []) if u["rate"] > bound]
    if unseen:
        problems.append(f"test categories never seen in training: {_names(unseen)}")
    bound = float(params.get("max_out_of_range_rate", 0.05))
    outside = [o for o in quality.get("out_of_range", []) if o["rate"] > bound]
    if outside:
        problems.append(f"test values outside the training range: {_names(outside)}")
    balance = quality.get("label_balance", {})
    bound = float(params.get("max_label_shift", 0.1))
    if balance and max(balance.values()) - min(balance.values()) > bound:
        problems.append(f"the positive rate differs by more than {fmt(bound)} across the parts: " + ", ".join(
            f"{k} {fmt(v)}" for k, v in balance.items()))
    shift = quality.get("label_shift")
    if shift and shift["measure"] == "ks":  # a regression: the KS test against the training part (the seeds: p < 0.01)
        level = float(params.get("min_label_shift_p", 0.01))
        moved = [(name, a) for name, a in shift["against"].items() if a["p_value"] < level]
        if moved:
            problems.append("the target's distribution shifts from " + shift["reference"] + ": " + ", ".join(
                f"{name} (KS {fmt(a['statistic'])}, p {a['p_value']:.2g} < {fmt(level)})" for name, a in moved))
    elif shift and shift["value"] > bound:
        problems.append(f"the target shifts between the parts: largest class-share difference "
                        f"{fmt(shift['value'])} > {fmt(bound)} against {shift['reference']}")
    drift = quality.get("schema_drift") or {}
    if any(drift.get(k) for k in ("missing", "added", "retyped")):
        problems.append("the test file's schema differs from the data file's")
    return problems


def data_quality(evidence: Evidence, params: Params) -> Finding:
    """Missing rates, constant features, unseen categories, ranges, label balance and schema within bounds."""
    return _judge(evidence.get("data_quality"), "the data-quality profile", quality_problems, params,
                  lambda _: "missing rates, constant features, categories, ranges and label balance within bounds")


def holdout_reuse(evidence: Evidence, params: Params) -> Finding:
    """The run's test set has informed at most `max_uses` runs (this one counted); unknown without the ledger."""
    bound = int(params["max_uses"])
    exposure = evidence.get("exposure")
    if not isinstance(exposure, Mapping):
        return Finding("unknown", None, float(bound), "no test-set exposure was recorded for this candidate "
                                                      "(audited before the ledger existed)")
    if "error" in exposure:
        return Finding("unknown", None, float(bound), str(exposure["error"]))
    uses = int(exposure["uses"])
    earlier = (f"{exposure['prior_runs']} earlier run(s), {exposure['prior_candidates']} candidates and "
               f"{exposure['prior_comparisons']} comparisons")
    test_set = f"test set {str(exposure['test_set'])[:12]}"
    if uses > bound:
        return Finding("fail", float(uses), float(bound),
                       f"{test_set} has now informed {uses} runs ({earlier} before this one), more than the {bound} "
                       "allowed: its results are tuned to it; draw a fresh holdout (new rows kept apart as "
                       "split.test_path, or new data) and audit on that")
    return Finding("pass", float(uses), float(bound), f"{test_set} has informed {uses} of at most {bound} runs "
                                                      f"({earlier} before this one)")


def say_holdout_reuse(params: Params) -> str:
    return (f"the test set has informed at most {params['max_uses']} audits (this one counted); after that, "
            "a fresh holdout must be drawn")


def say_split_integrity(params: Params) -> str:
    return (f"no test row repeats a development row's features (up to {fmt(float(params.get('max_duplicate_rate', 0)))}"
            " of them), no feature alone predicts the label (ROC AUC below "
            f"{fmt(float(params.get('max_single_feature_auc', 0.98)))}), no identifier feature, and no entity or "
            "future row across the split")


def say_data_quality(params: Params) -> str:
    return ("the data's quality is within bounds: missing rates stable from train to test, no constant feature, "
            "few unseen categories and out-of-range values, a stable label balance")


RATE = {"type": "number", "minimum": 0, "maximum": 1}

SPLIT_INTEGRITY_PARAMS: dict[str, Any] = {
    "description": "The split-integrity certificate holds: no test row repeats a development row's features, no "
                   "features repeat with the other label, no single feature predicts the label, no identifier-like "
                   "feature, no entity or future row across the split, preprocessing fitted on training rows only.",
    "properties": {
        "max_duplicate_rate": {**RATE, "description": "Share of test rows that may repeat a development row's "
                                                      "features (default 0)."},
        "max_conflict_rate": {**RATE, "description": "Share of rows that may repeat features with the other label "
                                                     "(default 0)."},
        "max_single_feature_auc": {"type": "number", "minimum": 0.5, "maximum": 1,
                                   "description": "A feature alone at or above this ROC AUC on the training rows is a "
                                                  "leak (default 0.98)."},
        "max_single_feature_r2": {"type": "number", "minimum": 0, "maximum": 1,
                                  "description": "A regression: a feature alone whose bin means reach this R² on "
                                                 "the training rows is a leak (default 0.95)."},
        "allow_identifiers": {"type": "boolean", "description": "true: identifier-like features do not fail the "
                                                                "rule (default false)."},
    },
    "examples": [{"id": "split-honest", "kind": "split_integrity", "max_duplicate_rate": 0.01, "severity": "block",
                  "checklist": "data_and_split"}],
}

TEST_REUSE_PARAMS: dict[str, Any] = {
    "description": "The test set that informs this decision (the kept-apart test file, or the data with the same "
                   "split settings and seed) has been used by at most max_uses runs of the trail, this one counted; "
                   "unknown when the ledger cannot be read.",
    "required": ["max_uses"],
    "properties": {
        "max_uses": {"type": "integer", "minimum": 1,
                     "description": "How many runs may score candidates on the same test set before it is spent."},
    },
}

DATA_QUALITY_PARAMS: dict[str, Any] = {
    "description": "The data's quality is within bounds: missing rates stable from train to test, no constant "
                   "feature, few unseen categories and out-of-range test values, a stable label balance, and the test "
                   "file's schema equal to the data's.",
    "properties": {
        "max_missing_change": {**RATE, "description": "Largest change of a feature's missing rate from train to "
                                                      "test (default 0.1)."},
        "allow_constant": {"type": "boolean", "description": "true: constant features do not fail the rule."},
        "max_unseen_rate": {**RATE, "description": "Share of test rows with a category never seen in training, per "
                                                   "feature (default 0.01)."},
        "max_out_of_range_rate": {**RATE, "description": "Share of test rows outside the training range, per "
                                                         "feature (default 0.05)."},
        "max_label_shift": {**RATE, "description": "Largest difference of the positive rate (binary) or of a "
                                                   "class's share (multiclass) between the parts (default 0.1)."},
        "min_label_shift_p": {**RATE, "description": "A regression: the target's two-sample Kolmogorov-Smirnov "
                                                     "test against the training part fails below this p-value "
                                                     "(default 0.01)."},
    },
    "examples": [{"id": "data-quality", "kind": "data_quality", "severity": "warn", "checklist": "data_and_split"}],
}
