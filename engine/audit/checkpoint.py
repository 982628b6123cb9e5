"""An audit checks the trail before it appends to it, from the last head an audit verified, so corruption is
noticed by the next run rather than at the next full `mlgate verify`.

Every `run_started` event records, under `trail_checked`, the head (log id, sequence number, hash) the audit
verified just before writing it. The next audit reads that head from the newest start (one row), checks it is
still in the chain and walks only what was appended after it (`engine.audit.since.verify_since`, runs index
rows of the runs touched since included), then records the head it verified in turn. The head it starts from is
inside the hash chain: changing it changes its event, which the walk covers. A trail with no such head (written
before this check existed) is walked whole once. A trail that fails the check is not appended to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.audit.since import verify_since
from engine.audit.trail import query_events, reading
from engine.audit.verify import Verification, verify
from engine.errors import TrailError

CHECKED = "trail_checked"
NEWEST_START = "SELECT json_extract(body, '$.data.trail_checked') FROM events WHERE kind = 'run_started' " \
               "ORDER BY seq DESC LIMIT 1"


def last_checked(path: Path) -> dict[str, Any] | None:
    """The head the newest run's audit verified before it started, or None (no run, or an older release's)."""
    with reading(path) as con:
        rows = query_events(con, path, NEWEST_START)
    if not rows or rows[0][0] is None:
        return None
    head = json.loads(str(rows[0][0]))
    return head if isinstance(head, dict) and {"log_id", "seq", "hash"} <= set(head) else None


def check_before_append(path: Path) -> dict[str, Any] | None:
    """Verify what was appended since the last audit's check (everything, without one) and return the head now
    verified, to record in the new run's start; `TrailError` naming the fault when the trail fails the check.
    None when there is no trail yet."""
    if not path.is_file():
        return None
    since = last_checked(path)
    walked: int
    if since is None:
        result: Verification = verify(path)
        walked, why = result.events, None
    else:
        checked = verify_since(path, since)
        result, walked, why = checked.result, checked.walked, checked.head_problem
    why = why or result.problem or result.index_problem
    if why is not None:
        place = f" at sequence {result.bad_seq}" if result.bad_seq is not None and not result.intact else ""
        raise TrailError(f"{path}: the audit trail failed its check{place}: {why}; nothing was appended",
                         hint="`mlgate verify` says more; restore the trail from a backup that extends a published "
                              "head (or, for the runs index only, `mlgate verify --rebuild-index`)")
    return {"log_id": result.log_id, "seq": result.head_seq, "hash": result.head_hash, "walked": walked}
