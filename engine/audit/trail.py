"""Appending to the hash-chained trail and reading it back, one short DuckDB connection at a time.

Each row stores the canonical JSON text of its event (`body`: sequence number, previous hash, time, run id,
kind and data) and the SHA-256 of exactly that text. The sequence number is the primary key, so two writers
can never fork the chain: each appends inside one transaction that reads the head and inserts after it.
DuckDB locks the file against every other process while it is open read-write (readers included), so writers
queue on a sidecar lock file (`audit.duckdb.lock`) with a timeout, with DuckDB's own lock as the backstop, and
readers open read-only per query, with file-system access switched off, close at once and retry on the lock.
Every wait is bounded by the command's one lock timeout (engine.audit.locks); running out of it raises
`TrailBusyError`, naming the holder when the operating system says.
Each append also rewrites, in its transaction, the runs index rows of the runs it touches (engine.audit.index).
There is no update or delete path for events in this code.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock
from filelock import Timeout as FileLockTimeout

from engine.audit import index
from engine.audit.locks import LOCK_WAIT_SECONDS as LOCK_WAIT_SECONDS
from engine.audit.locks import file_lock_holder, held_by, holder_from_message, lock_wait
from engine.canonical import canonical_json, jsonable, sha256_text
from engine.errors import TrailBusyError, TrailError

DEFAULT_AUDIT_DB = Path("audit_log") / "audit.duckdb"
GENESIS_HASH = "0" * 64
CREATION_WAIT_SECONDS = 2.0  # another process may be creating the file at this moment: brief retries
TRAIL_CREATED = "trail_created"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT PRIMARY KEY,
    recorded_at VARCHAR NOT NULL,
    run_id VARCHAR,
    kind VARCHAR NOT NULL,
    body VARCHAR NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
)
"""
COLUMNS = "seq, recorded_at, run_id, kind, body, prev_hash, hash"
ROWS_PER_INSERT = 500


@dataclass(frozen=True)
class NewEvent:
    """An event to append: its kind, the run it belongs to (if any) and its JSON data."""

    kind: str
    run_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Event:
    """A stored event, as read back."""

    seq: int
    recorded_at: str
    run_id: str | None
    kind: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: What a file that is not a DuckDB database is, from its first bytes (said when --audit-db names one).
FILE_KINDS = (
    (b"SQLite format 3\0", "a SQLite database"), (b"PAR1", "a Parquet file"), (b"PK\x03\x04", "a zip archive"),
    (b"\x80", "a Python pickle"), (b"{", "a JSON document"), (b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF"),
)
DUCKDB_MAGIC = b"DUCK"


def file_kind(path: Path) -> str | None:
    """What `path` is when its first bytes say it is not a DuckDB database ("a SQLite database"), else None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    if not head or head[8:12] == DUCKDB_MAGIC:
        return None
    kind = next((name for magic, name in FILE_KINDS if head.startswith(magic)), None)
    if kind is None:
        kind = "a text file" if all(32 <= b < 127 or b in b"\t\r\n" for b in head) else "not a known format"
    return kind


def not_a_trail(path: Path, kind: str) -> TrailError:
    return TrailError(f"{path}: not an audit trail: it is {kind}, not a DuckDB database",
                      hint="--audit-db names the trail's DuckDB file")


def _is_lock_error(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def _connect(path: Path, *, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """Open the trail, waiting (with jittered back-off) while another process holds its lock."""
    started = time.monotonic()
    deadline = started + wait
    delay = 0.02
    holder = None
    while True:
        try:
            if read_only:  # queries and exports never reach other files through SQL
                con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
                con.execute("SET enable_progress_bar = false")  # never draw on a terminal a TUI owns
                return con
            return duckdb.connect(str(path))
        except duckdb.Error as exc:
            creating = time.monotonic() < started + min(wait, CREATION_WAIT_SECONDS)
            kind = None if _is_lock_error(exc) else file_kind(path)
            if kind is not None:
                raise not_a_trail(path, kind) from None
            if not _is_lock_error(exc) and not creating:
                raise TrailError(f"{path}: cannot open the audit trail: {str(exc).splitlines()[0]}") from None
            holder = holder_from_message(str(exc)) or holder
            if time.monotonic() >= deadline:
                raise TrailBusyError(
                    f"{path}: the audit trail stayed locked by another process for {wait:g}s{held_by(holder)}",
                    hint="another mlgate process is writing; try again, or allow longer with --lock-timeout",
                ) from None
        time.sleep(delay * (1 + random.random()))  # noqa: S311 (jitter, not security)
        delay = min(delay * 2, 1.0)


@contextmanager
def reading(path: Path, *, wait: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for one query, closed at once (waiting at most the command's lock timeout)."""
    if not path.is_file():
        raise TrailError(f"{path}: no audit trail here", hint="run `mlgate audit` first or pass --audit-db")
    con = _connect(path, read_only=True, wait=lock_wait(wait))
    try:
        yield con
    finally:
        con.close()


def _event_body(seq: int, prev_hash: str, event: NewEvent, recorded_at: str) -> str:
    return canonical_json(
        {
            "seq": seq,
            "prev_hash": prev_hash,
            "recorded_at": recorded_at,
            "run_id": event.run_id,
            "kind": event.kind,
            "data": jsonable(event.data),
        }
    )


@contextmanager
def _writer_turn(path: Path, wait: float) -> Iterator[float]:
    """Wait for this process's turn to write (the sidecar lock); yields the seconds of patience left."""
    started = time.monotonic()
    try:
        with FileLock(f"{path}.lock", timeout=wait):
            yield max(wait - (time.monotonic() - started), 1.0)
    except FileLockTimeout:
        holder = file_lock_holder(Path(f"{path}.lock"))
        raise TrailBusyError(
            f"{path}: another mlgate process kept the audit trail busy for {wait:g}s{held_by(holder)}",
            hint="try again, or allow longer with --lock-timeout",
        ) from None


def append(path: Path, events: Sequence[NewEvent], *, wait: float | None = None) -> str:
    """Append `events` in one transaction after the current head; return the new head hash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _writer_turn(path, lock_wait(wait)) as patience:
        return _append_locked(path, events, patience)


def _append_locked(path: Path, events: Sequence[NewEvent], wait: float) -> str:
    kind = file_kind(path) if path.exists() else None  # checked in our turn: no mlgate process is creating it
    if kind is not None:
        raise not_a_trail(path, kind)
    with _transaction(path, wait, "append to the audit trail") as con:
        con.execute(CREATE_TABLE)
        head = con.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
        pending = list(events)
        if head is None:
            pending.insert(0, NewEvent(TRAIL_CREATED, None, {"log_id": uuid.uuid4().hex}))
        rows = []
        for event in pending:
            seq += 1
            recorded_at = now_utc()
            body = _event_body(seq, prev_hash, event, recorded_at)
            digest = sha256_text(body)
            rows.append((seq, recorded_at, event.run_id, event.kind, body, prev_hash, digest))
            prev_hash = digest
        for first in range(0, len(rows), ROWS_PER_INSERT):  # a few statements, not one per row (executemany)
            part = rows[first:first + ROWS_PER_INSERT]
            con.execute(f"INSERT INTO events ({COLUMNS}) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(part)),
                        [value for row in part for value in row])
        touched = list(dict.fromkeys(e.run_id for e in pending if e.run_id is not None))
        index.update(con, touched, before=int(head[0]) if head else 0)  # the runs index moves with the events
    return prev_hash


@contextmanager
def _transaction(path: Path, wait: float, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection in one transaction, committed when the block ends, closed in any case."""
    con = _connect(path, read_only=False, wait=wait)
    try:
        con.execute("BEGIN TRANSACTION")
        yield con
        con.execute("COMMIT")
    except duckdb.Error as exc:
        raise TrailError(f"{path}: could not {what}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def rebuild_index(path: Path, *, wait: float | None = None) -> int:
    """Derive the runs index again from the events (in one transaction, in the writers' turn); returns its rows."""
    if not path.is_file():
        raise TrailError(f"{path}: no audit trail here", hint="run `mlgate audit` first or pass --audit-db")
    with _writer_turn(path, lock_wait(wait)) as patience, _transaction(path, patience, "rebuild the runs index") as con:
        query_events(con, path, "SELECT count(*) FROM events")
        return index.rebuild(con)


def event_of(row: tuple[Any, ...]) -> Event:
    """An `Event` from a row of the trail read in `COLUMNS` order."""
    seq, recorded_at, run_id, kind, body, prev_hash, digest = row
    return Event(int(seq), recorded_at, run_id, kind, json.loads(body)["data"], prev_hash, digest)


def event_filter(run_id: str | None, kinds: Sequence[str]) -> tuple[str, list[object]]:
    """The WHERE clause (or nothing) and its parameters selecting events of one run and of some kinds."""
    where: list[str] = []
    params: list[object] = []
    if run_id is not None:
        where.append("run_id = ?")
        params.append(run_id)
    if kinds:
        where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        params.extend(kinds)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def read_events(path: Path, *, run_id: str | None = None, kinds: Sequence[str] = ()) -> list[Event]:
    """Stored events in sequence order, optionally of one run and of some kinds."""
    clause, params = event_filter(run_id, kinds)
    with reading(path) as con:
        rows = query_events(con, path, f"SELECT {COLUMNS} FROM events {clause} ORDER BY seq", params)
    return [event_of(row) for row in rows]


def query_events(con: duckdb.DuckDBPyConnection, path: Path, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run a query over the events table; a DuckDB file without one is not an mlgate trail."""
    try:
        return con.execute(sql, list(params)).fetchall()
    except duckdb.CatalogException:
        raise TrailError(f"{path}: not an mlgate audit trail (no events table)") from None


def current_head(path: Path) -> dict[str, Any]:
    """The sequence number and hash of the newest event ({"seq": 0, "hash": genesis} for an empty trail)."""
    with reading(path) as con:
        rows = query_events(con, path, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
    return {"seq": int(rows[0][0]), "hash": str(rows[0][1])} if rows else {"seq": 0, "hash": GENESIS_HASH}
