"""The `mlgate` command: a thin front end over `engine.service`, `engine.audit` and `engine.policy`.

Results go to stdout (text or `--format json`), progress and errors to stderr. Exit codes: 0 ready (or
intact), 1 a blocking rule failed (or the trail is broken), 2 the input was unusable, 3 the trail stayed busy
past --lock-timeout, 4 a file could not be written (engine/errors.py). A user's mistake is one line on stderr,
never a traceback. Every untrusted string is rendered as rich `Text`, never as markup.
`mlgate audit --progress jsonl` makes stderr a machine-readable stream instead (JSON Lines, for the TUI and
other programs); its format is documented in cli/progress.py.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from cli.author import card, policy_explain, policy_init
from cli.champion import champion, promote, rollback
from cli.monitor import monitor
from cli.output import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    audit_db_option,
    format_option,
    lock_timeout_option,
    print_json,
    safe,
    safe_text,
    status_text,
    stderr,
    stdout,
    trail_path,
)
from cli.process import configure, finish
from cli.progress import FORMATS, Failure, JsonLines, jsonl_stderr, stream_format
from cli.reasons import reasons
from cli.review import recheck, signoff, waive
from cli.trail import export, exposure, head, keygen, runs, show, verify, verify_export
from engine.errors import EXIT_WRITE_FAILED, MlgateError, TrailError, WriteError


def _split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise click.BadParameter("expected a comma-separated list of column names")
    return items


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="mlgate", prog_name="mlgate")
def mlgate() -> None:
    """mlgate: prove a model candidate is ready for production, and keep the record."""


@mlgate.command()
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), help="audit spec (JSON or TOML)")
@click.option("--data", type=click.Path(path_type=Path), help="CSV or Parquet file (quick mode, or overrides the spec)")
@click.option("--target", help="label column")
@click.option("--task", type=click.Choice(["binary", "multiclass", "regression"]), default=None,
              help="the task type (default: inferred from the target: 2 labels binary, 3-50 labels multiclass, "
                   "a numeric target with more values regression)")
@click.option("--positive", help="the label value that counts as positive (needed unless labels are 0/1 or true/false)")
@click.option("--sensitive", help="comma-separated sensitive columns (excluded from the features)")
@click.option("--features", help="comma-separated feature columns (default: all others)")
@click.option("--model", type=click.Path(path_type=Path),
              help="audit a model trained elsewhere: ONNX, LightGBM text model or skops file (never a pickle)")
@click.option("--train-data", type=click.Path(path_type=Path),
              help="the external model's training data (CSV or Parquet): the baseline is trained on it")
@click.option("--policy", "policies", multiple=True, type=click.Path(path_type=Path),
              help="policy file; repeatable (default: the pack of the task: policies/default.json for binary, "
                   "regression.json or multiclass.json)")
@audit_db_option
@click.option("--cards-dir", type=click.Path(path_type=Path), default=None, help="where model cards are written")
@click.option("--artifacts-dir", type=click.Path(path_type=Path), default=None,
              help="where the ONNX artifacts are written (default: artifacts/ beside the cards folder)")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="split and training seed")
@lock_timeout_option
@click.option("--junit", type=click.Path(path_type=Path), help="write JUnit XML: a suite per candidate, a case a rule")
@click.option("--summary", type=click.Path(path_type=Path),
              help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)")
@click.option("--fail-on", type=click.Choice(["block", "warn"]), default=None,
              help="warn: failed warnings fail candidates too (default: only blocking rules)")
@format_option
@click.option("--progress", "progress_format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="stderr for people (text), or JSON Lines for programs (jsonl; format in cli/progress.py)")
@click.option("--split", "split_strategy", type=click.Choice(["stratified", "random", "time", "group"]), default=None,
              help="how rows are split (default stratified; time needs --time-column, group --group-column)")
@click.option("--time-column", help="time split: the column that orders rows (train oldest, test most recent)")
@click.option("--group-column", help="group split: the entity column (each group on one side only)")
@click.option("--test-data", type=click.Path(path_type=Path),
              help="a test file kept apart (CSV or Parquet): candidates are audited on it only")
@click.option("--folds", type=click.IntRange(2, 20), default=None,
              help="cross-validate each candidate on K folds of the development rows (cv_stability evidence)")
def audit(
    spec_path: Path | None, data: Path | None, target: str | None, positive: str | None, sensitive: str | None,
    features: str | None, policies: tuple[Path, ...], audit_db: Path | None, cards_dir: Path | None,
    artifacts_dir: Path | None, seed: int | None, lock_timeout: float, junit: Path | None, summary: Path | None,
    fail_on: str | None, output_format: str, model: Path | None = None, train_data: Path | None = None,
    progress_format: str = "text", split_strategy: str | None = None, time_column: str | None = None,
    group_column: str | None = None, test_data: Path | None = None, folds: int | None = None,
    task: str | None = None,
) -> int:
    """Train, evaluate and check candidates (or audit a model trained elsewhere: --model); record; write cards."""
    from engine import service, spec
    from engine.cards import DEFAULT_CARDS_DIR
    from engine.reports import write_reports

    document: dict[str, Any] = {}
    source_text = None
    source = spec.FLAGS
    if spec_path is not None:
        document, source_text = spec.read_spec_file(spec_path)
        source = str(spec_path)
    elif data is None or target is None:
        raise click.UsageError("give --spec FILE, or --data FILE and --target COLUMN (and --model FILE to audit one)")
    overrides = spec.flags_document(
        data=data, target=target, positive=positive, sensitive=_split_list(sensitive),
        features=_split_list(features), policies=list(policies), seed=seed, fail_on=fail_on, model=model,
        train_data=train_data, split={"strategy": split_strategy, "time_column": time_column,
                                      "group_column": group_column, "test_path": test_data, "folds": folds},
        task=task,
    )
    if spec_path is not None and overrides:
        source = f"{spec_path}{spec.FLAGS_SUFFIX}"
    audit_spec = spec.build_spec(spec.merge_documents(document, overrides), source=source, source_text=source_text)

    stream = click.get_current_context().obj if progress_format == "jsonl" else None

    def show(progress: service.Progress) -> None:
        if isinstance(stream, JsonLines):
            stream.progress(stage=progress.stage, message=progress.message, candidate=progress.candidate)
        else:
            stderr.print(safe_text(f"• {progress.message}", style="dim"))

    result = service.run_audit(
        audit_spec,
        audit_db=trail_path(audit_db),
        cards_dir=cards_dir or DEFAULT_CARDS_DIR,
        artifacts_dir=artifacts_dir,
        progress=show,
        lock_timeout=lock_timeout,
    )
    if output_format == "json":
        print_json(result.to_json())
    else:
        _print_audit(result, audit_spec.name)
    try:
        write_reports(result, name=audit_spec.name, junit=junit, summary=summary)
    except OSError as exc:
        raise WriteError.of(exc.filename or junit or summary, exc, "report") from None
    code = EXIT_OK if result.verdict == "pass" else EXIT_FAILED
    if isinstance(stream, JsonLines):
        stream.keep_result(exit_code=code, run_id=result.run_id, verdict=result.verdict,
                           recommended=result.recommended)
    return code


def _print_audit(result: Any, name: str) -> None:
    from engine.leaderboard import from_result

    board = from_result(result)
    table = Table(title=safe_text(f"mlgate audit {name} · run {result.run_id}"), title_justify="left")
    for header in ("", "candidate", "family", board.metric_label, "lift", "pass/fail/unknown+error", "verdict"):
        table.add_column(header, no_wrap=True)
    for row in board.rows:
        table.add_row(row.marker, safe_text(row.name), safe_text(row.family), row.value_text(), row.lift_text(),
                      row.counts_text(), status_text(row.verdict))
    stdout.print(table)
    stdout.print(safe_text("the baseline is the reference every candidate must beat; it is never recommended", "dim"))
    for c in result.candidates:
        if c.error:
            stdout.print(safe_text(f"  ERROR {c.name}: {c.error}", style="bold magenta"))
        if c.is_baseline:
            continue
        for o in c.outcomes:
            if o.status != "pass":
                line = safe_text("  ").append_text(status_text(o.status))
                line.append(safe(f" {c.name} · {o.id} ({o.severity}, {o.checklist}): {o.message}"))
                stdout.print(line, soft_wrap=True)
    summary = safe_text("verdict: ").append_text(status_text(result.verdict))
    summary.append(safe(f" · recommended: {result.recommended}" if result.recommended else " · no candidate passed"))
    stdout.print(summary)
    stdout.print(safe_text(f"trail: {result.audit_db} (head {result.chain_head[:16]}…)", style="dim"))
    if result.candidates and result.candidates[0].card:
        folder = Path(result.candidates[0].card).parent
        shown = folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
        stdout.print(safe_text(f"cards: {shown}", style="dim"))


@mlgate.group()
def policy() -> None:
    """Work with policy files."""


@policy.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--task", type=click.Choice(["binary", "multiclass", "regression"]), default=None,
              help="also check that every rule can apply to an audit of this task type")
def policy_validate(files: tuple[Path, ...], task: str | None = None) -> int:
    """Check policy files against the schema (and, with --task, against a task type); list every error."""
    from engine.policy.loader import PolicyProblems, load_policy
    from engine.policy.tasks import check_for_task

    failed = False
    for path in files:
        try:
            loaded = load_policy(path)
            if task is not None:
                check_for_task([loaded], task)
        except PolicyProblems as exc:
            failed = True
            for problem in exc.problems:
                stderr.print(safe_text(problem), style="red")
        except MlgateError as exc:
            failed = True
            stderr.print(safe_text(exc.one_line()), style="red")
        else:
            stdout.print(safe_text(f"{path}: valid ({loaded.name} {loaded.version}, {len(loaded.rules)} rules)"))
    return EXIT_BAD_INPUT if failed else EXIT_OK


@mlgate.command("tui")
@audit_db_option
def tui_command(audit_db: Path | None) -> int:
    """Open the reviewer's terminal UI (runs, checklists, evidence, sign-off) on the trail."""
    path = trail_path(audit_db)
    if path.is_dir():
        raise TrailError(f"{path}: --audit-db names a folder; give the trail file, such as {path / 'audit.duckdb'}")
    sys.stdout.flush()
    # the front ends never import each other: the TUI runs as its own module, in this process's place
    os.execv(sys.executable, [sys.executable, "-m", "tui", str(path)])  # noqa: S606 (no shell, fixed argv)


for command in (verify, head, keygen, runs, exposure, show, export, verify_export, signoff, waive, recheck, card,
                promote, rollback, champion):
    mlgate.add_command(command)
for command in (policy_explain, policy_init):
    policy.add_command(command)
mlgate.add_command(monitor)

mlgate.add_command(reasons)


def invoke(args: list[str], *, stream: JsonLines | None) -> tuple[int, Failure | None]:
    """Run the command line; return its exit code and, when it stopped on an error, why."""
    try:
        code = mlgate.main(args=args, prog_name="mlgate", standalone_mode=False, obj=stream)
    except click.ClickException as exc:
        message = exc.format_message()
        return EXIT_BAD_INPUT, Failure(line=message, message=message, hint=None, exit_code=EXIT_BAD_INPUT)
    except click.Abort:
        return 130, Failure(line=None, message="interrupted", hint=None, exit_code=130)
    except MlgateError as exc:
        return exc.exit_code, Failure(line=exc.one_line(), message=" ".join(exc.message.split()),
                                      hint=" ".join(exc.hint.split()) if exc.hint else None, exit_code=exc.exit_code)
    except OSError as exc:  # any other I/O error (a full disk, a vanished folder): one line, its own exit code
        line = f"{exc.filename or 'a file'}: {exc.strerror or exc}"
        return EXIT_WRITE_FAILED, Failure(line=line, message=line, hint=None, exit_code=EXIT_WRITE_FAILED)
    except Exception as exc:
        if stream is None:
            raise  # a bug keeps its traceback
        traceback.print_exc()  # onto the stream, as "stderr" lines
        return EXIT_FAILED, Failure(line=None, message=f"unexpected {type(exc).__name__}: {exc}",
                                    hint="a bug in mlgate: the lines before this one hold its traceback",
                                    exit_code=EXIT_FAILED)
    return (code if isinstance(code, int) else EXIT_OK), None


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code (errors as one line on stderr, or JSON Lines when asked)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if stream_format(args) != "jsonl":
        code, failure = invoke(args, stream=None)
        if failure is not None and failure.line is not None:
            stderr.print(safe_text(f"mlgate: error: {failure.line}"), soft_wrap=True)
        return code
    with jsonl_stderr() as stream:
        code, failure = invoke(args, stream=stream)
    stream.finish(failure)
    return code


def run() -> None:
    """The console entry point: thread defaults first, then the command, then a fast exit (cli/process.py)."""
    configure()
    finish(main())
