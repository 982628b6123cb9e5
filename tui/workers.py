"""Work off the UI thread, and the one rule that turns a failed worker into the line the reviewer reads.

Every read of the trail and every engine call the TUI makes runs in a Textual thread worker, so the screen
stays responsive and DuckDB is never opened on the UI thread. `run_in_worker` is the one way the screens do
it: it runs the reads in order and hands each result to the screen on the UI thread. A worker that raises is
not caught where it runs: `ShowsFailures` (mixed into every screen) receives the worker's failure and shows
`error_line` of it, the one line the CLI would print for an engine error (`mlgate: error: ...`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState, get_current_worker

from engine.errors import MlgateError

T = TypeVar("T")
ERROR_PREFIX = "mlgate: error:"


def error_line(error: BaseException) -> str:
    """The line shown for a failure: the engine's own line for an `MlgateError`, else the exception's type and
    text (an unexpected failure is shown, never raised into the reviewer's session)."""
    text = error.one_line() if isinstance(error, MlgateError) else f"{type(error).__name__}: {error}"
    return f"{ERROR_PREFIX} {text}"


def run_in_worker(node: DOMNode, show: Callable[[T], None], *reads: Callable[[], T], group: str) -> Worker[None]:
    """Run `reads` in order in a thread worker of `node` (the newer worker of a group replaces the older), and
    call `show` with each result on the UI thread; a worker replaced meanwhile shows nothing more."""
    app = node.app

    def work() -> None:
        worker = get_current_worker()
        for read in reads:
            found = read()
            if worker.is_cancelled:
                return
            app.call_from_thread(show, found)

    return node.run_worker(work, name=group, group=group, thread=True, exclusive=True, exit_on_error=False)


class ShowsFailures:
    """Mixed into a screen: when one of its workers fails, `show_failure` gets the line to show."""

    def show_failure(self, line: str) -> None:
        """Show the failure's line where this screen shows its status."""
        raise NotImplementedError

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.show_failure(error_line(event.worker.error))
