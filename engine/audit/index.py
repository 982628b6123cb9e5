"""The runs index: one derived row per run, written in the same transaction as the events that change it.

Readers that list runs (`mlgate runs`, the TUI's first page, paging) read these rows instead of every run's
events. A row is a pure function of its run's events (`DERIVE`, one SQL query): its seq range and event count,
start and completion, spec, data, candidates, policies, the recorded verdict, reviewers and counts of sign-offs,
waivers, re-checks, promotions and lapses, and each candidate's *standing*: only what its verdict today depends
on (baseline or not, error, whether its rules were checked, its optimizing metric's value, the rules it did not
pass, its waivers with their dates, its latest sign-off). The verdict itself is not stored: a waiver expires
with the calendar, so it is computed when read, through `engine.decision`, from the row alone (`current`).

The index is never evidence. `append` rewrites the rows of the runs it touches (and `index_meta.through_seq`)
inside its transaction, so a crash or a concurrent writer leaves events and index consistent; the same query
over every run rebuilds it (a trail written before the index existed gets it on its next write, or from
`mlgate verify --rebuild-index`), and `verify` compares every stored row with the query's (`problem`). A reader
that finds no index, or one behind the events (a write by an older mlgate), derives the rows from the events.
These rows are the only ones mlgate ever deletes (to rewrite them); events are never updated or deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from engine import decision as decide

TABLE = "runs_index"
META = "runs_index_meta"
VERSION = 1
BLOCKING = ", ".join(f"'{s}'" for s in sorted(decide.BLOCKING_STATUSES))

CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    run_id VARCHAR NOT NULL, started_seq BIGINT, first_seq BIGINT, last_seq BIGINT, events BIGINT,
    started_at VARCHAR, completed_at VARCHAR, name VARCHAR, data_sha256 VARCHAR, candidates VARCHAR[],
    policies VARCHAR[], metric VARCHAR, fail_on VARCHAR, recorded_verdict VARCHAR, recorded_recommended VARCHAR,
    reviewers VARCHAR[], signoffs BIGINT, waivers BIGINT, rechecks BIGINT, promoted VARCHAR[], lapsed BIGINT,
    standing STRUCT(name VARCHAR, is_baseline BOOLEAN, error VARCHAR, checked BOOLEAN, "value" DOUBLE,
                    open STRUCT(id VARCHAR, policy VARCHAR, severity VARCHAR, status VARCHAR)[],
                    waivers STRUCT(rule_id VARCHAR, policy VARCHAR, "until" VARCHAR, seq BIGINT)[],
                    decision VARCHAR, decided_by VARCHAR)[]
);
CREATE TABLE IF NOT EXISTS {META} (version INTEGER, through_seq BIGINT);
"""
#: The columns in table order: the query below yields them in this order too.
COLUMNS = ("run_id", "started_seq", "first_seq", "last_seq", "events", "started_at", "completed_at", "name",
           "data_sha256", "candidates", "policies", "metric", "fail_on", "recorded_verdict",
           "recorded_recommended", "reviewers", "signoffs", "waivers", "rechecks", "promoted", "lapsed", "standing")

# Each event's few facts, its body parsed once (only the kinds a row reads); then folded per candidate and per run.
PATHS = ("$.data.candidate", "$.data.reviewer", "$.data.decision", "$.data.rule_id", "$.data.policy",
         "$.data.until", "$.data.is_baseline", "$.data.error", "$.data.evidence.metrics", "$.data.outcomes",
         "$.data.verdict", "$.data.recommended", "$.data.spec", "$.data.data.fingerprint.sha256",
         "$.data.policies")
OUTCOME = '[{"id": "VARCHAR", "policy": "VARCHAR", "severity": "VARCHAR", "status": "VARCHAR"}]'
SPEC = ('{"name": "VARCHAR", "candidates": [{"name": "VARCHAR", "calibration": ["VARCHAR"]}], '
        '"evaluation": {"optimizing_metric": "VARCHAR", "fail_on": "VARCHAR"}}')
READ = ("run_started", "candidate_evaluated", "rules_checked", "run_completed", "waiver", "signoff",
        "champion_promoted")
READ_KINDS = ", ".join(f"'{k}'" for k in READ)
#: Parsing a body once for every path a row reads.
EXTRACT = "json_extract(body, [" + ", ".join(f"'{p}'" for p in PATHS) + "])"
#: An event's facts, from `f`: its extracted paths (NULL for the kinds no row reads).
FACT_VALUES = f"""f[1] ->> '$' AS candidate, f[2] ->> '$' AS reviewer,
           f[3] ->> '$' AS decision, f[4] ->> '$' AS rule_id, f[5] ->> '$' AS policy, f[6] ->> '$' AS "until",
           TRY_CAST(f[7] ->> '$' AS BOOLEAN) AS is_baseline, f[8] ->> '$' AS error, f[9] AS metrics,
           CASE WHEN kind = 'rules_checked' THEN list_filter(json_transform(f[10], '{OUTCOME}'),
                                                             lambda o: o.status IN ({BLOCKING})) END AS open,
           f[11] ->> '$' AS verdict, f[12] ->> '$' AS recommended,
           CASE WHEN kind = 'run_started' THEN json_transform(f[13], '{SPEC}') END AS spec,
           f[14] ->> '$' AS data_sha256,
           CASE WHEN kind = 'run_started' THEN list_transform(json_transform(f[15], '[{{"name": "VARCHAR"}}]'),
                                                              lambda p: p.name) END AS policies"""
FACTS = "seq, run_id, kind, recorded_at, " + FACT_VALUES
#: The runs' rows from a relation named `facts` (one row of `FACTS` per event of a run).
ROWS = """starts AS (
    SELECT run_id, arg_min(seq, seq) AS started_seq, arg_min(recorded_at, seq) AS started_at,
           arg_min(spec, seq) AS spec, arg_min(data_sha256, seq) AS data_sha256, arg_min(policies, seq) AS policies
    FROM facts WHERE kind = 'run_started' GROUP BY run_id
), per_candidate AS (
    SELECT run_id, candidate,
           min(seq) FILTER (kind = 'candidate_evaluated') AS first_evaluated,
           arg_max(is_baseline, seq) FILTER (kind = 'candidate_evaluated') AS is_baseline,
           arg_max(error, seq) FILTER (kind = 'candidate_evaluated') AS error,
           arg_max(metrics, seq) FILTER (kind = 'candidate_evaluated') AS metrics,
           bool_or(kind = 'rules_checked') AS checked,
           arg_max(open, seq) FILTER (kind = 'rules_checked') AS open,
           list({'rule_id': rule_id, 'policy': policy, 'until': "until", 'seq': seq} ORDER BY seq)
               FILTER (kind = 'waiver') AS waivers,
           arg_max(decision, seq) FILTER (kind = 'signoff') AS decision,
           arg_max(reviewer, seq) FILTER (kind = 'signoff') AS decided_by
    FROM facts WHERE kind IN ('candidate_evaluated', 'rules_checked', 'waiver', 'signoff')
    GROUP BY run_id, candidate
), standing AS (
    SELECT c.run_id, list({'name': c.candidate, 'is_baseline': c.is_baseline, 'error': c.error,
                            'checked': c.checked,
                            'value': TRY_CAST(json_extract(c.metrics, '$."' || s.spec.evaluation.optimizing_metric
                                                                       || '"') ->> '$' AS DOUBLE),
                            'open': coalesce(c.open, []), 'waivers': coalesce(c.waivers, []),
                            'decision': c.decision, 'decided_by': c.decided_by} ORDER BY c.first_evaluated)
               AS standing
    FROM per_candidate AS c JOIN starts AS s USING (run_id)
    WHERE c.first_evaluated IS NOT NULL GROUP BY c.run_id
), per_run AS (
    SELECT run_id, min(seq) AS first_seq, max(seq) AS last_seq, count(*) AS events,
           arg_max(recorded_at, seq) FILTER (kind = 'run_completed') AS completed_at,
           arg_max(verdict, seq) FILTER (kind = 'run_completed') AS recorded_verdict,
           arg_max(recommended, seq) FILTER (kind = 'run_completed') AS recorded_recommended,
           list_sort(list_distinct(list(reviewer) FILTER (kind IN ('waiver', 'signoff')))) AS reviewers,
           count(*) FILTER (kind = 'signoff') AS signoffs, count(*) FILTER (kind = 'waiver') AS waivers,
           count(*) FILTER (kind = 'recheck') AS rechecks,
           list_sort(list_distinct(list(candidate) FILTER (kind = 'champion_promoted'))) AS promoted,
           count(*) FILTER (kind = 'approval_lapsed') AS lapsed
    FROM facts GROUP BY run_id
)
SELECT s.run_id, s.started_seq, r.first_seq, r.last_seq, r.events, s.started_at, r.completed_at, s.spec.name,
       s.data_sha256,
       flatten(list_transform(s.spec.candidates, lambda c: list_prepend(c.name, list_transform(
           coalesce(c.calibration, []), lambda m: c.name || '.' || m)))) AS candidates,
       coalesce(s.policies, []) AS policies, s.spec.evaluation.optimizing_metric AS metric,
       coalesce(s.spec.evaluation.fail_on, 'block') AS fail_on, r.recorded_verdict, r.recorded_recommended,
       coalesce(r.reviewers, []) AS reviewers, r.signoffs, r.waivers, r.rechecks, coalesce(r.promoted, []) AS promoted,
       r.lapsed, coalesce(st.standing, []) AS standing
FROM starts AS s JOIN per_run AS r USING (run_id) LEFT JOIN standing AS st USING (run_id)
"""
DERIVE = f"""
WITH raw AS NOT MATERIALIZED (  -- the extracted JSON stays transient: only `facts` is kept
    SELECT seq, run_id, kind, recorded_at, CASE WHEN kind IN ({READ_KINDS}) THEN {EXTRACT} END AS f
    FROM events WHERE run_id IS NOT NULL RUNS
), facts AS MATERIALIZED (SELECT {FACTS} FROM raw), {ROWS}
"""
#: The same rows from facts gathered while the chain was walked (`WALKED`, registered by `index_walk`).
WALKED = "walked_facts"
FROM_WALKED = f"WITH facts AS (SELECT * FROM {WALKED}), {ROWS}"
ALL_RUNS = DERIVE.replace("RUNS", "")
SOME_RUNS = DERIVE.replace("RUNS", "AND run_id IN (SELECT unnest(?::VARCHAR[]))")


def exists(con: Any) -> bool:
    """Does this trail hold an index (of this version)?"""
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name IN (?, ?)", [TABLE, META]).fetchone()
    if found is None or int(found[0]) < 2:
        return False
    meta = con.execute(f"SELECT version FROM {META}").fetchall()
    return len(meta) == 1 and meta[0][0] == VERSION


def through(con: Any) -> int | None:
    """The sequence number the index is current through, or None without an index."""
    if not exists(con):
        return None
    return int(con.execute(f"SELECT coalesce(max(through_seq), -1) FROM {META}").fetchall()[0][0])


def head_seq(con: Any) -> int:
    return int(con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchall()[0][0])


def source(con: Any) -> str:
    """What a reader selects runs from: the index when it is current, else the rows derived from the events."""
    return TABLE if through(con) == head_seq(con) else f"({ALL_RUNS})"


def seq_range(con: Any, run_id: str) -> tuple[int, int]:
    """The first and last sequence numbers of a run's events, from its index row when the index is current
    (else, or for a run it has no row for, the whole trail's range: the caller filters by run id anyway)."""
    if through(con) == head_seq(con):
        found = con.execute(f"SELECT first_seq, last_seq FROM {TABLE} WHERE run_id = ?", [run_id]).fetchall()
        if len(found) == 1:
            return int(found[0][0]), int(found[0][1])
    return 0, 2**62


def rebuild(con: Any) -> int:
    """Every row derived again from the events, inside the caller's transaction; returns the number of runs."""
    con.execute(f"DROP TABLE IF EXISTS {TABLE}")
    con.execute(f"DROP TABLE IF EXISTS {META}")
    con.execute(CREATE)
    con.execute(f"INSERT INTO {TABLE} {ALL_RUNS}")
    con.execute(f"INSERT INTO {META} VALUES (?, ?)", [VERSION, head_seq(con)])
    return int(con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0])


def update(con: Any, run_ids: Sequence[str], *, before: int) -> None:
    """Inside `append`'s transaction, after its events went in: rewrite the rows of `run_ids`. An index that
    was not current through `before` (the head before this write; absent, or written past by an older mlgate)
    is rebuilt whole."""
    if through(con) != before:
        rebuild(con)
        return
    if run_ids:
        con.execute(f"DELETE FROM {TABLE} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [list(run_ids)])
        con.execute(f"INSERT INTO {TABLE} {SOME_RUNS}", [list(run_ids)])
    con.execute(f"UPDATE {META} SET through_seq = ?", [head_seq(con)])


# Rows stored but not derived, or derived but not stored (or stored twice): the first run, by start, that differs.
DIFFERS = """
WITH stored AS (SELECT {columns}, count(*) OVER (PARTITION BY run_id) AS copies FROM {table} WHERE true RUNS),
derived AS (DERIVED)
SELECT coalesce(s.run_id, d.run_id), s.run_id IS NULL, d.run_id IS NULL, s.copies, [{names}],
       coalesce(s.started_seq, d.started_seq) AS started
FROM stored AS s FULL OUTER JOIN derived AS d ON s.run_id = d.run_id
WHERE s.run_id IS NULL OR d.run_id IS NULL OR s.copies > 1 OR {differs}
ORDER BY started, 1 LIMIT 1
""".format(columns=", ".join(COLUMNS), table=TABLE,
           names=", ".join(f"CASE WHEN s.{c} IS DISTINCT FROM d.{c} THEN '{c}' END" for c in COLUMNS),
           differs=" OR ".join(f"s.{c} IS DISTINCT FROM d.{c}" for c in COLUMNS))
ONLY = "AND run_id IN (SELECT unnest(?::VARCHAR[]))"
# The events of a batch of runs lie between the least first and the greatest last seq of those runs, as the
# events themselves give them (from the small columns only): a range the scan prunes by, so each batch reads the
# bodies of its own stretch of the trail instead of every body again.
WITHIN = ONLY + " AND seq BETWEEN ? AND ?"
SPANS = "SELECT run_id, min(seq), max(seq) FROM events WHERE run_id IS NOT NULL GROUP BY run_id"
TOUCHED = "SELECT list(DISTINCT run_id) FROM events WHERE seq > ? AND run_id IS NOT NULL"
# Every run the index holds or the events start, in started order (the stored rows' order first).
EVERY_RUN = f"""
SELECT list(run_id ORDER BY started, run_id) FROM (
    SELECT run_id, min(started) AS started FROM (
        SELECT run_id, seq AS started FROM events WHERE kind = 'run_started' AND run_id IS NOT NULL
        UNION ALL SELECT run_id, started_seq FROM {TABLE}) GROUP BY run_id)
"""
RUNS_PER_CHECK = 2500


def problem(con: Any, *, after: int = 0) -> str | None:
    """Why the stored index disagrees with the events, or None when every row is what the events give. With
    `after`, only the rows of runs with events after that sequence number are compared (`verify --since`).
    An absent index is no problem: readers derive the rows, and the next write builds it. (A walk of the whole
    chain compares the rows from the facts it gathered instead: `engine.audit.index_walk`.)"""
    behind = lag(con)
    if behind is not None:
        return behind or None
    runs = con.execute(TOUCHED if after > 0 else EVERY_RUN, [after] if after > 0 else []).fetchall()[0][0] or []
    spans = {run_id: (int(low), int(high)) for run_id, low, high in con.execute(SPANS).fetchall()}
    for first in range(0, len(runs), RUNS_PER_CHECK):  # in started order, a bounded batch of runs at a time
        batch = runs[first:first + RUNS_PER_CHECK]
        held = [spans[run_id] for run_id in batch if run_id in spans]
        low, high = (min(s[0] for s in held), max(s[1] for s in held)) if held else (0, -1)
        found = con.execute(differs(DERIVE.replace("RUNS", WITHIN)), [batch, batch, low, high]).fetchall()
        if found:
            return wording(found[0])
    return None


def lag(con: Any) -> str | None:
    """"" when the index is absent (no problem, nothing to compare), why it is not current through the
    trail's head, or None when it is current."""
    done = through(con)
    if done is None:
        return ""
    if done != head_seq(con):
        return f"the runs index is current through sequence {done}, not the trail's head {head_seq(con)}"
    return None


def differs(derived: str) -> str:
    """The comparison of the stored rows of the runs in the first parameter with `derived` (their rows again)."""
    return DIFFERS.replace("DERIVED", derived).replace("RUNS", ONLY)


def wording(found: tuple[Any, ...]) -> str:
    """What a row of `DIFFERS` says is wrong."""
    run_id, missing, extra, copies, columns, _ = found
    if missing:
        return f"the runs index has no row for run {run_id}"
    if extra:
        return f"the runs index has a row for run {run_id}, which the events do not hold"
    if copies and int(copies) > 1:
        return f"the runs index holds {copies} rows for run {run_id}"
    return f"the runs index row of run {run_id} disagrees with its events ({', '.join(c for c in columns if c)})"


def current(row: dict[str, Any], *, today: date) -> tuple[str, str | None]:
    """(verdict, recommended) of a run today, from its index row alone, decided by `engine.decision` as
    `engine.audit.runs.view` decides them from the events."""
    contenders = []
    for c in row["standing"]:
        outcomes = [decide.Outcome(o["id"], "", o["severity"], "", o["policy"], o["status"], None, None, "")
                    for o in c["open"]]
        waivers = [decide.Waiver(w["rule_id"], w["policy"], "", "", w["until"], int(w["seq"])) for w in c["waivers"]]
        checked = decide.apply_waivers(outcomes, waivers, today=today)
        error = c["error"] or (None if c["checked"] else "its rules were never checked")
        verdict = decide.candidate_verdict(checked, fail_on=str(row["fail_on"]), error=error)
        contenders.append(decide.Contender(c["name"], c["value"], bool(c["is_baseline"]), verdict,
                                           rejected=c["decision"] == decide.REJECT))
    complete = row["completed_at"] is not None
    best = decide.recommend(contenders, metric=str(row["metric"])) if complete else None
    return decide.run_verdict(complete=complete, recommended=best), best
