"""`RULE_KINDS`: the explicit registry of rule kinds (no registration by import side effect).

Each kind is one small pure function from stored evidence and a rule's parameters to a `Finding`. The policy
schema's list of kinds, this table and the README's rule reference are tested to list the same kinds. Kinds for a
new kind of evidence live in a module of their own and add their lines here.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.policy import rules, rules_beyond, rules_release, rules_serving
from engine.policy.rules import Evidence, Finding, Params

RuleKind = Callable[[Evidence, Params], Finding]

RULE_KINDS: dict[str, RuleKind] = {
    "metric_threshold": rules.metric_threshold,
    "beats_baseline": rules.beats_baseline,
    "slice_metric": rules.slice_metric,
    "fairness": rules.fairness,
    "calibration": rules.calibration,
    "conformal_coverage": rules_beyond.conformal_coverage,
    "explainability": rules_beyond.explainability,
    "robustness": rules_beyond.robustness,
    "onnx_parity": rules_serving.onnx_parity,
    "latency": rules_serving.latency,
    "throughput": rules_serving.throughput,
    "model_size": rules_serving.model_size,
    "feature_availability": rules_serving.feature_availability,
    "artifacts_packaged": rules_serving.artifacts_packaged,
    "reproducible": rules_release.reproducible,
    "lineage_complete": rules_release.lineage_complete,
    "rollback": rules_release.rollback,
    "beats_champion": rules_release.beats_champion,
}
