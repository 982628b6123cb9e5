"""`mlgate verify`, `head`, `keygen`, `runs`, `exposure`, `show`, `export` and `verify-export`: reading the trail.

Every command here opens the trail read-only for one query at a time (file access switched off in SQL), so
none of them ever blocks a writer for long.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    audit_db_option,
    format_option,
    print_json,
    read_lock_timeout_option,
    safe,
    safe_text,
    status_text,
    stderr,
    stdout,
    trail_path,
)
from cli.reasons import explained_line, explained_summary
from cli.timings import print_timings

DATE = click.DateTime(["%Y-%m-%d"])


@click.command()
@audit_db_option
@read_lock_timeout_option
@click.option("--expect-head", type=click.Path(path_type=Path), help="a published head the trail must still extend")
@click.option("--since", "since_head", type=click.Path(path_type=Path),
              help="a head verified before: check it is still in the chain, then only the events after it")
@click.option("--pubkey", type=click.Path(path_type=Path), help="Ed25519 public key the head must be signed with")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="how far the walk is, on stderr (default: on a terminal, for a long walk)")
@click.option("--rebuild-index", is_flag=True,
              help="first derive the runs index again from the events (a trail written before it existed)")
@format_option
def verify(audit_db: Path | None, expect_head: Path | None, since_head: Path | None, pubkey: Path | None,
           show_progress: bool | None, output_format: str, rebuild_index: bool = False) -> int:
    """Recompute the hash chain and check the runs index against it (and a published head); exit 1 naming what
    is wrong."""
    from cli.walk_progress import WalkProgress
    from engine.audit.head import HeadError, check_head, head_document, read_head
    from engine.audit.since import verify_since
    from engine.audit.verify import verify as verify_trail

    path = trail_path(audit_db)
    if pubkey is not None and expect_head is None and since_head is None:
        raise HeadError("--pubkey checks the signature of --expect-head FILE (or --since FILE); give both")
    if rebuild_index:
        from engine.audit.trail import rebuild_index as rebuild

        rows = rebuild(path)
        stderr.print(safe_text(f"runs index rebuilt from the events: {rows} runs"))
    progress = WalkProgress(forced=show_progress)
    since_problem, walked = None, None
    if since_head is not None:
        checked = verify_since(path, read_head(since_head), public_key=pubkey, progress=progress)
        result, walked, since_problem = checked.result, checked.walked, checked.head_problem
    else:
        result = verify_trail(path, progress=progress)
    progress.done()
    head_problem = None
    if result.intact and since_problem is None and expect_head is not None:
        checked_head = check_head(path, result, read_head(expect_head), public_key=pubkey)
        head_problem = checked_head.problem
    ok = result.ok and head_problem is None and since_problem is None
    if output_format == "json":
        since = {"since": str(since_head), "since_problem": since_problem, "walked": walked} if since_head else {}
        print_json({"audit_db": str(path), **result.__dict__, "head": head_document(result),
                    "expected_head": str(expect_head) if expect_head else None, "head_problem": head_problem,
                    **since, "ok": ok})
    elif since_problem is not None:
        stdout.print(safe_text(f"HEAD NOT IN THE CHAIN: {since_head}: {since_problem}", style="bold red"))
    elif not result.intact:
        stdout.print(safe_text(f"BROKEN at sequence {result.bad_seq}: {result.problem}", style="bold red"))
    elif head_problem is not None:
        stdout.print(safe_text(f"NOT THE PUBLISHED TRAIL: {head_problem}", style="bold red"))
    elif result.index_problem is not None:
        stdout.print(safe_text(f"RUNS INDEX DISAGREES with the intact chain: {result.index_problem} "
                               "(`mlgate verify --rebuild-index` derives it again)", style="bold red"), soft_wrap=True)
    else:
        walk = f"intact after {since_head}: {walked} new events checked, {result.events} in all" if since_head else \
            f"intact: {result.events} events"
        stdout.print(safe_text(f"{walk}; head: log {result.log_id}, seq {result.head_seq}, "
                               f"{result.head_hash}" + (f"; extends {expect_head}" if expect_head else "")),
                     soft_wrap=True)
    return EXIT_OK if ok else EXIT_FAILED


@click.command()
@audit_db_option
@read_lock_timeout_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="head file to write (JSON)")
@click.option("--sign-key", type=click.Path(path_type=Path), help="Ed25519 private key (PEM) to sign it with")
@click.option("--force", is_flag=True, help="overwrite an existing file")
def head(audit_db: Path | None, out: Path, sign_key: Path | None, force: bool) -> int:
    """Write the trail's current head, to publish outside the file."""
    from engine.audit.head import write_head

    written = write_head(trail_path(audit_db), out, sign_key=sign_key, force=force)
    signed = "signed" if "signature" in written else "unsigned"
    stdout.print(safe_text(f"{out}: {signed} head, log {written['log_id']}, seq {written['seq']}, {written['hash']}"))
    return EXIT_OK


@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PREFIX: writes PREFIX.key, PREFIX.pub")
@click.option("--force", is_flag=True, help="overwrite existing key files")
def keygen(out: Path, force: bool) -> int:
    """Create an Ed25519 key pair for signing heads."""
    from engine.audit.head import keygen as make_keys

    private, public = make_keys(out, force=force)
    stdout.print(safe_text(f"private key {private} (keep it secret), public key {public} (publish it)"))
    return EXIT_OK


@click.command()
@audit_db_option
@read_lock_timeout_option
@click.option("--since", type=DATE, help="runs started on or after this date")
@click.option("--until", type=DATE, help="runs started on or before this date")
@click.option("--candidate", help="runs that trained a candidate of this name")
@click.option("--verdict", type=click.Choice(["pass", "fail", "incomplete"]), help="runs with this verdict now")
@click.option("--policy", "policy_name", help="runs checked against a policy of this name")
@click.option("--reviewer", help="runs with a sign-off or waiver by this reviewer")
@click.option("--limit", type=click.IntRange(1), help="at most this many runs (a page)")
@click.option("--before", "before", help="runs started before this run (the next page: the last run shown)")
@format_option
def runs(audit_db: Path | None, since: datetime | None, until: datetime | None, candidate: str | None,
         verdict: str | None, policy_name: str | None, reviewer: str | None, limit: int | None, before: str | None,
         output_format: str) -> int:
    """List the runs, newest first, as they stand now (waivers and sign-offs applied)."""
    from engine.audit.runs import RunFilter, list_runs

    run_filter = RunFilter(since=since.date() if since else None, until=until.date() if until else None,
                           candidate=candidate, verdict=verdict, policy=policy_name, reviewer=reviewer)
    summaries = list_runs(trail_path(audit_db), run_filter, limit=limit, before=before)
    if output_format == "json":
        print_json(summaries)
        return EXIT_OK
    table = Table()
    for header in ("run", "started", "spec", "data sha256", "candidates", "verdict", "recommended"):
        table.add_column(header)
    for s in summaries:
        cells = (s["run_id"], s["started_at"][:19], s["name"], s["data_sha256"][:12], ", ".join(s["candidates"]))
        table.add_row(*map(safe_text, cells), status_text(s["verdict"]), safe_text(s["recommended"] or "—"))
    stdout.print(table)
    return EXIT_OK


def _basis_words(basis: dict[str, Any]) -> str:
    """A test set's basis in a few words: the kept-apart file's hash, or the split that drew it from the data (the
    whole basis, the data's SHA-256 among it, is in `--format json`)."""
    if "test_file_sha256" in basis:
        return f"test file {str(basis['test_file_sha256'])[:12]}"
    return f"{basis.get('strategy')} split, seed {basis.get('seed')}"


@click.command()
@audit_db_option
@read_lock_timeout_option
@format_option
def exposure(audit_db: Path | None, output_format: str) -> int:
    """List each test set that informed a decision: how many runs, candidates and comparisons used it."""
    from engine.audit.exposure import ledger

    used = ledger(trail_path(audit_db))
    if output_format == "json":
        print_json([u.to_json() for u in used])
        return EXIT_OK
    table = Table()
    for header in ("test set", "drawn from", "data file", "runs", "candidates", "comparisons", "last used"):
        table.add_column(header)
    for u in used:
        cells = (u.id[:12], _basis_words(u.basis), Path(u.data).name if u.data else "—")
        counts = (str(len(u.runs)), str(u.candidates), str(u.comparisons), (u.last or "")[:16].replace("T", " "))
        table.add_row(*map(safe_text, (*cells, *counts)))
    stdout.print(table)
    if not used:
        stdout.print(safe_text("no test set has informed a decision in this trail yet"))
    return EXIT_OK


def _candidate_json(c: Any) -> dict[str, Any]:
    return {"name": c.name, "family": c.family, "is_baseline": c.is_baseline, "verdict": c.verdict,
            "decision": c.decision, "metrics": c.metrics, "rules": c.outcomes}


@click.command()
@click.argument("run_id")
@click.argument("candidate", required=False)
@audit_db_option
@read_lock_timeout_option
@format_option
@click.option("--timings", "with_timings", is_flag=True, help="where the run's time went: each stage, each candidate")
def show(run_id: str, candidate: str | None, audit_db: Path | None, output_format: str,
         with_timings: bool = False) -> int:
    """Show a run (or one candidate of it) as it stands now: verdicts, rules, waivers, sign-offs."""
    from engine.audit.runs import load_run, view
    from engine.audit.trail import read_events
    from engine.errors import TrailError
    from engine.reasons import REASONS_EXPLAINED

    record = load_run(trail_path(audit_db), run_id)
    explained = [explained_summary(e.seq, e.recorded_at, e.data)
                 for e in read_events(trail_path(audit_db), run_id=run_id, kinds=[REASONS_EXPLAINED])
                 if candidate is None or e.data.get("candidate") == candidate]
    if with_timings:
        return print_timings(run_id, record.completed.data if record.completed else None, output_format)
    current = view(record)
    chosen = [c for c in current.candidates if candidate is None or c.name == candidate]
    if candidate is not None and not chosen:
        raise TrailError(f"run {run_id} has no candidate {candidate!r}")
    if output_format == "json":
        print_json({"run_id": run_id, "name": current.name, "started_at": current.started_at,
                    "complete": current.complete, "verdict": current.verdict, "recommended": current.recommended,
                    "candidates": [_candidate_json(c) for c in chosen],
                    "rechecks": [{"seq": e.seq, "recorded_at": e.recorded_at,
                                  "policies": [p["name"] + " " + p["version"] for p in e.data["policies"]],
                                  "changes": e.data["changes"]} for e in record.rechecks],
                    **({"reasons_explained": explained} if explained else {})})
        return EXIT_OK
    title = safe_text(f"run {run_id} · {current.name} · ").append_text(status_text(current.verdict))
    stdout.print(title.append(safe(f" · recommended: {current.recommended or '—'}")))
    for c in chosen:
        line = safe_text(f"{c.name} ({c.family}) ").append_text(status_text(c.verdict))
        if c.decision:
            line.append(safe(f" · {c.decision['decision']} by {c.decision['reviewer']}: {c.decision['reason']}"))
        stdout.print(line, soft_wrap=True)
        for o in c.outcomes:
            row = safe_text("  ").append_text(status_text(o["status"]))
            row.append(safe(f" {o['id']} ({o['severity']}, {o['checklist']}): {o['message']}"))
            if "waiver" in o:
                w = o["waiver"]
                row.append(safe(f" — waived by {w['reviewer']} until {w['until'] or 'no expiry'}: {w['reason']}"))
            stdout.print(row, soft_wrap=True)
    for entry in explained:
        stdout.print(safe_text(explained_line(entry)), soft_wrap=True)
    return EXIT_OK


@click.command()
@audit_db_option
@read_lock_timeout_option
@click.option("--format", "export_format", type=click.Choice(["csv", "parquet", "jsonl"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="folder to write into")
@click.option("--since", type=DATE, help="runs started on or after this date")
@click.option("--until", type=DATE, help="runs started on or before this date")
@click.option("--run", "run_id", help="one run")
@click.option("--candidate", help="runs with this candidate (and only its rows)")
@click.option("--policy", "policy_name", help="runs checked against this policy")
@click.option("--force", is_flag=True, help="overwrite files of an earlier export")
@click.option("--trusted-head", "trusted_head", type=click.Path(path_type=Path),
              help="a head verified before (`mlgate head`): check it is still in the chain, walk only what follows")
@click.option("--pubkey", type=click.Path(path_type=Path),
              help="Ed25519 public key the trusted head must be signed with")
def export(audit_db: Path | None, export_format: str, out: Path, since: datetime | None, until: datetime | None,
           run_id: str | None, candidate: str | None, policy_name: str | None, force: bool,
           trusted_head: Path | None = None, pubkey: Path | None = None) -> int:
    """Export the trail (events, runs, rule outcomes, decisions) with a manifest of hashes."""
    from engine.audit.export import ExportFilter, TrustedHead
    from engine.audit.export import export as write_export
    from engine.audit.head import HeadError, read_head

    if pubkey is not None and trusted_head is None:
        raise HeadError("--pubkey checks the signature of --trusted-head FILE; give both")
    trusted = TrustedHead(read_head(trusted_head), trusted_head, pubkey) if trusted_head is not None else None
    export_filter = ExportFilter(since=since.date() if since else None, until=until.date() if until else None,
                                 run=run_id, candidate=candidate, policy=policy_name)
    manifest = write_export(trail_path(audit_db), out, fmt=export_format, export_filter=export_filter, force=force,
                            trusted=trusted)
    counts = ", ".join(f"{name} {entry['rows']}" for name, entry in manifest["files"].items())
    stdout.print(safe_text(f"{out}: {counts}; head seq {manifest['head']['seq']} {manifest['head']['hash'][:16]}…"))
    return EXIT_OK


@click.command("verify-export")
@click.argument("folder", type=click.Path(path_type=Path))
def verify_export(folder: Path) -> int:
    """Check an export folder against its manifest."""
    from engine.audit.export import verify_export as check_export

    problems = check_export(folder)
    for problem in problems:
        stdout.print(safe_text(problem, style="bold red"))
    if not problems:
        stdout.print(safe_text(f"{folder}: every file matches its manifest"))
    return EXIT_FAILED if problems else EXIT_OK
