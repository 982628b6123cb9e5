"""`EvaluationSettings`: how evidence is computed, read once from the spec and handed to every stage.

The spec's `evaluation`, `serving` and `threshold` entries become one frozen object before anything is trained,
so a setting that does not fit the data (a directional test on a non-numeric feature) fails as bad input and
every candidate is evaluated under exactly the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.candidates import Features
from engine.evaluation.beyond import BeyondSettings, beyond_settings
from engine.evaluation.performance import EvidenceSettings
from engine.spec import AuditSpec


@dataclass(frozen=True)
class EvaluationSettings:
    """Everything `evaluate_candidate()` needs to know about how to evaluate, for every candidate alike."""

    performance: EvidenceSettings
    beyond: BeyondSettings
    serving_measure: dict[str, int]
    serving_features: tuple[str, ...] | None
    reproducibility: bool
    confidence: float
    fail_on: str

    @classmethod
    def from_spec(cls, spec: AuditSpec, features: Features) -> EvaluationSettings:
        """The settings of `spec` for an audit whose data has `features` (raises `SpecError` when they clash)."""
        e = spec.evaluation
        performance = EvidenceSettings(
            threshold=spec.threshold, optimizing_metric=spec.optimizing_metric, resamples=int(e["bootstrap"]),
            confidence=float(e["confidence"]), seed=spec.split.seed, calibration_bins=int(e["calibration_bins"]),
            min_group_size=int(e["min_group_size"]),
        )
        return cls(
            performance=performance,
            beyond=beyond_settings(e, threshold=spec.threshold, seed=spec.split.seed, features=features,
                                   source=spec.source),
            serving_measure=dict(spec.serving), serving_features=spec.data.serving_features,
            reproducibility=bool(e["reproducibility"]), confidence=float(e["confidence"]),
            fail_on=str(e["fail_on"]),
        )
