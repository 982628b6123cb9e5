"""Real release evidence for the rule tests: a retrain's comparison, a lineage, a champion re-scored on the same rows.

Everything is computed the way the service computes it, from the Adult sample: the retrain is a second fit of
the same model on the same rows, the lineage is this process's, and the champion is a weaker real model (two
columns) scored on the same held-out half, compared with the paired bootstrap of `engine.evaluation.evidence`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
from adult_scores import Scored, score_half
from conftest import ADULT, DEFAULT_POLICY, ROOT

from engine.canonical import digest
from engine.evaluation.bootstrap import BootstrapSamples
from engine.evaluation.comparisons import compare
from engine.evaluation.groups import Grouping
from engine.evaluation.performance import EvidenceSettings, evaluate
from engine.evaluation.reproducibility import compare_predictions
from engine.lineage import candidate_lineage, lineage, run_lineage

CHAMPION_COLUMNS = ["age", "hours-per-week"]


def champion_entry(run_id: str, candidate: str, seq: int) -> dict[str, Any]:
    """A registry entry as `engine.champion.reference` gives it."""
    return {"run_id": run_id, "candidate": candidate, "family": "logistic", "promoted_at": "2026-01-02T03:04:05Z",
            "seq": seq, "reviewer": "Ann", "artifact": None}


def real_lineage(seed: int) -> dict[str, Any]:
    run = run_lineage(
        lineage(cwd=ROOT), spec_sha256=digest({"name": "adult"}),
        policies=[{"name": "default", "sha256": hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest()}],
        data_sha256=hashlib.sha256(ADULT.read_bytes()).hexdigest(), seed=seed,
    )
    return candidate_lineage(run, family="logistic", params={"C": 1.0}, seed=seed)


def release_evidence(adult: pd.DataFrame, scored: Scored, evidence: dict[str, Any], samples: BootstrapSamples | None,
                     groupings: list[Grouping], settings: EvidenceSettings) -> dict[str, Any]:
    """The reproducibility, lineage, champion and champion comparison a candidate's stored evidence carries."""
    retrained = score_half(adult)
    champion = score_half(adult, CHAMPION_COLUMNS)
    champion_evidence, champion_samples = evaluate(champion.y, champion.proba, groupings=groupings, settings=settings)
    return {
        "reproducibility": compare_predictions(scored.proba, retrained.proba, threshold=settings.threshold,
                                               seconds=0.01, device="cpu"),
        "lineage": real_lineage(settings.seed),
        "champion": {"model": "adult", "current": champion_entry("20260102T030405Z-aaaaaa", "logistic", 9),
                     "available": [champion_entry("20260102T030405Z-aaaaaa", "logistic", 9),
                                   champion_entry("20260101T030405Z-bbbbbb", "lightgbm", 4)]},
        "comparisons": {**evidence.get("comparisons", {}),
                        "champion": compare(evidence, samples, champion_evidence, champion_samples,
                                            confidence=settings.confidence)},
    }
