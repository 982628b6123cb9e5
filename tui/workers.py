"""Work off the UI thread, and the one rule that turns a failed worker into the line the reviewer reads.

Every read of the trail and every engine call the TUI makes runs in a Textual thread worker, so the screen
stays responsive and DuckDB is never opened on the UI thread. `run_in_worker` is the one way the screens do
it: it runs the reads in order and hands each result to the screen on the UI thread, and a read that fails
hands the screen `error_line` of the failure instead, the one line the CLI would print for an engine error
(`mlgate: error: ...`). A worker therefore never ends in error and nothing is raised into the reviewer's session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual.dom import DOMNode
from textual.worker import Worker, get_current_worker

from engine.errors import MlgateError

T = TypeVar("T")
ERROR_PREFIX = "mlgate: error:"


def error_line(error: BaseException) -> str:
    """The line shown for a failure: the engine's own line for an `MlgateError`, else the exception's type and
    text (an unexpected failure is shown, never raised into the reviewer's session)."""
    text = error.one_line() if isinstance(error, MlgateError) else f"{type(error).__name__}: {error}"
    return f"{ERROR_PREFIX} {text}"


def run_in_worker(node: DOMNode, show: Callable[[T], object], *reads: Callable[[], T], failed: Callable[[str], None],
                  group: str) -> Worker[None]:
    """Run `reads` in order in a thread worker of `node` (the newer worker of a group replaces the older), and
    call `show` with each result on the UI thread, or `failed` with the error line of the first that fails; a
    worker replaced meanwhile shows nothing more."""
    app = node.app

    def work() -> None:
        worker = get_current_worker()
        try:
            for read in reads:
                found = read()
                if worker.is_cancelled:
                    return
                app.call_from_thread(show, found)
        except Exception as exc:  # shown where the screen shows its status, never raised into the UI
            if not worker.is_cancelled:
                app.call_from_thread(failed, error_line(exc))

    return node.run_worker(work, name=group, group=group, thread=True, exclusive=True, exit_on_error=False)

