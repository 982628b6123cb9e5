"""The `mlgate` command: a thin front end over `engine.service`, `engine.audit` and `engine.policy`.

Results go to stdout (text or `--format json`), progress and errors to stderr. Exit codes: 0 ready (or
intact), 1 a blocking rule failed (or the trail is broken), 2 the input was unusable. A user's mistake is
one line on stderr, never a traceback. Every untrusted string is rendered as rich `Text`, never as markup.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.errors import MlgateError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
FORMAT = click.Choice(["text", "json"])
AUDIT_DB_HELP = "the audit trail (DuckDB file)"

stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise click.BadParameter("expected a comma-separated list of column names")
    return items


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _status(value: str) -> Text:
    styles = {"pass": "bold green", "fail": "bold red", "unknown": "yellow", "error": "bold magenta"}
    return Text(value.upper(), style=styles.get(value, ""))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="mlgate", prog_name="mlgate")
def cli() -> None:
    """mlgate: prove a model candidate is ready for production, and keep the record."""


@cli.command()
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), help="audit spec (JSON or TOML)")
@click.option("--data", type=click.Path(path_type=Path), help="CSV or Parquet file (quick mode, or overrides the spec)")
@click.option("--target", help="label column")
@click.option("--positive", help="the label value that counts as positive (needed unless labels are 0/1 or true/false)")
@click.option("--sensitive", help="comma-separated sensitive columns (excluded from the features)")
@click.option("--features", help="comma-separated feature columns (default: all others)")
@click.option("--policy", "policies", multiple=True, type=click.Path(path_type=Path),
              help="policy file; repeatable (default: policies/default.json)")
@click.option("--audit-db", type=click.Path(path_type=Path), default=None, help=AUDIT_DB_HELP)
@click.option("--cards-dir", type=click.Path(path_type=Path), default=None, help="where model cards are written")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="split and training seed")
@click.option("--format", "output_format", type=FORMAT, default="text", show_default=True)
def audit(
    spec_path: Path | None, data: Path | None, target: str | None, positive: str | None, sensitive: str | None,
    features: str | None, policies: tuple[Path, ...], audit_db: Path | None, cards_dir: Path | None,
    seed: int | None, output_format: str,
) -> int:
    """Train, evaluate and check candidates; record everything; write model cards."""
    from engine import service, spec
    from engine.audit.trail import DEFAULT_AUDIT_DB
    from engine.cards import DEFAULT_CARDS_DIR

    document: dict[str, Any] = {}
    source_text = None
    source = spec.FLAGS
    if spec_path is not None:
        document, source_text = spec.read_spec_file(spec_path)
        source = str(spec_path)
    elif data is None or target is None:
        raise click.UsageError("give --spec FILE, or --data FILE and --target COLUMN")
    overrides = spec.flags_document(
        data=data, target=target, positive=positive, sensitive=_split_list(sensitive),
        features=_split_list(features), policies=list(policies), seed=seed,
    )
    if spec_path is not None and overrides:
        source = f"{spec_path} (with command-line flags)"
    audit_spec = spec.build_spec(spec.merge_documents(document, overrides), source=source, source_text=source_text)

    def show(progress: service.Progress) -> None:
        stderr.print(Text(f"• {progress.message}", style="dim"))

    result = service.run_audit(
        audit_spec,
        audit_db=audit_db or DEFAULT_AUDIT_DB,
        cards_dir=cards_dir or DEFAULT_CARDS_DIR,
        progress=show,
    )
    if output_format == "json":
        _print_json(result.to_json())
    else:
        _print_audit(result, audit_spec.name)
    return EXIT_OK if result.verdict == "pass" else EXIT_FAILED


def _print_audit(result: Any, name: str) -> None:
    from engine.evaluation.metrics import METRICS

    metric = METRICS[result.optimizing_metric]
    table = Table(title=Text(f"mlgate audit {name} · run {result.run_id}"), title_justify="left")
    for header in ("", "candidate", "family", metric.label, "lift", "pass/fail/unknown", "verdict"):
        table.add_column(header, no_wrap=True)
    for c in result.candidates:
        counts = [sum(o.status == s for o in c.outcomes) for s in ("pass", "fail", "unknown")]
        value = c.metrics.get(result.optimizing_metric)
        lift = c.lift.get(result.optimizing_metric)
        table.add_row(
            "★" if c.name == result.recommended else "", Text(c.name), Text(c.family),
            "—" if value is None else f"{value:.4f}", "—" if lift is None or c.is_baseline else f"{lift:+.4f}",
            "/".join(map(str, counts)), _status(c.verdict),
        )
    stdout.print(table)
    stdout.print(Text("the baseline is the reference every candidate must beat; it is never recommended", "dim"))
    for c in result.candidates:
        if c.error:
            stdout.print(Text(f"  ERROR {c.name}: {c.error}", style="bold magenta"))
        if c.is_baseline:
            continue
        for o in c.outcomes:
            if o.status != "pass":
                line = Text("  ").append_text(_status(o.status))
                line.append(f" {c.name} · {o.id} ({o.severity}, {o.checklist}): {o.message}")
                stdout.print(line, soft_wrap=True)
    summary = Text("verdict: ").append_text(_status(result.verdict))
    summary.append(f" · recommended: {result.recommended}" if result.recommended else " · no candidate passed")
    stdout.print(summary)
    stdout.print(Text(f"trail: {result.audit_db} (head {result.chain_head[:16]}…)", style="dim"))
    if result.candidates and result.candidates[0].card:
        stdout.print(Text(f"cards: {Path(result.candidates[0].card).parent}", style="dim"))


@cli.command()
@click.option("--audit-db", type=click.Path(path_type=Path), default=None, help=AUDIT_DB_HELP)
@click.option("--format", "output_format", type=FORMAT, default="text", show_default=True)
def verify(audit_db: Path | None, output_format: str) -> int:
    """Recompute the trail's hash chain; exit 1 naming the first bad event."""
    from engine.audit.trail import DEFAULT_AUDIT_DB
    from engine.audit.verify import verify as verify_trail

    path = audit_db or DEFAULT_AUDIT_DB
    result = verify_trail(path)
    if output_format == "json":
        _print_json({"audit_db": str(path), **result.__dict__})
    elif result.intact:
        stdout.print(Text(f"intact: {result.events} events, head seq {result.head_seq} {result.head_hash}"))
    else:
        stdout.print(Text(f"BROKEN at sequence {result.bad_seq}: {result.problem}", style="bold red"))
    return EXIT_OK if result.intact else EXIT_FAILED


@cli.command()
@click.option("--audit-db", type=click.Path(path_type=Path), default=None, help=AUDIT_DB_HELP)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="runs started on or after this date")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="runs started on or before this date")
@click.option("--candidate", help="runs that trained a candidate of this name")
@click.option("--verdict", type=click.Choice(["pass", "fail", "incomplete"]), help="runs with this verdict now")
@click.option("--policy", "policy_name", help="runs checked against a policy of this name")
@click.option("--reviewer", help="runs with a sign-off or waiver by this reviewer")
@click.option("--format", "output_format", type=FORMAT, default="text", show_default=True)
def runs(audit_db: Path | None, since: Any, until: Any, candidate: str | None, verdict: str | None,
         policy_name: str | None, reviewer: str | None, output_format: str) -> int:
    """List the runs in the trail, newest first, as they stand now (waivers and sign-offs applied)."""
    from engine.audit.runs import RunFilter, list_runs
    from engine.audit.trail import DEFAULT_AUDIT_DB

    run_filter = RunFilter(since=since.date() if since else None, until=until.date() if until else None,
                           candidate=candidate, verdict=verdict, policy=policy_name, reviewer=reviewer)
    summaries = list_runs(audit_db or DEFAULT_AUDIT_DB, run_filter)
    if output_format == "json":
        _print_json(summaries)
        return EXIT_OK
    table = Table()
    for header in ("run", "started", "spec", "data sha256", "candidates", "verdict", "recommended"):
        table.add_column(header)
    for s in summaries:
        verdict_text = _status(s["verdict"]) if s["complete"] else Text("incomplete", style="yellow")
        table.add_row(Text(s["run_id"]), Text(s["started_at"][:19]), Text(s["name"]), Text(s["data_sha256"][:12]),
                      Text(", ".join(s["candidates"])), verdict_text, Text(s["recommended"] or "—"))
    stdout.print(table)
    return EXIT_OK


@cli.group()
def policy() -> None:
    """Work with policy files."""


@policy.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def policy_validate(files: tuple[Path, ...]) -> int:
    """Check policy files against the schema; list every error."""
    from engine.policy.loader import PolicyProblems, load_policy

    failed = False
    for path in files:
        try:
            loaded = load_policy(path)
        except PolicyProblems as exc:
            failed = True
            for problem in exc.problems:
                stderr.print(Text(problem), style="red")
        except MlgateError as exc:
            failed = True
            stderr.print(Text(exc.one_line()), style="red")
        else:
            stdout.print(Text(f"{path}: valid ({loaded.name} {loaded.version}, {len(loaded.rules)} rules)"))
    return EXIT_BAD_INPUT if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code (errors as one line on stderr)."""
    try:
        code = cli.main(args=argv, prog_name="mlgate", standalone_mode=False)
    except click.ClickException as exc:
        stderr.print(Text(f"mlgate: error: {exc.format_message()}"), soft_wrap=True)
        return EXIT_BAD_INPUT
    except click.Abort:
        return 130
    except MlgateError as exc:
        stderr.print(Text(f"mlgate: error: {exc.one_line()}"), soft_wrap=True)
        return exc.exit_code
    return code if isinstance(code, int) else EXIT_OK


def run() -> None:
    sys.exit(main())
