"""`mlgate signoff`, `waive` and `recheck`: recording reviewers' decisions about a run (engine.review)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    audit_db_option,
    format_option,
    lock_timeout_option,
    print_json,
    safe_text,
    stdout,
    trail_path,
)


@click.command()
@click.argument("run_id")
@click.argument("candidate")
@click.option("--decision", type=click.Choice(["approve", "reject"]), required=True)
@click.option("--reviewer", required=True, help="who decides (recorded as given)")
@click.option("--reason", required=True, help="why (recorded as given)")
@audit_db_option
@lock_timeout_option
def signoff(run_id: str, candidate: str, decision: str, reviewer: str, reason: str, audit_db: Path | None,
            lock_timeout: float) -> int:
    """Approve or reject a candidate of a run (an approval needs every blocking rule passed or waived)."""
    from engine.review import signoff as record_signoff

    head = record_signoff(trail_path(audit_db), run_id, candidate, decision=decision, reviewer=reviewer,
                          reason=reason, lock_timeout=lock_timeout)
    stdout.print(safe_text(f"recorded: {decision} {candidate} of run {run_id} by {reviewer} (head {head[:16]}…)"))
    return EXIT_OK


@click.command()
@click.argument("run_id")
@click.argument("candidate")
@click.argument("rule_id")
@click.option("--reviewer", required=True, help="who waives (recorded as given)")
@click.option("--reason", required=True, help="why the failure is acceptable (recorded as given)")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="last day the waiver holds (default: no expiry)")
@click.option("--policy", "policy_name", help="the policy of the rule, when several policies share the rule id")
@audit_db_option
@lock_timeout_option
def waive(run_id: str, candidate: str, rule_id: str, reviewer: str, reason: str, until: datetime | None,
          policy_name: str | None, audit_db: Path | None, lock_timeout: float) -> int:
    """Waive one failed rule of one candidate, with a reason and an optional expiry."""
    from engine.review import waive as record_waiver

    head = record_waiver(trail_path(audit_db), run_id, candidate, rule_id, reviewer=reviewer, reason=reason,
                         until=until.date() if until else None, policy=policy_name, lock_timeout=lock_timeout)
    expiry = f" until {until.date().isoformat()}" if until else ""
    stdout.print(safe_text(f"recorded: waiver of {rule_id} for {candidate} of run {run_id}{expiry} "
                           f"(head {head[:16]}…)"))
    return EXIT_OK


@click.command()
@click.argument("run_id")
@click.option("--policy", "policies", multiple=True, required=True, type=click.Path(path_type=Path),
              help="policy file to check the stored evidence against; repeatable")
@audit_db_option
@lock_timeout_option
@format_option
def recheck(run_id: str, policies: tuple[Path, ...], audit_db: Path | None, lock_timeout: float,
            output_format: str) -> int:
    """Check a run's stored evidence against other policies (no retraining); record it; show what changed."""
    from engine.review import recheck as record_recheck

    changes, data = record_recheck(trail_path(audit_db), run_id, list(policies), lock_timeout=lock_timeout)
    verdicts = {name: result["verdict"] for name, result in data["candidates"].items()}
    passing = [n for n, r in data["candidates"].items() if r["verdict"] == "pass" and not r["is_baseline"]]
    if output_format == "json":
        print_json({"run_id": run_id, "changes": [c.__dict__ for c in changes], "verdicts": verdicts})
    else:
        for change in changes:
            stdout.print(safe_text(f"{change.candidate} · {change.rule}: {change.before or 'absent'} → "
                                   f"{change.after or 'absent'} ({change.policy})"))
        if not changes:
            stdout.print(safe_text("no rule outcome changed"))
        for name, verdict in verdicts.items():
            stdout.print(safe_text(f"{name}: {verdict.upper()}"))
    return EXIT_OK if passing else EXIT_FAILED
