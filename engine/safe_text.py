"""Making untrusted text safe for where it is shown: one rule set, one small function per target.

Model, column, group and rule names, reviewers' reasons and error messages come from files and people mlgate
does not control, and each is shown somewhere that could act on it: a terminal runs escape sequences, Markdown
and HTML turn characters into markup, a spreadsheet runs a cell that starts like a formula, matplotlib reads
`$...$` as mathtext. Every target starts from the same table of dangerous characters (`CONTROL_CHARACTERS`)
and adds its own specials; each variant below says what it does with both, so a new front end or output format
picks a variant instead of writing a fourth sanitiser.

The engine is headless: this module imports neither rich, click nor textual. The front ends wrap its plain
strings in Rich `Text` (never parsed as markup): `cli_output.safe_text` and `tui.text.literal`.
"""

from __future__ import annotations

import html
import re
from typing import Any

#: The one table of what is dangerous in untrusted text: the code points that act on whatever shows the text
#: instead of being shown. C0 controls (ESC starts every terminal escape sequence, among them OSC 8 hyperlinks
#: and title changes; CR and BS overwrite what was written; BEL rings), DEL, and C1 controls (CSI, OSC, ST: the
#: eight-bit forms of the same escape sequences), and the bidirectional embedding, override and isolate controls
#: (U+202A-U+202E, U+2066-U+2069: they reorder what follows them, so `show` or a card could display text in an
#: order other than the one recorded, the "Trojan Source" trick).
BIDI_CONTROLS: frozenset[str] = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
CONTROL_CHARACTERS: frozenset[str] = frozenset(
    chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))
) | BIDI_CONTROLS
#: The controls that only lay text out (tab and line feed), kept by the targets that show several lines.
LAYOUT: frozenset[str] = frozenset("\t\n")
#: What a dangerous character becomes where it is replaced rather than spelled out.
REPLACEMENT = "\ufffd"

#: Per-target specials.
MARKDOWN_SPECIAL: frozenset[str] = frozenset("\\`*_[]<>|#")
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")  # OWASP's CSV injection list
FORMULA_GUARD = "'"
MATHTEXT = "$"

_INERT = {ord(ch): REPLACEMENT for ch in CONTROL_CHARACTERS}
_INERT_KEEPING_LAYOUT = {code: to for code, to in _INERT.items() if chr(code) not in LAYOUT}
_JSON_ESCAPES = {ord(ch): f"\\u{ord(ch):04x}" for ch in CONTROL_CHARACTERS - LAYOUT}
_MARKDOWN = re.compile("([" + re.escape("".join(sorted(MARKDOWN_SPECIAL))) + "])")


def has_control_characters(text: str) -> bool:
    """Whether `text` holds any character of the table (for checks that refuse such text instead of showing it)."""
    return any(ch in CONTROL_CHARACTERS for ch in text)


def inert(text: object, *, keep_layout: bool = False) -> str:
    """`text` with every control character replaced by U+FFFD (tab and line feed kept when `keep_layout`)."""
    return str(text).translate(_INERT_KEEPING_LAYOUT if keep_layout else _INERT)


def one_line(text: object) -> str:
    """`text` on one line: every run of whitespace (line breaks and tabs among them) becomes one space."""
    return " ".join(str(text).split())


def terminal_text(text: object) -> str:
    """For the CLI's output: control characters replaced by U+FFFD, so none reaches the terminal; tab and line
    feed kept. Rich markup is not this function's concern: the CLI passes the result to Rich as `Text`."""
    return inert(text, keep_layout=True)


def screen_text(text: object) -> str:
    """For the TUI's screens: every control character, and every other character a screen would not show
    (format characters, separators other than the space, unassigned code points), written as its Python escape
    (`\\x1b`, `\\n`, `\\u202e`), so the text is shown as the characters it is made of and nothing is lost."""
    return "".join(ch if ch == " " or (ch not in CONTROL_CHARACTERS and ch.isprintable())
                   else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


def json_document(text: str) -> str:
    """For a JSON document shown on a terminal (`--format json`, a JSON card to stdout): every dangerous character
    JSON leaves raw (DEL, C1 and bidi controls; it already escapes C0 inside strings) written as its `\\uXXXX`
    escape, which a JSON reader turns back into the same character: the document means exactly the same."""
    return text.translate(_JSON_ESCAPES)


def markdown_text(text: object) -> str:
    """For Markdown prose and table cells: on one line, control characters replaced, and every character
    Markdown reads as markup (emphasis, links, code, HTML, table cells, headings) escaped with a backslash."""
    return _MARKDOWN.sub(r"\\\1", inert(one_line(text)))


def markdown_code(text: object) -> str:
    """An identifier (column, parameter, rule id) as a Markdown inline code span: on one line, control characters
    replaced, a backtick (which would end the span) written as `'` and `|` escaped (which would end a table cell)."""
    return "`" + inert(one_line(text)).replace("`", "'").replace("|", "\\|") + "`"


def html_text(text: object) -> str:
    """For HTML text and attribute values: control characters replaced (tab and line feed kept), `&`, `<`, `>`
    and both quotes written as character references."""
    return html.escape(inert(text, keep_layout=True), quote=True)


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet would evaluate as a formula (it starts with `=`, `+`, `-`, `@`, tab or CR), made
    inert with a leading apostrophe (OWASP's advice); every other value, and every other character, is kept as
    recorded, since an export must say exactly what the trail holds."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return FORMULA_GUARD + value
    return value


def figure_label(text: object) -> str:
    """For a matplotlib label: control characters replaced (tab and line feed too: a label is one line) and every
    `$` escaped, so recorded text never starts mathtext."""
    return inert(text).replace(MATHTEXT, "\\" + MATHTEXT)
