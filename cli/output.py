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

from engine.safe_text import terminal_text

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
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
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def status_text(value: str) -> Text:
    return Text(value.upper(), style=STATUS_STYLES.get(value, ""))


def audit_db_option(function: F) -> F:
    return click.option("--audit-db", type=click.Path(path_type=Path), default=None,
                        help="the audit trail (DuckDB file; default audit_log/audit.duckdb)")(function)


def format_option(function: F) -> F:
    return click.option("--format", "output_format", type=FORMAT, default="text", show_default=True)(function)


def lock_timeout_option(function: F) -> F:
    return click.option("--lock-timeout", type=click.FloatRange(0.1, 86400), default=120.0, show_default=True,
                        help="seconds to wait while other processes write to the trail")(function)


def trail_path(audit_db: Path | None) -> Path:
    from engine.audit.trail import DEFAULT_AUDIT_DB

    return audit_db or DEFAULT_AUDIT_DB
