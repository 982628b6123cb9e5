"""Reading the audit's progress stream: what `mlgate audit --progress jsonl` writes on stderr, one JSON object a
line, turned into typed events and into the lines the audit screen shows.

The stream is the contract between the CLI and the TUI (the TUI never parses the CLI's human text):

    {"type": "progress", "stage": str, "message": str, "candidate": str | null}
    {"type": "error", "message": str, "hint": str | null, "exit_code": 2}
    {"type": "result", "exit_code": int, "run_id": str, "verdict": str, "recommended": str | null}

Progress objects of stage "stderr" carry a line of text something else wrote to stderr (a library's warning, a
traceback): the log shows it as written, without the progress bullet. Fields a reader does not know are
ignored, and so are objects of a type it does not know (`Unknown`: later versions may add some). A line that is
not JSON, or a known object with a field missing or of the wrong type, is kept as is (`Plain`) and shown as
written. Everything here is pure: no process, no terminal. The writer's side is documented in cli/progress.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import MlgateError
from tui.workers import ERROR_PREFIX, error_line

STDERR_STAGE = "stderr"  # a progress object wrapping a line of text written to stderr


@dataclass(frozen=True)
class Progress:
    """One step of the audit, as `engine.service.Progress` reported it."""

    stage: str
    message: str
    candidate: str | None


@dataclass(frozen=True)
class Failure:
    """The audit could not run (an unusable input): the CLI's one error, with its hint."""

    message: str
    hint: str | None
    exit_code: int

    def line(self) -> str:
        """The line the CLI prints for it: `mlgate: error: message (hint)`, as for any engine error."""
        return error_line(MlgateError(self.message, hint=self.hint))


@dataclass(frozen=True)
class Result:
    """The audit finished: its exit code, run, verdict and recommended candidate."""

    exit_code: int
    run_id: str
    verdict: str
    recommended: str | None


@dataclass(frozen=True)
class Plain:
    """A line that is not a progress object: shown as written."""

    text: str


@dataclass(frozen=True)
class Unknown:
    """An object of a type this reader does not know: ignored."""

    kind: str


StreamEvent = Progress | Failure | Result | Plain | Unknown


def optional_text(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(key)
    return value


def text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        raise TypeError(key)
    return value


def code(document: dict[str, Any], key: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(key)
    return value


def progress(document: dict[str, Any]) -> Progress:
    return Progress(text(document, "stage"), text(document, "message"), optional_text(document, "candidate"))


def failure(document: dict[str, Any]) -> Failure:
    return Failure(text(document, "message"), optional_text(document, "hint"), code(document, "exit_code"))


def result(document: dict[str, Any]) -> Result:
    return Result(code(document, "exit_code"), text(document, "run_id"), text(document, "verdict"),
                  optional_text(document, "recommended"))


READERS: dict[str, Callable[[dict[str, Any]], StreamEvent]] = {"progress": progress, "error": failure,
                                                               "result": result}


def parse_line(line: str) -> StreamEvent:
    """One line of the stream as its event; anything that is not a well-formed object of a known type is `Plain`."""
    stripped = line.rstrip("\r\n")
    try:
        document = json.loads(stripped)
    except ValueError:
        return Plain(stripped)
    kind = document.get("type") if isinstance(document, dict) else None
    if not isinstance(kind, str):
        return Plain(stripped)
    reader = READERS.get(kind)
    if reader is None:
        return Unknown(kind)
    try:
        return reader(document)
    except TypeError:
        return Plain(stripped)


def log_line(event: StreamEvent) -> str | None:
    """What the audit's log shows for an event (the result shows in the status line, not in the log; an unknown
    object nowhere)."""
    if isinstance(event, Progress):
        return event.message if event.stage == STDERR_STAGE else f"• {event.message}"
    if isinstance(event, Failure):
        return event.line()
    if isinstance(event, Plain):
        return event.text
    return None


@dataclass(frozen=True)
class Ending:
    """How the audit screen's status line reads when the audit ended: the words and whether it went wrong."""

    line: str
    kind: str  # "finished", "failed" or "cancelled"
    exit_code: int
    run_id: str | None


def ending(events: list[StreamEvent], exit_code: int, *, cancelled: bool) -> Ending:
    """The status after the child exited with `exit_code`: cancelled, else its last error or result object, else
    (neither reported) the exit code alone."""
    if cancelled:
        return Ending("CANCELLED: the audit was stopped; its run (if started) shows as incomplete", "cancelled",
                      exit_code, None)
    outcomes = [e for e in events if isinstance(e, Failure | Result)]
    if not outcomes:
        return Ending(f"{ERROR_PREFIX} the audit stopped (exit {exit_code})", "failed", exit_code, None)
    done = outcomes[-1]  # the last error or result object is the outcome
    if isinstance(done, Failure):
        return Ending(done.line(), "failed", done.exit_code, None)
    word = "PASS: a candidate is ready" if done.exit_code == 0 else "FAIL: no candidate passed its blocking rules"
    return Ending(f"finished: {word} (exit {done.exit_code}); the new run is on the runs screen", "finished",
                  done.exit_code, done.run_id)
