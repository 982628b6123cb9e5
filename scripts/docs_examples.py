"""The guides' command examples, run for real so the documentation cannot drift from the product.

A guide shows a session as a ```` ```console ```` block: a line starting with `$ ` is a command (a trailing `\\`
continues it), the lines after it are what it prints (stderr and stdout, in order). `tests/test_docs.py` runs
every such block of `GUIDES`, in order, in a sandbox per entry of `SESSIONS`: a git repository holding
`examples/` and `policies/` of this checkout, with `examples/adult/adult.parquet` replaced by the test suite's
3,000-row sample of the Adult data (`tests/conftest.py`), so an audit takes seconds, not minutes. `mlgate` is
this checkout's, `python` the interpreter running the test; the terminal is 120 columns wide, without colour.

What a documented output may leave open, since it changes from run to run:
- a line that is only `…` stands for any number of lines; `…` inside a line for any text;
- run ids, SHA-256 prefixes (12+ hex digits) and timestamps match any value of their kind; a run id in a command
  is replaced by the id that the run got in this session (paired by order of appearance in the outputs).
`$?` in a command is the exit code of the command before it.

`python -m scripts.docs_examples` runs the guides and rewrites each output that no longer matches with what the
command printed now (outputs that match, abridgements included, are kept); review the diff, then abridge.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Each tuple runs in its own sandbox, in order (the review and compliance guides go on from the Getting started
# audit); the CI guide makes its own audit, so the two sessions can run in parallel (`pytest -n 2`).
SESSIONS = (("getting-started.md", "guides/review.md", "guides/compliance.md"), ("guides/ci.md",))
GUIDES = tuple(page for session in SESSIONS for page in session)
SAMPLE_ROWS = 3000  # the sample of tests/conftest.py
COLUMNS = "120"
BLOCK = re.compile(r"^```console\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
RUN_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b")
VARIABLE = ((re.compile(r"\b[0-9a-f]{12,64}\b"), "<sha>"),
            (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?"), "<time>"))
ANY = "…"
# `mlgate` exactly as `python -m cli` runs it.
CLI = "from cli.main import run; run()"


@dataclass(frozen=True)
class Example:
    """One command of a guide and the output the guide shows for it."""

    page: str
    command: str
    expected: str


@dataclass
class Session:
    """The sandbox the guides run in, and what the runs so far have told us."""

    folder: Path
    bin_dir: Path
    run_ids: dict[str, str] = field(default_factory=dict)
    last_code: int = 0


def examples(page: str, text: str | None = None) -> list[Example]:
    """The commands of every console block of `page` (relative to docs/), in order."""
    source = (DOCS / page).read_text(encoding="utf-8") if text is None else text
    found: list[Example] = []
    for block in BLOCK.finditer(source):
        command: list[str] = []
        output: list[str] = []
        for line in block.group(1).splitlines():
            if line.startswith("$ ") and not (command and command[-1].endswith("\\") and not output):
                if command:
                    found.append(Example(page, "\n".join(command), "\n".join(output)))
                command, output = [line[2:]], []
            elif command and command[-1].endswith("\\") and not output:
                command.append(line)
            else:
                output.append(line)
        if command:
            found.append(Example(page, "\n".join(command), "\n".join(output)))
    return found


def write_sample(target: Path) -> None:
    """The 3,000 real Adult rows of tests/conftest.py (the same seeded reservoir sample), as Parquet."""
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY (SELECT * FROM read_parquet(?) USING SAMPLE {SAMPLE_ROWS} ROWS (reservoir, 7)) TO "
            f"'{target}' (FORMAT parquet)", [str(ROOT / "examples" / "adult" / "adult.parquet")],
        )
    finally:
        con.close()


def sandbox(folder: Path) -> Session:
    """A fresh git repository with this checkout's examples and policies, the Adult sample, and `mlgate` on PATH."""
    shutil.copytree(ROOT / "policies", folder / "policies")
    shutil.copytree(ROOT / "examples", folder / "examples", ignore=shutil.ignore_patterns("adult.parquet"))
    write_sample(folder / "examples" / "adult" / "adult.parquet")
    bin_dir = folder.parent / f"{folder.name}-bin"
    bin_dir.mkdir()
    for name, runs in (("mlgate", f'"{sys.executable}" -c "{CLI}"'), ("python", f'"{sys.executable}"')):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {runs} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.org", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "the guides' sandbox"]):
        subprocess.run([*git, *args], cwd=folder, check=True, capture_output=True)
    return Session(folder=folder, bin_dir=bin_dir)


def _environment(session: Session) -> dict[str, str]:
    path = f"{session.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PATH": path, "PYTHONPATH": python_path, "COLUMNS": COLUMNS, "NO_COLOR": "1",
            "TERM": "dumb", "PYTHONUNBUFFERED": "1", "GITHUB_STEP_SUMMARY": ""}


def run(session: Session, example: Example) -> str:
    """Run one example's command in the session; return what it printed (stderr and stdout, in order)."""
    command = RUN_ID.sub(lambda m: session.run_ids.get(m.group(0), m.group(0)), example.command)
    done = subprocess.run(
        ["bash", "-c", f"(exit {session.last_code}); {command}"], cwd=session.folder, env=_environment(session),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False,
    )
    session.last_code = done.returncode
    printed = "\n".join(line.rstrip() for line in done.stdout.rstrip("\n").splitlines())
    for documented, actual in zip(RUN_ID.findall(example.expected), RUN_ID.findall(printed), strict=False):
        session.run_ids.setdefault(documented, actual)
    return printed


def _normal(text: str) -> str:
    text = RUN_ID.sub("<run>", text)
    for pattern, token in VARIABLE:
        text = pattern.sub(token, text)
    return text


def _line_pattern(line: str) -> str:
    return ".*".join(re.escape(part) for part in line.rstrip().split(ANY))


def matches(expected: str, printed: str) -> bool:
    """Whether `printed` is what the guide shows, with its `…` and variable values left open."""
    pattern = []
    for line in _normal(expected).splitlines():
        pattern.append(r"(?:[^\n]*\n)*?" if line.strip() == ANY else _line_pattern(line) + r"\n")
    return re.fullmatch("".join(pattern), _normal(printed) + "\n" if printed else "") is not None


def refresh(folder: Path) -> list[str]:
    """Run every guide in sandboxes under `folder`; rewrite each output that does not match. Returns the pages
    changed."""
    changed = []
    for number, pages in enumerate(SESSIONS):
        session = sandbox(folder / f"sandbox{number}")
        for page in pages:
            path = DOCS / page
            text = path.read_text(encoding="utf-8")
            updated = refreshed_page(session, page, text)
            if updated != text:
                path.write_text(updated, encoding="utf-8")
                changed.append(page)
    return changed


def refreshed_page(session: Session, page: str, text: str) -> str:
    """`text` (the page) with its console blocks run in the session, each stale output replaced."""
    return BLOCK.sub(partial(_refreshed, session, page), text)


def _refreshed(session: Session, page: str, block: re.Match[str]) -> str:
    """One console block with each command's output kept when it matches, else replaced by what it printed."""
    parts = []
    for example in examples(page, block.group(0)):
        printed = run(session, example)
        output = example.expected if matches(example.expected, printed) else _as_documented(session, printed)
        lines = [f"$ {line}" if index == 0 else line for index, line in enumerate(example.command.splitlines())]
        parts.append("\n".join([*lines, output] if output else lines))
    return "```console\n" + "\n".join(parts) + "\n```\n"


def _as_documented(session: Session, printed: str) -> str:
    """`printed` with each run id the session knows written as the page documents it."""
    documented = {actual: doc for doc, actual in session.run_ids.items()}
    return RUN_ID.sub(lambda m: documented.get(m.group(0), m.group(0)), printed)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for page in refresh(Path(scratch)):
            print(f"rewrote outputs in docs/{page}")
