"""`Evidence`: everything an audit learned about one candidate, typed, one section per concern.

Evidence and verdict are separate on purpose: `evaluate_candidate()` (engine.evaluation.candidate) builds one
`Evidence`; the trail stores its JSON form (`to_json()`), which validates against the shipped
`evidence-v1.schema.json`; rules read that JSON (a stored run is re-checked against a new policy without
retraining) and the cards and the TUI show it. `SECTIONS` is the table of sections: the JSON keys each one owns
and the task types it applies to, so a new task type adds its sections without touching the others.

Stored evidence is read back through `stored_evidence()`, the versioned reader: a `candidate_evaluated` event
carries `evidence_version`; events written before the version existed (version 0) have the same JSON shape and
are read as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Literal

from engine.errors import TrailError
from engine.jsonfiles import load_schema, schema_errors

JSON = dict[str, Any]
TaskType = Literal["binary", "multiclass", "regression"]
EVIDENCE_VERSION = 1
READABLE_VERSIONS = (0, 1)
SCHEMA_FILE = "evidence-v1.schema.json"
BINARY: tuple[TaskType, ...] = ("binary",)
EVERY_TASK: tuple[TaskType, ...] = ("binary", "multiclass", "regression")
STRUCTURED = ("performance", "comparisons", "not_applicable")
TASK_PERFORMANCE = ("performance", "slices", "calibration")  # the sections whose keys a task's performance holds


@dataclass(frozen=True)
class Section:
    """One concern of the evidence: the JSON keys it owns, the task types it exists for, what it holds."""

    name: str
    keys: tuple[str, ...]
    task_types: tuple[TaskType, ...]
    about: str


SECTIONS: tuple[Section, ...] = (
    Section("performance", ("task", "split", "rows", "positives", "threshold", "metrics", "rates", "curves",
                            "intervals", "error_analysis", "zero_targets", "classes", "per_class", "confusion_matrix"),
            EVERY_TASK,
            "headline metrics on the test split with bootstrap intervals, and an error analysis; binary: rates and "
            "curves; regression: zero targets; multiclass: classes, per-class metrics and the confusion matrix"),
    Section("slices", ("slices",), EVERY_TASK, "metrics and fairness gaps per sensitive group, with intervals"),
    Section("calibration", ("calibration",), BINARY, "ECE, MCE, Brier and reliability bins, per group too"),
    Section("conformal", ("conformal",), BINARY, "split-conformal prediction sets and their coverage"),
    Section("explanations", ("explanations",), EVERY_TASK, "SHAP contributions, their faithfulness, the top drivers"),
    Section("robustness", ("robustness",), EVERY_TASK, "perturbation, invariance and directional tests"),
    Section("serving", ("serving",), BINARY, "the ONNX artifact: skew, latency, throughput, size, features"),
    Section("reproducibility", ("reproducibility",), EVERY_TASK, "a retrain with the same seed, compared"),
    Section("lineage", ("lineage",), EVERY_TASK, "code, data, parameters, seeds and environment"),
    Section("comparisons", ("baseline", "lift_over_baseline", "champion", "comparisons"), BINARY,
            "paired lifts over the baseline and over the current champion"),
    Section("not_applicable", ("not_applicable",), EVERY_TASK, "evidence that cannot exist here, with the reason"),
    Section("split_integrity", ("split_integrity",), EVERY_TASK,
            "the split-integrity certificate: duplicates, label conflicts, entity and time overlap, leakage screen, "
            "identifier-like features, preprocessing fitted on training rows only"),
    Section("data_quality", ("data_quality",), EVERY_TASK,
            "missing rates per part, constant features, unseen categories, out-of-range values, label balance"),
    Section("cross_validation", ("cross_validation",), BINARY,
            "the optimizing metric on each cross-validation fold of the development rows: mean, spread, worst"),
    Section("generalization", ("generalization",), BINARY,
            "the optimizing metric on the training rows beside the held-out rows, and the learning curve"),

    Section("exposure", ("exposure",), EVERY_TASK,
            "the test set that informed this decision and how many earlier runs, candidates and comparisons used it"),

    Section("drift_reference", ("drift_reference",), BINARY,
            "the training rows' distributions and the test scores' (never rows), monitored after approval"),

    Section("decisions", ("decisions",), BINARY,
            "reason codes and recourse for the test split's adverse decisions, on the served artifact"),
)


@dataclass(frozen=True)
class Performance:
    """What the test scores alone say: the `performance`, `slices` and `calibration` sections' data."""

    split: str
    rows: int
    positives: int
    threshold: float
    metrics: dict[str, float | None]
    rates: dict[str, float | None]
    curves: JSON
    error_analysis: JSON
    slices: list[JSON]
    calibration: JSON
    intervals: JSON | None = None

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Performance:
        return cls(split=document["split"], rows=document["rows"], positives=document["positives"],
                   threshold=document["threshold"], metrics=dict(document["metrics"]), rates=dict(document["rates"]),
                   curves=dict(document["curves"]), error_analysis=dict(document["error_analysis"]),
                   slices=list(document["slices"]), calibration=dict(document["calibration"]),
                   intervals=document.get("intervals"))

    def to_json(self) -> JSON:
        document: JSON = {
            "split": self.split, "rows": self.rows, "positives": self.positives, "threshold": self.threshold,
            "metrics": self.metrics, "rates": self.rates, "curves": self.curves, "slices": self.slices,
            "calibration": self.calibration, "error_analysis": self.error_analysis,
        }
        if self.intervals is not None:
            document["intervals"] = self.intervals
        return document


@dataclass(frozen=True)
class TaskPerformance:
    """What the test outputs of a multiclass or regression candidate say: the task's evidence as
    `engine.evaluation.multiclass` / `.regression` compute it (its `task` key says which), stored as it is,
    without its comparisons (those are `Comparisons`, as for a binary candidate)."""

    document: JSON

    @property
    def task(self) -> str:
        return str(self.document["task"])

    @property
    def metrics(self) -> dict[str, float | None]:
        return dict(self.document.get("metrics") or {})

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> TaskPerformance:
        others = {key for section in SECTIONS if section.name not in TASK_PERFORMANCE for key in section.keys}
        return cls({key: value for key, value in document.items() if key not in others})

    def to_json(self) -> JSON:
        return {key: value for key, value in self.document.items() if key != "comparisons"}


def performance_from_json(document: Mapping[str, Any]) -> Performance | TaskPerformance:
    """The performance part of stored evidence: binary (no `task` key, as every earlier trail) or the task's."""
    if document.get("task") in ("multiclass", "regression"):
        return TaskPerformance.from_json(document)
    return Performance.from_json(document)


@dataclass(frozen=True)
class Comparisons:
    """The paired comparisons of a candidate: with the run's baseline, and with its model's current champion.

    `champion` is what the trail knew of the model's champions when the run started (and the champion's
    re-scored evidence, or why it could not be re-scored); `versus_champion` the paired lift over it.
    """

    baseline: str | None = None
    versus_baseline: JSON | None = None
    champion: JSON | None = None
    versus_champion: JSON | None = None

    def to_json(self) -> JSON:
        document: JSON = {}
        pairs = {name: value for name, value in (("baseline", self.versus_baseline),
                                                 ("champion", self.versus_champion)) if value is not None}
        if pairs:
            document["comparisons"] = pairs
        if self.versus_baseline is not None:
            document["baseline"] = self.baseline
            document["lift_over_baseline"] = {name: entry["lift"] for name, entry in self.versus_baseline.items()}
        if self.champion is not None:
            document["champion"] = self.champion
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Comparisons:
        pairs = document.get("comparisons") or {}
        return cls(baseline=document.get("baseline"), versus_baseline=pairs.get("baseline"),
                   champion=document.get("champion"), versus_champion=pairs.get("champion"))


@dataclass(frozen=True)
class Evidence:
    """One candidate's evidence. Sections that were not computed are None; a part that failed holds its error.

    Besides `performance`, `comparisons` and `not_applicable`, each field is one section stored whole under its
    own name: a new section is a new field here, a row of `SECTIONS` and a property of the schema.
    """

    performance: Performance | TaskPerformance
    conformal: JSON | None = None
    explanations: JSON | None = None
    robustness: JSON | None = None
    serving: JSON | None = None
    reproducibility: JSON | None = None
    lineage: JSON | None = None
    comparisons: Comparisons = field(default_factory=Comparisons)
    not_applicable: dict[str, str] = field(default_factory=dict)
    split_integrity: JSON | None = None
    data_quality: JSON | None = None
    cross_validation: JSON | None = None
    generalization: JSON | None = None
    exposure: JSON | None = None

    drift_reference: JSON | None = None

    decisions: JSON | None = None

    def to_json(self) -> JSON:
        """The stored form: one JSON object whose keys are the sections' keys (see `SECTIONS`)."""
        document = self.performance.to_json()
        document.update({name: value for name in part_names() if (value := getattr(self, name)) is not None})
        document.update(self.comparisons.to_json())
        if self.not_applicable:
            document["not_applicable"] = self.not_applicable
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Evidence:
        """The typed evidence of a stored JSON document (any readable version, see `stored_evidence`)."""
        return cls(performance=performance_from_json(document), comparisons=Comparisons.from_json(document),
                   not_applicable=dict(document.get("not_applicable") or {}),
                   **{name: document.get(name) for name in part_names()})


def part_names() -> tuple[str, ...]:
    """The sections stored whole under their own key: every field of `Evidence` but the three structured ones."""
    return tuple(f.name for f in fields(Evidence) if f.name not in STRUCTURED)


def section_of(key: str) -> Section:
    """The section that owns a top-level evidence key."""
    return next(section for section in SECTIONS if key in section.keys)


@cache
def evidence_schema() -> JSON:
    """The shipped JSON Schema of stored evidence (Draft 2020-12)."""
    return load_schema("engine.evaluation", SCHEMA_FILE)


def evidence_errors(document: Mapping[str, Any]) -> list[str]:
    """Every place where `document` does not follow evidence-v1.schema.json, as '/json/path: message'."""
    return schema_errors(dict(document), evidence_schema())


def stored_evidence(event_data: Mapping[str, Any]) -> JSON:
    """The evidence of a recorded `candidate_evaluated` event, in today's JSON form ({} for a failed candidate).

    Version 0 (events written before `evidence_version` existed) has today's shape; a version this release
    does not know is refused rather than misread.
    """
    version = event_data.get("evidence_version", 0)
    if version not in READABLE_VERSIONS:
        raise TrailError(f"candidate {event_data.get('candidate')!r} has evidence version {version!r}, which this "
                         f"mlgate cannot read (it reads versions {', '.join(map(str, READABLE_VERSIONS))})",
                         hint="upgrade mlgate to read this trail")
    return dict(event_data.get("evidence") or {})
