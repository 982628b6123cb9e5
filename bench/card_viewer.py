"""The TUI's card viewer, timed: seconds from opening a model card to its first picture, the whole card in one
Markdown widget (as the viewer drew it before) against the contents and one section (as it draws it now).

Run `.venv/bin/python bench/card_viewer.py [CARD.md]`; without a card, one is written by a quick-mode
`mlgate audit` of a seeded 3,000-row sample of Adult. Both are drawn in one process, in Textual's headless
test driver at 120x40, `--repeat` times each (the median is printed), with the load average.

A benchmark, not a test: nothing here is collected by pytest, and nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from textual.app import App, ComposeResult
from textual.widgets import Markdown

from tui.screens.card import CardScreen

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "examples" / "adult" / "adult.parquet"


def write_card(folder: Path) -> Path:
    """A real card: a quick-mode audit of 3,000 Adult rows; the Markdown card of its first non-baseline model."""
    data = folder / "adult.parquet"
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT * FROM read_parquet(?) USING SAMPLE 3000 ROWS (reservoir, 7)) TO '{data}' "
                    "(FORMAT parquet)", [str(ADULT)])
    finally:
        con.close()
    subprocess.run([sys.executable, "-m", "cli", "audit", "--data", str(data), "--target", "income",
                    "--positive", ">50K", "--audit-db", str(folder / "audit.duckdb"),
                    "--cards-dir", str(folder / "cards")],
                   cwd=ROOT, check=False, capture_output=True)
    cards = sorted(p for p in (folder / "cards").rglob("*.md") if p.parent.name != "hf" and "baseline" not in p.name)
    if not cards:
        raise SystemExit("the audit wrote no Markdown card")
    return cards[0]


class Whole(App[None]):
    """The card in one Markdown widget: what the viewer did before."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seconds = text, 0.0

    def compose(self) -> ComposeResult:
        yield Markdown(id="card")

    async def on_mount(self) -> None:
        started = time.perf_counter()
        await self.query_one(Markdown).update(self.text)
        self.seconds = time.perf_counter() - started


async def whole(text: str) -> float:
    app = Whole(text)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return app.seconds


async def sectioned(card: Path) -> float:
    app: App[None] = App()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CardScreen(card.stem, card)
        await app.push_screen(screen)
        while screen.opened_seconds is None:
            await pilot.pause(0.01)
        return screen.opened_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        card = args.card or write_card(Path(folder))
        text = card.read_text(encoding="utf-8")
        before = [asyncio.run(whole(text)) for _ in range(args.repeat)]
        now = [asyncio.run(sectioned(card)) for _ in range(args.repeat)]
    old, new = statistics.median(before), statistics.median(now)
    print(f"card: {len(text.splitlines())} lines, {len(text):,} characters")
    print(f"whole card drawn:          {old:.3f} s (median of {args.repeat})")
    print(f"contents + first section:  {new:.3f} s (median of {args.repeat})")
    print(f"ratio (whole / sectioned): {old / new:.1f}x")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
