"""`mlgate card`, `mlgate policy explain` and `mlgate policy init`: what a reviewer or author takes away.

A card is regenerated from the trail alone (the run's recorded events), in any format, to stdout or a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
from rich.text import Text

from cli.output import (
    EXIT_OK,
    audit_db_option,
    format_option,
    print_json,
    read_lock_timeout_option,
    safe_text,
    stdout,
    trail_path,
)
from engine.errors import MlgateError, PolicyError
from engine.safe_text import json_document, terminal_text

# engine.cards.FORMATS, spelled out so the CLI starts without importing the card renderers (tested equal).
CARD_FORMATS = ("md", "html", "json", "mct", "hf", "cyclonedx")
SUFFIXES = {"mct": "mct.json", "hf": "README.md", "cyclonedx": "cdx.json"}
JSON_FORMATS = frozenset({"json", "mct", "cyclonedx"})  # escaped as JSON on a terminal (same value read back)


class CardError(MlgateError):
    """A card was asked for a run or candidate the trail does not hold, or cannot be written where asked."""


INCOMPLETE = "Incomplete run: run {run} never completed (it has no run_completed event), so this card shows only " \
             "what was recorded before it stopped; its candidates are neither passed nor recommended."
#: How each text format says so first (the JSON card keeps its schema; `show` and `runs` say it there).
INCOMPLETE_MARKS: dict[str, Callable[[str, str], str]] = {"md": lambda text, note: f"> **{note}**\n\n{text}",
                    "html": lambda text, note: text.replace("<body>\n", f"<body>\n<p><strong>{note}</strong></p>\n", 1)}


def _marked(text: str, card_format: str, *, run_id: str) -> str:
    mark = INCOMPLETE_MARKS.get(card_format)
    return mark(text, INCOMPLETE.format(run=run_id)) if mark else text


@click.command()
@click.argument("run_id")
@click.argument("candidate")
@audit_db_option
@read_lock_timeout_option
@click.option("--format", "card_format", type=click.Choice(CARD_FORMATS), default="md", show_default=True,
              help="md, html, json: mlgate's cards; mct: Model Card Toolkit JSON; hf: Hugging Face README.md; "
                   "cyclonedx: CycloneDX 1.6 ML BOM")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="file to write (default: stdout)")
@click.option("--force", is_flag=True, help="overwrite an existing --out file")
def card(run_id: str, candidate: str, audit_db: Path | None, card_format: str, out: Path | None,
         force: bool = False) -> int:
    """Generate the model card of CANDIDATE of run RUN_ID again, from the trail alone."""
    from engine.audit.runs import load_run
    from engine.audit.trail import current_head
    from engine.cards import render_card
    from engine.cards.files import write_file

    path = trail_path(audit_db)
    record = load_run(path, run_id)
    if candidate not in record.candidates:
        raise CardError(f"{path}: run {run_id} has no candidate {candidate!r} "
                        f"(it has {', '.join(sorted(record.candidates)) or 'none'})")
    if out is not None and out.is_dir():
        suffix = SUFFIXES.get(card_format, card_format)
        example = out / (suffix if card_format == "hf" else f"{candidate}.{suffix}")
        raise CardError(f"{out}: --out names a folder; give a file such as {example}")
    if out is not None and (out.exists() or out.is_symlink()) and not force:
        raise CardError(f"{out}: exists; not overwritten without --force")
    text = render_card(record, candidate, card_format, trail_head=current_head(path))
    if record.completed is None:
        text = _marked(text, card_format, run_id=run_id)
    if out is None:  # a terminal never receives a recorded escape sequence or bidi control
        click.echo(json_document(text) if card_format in JSON_FORMATS else terminal_text(text), nl=False)
        return EXIT_OK
    write_file(out, text, what="card")  # a WriteError (exit 4) names the file and the cause
    stdout.print(safe_text(f"wrote {out}"))
    return EXIT_OK


@click.command("explain")
@click.argument("file", type=click.Path(path_type=Path))
@format_option
def policy_explain(file: Path, output_format: str) -> int:
    """Every rule of a policy in plain words, grouped by checklist item; the items it leaves uncovered."""
    from engine.policy.explain import explain, explanation_json, rule_sentence
    from engine.policy.loader import PolicyProblems, load_policy

    try:
        policy = load_policy(file)
    except PolicyProblems as exc:
        raise PolicyError(exc.problems[0] + (f" (and {len(exc.problems) - 1} more problems: run "
                                             "`mlgate policy validate`)" if len(exc.problems) > 1 else "")) from None
    explanation = explain(policy)
    if output_format == "json":
        print_json(explanation_json(explanation))
        return EXIT_OK
    stdout.print(safe_text(f"{policy.name} {policy.version} ({file}): {len(policy.rules)} rules", style="bold"))
    for item, rules in explanation.items:
        stdout.print()
        header = safe_text(f"{item.id}", style="bold").append(f" — ready only if {item.ready_if}")
        stdout.print(header)
        if not rules:
            stdout.print(Text("  not covered by this policy", style="yellow"))
        for rule in rules:
            effect = "fails the candidate" if rule.severity == "block" else "is a warning"
            line = safe_text(f"  {rule.id}: ").append_text(safe_text(rule_sentence(rule)))
            stdout.print(line.append(f" — otherwise {effect}"), soft_wrap=True)
            if rule.params.get("description"):
                stdout.print(safe_text(f"    {rule.params['description']}", style="dim"), soft_wrap=True)
    uncovered = ", ".join(item.id for item in explanation.uncovered) or "none"
    stdout.print()
    stdout.print(safe_text(f"uncovered checklist items: {uncovered}"))
    return EXIT_OK


@click.command("init")
@click.option("--pack", type=click.Choice(["default", "high-risk"]), default="default", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("policy.json"), show_default=True)
@click.option("--force", is_flag=True, help="overwrite an existing file")
def policy_init(pack: str, out: Path, force: bool) -> int:
    """Write a self-contained starter policy (the rules of a shipped pack) to edit."""
    from engine.cards.files import write_file
    from engine.policy.explain import starter

    if out.exists() and not force:
        raise PolicyError(f"{out}: already exists; choose another --out or add --force to overwrite it")
    if out.is_dir():
        raise PolicyError(f"{out}: --out names a folder; give a file such as {out / 'policy.json'}")
    document = starter(pack)
    try:
        write_file(out, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise PolicyError(f"{out}: cannot write the policy: {exc.strerror}") from None
    stdout.print(safe_text(f"wrote {out}: {len(document['rules'])} rules from the {pack} pack; "
                           f"check it with `mlgate policy explain {out}`"))
    return EXIT_OK
