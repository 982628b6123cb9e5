"""CI reports of an audit: JUnit XML (one suite per candidate, one case per rule) and a Markdown summary.

JUnit is what CI systems display as tests: a failed blocking rule is a failure (observed against threshold),
an `unknown` or `error` rule an error, a failed warning a passing case with a note, a waived rule a skipped
case with its reason. The Markdown summary is the same audit as a CI job summary. Both are written from the
audit's result, with every user-supplied string escaped for its format.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from engine.leaderboard import from_result
from engine.policy.rules import fmt
from engine.safe_text import inert
from engine.safe_text import markdown_text as md


def _case(suite: ET.Element, candidate: str, outcome: Any) -> tuple[int, int, int]:
    """One rule as a test case; returns (failures, errors, skipped) it adds."""
    case = ET.SubElement(suite, "testcase", name=outcome.id, classname=f"{candidate}.{outcome.checklist}")
    observed = "not computed" if outcome.observed is None else fmt(outcome.observed, outcome.threshold)
    threshold = "none" if outcome.threshold is None else fmt(outcome.threshold)
    detail = f"{outcome.message} (observed {observed}, threshold {threshold}, policy {outcome.policy})"
    if outcome.status == "fail" and outcome.severity == "block":
        ET.SubElement(case, "failure", message=outcome.message, type="blocking rule failed").text = detail
        return 1, 0, 0
    if outcome.status in ("unknown", "error"):
        ET.SubElement(case, "error", message=outcome.message, type=f"rule {outcome.status}").text = detail
        return 0, 1, 0
    if outcome.status == "waived":
        ET.SubElement(case, "skipped", message=f"waived: {outcome.message}")
        return 0, 0, 1
    if outcome.status == "fail":  # a warning: reported, not failed
        ET.SubElement(case, "system-out").text = f"warning: {detail}"
    return 0, 0, 0


def junit_xml(result: Any, *, name: str) -> str:
    """The audit as JUnit XML: <testsuites> with one <testsuite> per candidate."""
    root = ET.Element("testsuites", name=f"mlgate audit {name}")
    totals = [0, 0, 0, 0]
    for candidate in result.candidates:
        suite = ET.SubElement(root, "testsuite", name=candidate.name)
        counts = [0, 0, 0]
        for outcome in candidate.outcomes:
            counts = [a + b for a, b in zip(counts, _case(suite, candidate.name, outcome), strict=True)]
        if candidate.error:
            case = ET.SubElement(suite, "testcase", name="training", classname=f"{candidate.name}.training")
            ET.SubElement(case, "error", message=candidate.error, type="candidate failed to train")
            counts[1] += 1
        tests = len(candidate.outcomes) + (1 if candidate.error else 0)
        suite.set("tests", str(tests))
        for key, value in zip(("failures", "errors", "skipped"), counts, strict=True):
            suite.set(key, str(value))
        totals = [totals[0] + tests, *(t + c for t, c in zip(totals[1:], counts, strict=True))]
    for key, value in zip(("tests", "failures", "errors", "skipped"), totals, strict=True):
        root.set(key, str(value))
    return inert(ET.tostring(root, encoding="unicode", xml_declaration=True), keep_layout=True) + "\n"


def markdown_summary(result: Any, *, name: str) -> str:
    """The audit as a Markdown job summary: verdict, leaderboard, rules that did not pass, cards."""
    board = from_result(result)
    verdict = f"**{result.verdict.upper()}**" + (f", recommended `{md(result.recommended)}`" if result.recommended
                                                 else ", no candidate passed its blocking rules")
    lines = [f"## mlgate audit `{md(name)}`: {verdict}", "", f"Run `{result.run_id}`, trail head "
             f"`{result.chain_head[:16]}`.", "",
             f"| | candidate | family | {board.metric_label} | lift | verdict | card |", "| --- " * 7 + "|"]
    for row in board.rows:
        lines.append(" | ".join([
            "|" + (f" {row.marker}" if row.marker else ""), f"`{md(row.name)}`", row.family, row.value_text(),
            row.lift_text(), row.verdict.upper(), f"[card]({md(row.card)})" if row.card else "—",
        ]) + " |")
    problems = [(c, o) for c in result.candidates if not c.is_baseline for o in c.outcomes if o.status != "pass"]
    if problems:
        lines += ["", "### Rules that did not pass", ""]
        lines += [f"- **{o.status}** `{md(c.name)}` · `{md(o.id)}` ({o.severity}, {o.checklist}): {md(o.message)}"
                  for c, o in problems]
    return "\n".join(lines) + "\n"


def write_reports(result: Any, *, name: str, junit: Path | None, summary: Path | None) -> list[Path]:
    """Write the reports asked for; the summary is also appended to GITHUB_STEP_SUMMARY when CI sets it."""
    written = []
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(result, name=name), encoding="utf-8")
        written.append(junit)
    text = markdown_summary(result, name=name)
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(text, encoding="utf-8")
        written.append(summary)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with Path(step_summary).open("a", encoding="utf-8") as handle:
            handle.write(text)
        written.append(Path(step_summary))
    return written
