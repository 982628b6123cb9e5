"""`RULE_KINDS`: the explicit registry of rule kinds, one `RuleKind` record each (no registration by import).

A record is everything mlgate knows about a kind, and every reader of kinds reads it from here:

- `check`, the pure function (evidence, params) -> Finding that `engine.policy.checker` runs;
- `reads`, the top-level sections of a candidate's evidence its check reads (tested: the check finds the same
  on those sections alone);
- `params`, its parameters' JSON-schema fragment, assembled into the policy schema by `engine.policy.schema`
  (the kind's enum, its if/then branch and its `$defs` entry; the shipped `policy-v1.schema.json` is tested equal);
- `explain`, its sentence for `policy explain` (`engine.policy.explain`; None: worded from the description);
- `shows`, the evidence sections whose views the TUI's evidence panel (`tui/widgets/evidence.py`) and the model
  card (`engine.cards.markdown.section_for_kind`) show for a rule of the kind;
- `task_types`, the task types it applies to.

The docs site's rule reference (`engine.policy.reference`) lists the kinds in this order. Adding a kind: a module
with its check function, its `*_PARAMS` fragment (and a `say_*` sentence), and one record here; then regenerate
the shipped schema and the reference pages (`python -m engine.policy.schema`, `python -m scripts.docs_reference`).
The checklist item a rule serves is the policy author's choice (any item, any kind), so it is not part of the
record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.policy import (
    rules,
    rules_beyond,
    rules_data,
    rules_fit,
    rules_reasons,
    rules_release,
    rules_serving,
    rules_uncertainty,
)
from engine.policy import rules_monitor as monitor
from engine.policy.finding import Evidence, Finding, Params

Check = Callable[[Evidence, Params], Finding]
Sentence = Callable[[Params], str]
TASK_TYPES = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class RuleKind:
    """One rule kind: its check, the evidence it reads and shows, its parameter schema and its sentence."""

    check: Check
    reads: tuple[str, ...]
    params: Mapping[str, Any]
    shows: tuple[str, ...]
    explain: Sentence | None = None
    task_types: tuple[str, ...] = ("binary",)

    def __call__(self, evidence: Evidence, params: Params) -> Finding:
        """Run the check: a record is called as its check function is."""
        return self.check(evidence, params)


SERVING = ("serving",)
CLASSIFICATION = ("binary", "multiclass")

RULE_KINDS: dict[str, RuleKind] = {
    "metric_threshold": RuleKind(rules.metric_threshold, ("metrics", "intervals"), rules.METRIC_THRESHOLD_PARAMS,
                                 ("metrics",), rules.say_metric_threshold, task_types=TASK_TYPES),
    "beats_baseline": RuleKind(rules.beats_baseline, ("lift_over_baseline", "comparisons"),
                               rules.BEATS_BASELINE_PARAMS, ("metrics",),
                                   rules.say_beats_baseline, task_types=TASK_TYPES),
    "slice_metric": RuleKind(rules.slice_metric, ("slices", "metrics", "rates", "intervals"),
                             rules.SLICE_METRIC_PARAMS, ("slices",), rules.say_slice_metric, task_types=TASK_TYPES),
    "fairness": RuleKind(rules.fairness, ("slices", "intervals"), rules.FAIRNESS_PARAMS, ("slices",),
                         rules.say_fairness, task_types=TASK_TYPES),
    "calibration": RuleKind(rules_uncertainty.calibration, ("calibration", "slices"),
                            rules_uncertainty.CALIBRATION_PARAMS, ("calibration",), rules_uncertainty.say_calibration,
                            task_types=CLASSIFICATION),
    "conformal_coverage": RuleKind(rules_uncertainty.conformal_coverage, ("conformal",),
                                   rules_uncertainty.CONFORMAL_COVERAGE_PARAMS, ("conformal",),
                                   rules_uncertainty.say_conformal_coverage, task_types=TASK_TYPES),
    "explainability": RuleKind(rules_beyond.explainability, ("explanations",), rules_beyond.EXPLAINABILITY_PARAMS,
                               ("explanations",), rules_beyond.say_explainability, task_types=TASK_TYPES),
    "robustness": RuleKind(rules_beyond.robustness, ("robustness",), rules_beyond.ROBUSTNESS_PARAMS,
                           ("robustness",), rules_beyond.say_robustness, task_types=TASK_TYPES),
    "onnx_parity": RuleKind(rules_serving.onnx_parity, SERVING, rules_serving.ONNX_PARITY_PARAMS,
        SERVING, task_types=TASK_TYPES),
    "latency": RuleKind(rules_serving.latency, SERVING, rules_serving.LATENCY_PARAMS, SERVING, task_types=TASK_TYPES),
    "throughput": RuleKind(rules_serving.throughput, SERVING, rules_serving.THROUGHPUT_PARAMS,
        SERVING, task_types=TASK_TYPES),
    "model_size": RuleKind(rules_serving.model_size, SERVING, rules_serving.MODEL_SIZE_PARAMS,
        SERVING, task_types=TASK_TYPES),
    "feature_availability": RuleKind(rules_serving.feature_availability, SERVING,
                                     rules_serving.FEATURE_AVAILABILITY_PARAMS, SERVING, task_types=TASK_TYPES),
    "artifacts_packaged": RuleKind(rules_serving.artifacts_packaged, SERVING,
                                   rules_serving.ARTIFACTS_PACKAGED_PARAMS, SERVING, task_types=TASK_TYPES),
    "reproducible": RuleKind(rules_release.reproducible, ("reproducibility",), rules_release.REPRODUCIBLE_PARAMS,
                             ("reproducibility",), task_types=TASK_TYPES),
    "lineage_complete": RuleKind(rules_release.lineage_complete, ("lineage",),
                                 rules_release.LINEAGE_COMPLETE_PARAMS, ("lineage",), task_types=TASK_TYPES),
    "rollback": RuleKind(rules_release.rollback, ("champion",), rules_release.ROLLBACK_PARAMS,
        ("champion",), task_types=TASK_TYPES),
    "beats_champion": RuleKind(rules_release.beats_champion, ("champion", "comparisons"),
                               rules_release.BEATS_CHAMPION_PARAMS, ("champion", "comparisons"), task_types=TASK_TYPES),
    "split_integrity": RuleKind(rules_data.split_integrity, ("split_integrity",), rules_data.SPLIT_INTEGRITY_PARAMS,
                                ("split_integrity",), rules_data.say_split_integrity, TASK_TYPES),
    "data_quality": RuleKind(rules_data.data_quality, ("data_quality",), rules_data.DATA_QUALITY_PARAMS,
                             ("data_quality",), rules_data.say_data_quality, TASK_TYPES),
    "cv_stability": RuleKind(rules_fit.cv_stability, ("cross_validation",), rules_fit.CV_STABILITY_PARAMS,
                             ("cross_validation",), rules_fit.say_cv_stability),
    "generalization_gap": RuleKind(rules_fit.generalization_gap, ("generalization",),
                                   rules_fit.GENERALIZATION_GAP_PARAMS, ("generalization",),
                                   rules_fit.say_generalization_gap),
    "test_reuse": RuleKind(rules_data.holdout_reuse, ("exposure",), rules_data.TEST_REUSE_PARAMS, ("exposure",),
                           rules_data.say_holdout_reuse, TASK_TYPES),

    # monitoring: rules over a monitored batch's evidence (engine.monitor), shown beside the reference they use
    "drift": RuleKind(monitor.drift, ("drift",), monitor.DRIFT_PARAMS, ("drift_reference",)),
    "prediction_drift": RuleKind(monitor.prediction_drift, ("drift",), monitor.PREDICTION_DRIFT_PARAMS,
                                 ("drift_reference",)),
    "schema_violations": RuleKind(monitor.schema_violations, ("schema",), monitor.SCHEMA_VIOLATIONS_PARAMS,
                                  ("drift_reference",)),
    "performance_decay": RuleKind(monitor.performance_decay, ("versus_approval", "estimated", "approved"),
                                  monitor.PERFORMANCE_DECAY_PARAMS, ("drift_reference",)),

    "reason_codes": RuleKind(rules_reasons.reason_codes, ("decisions",), rules_reasons.REASON_CODES_PARAMS,
                             ("decisions",), rules_reasons.say_reason_codes),
    "recourse_parity": RuleKind(rules_reasons.recourse_parity, ("decisions",), rules_reasons.RECOURSE_PARITY_PARAMS,
                                ("decisions",), rules_reasons.say_recourse_parity),
}
