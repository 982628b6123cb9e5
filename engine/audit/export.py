"""Exporting the trail for compliance: events and flat tables, a manifest that proves what was exported.

An export writes `events`, `runs`, `outcomes` and `decisions` (sign-offs and waivers) as CSV, Parquet or JSON
Lines, and `manifest.json` with each file's row count and SHA-256, the filter, the chain head at export
time and how the chain was verified before writing, and the model cards of the exported runs as the trail
recorded them (each candidate's newest `card_written`: every format's file and SHA-256, mlgate's own and those
other tools read); `verify_export` checks a folder against its manifest. The chain is walked from its first
event, or, given a head verified before (`TrustedHead`: what `mlgate head` wrote, signed when a public key is
given), from that head on once it is shown still to be in the chain (`engine.audit.since`): on a trail of a
million events that is the difference between half a minute and a second, and the manifest says which it was.

Exports are safe to open: CSV cells a spreadsheet would run as a formula are neutralised, nothing is written
outside the folder given (no `..`, no symlinks), an existing file is kept unless `force`, and every file is
written beside its final name and renamed last.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads when an export is written or checked, not when the TUI's dialogs import this
    import pandas as pd

from engine.audit import runs
from engine.audit.since import verify_since
from engine.audit.trail import COLUMNS, Event, event_of, query_events, read_events, reading
from engine.audit.verify import Verification, verify
from engine.canonical import sha256_file
from engine.errors import MlgateError, WriteError
from engine.safe_text import csv_cell

FORMATS = ("csv", "parquet", "jsonl")
TABLES = ("events", "runs", "outcomes", "decisions")
MANIFEST = "manifest.json"


class ExportError(MlgateError):
    """An export that cannot be written or does not match its manifest."""


@dataclass(frozen=True)
class ExportFilter:
    since: date | None = None
    until: date | None = None
    run: str | None = None
    candidate: str | None = None
    policy: str | None = None


@dataclass(frozen=True)
class TrustedHead:
    """A head verified before (`mlgate head`'s document), the file it came from, the key it must be signed with."""

    head: dict[str, Any]
    source: Path
    public_key: Path | None = None


def _verified(audit_db: Path, trusted: TrustedHead | None) -> tuple[Verification, dict[str, Any]]:
    """The chain checked before anything is written, and how, for the manifest; raises `ExportError` when it is
    broken or the trusted head is no longer in it."""
    if trusted is None:
        head = verify(audit_db, check_index=False)  # the tables come from the events, not the index
        how: dict[str, Any] = {"walked_from_seq": 1}
    else:
        checked = verify_since(audit_db, trusted.head, public_key=trusted.public_key, check_index=False)
        if checked.head_problem is not None:
            raise ExportError(f"{trusted.source}: {checked.head_problem}; export refused")
        head = checked.result
        how = {"walked_from_seq": int(trusted.head["seq"]) + 1,
               "trusted_head": {k: trusted.head[k] for k in ("log_id", "seq", "hash")},
               "trusted_head_signed": trusted.public_key is not None}
    if not head.intact:
        raise ExportError(f"{audit_db}: the trail is broken at sequence {head.bad_seq}; export refused")
    return head, how


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate, made inert with a leading apostrophe (OWASP's advice)."""
    return csv_cell(value)


def _safe_folder(out: Path) -> Path:
    if ".." in out.parts:
        raise ExportError(f"{out}: an export folder may not contain '..'")
    for part in [out, *out.parents]:
        if part.is_symlink():
            raise ExportError(f"{out}: {part} is a symbolic link; give the real folder")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    return out


EVENTS_OF_RUNS = f"SELECT {COLUMNS} FROM events WHERE run_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY seq"


def _chosen(audit_db: Path, f: ExportFilter) -> list[Event]:
    """The events the filter selects: the whole trail without one; else only the chosen runs' events, the runs
    chosen from the runs index and one run read within its index row's sequence range."""
    if f == ExportFilter():
        return read_events(audit_db)
    with reading(audit_db) as con:
        if f.run is not None and f == ExportFilter(run=f.run):
            return runs.run_events(con, audit_db, f.run)
        chosen = [r["run_id"] for r in runs.list_runs(audit_db, runs.RunFilter(
            since=f.since, until=f.until, candidate=f.candidate, policy=f.policy)) if f.run in (None, r["run_id"])]
        return [event_of(row) for row in query_events(con, audit_db, EVENTS_OF_RUNS, [chosen])]


def _tables(audit_db: Path, f: ExportFilter, through: int) -> dict[str, pd.DataFrame]:
    """The exported tables, of the events up to sequence `through` (the head just verified: an event appended
    while the export runs was not checked, so it is not exported)."""
    import pandas as pd

    # the views below see every event of a run, the candidate filter aside
    selected = [e for e in _chosen(audit_db, f) if e.seq <= through]
    chosen = [e for e in selected if f.candidate is None or e.data.get("candidate", f.candidate) == f.candidate]
    event_rows = [{"seq": e.seq, "recorded_at": e.recorded_at, "run_id": e.run_id, "kind": e.kind,
                   "prev_hash": e.prev_hash, "hash": e.hash, "data": json.dumps(e.data, sort_keys=True)}
                  for e in chosen]
    of_run: dict[str, list[Event]] = {}
    for event in selected:
        if event.run_id is not None:
            of_run.setdefault(event.run_id, []).append(event)
    run_rows, outcome_rows, decision_rows = [], [], []
    for run_id in dict.fromkeys(e.run_id for e in chosen if e.kind == runs.RUN_STARTED and e.run_id is not None):
        current = runs.view(runs.record_of(audit_db, run_id, of_run[run_id]))
        run_rows.append({"run_id": run_id, "started_at": current.started_at, "spec": current.name,
                         "complete": current.complete, "verdict": current.verdict,
                         "recommended": current.recommended})
        for c in current.candidates:
            if f.candidate is not None and c.name != f.candidate:
                continue
            outcome_rows += [{"run_id": run_id, "candidate": c.name, "rule": o["id"], "policy": o["policy"],
                              "kind": o["kind"], "severity": o["severity"], "checklist": o["checklist"],
                              "status": o["status"], "observed": o["observed"], "threshold": o["threshold"],
                              "message": o["message"]} for o in c.outcomes]
    for e in chosen:
        if e.kind in (runs.SIGNOFF, runs.WAIVER) and (f.candidate is None or e.data["candidate"] == f.candidate):
            decision_rows.append({"seq": e.seq, "recorded_at": e.recorded_at, "run_id": e.run_id, "kind": e.kind,
                                  "candidate": e.data["candidate"], "decision": e.data.get("decision"),
                                  "rule": e.data.get("rule_id"), "reviewer": e.data["reviewer"],
                                  "reason": e.data["reason"], "until": e.data.get("until")})
    return {"events": pd.DataFrame(event_rows), "runs": pd.DataFrame(run_rows),
            "outcomes": pd.DataFrame(outcome_rows), "decisions": pd.DataFrame(decision_rows)}


WRITERS: dict[str, Callable[[pd.DataFrame, Path], None]] = {
    "csv": lambda frame, path: frame.map(neutralise).to_csv(path, index=False),
    "parquet": lambda frame, path: frame.to_parquet(path, index=False),
    "jsonl": lambda frame, path: frame.to_json(path, orient="records", lines=True, force_ascii=False),
}


def card_files(events: pd.DataFrame) -> list[dict[str, Any]]:
    """The newest recorded card files of each exported candidate: run, candidate, event seq, {format: path, sha256}."""
    if events.empty:
        return []
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in events[events["kind"] == runs.CARD_WRITTEN].sort_values("seq").itertuples():
        data = json.loads(str(row.data))
        files = {fmt: {"path": entry["path"], "sha256": entry["sha256"]} for fmt, entry in data["files"].items()}
        newest[(str(row.run_id), data["candidate"])] = {"run_id": row.run_id, "candidate": data["candidate"],
                                                        "seq": int(str(row.seq)), "files": files}
    return list(newest.values())


def _fresh(path: Path) -> Path:
    """A scratch path with nothing at it: a leftover file or a planted symlink is removed, never written through."""
    if path.is_symlink() or path.exists():
        path.unlink()
    return path


def export(audit_db: Path, out: Path, *, fmt: str, export_filter: ExportFilter | None = None,
           force: bool = False, trusted: TrustedHead | None = None) -> dict[str, Any]:
    """Write the filtered trail to `out` and return the manifest (the chain verified first: whole, or after
    `trusted`)."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    f = export_filter or ExportFilter()
    folder = _safe_folder(out)
    targets = [folder / f"{name}.{fmt}" for name in TABLES] + [folder / MANIFEST]
    existing = [str(t) for t in targets if t.exists() or t.is_symlink()]
    if existing and not force:
        raise ExportError(f"{existing[0]}: exists; not overwritten without --force")
    head, how = _verified(audit_db, trusted)
    tables = _tables(audit_db, f, through=head.head_seq)
    if f.run is not None and tables["runs"].empty:
        raise ExportError(f"{audit_db}: no run {f.run!r} in the audit trail", hint="`mlgate runs` lists them")
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, frame in tables.items():
        final = folder / f"{name}.{fmt}"
        partial = _fresh(folder / f".{name}.{fmt}.partial")
        try:
            WRITERS[fmt](frame, partial)
            os.replace(partial, final)
        except OSError as exc:  # a full disk: no half-written file is left, one line names it
            partial.unlink(missing_ok=True)
            raise WriteError.of(final, exc, "export") from None
        files[final.name] = {"rows": len(frame), "sha256": sha256_file(final)}
    manifest = {
        "format": fmt,
        "filter": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(f).items()},
        "head": {"log_id": head.log_id, "seq": head.head_seq, "hash": head.head_hash},
        "verified": how,
        "files": files,
        "cards": card_files(tables["events"]),
    }
    partial = _fresh(folder / f".{MANIFEST}.partial")
    try:
        partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, folder / MANIFEST)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise WriteError.of(folder / MANIFEST, exc, "export manifest") from None
    return manifest


def _rows(path: Path, fmt: str) -> int:
    import pandas as pd

    if fmt == "csv":
        try:
            return len(pd.read_csv(path))
        except pd.errors.EmptyDataError:
            return 0
    if fmt == "parquet":
        return len(pd.read_parquet(path))
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def verify_export(folder: Path) -> list[str]:
    """Every way the folder differs from its manifest (an empty list: it matches)."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ExportError(f"{folder}: no {MANIFEST} here")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        fmt = manifest["format"]
        if fmt not in FORMATS or not all(isinstance(n, str) and isinstance(e, dict) and isinstance(e.get("sha256"), str)
                                         and isinstance(e.get("rows"), int) for n, e in files.items()):
            raise TypeError("unexpected entries")
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{manifest_path}: not an mlgate export manifest ({type(exc).__name__})") from None
    problems = []
    for name, expected in files.items():
        path = folder / name
        if Path(name).name != name or not path.is_file():
            problems.append(f"{name}: missing")
            continue
        if sha256_file(path) != expected["sha256"]:
            problems.append(f"{name}: SHA-256 differs from the manifest (the file was changed)")
        elif _rows(path, fmt) != expected["rows"]:
            problems.append(f"{name}: {_rows(path, fmt)} rows, the manifest says {expected['rows']}")
    return problems
