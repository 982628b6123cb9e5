"""Model cards from recorded evidence: one card document per candidate, rendered as Markdown, HTML and JSON, and
as the cards other tools read (Model Card Toolkit JSON, a Hugging Face README, a CycloneDX ML BOM)."""

from engine.cards.files import DEFAULT_CARDS_DIR, FORMATS, card_path, render_card, write_cards
from engine.cards.markup import code, md

__all__ = ["DEFAULT_CARDS_DIR", "FORMATS", "card_path", "code", "md", "render_card", "write_cards"]
