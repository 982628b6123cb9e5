"""Writing cards: every format of one candidate's card, each file written beside its final name and renamed.

A card lives under CARDS_DIR/RUN/ and nowhere else (run ids and candidate names are checked, so a recorded
name cannot steer a write outside the folder): mlgate's own cards as CANDIDATE.{md,html,json}, the cards other
tools read (Model Card Toolkit JSON, Hugging Face README, CycloneDX BOM) in a folder per format (`LAYOUT`), so
no candidate's name can collide with another's file. The `card_written` event records each file's SHA-256, the
trail head the card was generated at, and the cards folder relative to the trail's folder, so a trail and its
cards can move together.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.audit.runs import RunRecord
from engine.canonical import sha256_text
from engine.cards.cyclonedx import render_cyclonedx
from engine.cards.document import card_document
from engine.cards.hf import render_hf
from engine.cards.html import render_html
from engine.cards.markdown import render_markdown
from engine.cards.mct import render_mct
from engine.errors import WriteError
from engine.safe_text import json_document

DEFAULT_CARDS_DIR = Path("model_cards")
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
CANDIDATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def render_json(card: dict[str, Any]) -> str:
    """The card as JSON; a recorded control or bidi character is kept, escaped (`\\u202e`), never raw."""
    return json_document(json.dumps(card, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "md": render_markdown,
    "html": render_html,
    "json": render_json,
    "mct": render_mct,
    "hf": render_hf,
    "cyclonedx": render_cyclonedx,
}
FORMATS = tuple(RENDERERS)
# Where each format of a candidate's card lives in its run's folder.
LAYOUT = {
    "md": "{candidate}.md",
    "html": "{candidate}.html",
    "json": "{candidate}.json",
    "mct": "mct/{candidate}.json",
    "hf": "hf/{candidate}/README.md",
    "cyclonedx": "cyclonedx/{candidate}.cdx.json",
}


def card_path(cards_dir: Path, run_id: str, candidate: str, fmt: str = "md") -> Path:
    """Where one format of the card of a candidate of a run lives."""
    if not RUN_ID.match(run_id) or not CANDIDATE_NAME.match(candidate) or candidate in (".", ".."):
        raise ValueError(f"not a run id and candidate name a card can be written for: {run_id!r}, {candidate!r}")
    return cards_dir.resolve() / run_id / LAYOUT[fmt].format(candidate=candidate)


def render_card(record: RunRecord, candidate: str, fmt: str, *, trail_head: dict[str, Any]) -> str:
    """One format of the card of `candidate`, from the recorded run alone."""
    return RENDERERS[fmt](card_document(record, candidate, trail_head=trail_head))


def write_file(path: Path, text: str, *, what: str = "file") -> None:
    """Write beside the final name, then rename: a reader never sees half a card. On an I/O error (a full disk)
    the scratch file is removed and a `WriteError` names the path and the cause."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise WriteError.of(path, exc, what) from None


def write_cards(record: RunRecord, candidate: str, cards_dir: Path, audit_db: Path, *,
                trail_head: dict[str, Any]) -> dict[str, Any]:
    """Write every format of one candidate's card; the data of its `card_written` event."""
    document = card_document(record, candidate, trail_head=trail_head)
    files = {}
    for fmt, render in RENDERERS.items():
        path = card_path(cards_dir, record.run_id, candidate, fmt)
        text = render(document)
        write_file(path, text, what="card")
        files[fmt] = {"path": str(path), "sha256": sha256_text(text)}
    relative = os.path.relpath(cards_dir.resolve(), audit_db.resolve().parent)
    return {"candidate": candidate, "path": files["md"]["path"], "files": files, "cards_dir": relative,
            "trail_head": trail_head}
