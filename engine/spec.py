"""The audit spec: what to audit, read from a JSON/TOML file and/or command-line flags, validated up front.

A spec document is validated against `spec-v1.schema.json` (and each candidate's parameters against its
family's schema) before any work starts; every problem is reported with the file and the JSON path. Paths in
a spec file are relative to that file, paths from flags to the working directory. A candidate is a family to train
(with parameters) or a model trained elsewhere (`model = "FILE"`, see `engine.candidates.external`), whose
SHA-256 is pinned into the document when the spec is built. The result, `AuditSpec`, has
every default filled in, and `AuditSpec.document` is that complete spec as plain JSON for the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.candidates import BASELINE, EXTERNAL, FAMILIES
from engine.candidates.external import pinned_params
from engine.errors import SpecError
from engine.jsonfiles import load_schema, parse_document, read_text, schema_errors
from engine.policy.loader import DEFAULT_POLICY
from engine.serving.evidence import DEFAULT_SERVING
from engine.spec_candidates import candidate_problems
from engine.tasks import DEFAULT_METRIC, TASKS

DEFAULT_MISSING_VALUES = ("", "NA", "N/A", "NaN", "null", "NULL", "?")
DEFAULT_SPLIT = {"test": 0.2, "validation": 0.2, "seed": 42}
DEFAULT_EVALUATION = {
    "threshold": 0.5,
    "optimizing_metric": "roc_auc",
    "bootstrap": 1000,
    "confidence": 0.95,
    "calibration_bins": 10,
    "min_group_size": 30,
    "fail_on": "block",
    "conformal_levels": [0.9],
    "shap_rows": 50,
    "shap_background": 25,
    "shap_samples": 100,
    "proxy_threshold": 0.2,
    "robustness_rows": 2000,
    "noise_scale": 0.1,
    "swap_rate": 0.1,
    "missing_rate": 0.1,
    "directional": [],
    "reproducibility": True,
}
FLAGS = "command-line flags"
FLAGS_SUFFIX = f" (with {FLAGS})"  # a spec file's source, when flags override part of it
MAX_ERRORS_SHOWN = 3


@dataclass(frozen=True)
class CandidateSpec:
    name: str
    family: str
    params: dict[str, Any]
    calibration: tuple[str, ...] = ()
    search: dict[str, Any] | None = None  # a recorded hyper-parameter search (engine.search), as the spec gives it


@dataclass(frozen=True)
class DataSpec:
    path: Path
    target: str
    positive: str | int | bool | None
    sensitive: tuple[str, ...]
    features: tuple[str, ...] | None
    include_sensitive: bool
    missing_values: tuple[str, ...]
    sensitive_bins: dict[str, list[float]] = field(default_factory=dict)
    train_path: Path | None = None
    serving_features: tuple[str, ...] | None = None
    task: str | None = None  # binary, multiclass or regression; None: inferred from the target when it is read


@dataclass(frozen=True)
class SplitSpec:
    test: float
    validation: float
    seed: int
    strategy: str = "stratified"
    time_column: str | None = None
    group_column: str | None = None
    gap: float = 0.0
    folds: int | None = None
    test_path: Path | None = None

    def document(self) -> dict[str, Any]:
        """The recorded `split` table: the three classic keys, then only what differs from the defaults (so a
        spec without the newer keys records, and hashes, exactly as before)."""
        extra = {"strategy": self.strategy if self.strategy != "stratified" else None,
                 "time_column": self.time_column, "group_column": self.group_column,
                 "gap": self.gap or None, "folds": self.folds,
                 "test_path": str(self.test_path) if self.test_path is not None else None}
        return {"test": self.test, "validation": self.validation, "seed": self.seed,
                **{key: value for key, value in extra.items() if value is not None}}


@dataclass(frozen=True)
class AuditSpec:
    name: str
    description: str
    card: dict[str, Any]
    data: DataSpec
    split: SplitSpec
    threshold: float
    optimizing_metric: str
    candidates: tuple[CandidateSpec, ...]
    policies: tuple[Path, ...]
    source: str
    source_text: str | None = None
    document: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_EVALUATION))
    serving: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SERVING))
    decisions: dict[str, Any] = field(default_factory=dict)  # the `decisions` and `reasons` tables, as given
    task_defaults: tuple[str, ...] = ()  # keys left to the task's defaults: "policies", "optimizing_metric"
    compute: dict[str, Any] = field(default_factory=dict)  # the `compute` table: where it runs, never recorded

    @property
    def task(self) -> str | None:  # once given or inferred (None until the target is read)
        return self.data.task


def read_spec_file(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a spec file into a document whose paths are absolute, and return its text too."""
    text = read_text(path, error=SpecError, what="spec")
    document = parse_document(text, path, error=SpecError)
    if not isinstance(document, dict):
        raise SpecError(f"{path}: /: a spec must be an object (a TOML table or JSON object)")
    base = path.resolve().parent
    data = document.get("data")
    for key in ("path", "train_path"):
        if isinstance(data, dict) and isinstance(data.get(key), str):
            data[key] = str(base / data[key])
    split = document.get("split")
    if isinstance(split, dict) and isinstance(split.get("test_path"), str):
        split["test_path"] = str(base / split["test_path"])
    for candidate in document.get("candidates") or []:
        if isinstance(candidate, dict) and isinstance(candidate.get("model"), str):
            candidate["model"] = str(base / candidate["model"])
    policies = document.get("policies")
    if isinstance(policies, list):
        document["policies"] = [str(base / p) if isinstance(p, str) else p for p in policies]
    return document, text


def flags_document(
    *,
    data: Path | None = None,
    target: str | None = None,
    positive: str | None = None,
    sensitive: list[str] | None = None,
    features: list[str] | None = None,
    policies: list[Path] | None = None,
    seed: int | None = None,
    fail_on: str | None = None,
    model: Path | None = None,
    train_data: Path | None = None,
    split: dict[str, Any] | None = None,
    task: str | None = None,
) -> dict[str, Any]:
    """The part of a spec document given by command-line flags (paths made absolute)."""
    data_part: dict[str, Any] = {}
    for key, value in (
        ("path", str(data.resolve()) if data else None),
        ("target", target),
        ("positive", positive),
        ("sensitive", sensitive),
        ("features", features),
        ("train_path", str(train_data.resolve()) if train_data else None),
    ):
        if value is not None:
            data_part[key] = value
    document: dict[str, Any] = {"data": data_part} if data_part else {}
    if policies:
        document["policies"] = [str(p.resolve()) for p in policies]
    split_part = {**({"seed": seed} if seed is not None else {}), **split_flags(split or {})}
    if split_part:
        document["split"] = split_part
    if fail_on is not None:
        document["evaluation"] = {"fail_on": fail_on}
    if task is not None:
        document["task"] = task
    if model is not None:
        document["candidates"] = [{"name": model_name(model), "model": str(model.resolve())}]
    return document


def split_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """The `split` keys given by quick-mode flags (`--split`, `--time-column`, `--group-column`, `--test-data`,
    `--folds`): None values dropped, a test file's path made absolute; a time or group column alone implies its
    strategy."""
    part = {key: value for key, value in flags.items() if value is not None}
    if isinstance(part.get("test_path"), Path):
        part["test_path"] = str(part["test_path"].resolve())
    if "strategy" not in part:
        implied = "time" if "time_column" in part else "group" if "group_column" in part else None
        part.update({"strategy": implied} if implied else {})
    return part


def model_name(path: Path) -> str:
    """A candidate name for a model file: its stem, with characters a name cannot hold replaced."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", path.stem).lstrip("_.-")[:64] or "model"
    return "model" if name == BASELINE else name


def merge_documents(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied: tables merge key by key, anything else is replaced (flags win)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_documents(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_spec(document: dict[str, Any], *, source: str, source_text: str | None = None) -> AuditSpec:
    """Validate a spec document and return the complete `AuditSpec`, or raise `SpecError`."""
    problems = schema_errors(document, load_schema("engine", "spec-v1.schema.json"))
    if not problems:
        problems = candidate_problems(document.get("candidates", []))
    if problems:
        shown = "; ".join(problems[:MAX_ERRORS_SHOWN])
        more = f" (and {len(problems) - MAX_ERRORS_SHOWN} more)" if len(problems) > MAX_ERRORS_SHOWN else ""
        raise SpecError(f"{source}: {shown}{more}")

    data = document["data"]
    unbinned = [c for c in data.get("sensitive_bins", {}) if c not in data.get("sensitive", [])]
    if unbinned:
        raise SpecError(f"{source}: /data/sensitive_bins/{unbinned[0]}: not one of the sensitive columns")
    split = {**DEFAULT_SPLIT, **document.get("split", {})}
    if split["test"] + split["validation"] + 2 * split.get("gap", 0) >= 0.9:
        raise SpecError(f"{source}: /split: test + validation must leave at least 10% of rows for training")
    evaluation = {**DEFAULT_EVALUATION, **document.get("evaluation", {})}
    task = document.get("task")
    defaulted = tuple(key for key, given in (("policies", "policies" in document), ("optimizing_metric",
                      "optimizing_metric" in document.get("evaluation", {}))) if not given)
    candidates = tuple(
        CandidateSpec(
            c["name"], c.get("family", EXTERNAL), _params(c, f"{source}: /candidates/{i}/model"),
            tuple(c.get("calibration", ())), c.get("search"),
        )
        for i, c in enumerate(document.get("candidates") or default_candidates())
    )
    if not any(c.family == BASELINE for c in candidates):
        candidates = (CandidateSpec(BASELINE, BASELINE, dict(FAMILIES[BASELINE].default_params)), *candidates)
    policies = tuple(Path(p) for p in document.get("policies", [str(DEFAULT_POLICY)]))
    data_path = Path(data["path"])
    spec = AuditSpec(
        name=document.get("name", data_path.stem),
        description=document.get("description", ""),
        card=dict(document.get("card", {})),
        data=DataSpec(
            path=data_path,
            target=data["target"],
            positive=data.get("positive"),
            sensitive=tuple(data.get("sensitive", ())),
            features=tuple(data["features"]) if "features" in data else None,
            include_sensitive=bool(data.get("include_sensitive", False)),
            missing_values=tuple(data.get("missing_values", DEFAULT_MISSING_VALUES)),
            sensitive_bins={k: sorted(float(x) for x in v) for k, v in data.get("sensitive_bins", {}).items()},
            train_path=Path(data["train_path"]) if "train_path" in data else None,
            serving_features=tuple(data["serving_features"]) if "serving_features" in data else None,
            task=task,
        ),
        split=split_spec(split, source),
        threshold=float(evaluation["threshold"]),
        optimizing_metric=str(evaluation["optimizing_metric"]),
        candidates=candidates,
        policies=policies,
        source=source,
        source_text=source_text,
        evaluation=evaluation,
        serving={**DEFAULT_SERVING, **document.get("serving", {})},
        decisions={key: document[key] for key in ("decisions", "reasons") if key in document},
        task_defaults=defaulted,
        compute=dict(document.get("compute", {})),
    )
    return for_task(spec, task) if task is not None else _with_document(spec)


def for_task(spec: AuditSpec, task: str) -> AuditSpec:
    """The spec with its task known: the task's default policy pack and optimizing metric where the spec gave
    none (a binary audit keeps today's defaults), and the recorded document saying which task it is."""
    if task not in TASKS:
        raise SpecError(f"{spec.source}: /task: {task!r} is not one of {', '.join(TASKS)}")
    policies, metric = spec.policies, spec.optimizing_metric
    if "policies" in spec.task_defaults:
        policies = (task_policy(task),)
    if "optimizing_metric" in spec.task_defaults:
        metric = DEFAULT_METRIC[task]
    evaluation = {**spec.evaluation, "optimizing_metric": metric}
    return _with_document(replace(spec, data=replace(spec.data, task=task), policies=policies,
                                  optimizing_metric=metric, evaluation=evaluation))


def task_policy(task: str) -> Path:
    """The shipped pack that fits a task: `default.json` for binary, `TASK.json` for the others."""
    return DEFAULT_POLICY if task == "binary" else DEFAULT_POLICY.with_name(f"{task}.json")


def split_spec(split: dict[str, Any], source: str) -> SplitSpec:
    """The `split` table as a `SplitSpec`; a strategy without its column is refused (`SpecError`)."""
    strategy = str(split.get("strategy", "stratified"))
    needs = {"time": "time_column", "group": "group_column"}.get(strategy)
    if needs is not None and not split.get(needs):
        raise SpecError(f"{source}: /split: strategy {strategy!r} needs split.{needs} "
                        f"(--{needs.replace('_', '-')} COLUMN)")
    return SplitSpec(
        test=float(split["test"]), validation=float(split["validation"]), seed=int(split["seed"]),
        strategy=strategy, time_column=split.get("time_column"), group_column=split.get("group_column"),
        gap=float(split.get("gap", 0.0)), folds=int(split["folds"]) if "folds" in split else None,
        test_path=Path(split["test_path"]) if "test_path" in split else None,
    )


def default_candidates() -> list[dict[str, Any]]:
    """One candidate per family with its default parameters (quick mode)."""
    return [{"name": name, "family": name} for name in FAMILIES]


def _params(candidate: dict[str, Any], where: str) -> dict[str, Any]:
    """The family's defaults with the candidate's parameters; a model file's path and SHA-256 (pinned now)."""
    if "model" in candidate:
        return pinned_params({"path": candidate["model"], **{k: candidate[k] for k in ("sha256",) if k in candidate}},
                             where)
    return {**FAMILIES[candidate["family"]].default_params, **candidate.get("params", {})}


def _candidate_document(c: CandidateSpec) -> dict[str, Any]:
    """A candidate as the recorded spec writes it: a model file with its SHA-256, or a family with parameters."""
    source = {"model": c.params["path"], "sha256": c.params["sha256"]} if c.family == EXTERNAL else {
        "family": c.family, "params": c.params}
    return {"name": c.name, **source, **({"calibration": list(c.calibration)} if c.calibration else {}),
            **({"search": c.search} if c.search is not None else {})}


def _with_document(spec: AuditSpec) -> AuditSpec:
    """Attach the complete spec as plain JSON: what the trail records and what a re-check reads."""
    document = {
        "name": spec.name,
        **({"task": spec.task} if spec.task not in (None, "binary") else {}),  # absent: binary, as ever
        "description": spec.description,
        "card": spec.card,
        "data": {
            "path": str(spec.data.path),
            "target": spec.data.target,
            **({"positive": spec.data.positive} if spec.data.positive is not None else {}),
            "sensitive": list(spec.data.sensitive),
            **({"features": list(spec.data.features)} if spec.data.features is not None else {}),
            "include_sensitive": spec.data.include_sensitive,
            "missing_values": list(spec.data.missing_values),
            "sensitive_bins": spec.data.sensitive_bins,
            **({"train_path": str(spec.data.train_path)} if spec.data.train_path is not None else {}),
            **({"serving_features": list(spec.data.serving_features)}
               if spec.data.serving_features is not None else {}),
        },
        "split": spec.split.document(),
        "evaluation": dict(spec.evaluation),
        "serving": dict(spec.serving),
        "candidates": [_candidate_document(c) for c in spec.candidates],
        "policies": [str(p) for p in spec.policies],
        **spec.decisions,
    }
    return replace(spec, document=document)

