"""Model cards from recorded evidence: one card document per candidate, rendered as Markdown, HTML and JSON."""

from engine.cards.files import DEFAULT_CARDS_DIR, FORMATS, card_path, render_card, write_cards
from engine.cards.markup import code, md

__all__ = ["DEFAULT_CARDS_DIR", "FORMATS", "card_path", "code", "md", "render_card", "write_cards"]
