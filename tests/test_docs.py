"""The documentation site: built strictly, its reference pages generated from the code, its guides' examples run.

`make test` runs this file, so a broken link, a stale reference page or a guide whose output drifted from what
mlgate prints fails the suite. The README stays short and links into the site.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.checklist import CHECKLIST
from scripts.docs_examples import GUIDES, SESSIONS, Example, examples, matches, refreshed_page, run, sandbox
from scripts.docs_reference import pages

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 150
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)")


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True, text=True, cwd=config.parent, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def copy_site_sources(target: Path) -> Path:
    """mkdocs.yml, docs/ and the files the site includes (ARCHITECTURE.md), copied under `target`."""
    shutil.copy(ROOT / "mkdocs.yml", target / "mkdocs.yml")
    shutil.copy(ROOT / "ARCHITECTURE.md", target / "ARCHITECTURE.md")
    shutil.copytree(DOCS, target / "docs")
    return target / "mkdocs.yml"


@pytest.mark.parametrize("relative", sorted(str(p) for p in pages()))
def test_reference_pages_are_generated_from_the_code(relative: str) -> None:
    committed = (ROOT / relative).read_text(encoding="utf-8")
    assert committed == pages()[Path(relative)], f"{relative} is out of date: run `python -m scripts.docs_reference`"


def test_the_reference_lists_every_command_spec_key_and_rule_kind() -> None:
    from cli.main import mlgate
    from engine.policy.registry import RULE_KINDS

    generated = {str(path): text for path, text in pages().items()}
    for name in mlgate.commands:
        assert f"## `mlgate {name}`" in generated["docs/reference/cli.md"]
    assert "## `mlgate policy explain`" in generated["docs/reference/cli.md"]
    for key in ("`data.path`", "`candidates[].family`", "`evaluation.bootstrap`", "`serving.latency_calls`"):
        assert key in generated["docs/reference/spec.md"]
    for kind in RULE_KINDS:
        assert f"### `{kind}`" in generated["docs/reference/rule-kinds.md"]


def test_concepts_lists_every_checklist_item_as_the_engine_words_it() -> None:
    concepts = (DOCS / "concepts.md").read_text(encoding="utf-8")
    for item in CHECKLIST:
        assert f"| `{item.id}` | {item.title} | {item.ready_if} |" in concepts


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    built = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    for page in ("index.html", "getting-started.html", "guides/review.html", "guides/compliance.html",
                 "guides/ci.html", "policies.html", "concepts.html", "architecture.html",
                 "reference/rule-kinds.html", "reference/spec.html", "reference/cli.html"):
        assert (tmp_path / "site" / page).is_file(), page
    architecture = (tmp_path / "site" / "architecture.html").read_text(encoding="utf-8")
    assert "An audit is a straight line of stages" in architecture  # ARCHITECTURE.md is included, not copied


@pytest.mark.parametrize(("page", "broken"), [
    ("concepts.md", "[a page that does not exist](no-such-page.md)"),
    ("guides/ci.md", "[an anchor that does not exist](../concepts.md#no-such-heading)"),
])
def test_a_broken_link_fails_the_strict_build(tmp_path: Path, page: str, broken: str) -> None:
    config = copy_site_sources(tmp_path)
    target = tmp_path / "docs" / page
    target.write_text(target.read_text(encoding="utf-8") + f"\n{broken}\n", encoding="utf-8")
    built = mkdocs_build(config, tmp_path / "site")
    assert built.returncode != 0
    said = built.stdout + built.stderr
    assert "Aborted" in said and "no-such-" in said and page.split("/")[-1] in said


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.rglob("*.md"):
        assert f": {page.relative_to(DOCS).as_posix()}" in config, page


def test_the_readme_is_short_keeps_its_two_commands_and_links_into_the_site() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < README_MAX_LINES
    assert "make demo" in readme and "make test" in readme and "make docs" in readme
    assert "rule-reference:start" not in readme  # the generated reference lives on the site
    targets = LINK.findall(readme)
    assert len([t for t in targets if t.startswith("docs/")]) >= 10
    for target in targets:
        assert (ROOT / target).is_file(), target
    for guide in GUIDES:
        assert f"docs/{guide}" in readme


def test_an_example_block_is_read_as_commands_and_outputs() -> None:
    text = "```console\n$ mlgate verify \\\n    --format json\n{\n}\n$ echo $?\n0\n```\n"
    assert examples("x.md", text) == [Example("x.md", "mlgate verify \\\n    --format json", "{\n}"),
                                      Example("x.md", "echo $?", "0")]


@pytest.mark.parametrize(("expected", "printed", "same"), [
    ("a\n…\nz", "a\nb\nc\nz", True),
    ("a\n…\nz", "a\nz", True),
    ("run 20261125T040643Z-994e8f (head b94d4c56d7deb73e…)", "run 20270101T000000Z-abcdef (head 0123456789ab…)",
     True),
    ("verdict: PASS · recommended: …", "verdict: PASS · recommended: lightgbm", True),
    ("verdict: PASS", "verdict: FAIL", False),
    ("a\nb", "a\nb\nc", False),
    ("", "", True),
    ("", "something", False),
])
def test_documented_outputs_leave_open_only_what_varies(expected: str, printed: str, same: bool) -> None:
    assert matches(expected, printed) is same


def test_refreshing_a_page_keeps_matching_outputs_and_rewrites_stale_ones(tmp_path: Path) -> None:
    session = sandbox(tmp_path / "sandbox")
    pack = json.loads((ROOT / "policies" / "default.json").read_text(encoding="utf-8"))
    page = ("Text.\n\n```console\n$ echo kept; echo line\nkept\n…\n$ ls policies\nstale.json\n```\n\n"
            "```console\n$ echo $?\n7\n$ mlgate policy validate policies/default.json\n```\n")
    assert refreshed_page(session, "x.md", page) == (
        "Text.\n\n```console\n$ echo kept; echo line\nkept\n…\n$ ls policies\ndecisions.json\ndefault.json\n"
        "high-risk.json\nmonitoring.json\nmulticlass.json\nregression.json\nstability.json\n```\n\n"
        "```console\n$ echo $?\n0\n$ mlgate policy validate policies/default.json\n"
        f"policies/default.json: valid (default {pack['version']}, {len(pack['rules'])} rules)\n```\n")


@pytest.mark.slow
@pytest.mark.parametrize("pages", SESSIONS, ids=lambda pages: "+".join(pages))
def test_the_guides_examples_print_what_the_guides_show(tmp_path: Path, pages: tuple[str, ...]) -> None:
    """Every console block of the pages, in order, in one sandbox (an audit of the 3,000-row Adult sample, then
    the commands that follow it)."""
    session = sandbox(tmp_path / "sandbox")
    failures = []
    ran = 0
    for page in pages:
        for example in examples(page):
            printed = run(session, example)
            ran += 1
            if not matches(example.expected, printed):
                failures.append(f"docs/{page}: $ {example.command}\n--- the page shows:\n{example.expected}\n"
                                f"--- it printed:\n{printed}\n")
    assert ran >= 6
    assert not failures, "\n".join(failures) + "\n(python -m scripts.docs_examples rewrites stale outputs)"
