"""The champion listing gives each entry the status `Registry.entry_status` gives it, in one pass."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from conftest import run_cli

from engine.audit.trail import NewEvent, append
from engine.champion import Registry


def test_the_listing_says_what_entry_status_says_newest_first() -> None:
    entries = [{"run_id": f"run-{n}", "candidate": "m", "seq": n} for n in range(6)]
    registry = Registry("model", stack=[entries[0], entries[2], entries[5]], history=list(entries))
    listing = registry.listing()
    assert [e["seq"] for e in listing] == [5, 4, 3, 2, 1, 0]
    assert [e["status"] for e in listing] == [registry.entry_status(e) for e in reversed(entries)]
    assert [e["status"] for e in listing] == ["champion", "rolled back", "rolled back", "available",
                                              "rolled back", "available"]
    equal_but_not_stacked = Registry("model", stack=[{"seq": 1}], history=[{"seq": 1}])
    assert equal_but_not_stacked.listing()[0]["status"] == "rolled back"  # by identity, as entry_status


def test_the_champion_command_shows_a_page_and_json_holds_every_champion(tmp_path: Path) -> None:
    """Three runs copied from a recorded audit (each promotes its candidate): the table shows the newest `--limit`
    and says how many more there are; the JSON lists all, newest first."""
    fixture = duckdb.connect(str(Path(__file__).parent / "fixtures" / "trail_v0" / "audit.duckdb"), read_only=True)
    recorded = fixture.execute("SELECT kind, body FROM events WHERE kind <> 'trail_created' ORDER BY seq").fetchall()
    fixture.close()
    trail = tmp_path / "audit.duckdb"
    for n in range(3):
        append(trail, [NewEvent(kind, f"run-{n}", json.loads(body)["data"]) for kind, body in recorded])
    shown = run_cli("champion", "--audit-db", trail, "--limit", "2")
    assert shown.returncode == 0, shown.stderr
    assert "run-2" in shown.stdout and "run-1" in shown.stdout and "run-0" not in shown.stdout
    assert "1 earlier champions of" in shown.stdout
    listed = json.loads(run_cli("champion", "--audit-db", trail, "--format", "json").stdout)["models"]
    (entries,) = listed.values()
    assert [(e["run_id"], e["status"]) for e in entries] == [("run-2", "champion"), ("run-1", "available"),
                                                             ("run-0", "available")]
