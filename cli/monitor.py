"""`mlgate monitor`: score a batch with the champion's ONNX artifact, record the monitoring run, lapse the approval
when a critical condition fails (`engine.monitor`); `--history MODEL` shows the runs as a time series.

Exit codes for a scheduler or CI job: 0 healthy, 1 a condition failed (at `--fail-on` or above), 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli import output
from cli.output import EXIT_OK, print_json, safe_text, status_text, stdout, trail_path

EXIT_CONDITION_FAILED = 1


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _show_run(record: dict[str, Any], result: Any) -> None:
    batch = record["batch"]
    stdout.print(safe_text(f"{record['model']}: {record['champion']['candidate']} of run "
                           f"{record['champion']['run_id']} on {batch['path']} ({batch['rows']} rows, "
                           f"sha256 {batch['sha256'][:16]}…) — "), status_text(record["status"]))
    drift = record["evidence"].get("drift") or {}
    if drift.get("error"):
        stdout.print(safe_text(f"drift: unknown — {drift['error']}"))
    else:
        table = Table(title="drift against the training reference (worst first)", title_justify="left")
        for header in ("feature", "PSI", "level", "test", "statistic", "p", "p adjusted", "missing"):
            table.add_column(header)
        for f in drift["features"][:15]:
            table.add_row(safe_text(f["name"]), _fmt(f.get("psi")), safe_text(f.get("psi_level") or "absent"),
                          safe_text(f.get("test") or "—"), _fmt(f.get("statistic")), _fmt(f.get("p_value"), 4),
                          _fmt(f.get("p_adjusted"), 4), _fmt(f.get("missing_rate")))
        stdout.print(table)
        if drift.get("prediction"):
            stdout.print(safe_text(f"prediction drift: PSI {_fmt(drift['prediction']['psi'])}, KS p "
                                   f"{_fmt(drift['prediction']['p_value'], 4)}"))
    schema = record["evidence"]["schema"]
    stdout.print(safe_text(f"schema: {schema['violating_rows']} of {schema['rows']} rows violate it"
                           + (f"; missing columns: {', '.join(schema['missing_columns'])}"
                              if schema["missing_columns"] else "")))
    feedback = record["evidence"].get("versus_approval")
    if feedback:
        for name, entry in feedback["metrics"].items():
            if name in ("roc_auc", "pr_auc", "accuracy", "brier", "log_loss"):
                interval = entry.get("change_interval") or [None, None]
                stdout.print(safe_text(f"feedback {name}: {_fmt(entry['batch'])} vs {_fmt(entry['approved'])} "
                                       f"approved, change {_fmt(entry['change'])} "
                                       f"[{_fmt(interval[0])}, {_fmt(interval[1])}]"))
    elif record["evidence"].get("estimated"):
        estimate = record["evidence"]["estimated"]["metrics"]
        stdout.print(safe_text("no labels: ESTIMATED (CBPE) " + ", ".join(f"{k} {_fmt(v)}"
                                                                         for k, v in estimate.items())))
    _show_paired(record["evidence"].get("versus_challenger"))
    for alert in record["alerts"]:
        stdout.print(safe_text(f"{alert['alert'].upper()}: {alert['id']} — {alert['message']}"))
    if result.lapsed:
        target = result.lapsed.get("rollback_recommended_to")
        stdout.print(safe_text("approval lapsed — " + (f"rollback recommended to {target['candidate']} of run "
                                                        f"{target['run_id']}" if target else
                                                        "no earlier champion to roll back to")))
    if result.rolled_back:
        restored = result.rolled_back["restored"]
        stdout.print(safe_text(f"rolled back to {restored['candidate']} of run {restored['run_id']}"))


def _show_paired(paired: dict[str, Any] | None) -> None:
    """The champion against the challenger on the same rows: each metric's paired difference, DeLong, verdict."""
    if not paired:
        return
    them = paired["challenger"]
    stdout.print(safe_text(f"challenger {them['candidate']} of run {them['run_id']} on the same rows: "
                           + (paired["error"] if "error" in paired else f"{paired['rows']} rows, paired bootstrap "
                              f"of {paired['resamples']} resamples")))
    if "error" in paired:
        return
    for name in ("roc_auc", "pr_auc", "accuracy", "log_loss", "brier"):
        entry = paired["metrics"][name]
        low, high = entry.get("interval") or [None, None]
        stdout.print(safe_text(f"  {name}: challenger {_fmt(entry['challenger'])} vs champion "
                               f"{_fmt(entry['champion'])}, difference {_fmt(entry['lift'])} [{_fmt(low)}, "
                               f"{_fmt(high)}] (better if positive)"))
    test = paired.get("delong_roc_auc")
    if test and test.get("p_value") is not None:
        stdout.print(safe_text(f"  DeLong: ROC AUC difference {_fmt(test['difference'])} [{_fmt(test['interval'][0])}, "
                               f"{_fmt(test['interval'][1])}], p {_fmt(test['p_value'], 4)}"))
    stdout.print(safe_text(f"  verdict: {paired['verdict']['verdict']} — supports {paired['verdict']['supports']}"))


def _show_history(found: dict[str, Any]) -> None:
    from cli.champion import lapsed_line
    from engine.monitor.series import spark

    champion = found.get("champion")
    if champion:
        stdout.print(safe_text(f"{found['model']}: champion {champion['candidate']} of run {champion['run_id']} — "
                               + (lapsed_line(found["lapsed"]) if found.get("lapsed") else "approval holds")))
    runs = found["runs"]
    if not runs:
        stdout.print(safe_text(f"no monitoring run of {found['model']} recorded"))
        return
    table = Table(title=safe_text(f"PSI over {len(runs)} monitoring runs of {found['model']} (worst first)"),
                  title_justify="left")
    for header in ("feature", "over time", "last", "worst"):
        table.add_column(header)
    for name in found["features"]:
        values = [r["psi"].get(name) for r in runs]
        measured = [v for v in values if v is not None]
        table.add_row(safe_text(name), spark(values, 0.5), _fmt(values[-1]), _fmt(max(measured) if measured else None))
    stdout.print(table)
    for r in runs:
        window = r["batch"].get("window") or {}
        when = window.get("label") or (f"{window.get('start')}–{window.get('end')}" if window.get("column") else "")
        stdout.print(safe_text(f"#{r['seq']} {r['recorded_at'][:19]} {when} {r['batch']['sha256'][:12]} "
                               f"{r['batch']['rows']} rows: "), status_text(r["status"]),
                     safe_text(" " + "; ".join(f"{a['alert']} {a['id']}" for a in r["alerts"])))
    for lapse in found["lapses"]:
        stdout.print(safe_text(f"approval lapsed at #{lapse['seq']}: {lapse['rule']} — {lapse['message']}"))


@click.command()
@click.argument("batch", required=False, type=click.Path(path_type=Path))
@click.option("--model", help="the model (its spec's name), when the trail has champions of several")
@click.option("--policy", type=click.Path(path_type=Path), help="monitoring conditions (default: the ones attached "
              "to the promotion, else the shipped monitoring pack)")
@click.option("--window-column", help="the batch's column whose range is the run's time window")
@click.option("--window", help="the time window, as given (a label such as 2009-W14)")
@click.option("--fail-on", type=click.Choice(["critical", "warning", "info"]), default="critical",
              show_default=True, help="the alert level at or above which a failed condition exits 1")
@click.option("--rollback-on", type=click.Choice(["critical"]), help="record the rollback to the previous "
              "champion when a critical condition fails")
@click.option("--resamples", type=int, help="bootstrap resamples for feedback intervals (default: the audit's)")
@click.option("--challenger", metavar="[RUN_ID:]CANDIDATE", help="compare this audited candidate with the champion "
              "on the batch's labelled rows, paired (default run: the champion's)")
@click.option("--history", "history_model", metavar="MODEL", help="show the monitoring runs of MODEL over time")
@output.audit_db_option
@output.lock_timeout_option
@output.format_option
def monitor(batch: Path | None, model: str | None, policy: Path | None, window_column: str | None,
            window: str | None, fail_on: str, rollback_on: str | None, resamples: int | None,
            challenger: str | None, history_model: str | None, audit_db: Path | None, lock_timeout: float,
            output_format: str) -> int:
    """Re-audit the champion on a batch: drift, schema, feedback performance; lapse its approval on a critical
    failure (exit 0 healthy, 1 a condition failed, 2 bad input)."""
    from engine.errors import MlgateError

    path = trail_path(audit_db)
    if history_model is not None:
        from engine.monitor.history import history

        if not path.is_file():
            raise MlgateError(f"{path}: no audit trail here", hint="run `mlgate audit` first or pass --audit-db")
        found = history(path, history_model)
        if output_format == "json":
            print_json(found)
        else:
            _show_history(found)
        return EXIT_OK
    if batch is None:
        raise MlgateError("give a BATCH file to monitor, or --history MODEL")
    from engine.monitor.run import Options
    from engine.monitor.run import monitor as run_monitor

    result = run_monitor(path, batch, Options(model=model, policy=policy, window_column=window_column, window=window,
                                              fail_on=fail_on, rollback_on=rollback_on, resamples=resamples,
                                              challenger=challenger,
                                              lock_timeout=lock_timeout))
    if output_format == "json":
        print_json({"record": result.record, "head": result.head, "lapsed": result.lapsed,
                    "rolled_back": result.rolled_back, "healthy": result.healthy})
    else:
        _show_run(result.record, result)
    return EXIT_OK if result.healthy else EXIT_CONDITION_FAILED
