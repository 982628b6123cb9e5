"""How long a command waits for the trail, and who is holding it: one timeout for every trail access of a command.

A command sets its patience once (`lock_timeout(seconds)`, which the CLI's `--lock-timeout` and `run_audit` do)
and every read and write of the trail inside it waits at most that long, the reads an audit makes mid-run (the
champion lookup, the head its cards name) included. When the wait runs out the caller gets a `TrailBusyError`
(its own exit code, so CI can retry) naming the process holding the lock whenever the operating system says:
DuckDB names it in its lock error, and Linux lists the holder of the writers' sidecar lock in /proc/locks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

LOCK_WAIT_SECONDS = 120.0
PROC_LOCKS = Path("/proc/locks")
DUCKDB_HOLDER = re.compile(r"held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

_patience: ContextVar[float] = ContextVar("mlgate_trail_lock_wait", default=LOCK_WAIT_SECONDS)


@contextmanager
def lock_timeout(seconds: float) -> Iterator[None]:
    """Every trail access inside the block waits at most `seconds` for another process's lock."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


def lock_wait(wait: float | None = None) -> float:
    """`wait` when given, else the patience of the enclosing `lock_timeout` (120 s outside any)."""
    return _patience.get() if wait is None else wait


def holder_from_message(message: str) -> str | None:
    """The process DuckDB names in a lock error ("Conflicting lock is held in PROGRAM (PID N)"), if it does."""
    found = DUCKDB_HOLDER.search(message)
    return f"PID {found['pid']} ({found['program']})" if found else None


def _program(pid: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None


def file_lock_holder(lock_file: Path) -> str | None:
    """The process holding an advisory lock on `lock_file`, from /proc/locks (Linux); None when not known."""
    try:
        inode = os.stat(lock_file).st_ino
        lines = PROC_LOCKS.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and "->" not in fields and fields[5].rsplit(":", 1)[-1] == str(inode):
            pid = fields[4]
            program = _program(pid)
            return f"PID {pid}" + (f" ({program[:80]})" if program else "")
    return None


def held_by(holder: str | None) -> str:
    """The clause that names the holder in a message ("" when the system did not say)."""
    return f", held by {holder}" if holder else ""
