"""The comparisons of an audit's candidates: each one's paired lift over the baseline and over the champion.

`compare()` is one candidate's lift over one reference on every metric; `compare_all()` adds both comparisons
to every candidate's evidence in one step, once all of them are evaluated. Both sides are scored on the same
test rows and resampled with the same bootstrap seed, so every resample is a paired comparison: the lift's
interval and a one-sided p-value for "not better" come from the same resamples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engine.evaluation.bootstrap import BootstrapSamples
from engine.evaluation.candidate import Evaluated
from engine.evaluation.evidence import Comparisons
from engine.evaluation.metrics import METRICS
from engine.evaluation.resampling import paired_lift
from engine.evaluation.versus_champion import ChampionReference


def compare(evidence: Mapping[str, Any], samples: BootstrapSamples | None, reference: Mapping[str, Any],
            reference_samples: BootstrapSamples | None, *, confidence: float) -> dict[str, Any]:
    """Lift of a candidate over a reference (the baseline or the champion) on every metric, paired.

    The point lift is positive when the candidate is better (for losses too); with bootstrap samples from the
    same seed, the lift's interval and a one-sided p-value for "not better" come from the same resamples.
    """
    directions = {name: "higher" if metric.higher_is_better else "lower" for name, metric in METRICS.items()}
    resampled = {} if samples is None else {name: samples.metric(name) for name in METRICS}
    reference_resampled = {} if reference_samples is None else {name: reference_samples.metric(name)
                                                                for name in METRICS}
    return paired_lift(evidence["metrics"], resampled, reference["metrics"], reference_resampled,
                       directions=directions, confidence=confidence)


def compare_all(evaluated: list[Evaluated], *, baseline: str, champion: ChampionReference,
                confidence: float) -> list[Evaluated]:
    """Every candidate with its comparisons: the paired lift over the baseline `baseline` (the baseline itself
    included) and, when the champion was re-scored, over the champion; the champion's record for all."""
    reference = next((e for e in evaluated if e.name == baseline and e.evidence is not None), None)
    reference_performance = reference.evidence.performance.to_json() if reference and reference.evidence else None
    rescored = champion.rescored
    compared = []
    for item in evaluated:
        if item.evidence is None:
            compared.append(item)
            continue
        performance = item.evidence.performance.to_json()
        versus_baseline = None
        if reference is not None and reference_performance is not None:
            versus_baseline = compare(performance, item.samples, reference_performance, reference.samples,
                                      confidence=confidence)
        versus_champion = None if rescored is None else compare(
            performance, item.samples, rescored.evidence, rescored.samples, confidence=confidence)
        comparisons = Comparisons(baseline=baseline if versus_baseline is not None else None,
                                  versus_baseline=versus_baseline, champion=champion.record,
                                  versus_champion=versus_champion)
        compared.append(replace(item, evidence=replace(item.evidence, comparisons=comparisons)))
    return compared
