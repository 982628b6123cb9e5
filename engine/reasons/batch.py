"""`mlgate reasons`: explain a batch of rows with a recorded candidate's served artifact, and record that it was.

The rows are scored by the candidate's ONNX file (its SHA-256 checked against the trail); every adverse decision
(every row with `all_rows`) gets its top reasons and, when the run's spec declares actionable features and
`recourse` is asked for, its recourse. The batch's SHA-256 and the reasons' summary are appended to the trail as
one `reasons_explained` event of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.audit.runs import load_run
from engine.audit.trail import NewEvent, append
from engine.canonical import sha256_bytes
from engine.errors import DataError, MlgateError
from engine.reasons import REASONS_EXPLAINED, codes
from engine.reasons import recourse as recourse_module
from engine.reasons.attribution import attribute, reference_row
from engine.reasons.config import decision_settings, sensitive_columns
from engine.reasons.served import open_recorded

MISSING_COLUMNS = "{path}: missing feature column(s) {names} that candidate {candidate!r} reads"


def read_rows(path: Path, missing_values: list[str]) -> tuple[pd.DataFrame, str]:
    """The batch (CSV or Parquet) and the SHA-256 of its bytes."""
    try:
        data = path.read_bytes()
        frame = (pd.read_parquet(path) if path.suffix.lower() == ".parquet"
                 else pd.read_csv(path, na_values=missing_values, keep_default_na=False, skipinitialspace=True))
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read the rows ({type(exc).__name__}: {exc})",
                        hint="give a CSV or Parquet file with the candidate's feature columns") from None
    return frame, sha256_bytes(data)


TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
UNKNOWN_CATEGORY = "{path}: column {column!r} holds {value!r}, a category the candidate never saw in training"


def as_served(frame: pd.DataFrame, schema: dict[str, Any], path: Path) -> pd.DataFrame:
    """The batch's feature columns as the audit read its data: yes/no columns of a boolean feature as DuckDB
    types them (True/False); a category never seen in training is refused, naming the column."""
    out = frame.copy()
    for column in schema["columns"]:
        if column["kind"] == "numeric":
            continue
        name, allowed = column["name"], set(column["categories"])
        values = out[name].astype(object)
        text = values.map(lambda v: None if pd.isna(v) else str(v).strip())
        if allowed <= {"False", "True"}:
            text = text.map(lambda v: v if v is None else "True" if v.lower() in TRUE_WORDS
                            else "False" if v.lower() in FALSE_WORDS else v)
        unknown = [v for v in text.dropna().unique() if v not in allowed]
        if unknown:
            raise DataError(UNKNOWN_CATEGORY.format(path=path, column=name, value=unknown[0]),
                            hint=f"allowed: {', '.join(sorted(allowed))}")
        out[name] = text
    return out


def explain_batch(audit_db: Path, run_id: str, candidate: str, data: Path, *, all_rows: bool = False,
                  top: int | None = None, with_recourse: bool = True, record: bool = True,
                  lock_timeout: float | None = None) -> dict[str, Any]:
    """The reasons (and recourse) of the batch's decisions, as one JSON document; recorded in the trail."""
    run = load_run(audit_db, run_id)
    if candidate not in run.candidates:
        raise MlgateError(f"{audit_db}: run {run_id} has no candidate {candidate!r}",
                          hint=f"`mlgate show {run_id}` lists its candidates")
    spec = run.started.data["spec"]
    evidence = run.evidence(candidate)
    family = str(run.candidates[candidate].data.get("family") or _family(spec, candidate))
    model = open_recorded(evidence.get("serving") or {}, name=candidate, run_id=run_id, family=family)
    frame, batch_sha = read_rows(data, list((spec.get("data") or {}).get("missing_values") or []))
    missing = [f for f in model.features if f not in frame.columns]
    if missing:
        raise DataError(MISSING_COLUMNS.format(path=data, names=", ".join(map(repr, missing)), candidate=candidate))
    settings = decision_settings(spec)
    threshold = float(evidence.get("threshold", 0.5))
    x = as_served(frame.loc[:, model.features].reset_index(drop=True), model.schema, data)
    proba = model.proba(x)
    adverse = codes.adverse_mask(proba, threshold=threshold, adverse=settings.adverse)
    rows = np.arange(len(x)) if all_rows else np.flatnonzero(adverse)
    stored = (evidence.get("decisions") or {}).get("reference")
    reference = stored if isinstance(stored, dict) else reference_row(x, model.schema)
    found = attribute(model, x.iloc[rows].reset_index(drop=True), reference)
    screened = codes.screen(evidence.get("explanations"), sensitive_columns(spec))
    explained = codes.decisions(found, x.iloc[rows].reset_index(drop=True), proba[rows], np.arange(rows.size),
                                catalog=settings.catalog, screened=screened, top=top or settings.top,
                                adverse=settings.adverse, threshold=threshold)
    for entry, row in zip(explained, rows, strict=True):
        entry["row"] = int(row)
    acts = recourse_module.actions(settings.actionable, model.schema)
    if with_recourse and acts:
        denied = np.flatnonzero(adverse[rows])
        options = recourse_module.search(model, x, rows[denied], acts, threshold=threshold, adverse=settings.adverse,
                                         steps=settings.steps, max_features=settings.max_changes)
        for k, option in zip(denied, options, strict=True):
            explained[k]["recourse"] = option
    document = {
        "run_id": run_id, "candidate": candidate, "data": str(data), "batch_sha256": batch_sha,
        "artifact_sha256": model.sha256, "rows": len(x), "adverse_rows": int(adverse.sum()),
        "adverse": settings.adverse, "threshold": threshold,
        "reference": "the run's reference row (training medians and modes)" if isinstance(stored, dict)
        else "the batch's medians and modes (the run recorded no decisions evidence)",
        "attribution": found.summary(),
        "withheld_features": screened.why, "summary": codes.summary(explained), "decisions": explained,
    }
    if record:
        summary = {k: v for k, v in document.items() if k != "decisions"}
        document["head"] = append(audit_db, [NewEvent(REASONS_EXPLAINED, run_id, summary)], wait=lock_timeout)
    return document


def _family(spec: dict[str, Any], candidate: str) -> str:
    base = candidate.split(".")[0]
    for entry in spec.get("candidates") or []:
        if entry.get("name") == base:
            return "calibrated" if base != candidate else str(entry.get("family", "external"))
    return "external"
