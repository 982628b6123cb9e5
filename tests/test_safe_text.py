"""The one rule set for untrusted text (engine.safe_text) and the one SHA-256 helper (engine.canonical).

Every variant is fed hostile text (terminal escape sequences, OSC 8 hyperlinks, C1 controls, Rich markup,
Markdown and HTML injection, spreadsheet formulas, mathtext) and checked against the exact text it must give.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from engine.canonical import CHUNK_BYTES, digest, sha256_bytes, sha256_file, sha256_text
from engine.safe_text import (
    BIDI_CONTROLS,
    CONTROL_CHARACTERS,
    LAYOUT,
    csv_cell,
    figure_label,
    has_control_characters,
    html_text,
    inert,
    json_document,
    markdown_code,
    markdown_text,
    screen_text,
    terminal_text,
)

ROOT = Path(__file__).resolve().parents[1]
R = "\ufffd"
ANSI = "\x1b[31mred\x1b[0m"
OSC8 = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
C1_CSI = "\x9b2J"
MARKUP = "[bold red]x[/]"
SCRIPT = "<script>alert(1)</script>"


def test_the_table_is_c0_del_c1_and_the_bidi_controls() -> None:
    bidi = {chr(c) for c in range(0x202A, 0x202F)} | {chr(c) for c in range(0x2066, 0x206A)}
    assert bidi == BIDI_CONTROLS and len(bidi) == 9
    assert {chr(c) for c in range(0x20)} | {"\x7f"} | {chr(c) for c in range(0x80, 0xA0)} | bidi == CONTROL_CHARACTERS
    assert {"\t", "\n"} == LAYOUT and LAYOUT <= CONTROL_CHARACTERS
    assert " " not in CONTROL_CHARACTERS and "\xa0" not in CONTROL_CHARACTERS


@pytest.mark.parametrize(("text", "expected"), [
    ("ann\x1b[31m", True), (C1_CSI, True), ("a\x7fb", True), ("a\tb", True), ("a\rb", True), ("bell\x07", True),
    ("Ann O'Neil, naïve 名前 [x]", False), ("", False), ("\u202e", True), ("\u2069", True),
])
def test_has_control_characters_checks_the_same_table(text: str, expected: bool) -> None:
    assert has_control_characters(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    (ANSI, f"{R}[31mred{R}[0m"),
    (OSC8, f"{R}]8;;https://evil.example{R}\\click{R}]8;;{R}\\"),
    (C1_CSI, f"{R}2J"),
    ("a\x85b\x7fc", f"a{R}b{R}c"),
    ("title\x1b]0;owned\x07", f"title{R}]0;owned{R}"),
    ("over\rwrite\x08", f"over{R}write{R}"),
    ("a\tb\nc", "a\tb\nc"),  # layout kept
    (MARKUP, MARKUP),  # markup is Rich's concern: the CLI passes this to Rich as Text
    ("naïve 名前 \u00a0x", "naïve 名前 \u00a0x"),
    (42, "42"),
])
def test_terminal_text(text: object, expected: str) -> None:
    assert terminal_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (ANSI, "\\x1b[31mred\\x1b[0m"),
    (OSC8, "\\x1b]8;;https://evil.example\\x1b\\click\\x1b]8;;\\x1b\\"),
    (C1_CSI, "\\x9b2J"),
    ("a\tb\nc\rd\x07", "a\\tb\\nc\\rd\\x07"),
    ("right\u202eleft\u200b", "right\\u202eleft\\u200b"),  # invisible characters a screen would not show
    ("a\xa0b", "a\\xa0b"),
    (MARKUP, MARKUP),
    ("naïve 名前 x", "naïve 名前 x"),
])
def test_screen_text_spells_out_what_it_escapes(text: str, expected: str) -> None:
    assert screen_text(text) == expected
    assert all(ch.isprintable() for ch in screen_text(text))
    if "\\" not in text and text.isascii():
        assert expected.encode().decode("unicode_escape") == text  # nothing lost: the escapes spell it out


@pytest.mark.parametrize(("text", "expected"), [
    (MARKUP, "\\[bold red\\]x\\[/\\]"),
    (SCRIPT, "\\<script\\>alert(1)\\</script\\>"),
    ("a | b", "a \\| b"),
    ("# heading", "\\# heading"),
    ("*x* _y_ `z`", "\\*x\\* \\_y\\_ \\`z\\`"),
    ("[link](javascript:alert(1))", "\\[link\\](javascript:alert(1))"),
    ("back\\slash", "back\\\\slash"),
    ("line one\nline two\t\tend\r\n", "line one line two end"),
    (ANSI, f"{R}\\[31mred{R}\\[0m"),
    (OSC8, f"{R}\\]8;;https://evil.example{R}\\\\click{R}\\]8;;{R}\\\\"),
    (C1_CSI, f"{R}2J"),
    ("plain text, 3.5%", "plain text, 3.5%"),
])
def test_markdown_text(text: str, expected: str) -> None:
    assert markdown_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("capital-gain", "`capital-gain`"),
    ("a`b|c", "`a'b\\|c`"),
    (SCRIPT, f"`{SCRIPT}`"),
    ("two\nlines", "`two lines`"),
    ("\x1b[2Jx", f"`{R}[2Jx`"),
    (MARKUP, f"`{MARKUP}`"),
])
def test_markdown_code(text: str, expected: str) -> None:
    assert markdown_code(text) == expected


def test_markdown_variants_render_as_text_in_a_table_cell() -> None:
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    row = f"| {markdown_text(SCRIPT + ' | x')} | {markdown_code('<b>|</b>')} |"
    page = parser.render(f"| a | b |\n| --- | --- |\n{row}\n")
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | x" in page and "<code>&lt;b&gt;|&lt;/b&gt;</code>" in page
    assert page.count("<td>") == 2, "a | in the text did not open a third cell"


@pytest.mark.parametrize(("text", "expected"), [
    (SCRIPT, "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("\"onmouseover='x'", "&quot;onmouseover=&#x27;x&#x27;"),
    ("fish & chips", "fish &amp; chips"),
    (ANSI, f"{R}[31mred{R}[0m"),
    ("a\tb\nc", "a\tb\nc"),
    (MARKUP, MARKUP),
])
def test_html_text(text: str, expected: str) -> None:
    assert html_text(text) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("a=b", "a=b"),
    ("plain", "plain"),
    ("", ""),
    ("keeps\x1b[31m as recorded", "keeps\x1b[31m as recorded"),
    (-1, -1),
    (-1.5, -1.5),
    (None, None),
])
def test_csv_cell(value: object, expected: object) -> None:
    assert csv_cell(value) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("$x$", "\\$x\\$"),
    ("$\\frac{1}{0}$", "\\$\\frac{1}{0}\\$"),
    ("a\x1b[31mred", f"a{R}[31mred"),
    ("two\nlines\tand tab", f"two{R}lines{R}and tab"),
    (C1_CSI, f"{R}2J"),
    (MARKUP, MARKUP),
])
def test_figure_label(text: str, expected: str) -> None:
    assert figure_label(text) == expected


VARIANTS: dict[str, tuple[Callable[[object], str], frozenset[str]]] = {
    "terminal": (terminal_text, LAYOUT),
    "screen": (screen_text, frozenset()),
    "markdown": (markdown_text, frozenset()),
    "markdown code": (markdown_code, frozenset()),
    "html": (html_text, LAYOUT),
    "figure": (figure_label, frozenset()),
    "inert": (inert, frozenset()),
    "json document": (json_document, LAYOUT),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_variant_lets_a_control_character_through(variant: str) -> None:
    function, kept = VARIANTS[variant]
    for ch in sorted(CONTROL_CHARACTERS):
        shown = function(f"x{ch}y")
        assert not set(shown) & (CONTROL_CHARACTERS - kept), (variant, hex(ord(ch)), shown)


def test_the_rule_set_is_headless() -> None:
    code = "import sys, engine.safe_text; print(sorted(m for m in ('rich', 'click', 'textual') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]"


def test_sha256_of_bytes_and_text_is_hashlibs() -> None:
    for data in (b"", b"mlgate", bytes(range(256)) * 7):
        assert sha256_bytes(data) == hashlib.sha256(data).hexdigest()
    assert sha256_text("naïve 名前") == hashlib.sha256("naïve 名前".encode()).hexdigest()
    assert digest({"b": 1, "a": [1.0, None]}) == sha256_text('{"a":[1.0,null],"b":1}')


def test_sha256_of_a_file_is_streamed_and_is_hashlibs(tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == expected
    assert sha256_file(path, chunk_bytes=4099) == expected
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()
    with pytest.raises(OSError):
        sha256_file(tmp_path / "absent")


def _sources() -> dict[str, str]:
    return {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
            for folder in ("engine", "tui", "cli") for path in (ROOT / folder).rglob("*.py")}


def test_one_sha256_helper() -> None:
    hashing = {path for path, text in _sources().items() if "hashlib" in text}
    assert hashing == {"engine/canonical.py"}


def test_one_rule_set_for_untrusted_text() -> None:
    marker = re.compile(r"\b0x7[Ff]\b|isprintable|html\.escape|unicode_escape|\\ufffd|\ufffd")
    own = {path for path, text in _sources().items() if marker.search(text)}
    assert own == {"engine/safe_text.py"}
