"""`mlgate show RUN --timings`: where a recorded run's time went, as a table or as JSON.

The run's `run_completed` event holds the stages as they ran (`engine.timings`); this sums them by stage and
candidate and prints them. A run recorded before timings existed, or one that did not complete, has none.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from cli.output import EXIT_OK, print_json, safe, stdout


def recorded_timings(completed: dict[str, Any] | None) -> dict[str, Any] | None:
    """The `timings` of a `run_completed` body, or None when the run has none."""
    timings = (completed or {}).get("timings")
    return timings if isinstance(timings, dict) else None


def timings_json(run_id: str, completed: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON `show --timings --format json` prints: the summed stages and the audit's wall time."""
    from engine.timings import totals

    timings = recorded_timings(completed)
    if timings is None:
        return {"run_id": run_id, "timings": None,
                "reason": "the run recorded no timings (incomplete, or recorded before timings existed)"}
    return {"run_id": run_id, "timings": {"stages": totals(timings["stages"]),
                                          "wall_seconds": timings.get("wall_seconds"),
                                          **({"compute": timings["compute"]} if "compute" in timings else {})}}


def compute_line(compute: dict[str, Any] | None) -> str | None:
    """Where the run's candidates ran, when it was recorded (runs before backends existed ran in process)."""
    if not compute:
        return None
    if compute.get("backend") == "ray":
        return f"candidates ran as Ray tasks ({compute.get('address') or 'local instance'}): stages overlap"
    workers = int(compute.get("workers", 1))
    return "candidates ran in this process" if workers <= 1 else \
        f"candidates ran in {workers} local worker processes: stages overlap, so their sum exceeds the wall time"


def print_timings(run_id: str, completed: dict[str, Any] | None, output_format: str) -> int:
    """Print a run's recorded timings as a table (text) or JSON."""
    document = timings_json(run_id, completed)
    if output_format == "json":
        print_json(document)
        return EXIT_OK
    if document["timings"] is None:
        stdout.print(safe(f"run {run_id}: {document['reason']}"))
        return EXIT_OK
    table = Table(title=safe(f"run {run_id}: where the time went"), title_justify="left")
    for header, justify in (("stage", "left"), ("candidate", "left"), ("seconds", "right")):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for row in document["timings"]["stages"]:
        table.add_row(safe(row["stage"]), safe(row["candidate"] or "—"), f"{row['seconds']:.3f}")
    wall = document["timings"]["wall_seconds"]
    table.add_row("audit (wall, in process)", "", f"{wall:.3f}" if wall is not None else "—")
    stdout.print(table)
    line = compute_line(document["timings"].get("compute"))
    if line:
        stdout.print(safe(line), style="dim")
    return EXIT_OK
