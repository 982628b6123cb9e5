"""The audit's machine-readable progress stream: `mlgate audit --progress jsonl`, for the TUI and other programs.

With `--progress text` (the default) stderr carries the lines a person reads: `• ...` progress lines and, on a
bad input, one `mlgate: error: ...` line. With `--progress jsonl` everything the process writes to stderr is
JSON Lines: one JSON object per line, ASCII only (non-ASCII characters and control characters escaped), with a
`type` field saying which of these it is:

    {"type": "progress", "stage": str, "message": str, "candidate": str | null}
        one step of the audit (`stage` is the engine's: data, search (a search started, then one per finished
        trial), train, serve, reproduce, cv (one per fold), curve (one per learning-curve share), champion, exposure,
        check, record, cards); `candidate` names the candidate the step is about, when it is about one. Anything
        else written to stderr while the audit runs (a library's warning, a native library's message, a
        traceback) arrives as a progress object with stage "stderr", one per line of text.
    {"type": "error", "message": str, "hint": str | null, "exit_code": int}
        the audit stopped; written instead of the `mlgate: error: ...` line. `exit_code` is the process's exit
        code: 2 for an input mlgate cannot use (a spec, policy, data or model file, or a flag), 3 when the
        trail stayed busy past --lock-timeout (another process held it: retry), 4 when a file could not be
        written (a full disk, no permission: the message names the file and the cause), 130 when interrupted,
        1 for an unexpected failure (a bug: its traceback comes first, as "stderr" lines).
    {"type": "result", "exit_code": int, "run_id": str, "verdict": str, "recommended": str | null}
        the last line of a finished audit: `exit_code` 0 when the run's verdict is pass, 1 when a blocking rule
        failed; `run_id` names the run in the trail.

A reader keeps the last `error` or `result` object as the outcome; readers ignore fields and types they do not
know, so later versions can add some. stdout is the same in both modes: the leaderboard, or `--format json`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

FORMATS = ("text", "jsonl")
OPTION = "--progress"
STDERR_STAGE = "stderr"
DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class Failure:
    """Why a command stopped: the text mode's `mlgate: error:` line (None: nothing printed) and its JSON parts."""

    line: str | None
    message: str
    hint: str | None
    exit_code: int


def stream_format(argv: Sequence[str]) -> str:
    """The `--progress` format asked for on a command line, found before parsing so parse errors obey it too."""
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith(OPTION + "="):
            value = arg.partition("=")[2]
        elif arg == OPTION and index + 1 < len(argv):
            value = argv[index + 1]
        else:
            continue
        return value if value in FORMATS else "text"
    return "text"


class JsonLines:
    """Writes one JSON object per line to a text handle, from any thread; `finish` writes the last one."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.lock = threading.Lock()
        self.finished = False
        self.outcome: dict[str, Any] | None = None

    def write(self, document: dict[str, Any], *, last: bool = False) -> None:
        with self.lock:
            if self.finished:
                return
            self.handle.write(json.dumps(document) + "\n")
            self.handle.flush()
            self.finished = last

    def progress(self, *, stage: str, message: str, candidate: str | None = None) -> None:
        self.write({"type": "progress", "stage": stage, "message": message, "candidate": candidate})

    def keep_result(self, *, exit_code: int, run_id: str, verdict: str, recommended: str | None) -> None:
        """Hold the audit's result object, written by `finish` once everything else on stderr is through."""
        self.outcome = {"type": "result", "exit_code": exit_code, "run_id": run_id, "verdict": verdict,
                        "recommended": recommended}

    def finish(self, failure: Failure | None) -> None:
        """Write the last line: the failure as an error object, else the kept result (if the audit finished)."""
        if failure is not None:
            self.write({"type": "error", "message": failure.message, "hint": failure.hint,
                        "exit_code": failure.exit_code}, last=True)
        elif self.outcome is not None:
            self.write(self.outcome, last=True)


def forward_lines(read_fd: int, stream: JsonLines) -> None:
    """Each line of text arriving on `read_fd` as a "stderr" progress object, until every writer has closed it."""
    with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as pipe:
        for line in pipe:
            if line.strip():
                stream.progress(stage=STDERR_STAGE, message=line.rstrip("\n"))


@contextmanager
def jsonl_stderr() -> Iterator[JsonLines]:
    """Within the block, stderr (file descriptor 2, so native libraries too) reaches the real stderr as JSON Lines.

    The stream writes to a copy of the original descriptor; descriptor 2 becomes a pipe whose lines a thread
    wraps as "stderr" progress objects. On leaving, descriptor 2 is restored and the pipe drained, so the object
    written after the block (the result or the error) is the last line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    stream = JsonLines(os.fdopen(os.dup(saved), "w", encoding="utf-8"))
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    reader = threading.Thread(target=forward_lines, args=(read_fd, stream), name="mlgate-stderr", daemon=True)
    reader.start()
    try:
        yield stream
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        reader.join(timeout=DRAIN_SECONDS)  # a worker process that inherited the pipe may keep it open
