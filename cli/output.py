"""What every `mlgate` command shares: the consoles, exit codes, JSON output and common options.

Results go to stdout, progress and errors to stderr. Untrusted strings are always passed to rich as `Text`,
which is never parsed as markup.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from engine.audit.locks import LOCK_WAIT_SECONDS, lock_timeout
from engine.errors import EXIT_BAD_INPUT as EXIT_BAD_INPUT
from engine.errors import EXIT_BUSY as EXIT_BUSY
from engine.errors import EXIT_FAILED as EXIT_FAILED
from engine.errors import EXIT_OK as EXIT_OK
from engine.errors import EXIT_WRITE_FAILED as EXIT_WRITE_FAILED
from engine.safe_text import json_document, terminal_text

FORMAT = click.Choice(["text", "json"])
STATUS_STYLES = {"pass": "bold green", "fail": "bold red", "unknown": "yellow", "error": "bold magenta",
                 "waived": "cyan", "incomplete": "yellow",
                 "champion": "bold green", "available": "green", "rolled back": "dim"}

stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def safe(text: object) -> str:
    """Untrusted text with control characters (terminal escape sequences among them) made visible and inert."""
    return terminal_text(text)


def safe_text(text: object, style: str = "") -> Text:
    """Rich text from untrusted content: never parsed as markup, control characters made inert."""
    return Text(terminal_text(text), style=style)


def print_json(document: Any) -> None:
    """A JSON document on stdout: non-ASCII kept, but no character that acts on a terminal (escaped as JSON)."""
    click.echo(json_document(json.dumps(document, indent=2, ensure_ascii=False)))


def status_text(value: str) -> Text:
    return Text(value.upper(), style=STATUS_STYLES.get(value, ""))


def audit_db_option(function: F) -> F:
    return click.option("--audit-db", type=click.Path(path_type=Path), default=None,
                        help="the audit trail (DuckDB file; default audit_log/audit.duckdb)")(function)


def format_option(function: F) -> F:
    return click.option("--format", "output_format", type=FORMAT, default="text", show_default=True)(function)


def _patience(ctx: click.Context, _param: click.Parameter, value: float) -> float:
    """Every trail access of the command (reads and writes) waits at most `value` seconds, until it ends."""
    ctx.with_resource(lock_timeout(value))
    return value


def _lock_timeout(*, expose: bool) -> Callable[[F], F]:
    return click.option("--lock-timeout", type=click.FloatRange(0.1, 86400), default=LOCK_WAIT_SECONDS,
                        show_default=True, callback=_patience, expose_value=expose,
                        help="seconds any access to the trail waits while another process holds it "
                             f"(then exit {EXIT_BUSY}: try again)")


def lock_timeout_option(function: F) -> F:
    """--lock-timeout for a command that writes (its value is passed on, and bounds every trail access)."""
    return _lock_timeout(expose=True)(function)


def read_lock_timeout_option(function: F) -> F:
    """--lock-timeout for a command that only reads: it bounds every trail access; the command never sees it."""
    return _lock_timeout(expose=False)(function)


def trail_path(audit_db: Path | None) -> Path:
    from engine.audit.trail import DEFAULT_AUDIT_DB

    return audit_db or DEFAULT_AUDIT_DB
