"""`mlgate promote`, `rollback` and `champion`: the champion registry kept in the trail (engine.champion)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli.output import (
    EXIT_OK,
    audit_db_option,
    format_option,
    lock_timeout_option,
    print_json,
    read_lock_timeout_option,
    safe_text,
    status_text,
    stdout,
    trail_path,
)


def lapsed_line(lapsed: dict[str, Any]) -> str:
    """How a lapsed approval reads: the rule that failed and the champion to roll back to."""
    target = lapsed.get("rollback_recommended_to")
    to = f"{target['candidate']} of run {target['run_id']}" if target else "no earlier champion"
    return f"approval lapsed — rollback recommended to {to} ({lapsed['rule']}: {lapsed['message']})"


def _named(entry: dict[str, Any]) -> str:
    return f"{entry['candidate']} of run {entry['run_id']}"


@click.command()
@click.argument("run_id")
@click.argument("candidate")
@click.option("--reviewer", required=True, help="who promotes (recorded as given)")
@click.option("--reason", required=True, help="why this candidate should serve (recorded as given)")
@click.option("--conditions", type=click.Path(path_type=Path), default=None,
              help="a monitoring policy attached to the approval: `mlgate monitor` lapses it when one fails")
@audit_db_option
@lock_timeout_option
def promote(run_id: str, candidate: str, reviewer: str, reason: str, conditions: Path | None,
            audit_db: Path | None, lock_timeout: float) -> int:
    """Make a candidate its model's champion (every blocking rule passed or waived); the previous one stays."""
    from engine.champion import promote as record_promotion
    from engine.monitor.conditions import attached_conditions

    head = record_promotion(trail_path(audit_db), run_id, candidate, reviewer=reviewer, reason=reason,
                            lock_timeout=lock_timeout, conditions=attached_conditions(conditions))
    stdout.print(safe_text(f"recorded: {candidate} of run {run_id} is the champion, promoted by {reviewer} "
                           f"(head {head[:16]}…)"))
    return EXIT_OK


@click.command()
@click.option("--model", help="the model (its spec's name), when the trail has champions of several")
@click.option("--reviewer", required=True, help="who rolls back (recorded as given)")
@click.option("--reason", required=True, help="why the champion is withdrawn (recorded as given)")
@audit_db_option
@lock_timeout_option
def rollback(model: str | None, reviewer: str, reason: str, audit_db: Path | None, lock_timeout: float) -> int:
    """Withdraw the current champion and restore the one promoted before it."""
    from engine.champion import rollback as record_rollback

    head, withdrawn, restored = record_rollback(trail_path(audit_db), model=model, reviewer=reviewer,
                                                reason=reason, lock_timeout=lock_timeout)
    stdout.print(safe_text(f"recorded: rolled back from {_named(withdrawn)} to {_named(restored)} by {reviewer} "
                           f"(head {head[:16]}…)"))
    return EXIT_OK


@click.command()
@click.option("--model", help="only this model (its spec's name)")
@audit_db_option
@read_lock_timeout_option
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="show at most this many champions of each model, newest first (0: all; JSON always holds all)")
@format_option
def champion(model: str | None, audit_db: Path | None, output_format: str, limit: int = 50) -> int:
    """The champion of each model and every earlier one (available to roll back to, or rolled back)."""
    from engine.champion import registries
    from engine.errors import TrailError

    path = trail_path(audit_db)
    if not path.is_file():
        raise TrailError(f"{path}: no audit trail here", hint="run `mlgate audit` first or pass --audit-db")
    found = registries(path)
    if model is not None:
        found = {model: found[model]} if model in found else {}
    listing = {name: registry.listing() for name, registry in sorted(found.items())}
    if output_format == "json":
        print_json({"models": listing})
        return EXIT_OK
    if not listing:
        stdout.print(safe_text("no champion has been promoted" + (f" for {model}" if model else "")))
    for name, entries in listing.items():
        table = Table(title=safe_text(f"champions of {name}, newest first"), title_justify="left")
        for header in ("status", "candidate", "run", "promoted", "by", "reason"):
            table.add_column(header)
        for entry in entries[:limit or None]:
            if entry["status"] == "champion" and entry.get("lapsed"):
                stdout.print(safe_text(lapsed_line(entry["lapsed"])))
            table.add_row(status_text(entry["status"]), safe_text(entry["candidate"]), safe_text(entry["run_id"]),
                          safe_text(entry["promoted_at"][:19]), safe_text(entry["reviewer"]),
                          safe_text(entry["reason"]))
        stdout.print(table)
        if 0 < limit < len(entries):
            stdout.print(safe_text(f"{len(entries) - limit:,} earlier champions of {name} not shown "
                                   "(--limit 0 shows all, --format json holds all)"))
    return EXIT_OK
