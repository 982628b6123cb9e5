"""The `render` stage: the model cards of a run, rendered from what the trail recorded (never from memory).

A card always matches a recorded audit: the run is read back from the trail after its candidates were
recorded, and each card names the trail's head it was rendered against.
"""

from __future__ import annotations

from pathlib import Path

from engine.audit import runs
from engine.audit.trail import NewEvent, current_head
from engine.cards import write_cards
from engine.decide import CandidateResult


def render_cards(audit_db: Path, run_id: str, results: list[CandidateResult], cards_dir: Path) -> list[NewEvent]:
    """Write every candidate's card (setting `result.card`); returns the `card_written` events to record."""
    record = runs.load_run(audit_db, run_id)
    head = current_head(audit_db)
    events = []
    for result in results:
        written = write_cards(record, result.name, cards_dir, audit_db, trail_head=head)
        result.card = written["path"]
        events.append(NewEvent(runs.CARD_WRITTEN, run_id, written))
    return events
