"""Sign-offs, waivers and re-checks (engine.review) on a real audited trail: what is refused, what is recorded,
and how every view (runs.view, list_runs, `mlgate show`, `mlgate runs`, the model card) reflects the decisions.

One real audit of the Adult sample (tests/review_trail.py, shared with tests/test_decision.py: trained once per
session) is recorded against a policy whose fairness rule fails for the real candidates; every test that writes
works on its own copy of that trail (and of its cards, which the trail names by a path relative to the folder the
audit ran in).
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from review_trail import CARDS, RULES, Template, Trail, copy_template, write_json

from engine.audit import runs, trail
from engine.audit.runs import RunFilter, list_runs, load_run, view
from engine.audit.trail import NewEvent, append, read_events
from engine.audit.verify import verify
from engine.canonical import sha256_text
from engine.errors import MlgateError
from engine.review import ReviewError, recheck, signoff, waive

pytest_plugins = ["review_trail"]
pytestmark = pytest.mark.slow

STRICTER = {  # the next version of the same pack: a higher AUC floor, and one new (warn) rule
    "name": "review-test", "version": "2.0.0",
    "rules": [
        {**RULES[0], "value": 0.95},
        RULES[1],
        {"id": "recall-floor", "kind": "metric_threshold", "metric": "recall", "op": ">=", "value": 0.30,
         "severity": "warn", "checklist": "satisficing_metrics"},
    ],
}
REVIEWER = "[bold]Ann[/] | QA"
REASON = "gap accepted [red]for now[/] | see |ticket| 42"
FAR = timedelta(days=30)


@pytest.fixture(scope="module")
def template(review_template: Template) -> Template:
    """The audited folder (tests/review_trail.py), trained once for every module that uses it."""
    return review_template


@pytest.fixture
def work(template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trail:
    """A private copy of the audited folder, made the working directory (cards are named relative to it)."""
    copied = copy_template(template, tmp_path / "audit")
    monkeypatch.chdir(copied.base)
    return copied


def kinds(db: Path) -> list[str]:
    return [e.kind for e in read_events(db)]


def member(now: runs.RunView, name: str) -> runs.CandidateView:
    found = now.candidate(name)
    assert found is not None, name
    return found


def outcome(candidate: runs.CandidateView, rule: str) -> dict[str, Any]:
    return next(o for o in candidate.outcomes if o["id"] == rule)


def current(t: Trail, *, today: date | None = None, run_id: str | None = None) -> runs.RunView:
    return view(load_run(t.db, run_id or t.run_id), today=today)


def listed_run(db: Path, run_id: str, run_filter: RunFilter | None = None) -> dict[str, Any] | None:
    return next((s for s in list_runs(db, run_filter) if s["run_id"] == run_id), None)


def summary(db: Path, run_id: str, run_filter: RunFilter | None = None) -> dict[str, Any]:
    found = listed_run(db, run_id, run_filter)
    assert found is not None, f"run {run_id} is not listed"
    return found


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row, split on pipes that are not escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


# --- the recorded audit this module works on --------------------------------------------------------------------


def test_the_fairness_rule_fails_for_the_real_candidates_and_nothing_is_recommended(template: Template) -> None:
    db = template.base / "audit.duckdb"
    now = view(load_run(db, template.run_id))
    assert (now.complete, now.verdict, now.recommended) == (True, "fail", None)
    for name in ("logistic", "lightgbm"):
        c = member(now, name)
        assert outcome(c, "auc-floor")["status"] == "pass"
        assert outcome(c, "dp-ratio")["status"] == "fail"
        assert c.verdict == "fail"
        assert c.decision is None
    assert view(load_run(db, template.interrupted)).verdict == "incomplete"


# --- approval refused -------------------------------------------------------------------------------------------


def test_approving_with_an_unwaived_blocking_failure_is_refused_naming_the_rule(work: Trail) -> None:
    before = work.db.read_bytes()
    with pytest.raises(ReviewError) as refused:
        signoff(work.db, work.run_id, "logistic", decision="approve", reviewer="ann", reason="looks fine")
    line = refused.value.one_line()
    assert "dp-ratio" in line
    assert "auc-floor" not in line, "only the rules that block are named"
    assert "logistic" in line and work.run_id in line
    assert "\n" not in line
    assert work.db.read_bytes() == before


def test_cli_approval_refused_exits_2_with_one_line_and_leaves_trail_and_card_unchanged(work: Trail) -> None:
    card = work.card("logistic")
    before, card_before, events = work.db.read_bytes(), card.read_bytes(), kinds(work.db)
    done = run_cli("signoff", work.run_id, "logistic", "--decision", "approve", "--reviewer", "ann",
                   "--reason", "looks fine", "--audit-db", work.db, cwd=work.base)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = error_lines(done.stderr)
    assert line.startswith("mlgate: error:")
    assert "dp-ratio" in line and "logistic" in line
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert work.db.read_bytes() == before
    assert kinds(work.db) == events
    assert card.read_bytes() == card_before
    assert verify(work.db).intact


# --- waivers ----------------------------------------------------------------------------------------------------


def test_a_waiver_turns_the_failed_rule_into_waived_and_the_verdicts_are_recomputed(work: Trail) -> None:
    until = runs.today_utc() + FAR
    waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann", reason="gap explained by the sample",
          until=until)

    now = current(work)
    logistic, lightgbm = member(now, "logistic"), member(now, "lightgbm")
    waived = outcome(logistic, "dp-ratio")
    assert (waived["status"], waived["recorded_status"]) == ("waived", "fail")
    assert waived["waiver"]["reviewer"] == "ann"
    assert waived["waiver"]["reason"] == "gap explained by the sample"
    assert waived["waiver"]["until"] == until.isoformat()
    assert outcome(logistic, "auc-floor")["status"] == "pass"
    assert logistic.verdict == "pass"
    assert lightgbm.verdict == "fail", "a waiver covers one candidate only"
    assert outcome(lightgbm, "dp-ratio")["status"] == "fail"
    assert (now.verdict, now.recommended) == ("pass", "logistic")
    listed = summary(work.db, work.run_id)
    assert listed is not None
    assert (listed["verdict"], listed["recommended"], listed["reviewers"]) == ("pass", "logistic", ["ann"])

    record = load_run(work.db, work.run_id)
    [event] = record.waivers
    checked = record.rules["logistic"].data
    assert event.data["rule_id"] == "dp-ratio"
    assert event.data["status"] == "fail"
    assert event.data["policy"] == "review-test"
    assert event.data["evidence_sha256"] == checked["evidence_sha256"]
    assert event.data["policies"] == checked["policies"]
    assert checked["verdict"] == "fail", "the recorded check itself is never rewritten"

    waive(work.db, work.run_id, "lightgbm", "dp-ratio", reviewer="bob", reason="same gap")
    again = current(work)
    metric = again.optimizing_metric
    best = max((member(again, n) for n in ("logistic", "lightgbm")), key=lambda c: c.metrics[metric] or 0.0)
    assert again.recommended == best.name, "with both passing, the better one by the optimizing metric"
    assert outcome(best, "dp-ratio")["status"] == "waived"
    assert verify(work.db).intact


def test_an_approval_after_the_waiver_is_recorded_with_the_evidence_hash_and_policies(work: Trail) -> None:
    waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann", reason="explained", until=None)
    signoff(work.db, work.run_id, "logistic", decision="approve", reviewer="carl", reason="ready for the pilot")

    events = read_events(work.db, run_id=work.run_id)
    assert [e.kind for e in events][-4:] == [runs.WAIVER, runs.CARD_WRITTEN, runs.SIGNOFF, runs.CARD_WRITTEN]
    record = load_run(work.db, work.run_id)
    [approval] = record.signoffs
    checked = record.rules["logistic"].data
    assert approval.data["candidate"] == "logistic"
    assert approval.data["decision"] == "approve"
    assert (approval.data["reviewer"], approval.data["reason"]) == ("carl", "ready for the pilot")
    assert approval.data["verdict_at_signoff"] == "pass"
    assert approval.data["evidence_sha256"] == checked["evidence_sha256"]
    assert approval.data["evidence_sha256"] == record.candidates["logistic"].data["evidence_sha256"]
    assert approval.data["policies"] == checked["policies"]
    assert [p["name"] for p in approval.data["policies"]] == ["review-test"]

    decision = member(current(work), "logistic").decision
    assert decision is not None
    assert (decision["decision"], decision["reviewer"], decision["seq"]) == ("approve", "carl", approval.seq)
    assert verify(work.db).intact


def test_a_waiver_holds_through_its_until_date_and_no_longer_applies_after_it(work: Trail) -> None:
    until = runs.today_utc() + timedelta(days=10)
    waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann", reason="until the retrain", until=until)

    on_the_day = current(work, today=until)
    assert outcome(member(on_the_day, "logistic"), "dp-ratio")["status"] == "waived"
    assert (on_the_day.verdict, on_the_day.recommended) == ("pass", "logistic")

    after = current(work, today=until + timedelta(days=1))
    lapsed = outcome(member(after, "logistic"), "dp-ratio")
    assert lapsed["status"] == "fail"
    assert "waiver" not in lapsed and "recorded_status" not in lapsed
    assert member(after, "logistic").verdict == "fail"
    assert (after.verdict, after.recommended) == ("fail", None)


def test_an_expired_waiver_can_be_renewed(work: Trail) -> None:
    """On a day after the first waiver lapsed the rule fails again, so waive(today=that day) may waive it again."""
    today = runs.today_utc()
    waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann", reason="first", until=today)
    later = today + timedelta(days=5)
    assert outcome(member(current(work, today=later), "logistic"), "dp-ratio")["status"] == "fail"
    waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann", reason="renewed", until=later + FAR,
          today=later)
    renewed = outcome(member(current(work, today=later), "logistic"), "dp-ratio")
    assert (renewed["status"], renewed["waiver"]["reason"]) == ("waived", "renewed")


def test_waiving_in_the_past_is_refused_and_through_the_cli_exits_2(work: Trail) -> None:
    before = work.db.read_bytes()
    yesterday = runs.today_utc() - timedelta(days=1)
    with pytest.raises(ReviewError, match="in the past"):
        waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann", reason="late", until=yesterday)
    done = run_cli("waive", work.run_id, "logistic", "dp-ratio", "--reviewer", "ann", "--reason", "late",
                   "--until", "2001-02-03", "--audit-db", work.db, cwd=work.base)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = error_lines(done.stderr)
    assert "2001-02-03" in line and "past" in line
    assert work.db.read_bytes() == before


def _incomplete_started_only(t: Trail) -> str:
    """A run whose start was recorded and nothing else (killed while training)."""
    started = load_run(t.db, t.run_id).started
    append(t.db, [NewEvent(runs.RUN_STARTED, "20000101T000000Z-killed", started.data)])
    return "20000101T000000Z-killed"


REFUSALS = [
    pytest.param(lambda t: waive(t.db, t.run_id, "logistic", "auc-floor", reviewer="a", reason="b"),
                 ["auc-floor", "pass", "only a failed"], id="waive-a-passing-rule"),
    pytest.param(lambda t: waive(t.db, t.run_id, "logistic", "no-such-rule", reviewer="a", reason="b"),
                 ["no rule 'no-such-rule'", "logistic"], id="waive-an-unknown-rule"),
    pytest.param(lambda t: waive(t.db, t.run_id, "logistic", "dp-ratio", reviewer="a", reason="b", policy="other"),
                 ["no rule 'dp-ratio'", "'other'"], id="waive-a-rule-of-an-unknown-policy"),
    pytest.param(lambda t: waive(t.db, t.run_id, "forest", "dp-ratio", reviewer="a", reason="b"),
                 ["no candidate 'forest'", "baseline, logistic, lightgbm"], id="waive-for-an-unknown-candidate"),
    pytest.param(lambda t: waive(t.db, "no-such-run", "logistic", "dp-ratio", reviewer="a", reason="b"),
                 ["no run 'no-such-run'"], id="waive-in-an-unknown-run"),
    pytest.param(lambda t: signoff(t.db, t.run_id, "forest", decision="reject", reviewer="a", reason="b"),
                 ["no candidate 'forest'"], id="signoff-an-unknown-candidate"),
    pytest.param(lambda t: signoff(t.db, "no-such-run", "logistic", decision="reject", reviewer="a", reason="b"),
                 ["no run 'no-such-run'"], id="signoff-in-an-unknown-run"),
    pytest.param(lambda t: signoff(t.db, t.run_id, "logistic", decision="maybe", reviewer="a", reason="b"),
                 ["decision", "'maybe'"], id="signoff-an-unknown-decision"),
    pytest.param(lambda t: signoff(t.db, t.run_id, "baseline", decision="approve", reviewer="a", reason="b"),
                 ["'baseline' is the baseline"], id="approve-the-baseline"),
    pytest.param(lambda t: signoff(t.db, t.run_id, "logistic", decision="reject", reviewer="  ", reason="b"),
                 ["reviewer must not be empty"], id="empty-reviewer"),
    pytest.param(lambda t: waive(t.db, t.run_id, "logistic", "dp-ratio", reviewer="a", reason=" \n "),
                 ["reason must not be empty"], id="empty-reason"),
    pytest.param(lambda t: signoff(t.db, t.run_id, "logistic", decision="reject", reviewer="a", reason="x" * 2001),
                 ["longer than 2000"], id="overlong-reason"),
    pytest.param(lambda t: signoff(t.db, t.interrupted, "logistic", decision="reject", reviewer="a", reason="b"),
                 ["incomplete"], id="signoff-in-an-interrupted-run"),
    pytest.param(lambda t: waive(t.db, t.interrupted, "logistic", "dp-ratio", reviewer="a", reason="b"),
                 ["incomplete"], id="waive-in-an-interrupted-run"),
]


@pytest.mark.parametrize(("attempt", "named"), REFUSALS)
def test_a_decision_that_cannot_be_recorded_is_refused_with_a_clear_line_and_writes_nothing(
    work: Trail, attempt: Any, named: list[str]
) -> None:
    before = work.db.read_bytes()
    cards_before = {p: p.read_bytes() for p in (work.base / CARDS).rglob("*.md")}
    with pytest.raises(MlgateError) as refused:
        attempt(work)
    line = refused.value.one_line()
    assert "\n" not in line
    for fragment in named:
        assert fragment in line, line
    assert work.db.read_bytes() == before
    assert {p: p.read_bytes() for p in (work.base / CARDS).rglob("*.md")} == cards_before


def test_a_run_killed_before_its_candidates_were_recorded_is_refused_as_incomplete(work: Trail) -> None:
    killed = _incomplete_started_only(work)
    assert current(work, run_id=killed).verdict == "incomplete"
    before = work.db.read_bytes()
    with pytest.raises(ReviewError) as refused_signoff:
        signoff(work.db, killed, "logistic", decision="approve", reviewer="a", reason="b")
    with pytest.raises(ReviewError) as refused_waiver:
        waive(work.db, killed, "logistic", "dp-ratio", reviewer="a", reason="b")
    for refused in (refused_signoff, refused_waiver):
        assert "incomplete" in refused.value.one_line(), refused.value.one_line()
    assert work.db.read_bytes() == before


# --- rejection --------------------------------------------------------------------------------------------------


def test_a_rejected_candidate_is_never_recommended_even_when_it_passes(work: Trail) -> None:
    for name in ("logistic", "lightgbm"):
        waive(work.db, work.run_id, name, "dp-ratio", reviewer="ann", reason="explained")
    both = current(work)
    assert both.recommended in ("logistic", "lightgbm")
    first = both.recommended
    assert first is not None
    other = "lightgbm" if first == "logistic" else "logistic"

    signoff(work.db, work.run_id, first, decision="reject", reviewer="dora", reason="unstable")
    after = current(work)
    rejected = member(after, first)
    assert rejected.verdict == "pass", "a rejection is a decision, not a rule outcome"
    assert rejected.decision is not None and rejected.decision["decision"] == "reject"
    assert after.recommended == other
    assert summary(work.db, work.run_id)["recommended"] == other

    signoff(work.db, work.run_id, other, decision="reject", reviewer="dora", reason="also unstable")
    none_left = current(work)
    assert (none_left.verdict, none_left.recommended) == ("fail", None)
    listed = summary(work.db, work.run_id)
    assert (listed["verdict"], listed["recommended"]) == ("fail", None)


def test_a_failing_candidate_can_be_rejected(work: Trail) -> None:
    signoff(work.db, work.run_id, "lightgbm", decision="reject", reviewer="dora", reason="unfair")
    decision = member(current(work), "lightgbm").decision
    assert decision is not None
    assert (decision["decision"], decision["verdict_at_signoff"]) == ("reject", "fail")


# --- what the CLI and the card show -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviewed(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    """A work of the audit with a waiver and an approval recorded through the real CLI (markup and pipes in them)."""
    t = copy_template(template, tmp_path_factory.mktemp("reviewed") / "audit")
    until = (runs.today_utc() + FAR).isoformat()
    waived = run_cli("waive", t.run_id, "logistic", "dp-ratio", "--reviewer", REVIEWER, "--reason", REASON,
                     "--until", until, "--audit-db", t.db, cwd=t.base)
    assert waived.returncode == 0, waived.stderr
    assert f"recorded: waiver of dp-ratio for logistic of run {t.run_id} until {until}" in waived.stdout
    approved = run_cli("signoff", t.run_id, "logistic", "--decision", "approve", "--reviewer", REVIEWER,
                       "--reason", REASON, "--audit-db", t.db, cwd=t.base)
    assert approved.returncode == 0, approved.stderr
    assert f"recorded: approve logistic of run {t.run_id} by {REVIEWER}" in approved.stdout
    return t


def test_show_text_shows_the_waiver_and_the_signoff_literally(reviewed: Trail) -> None:
    done = run_cli("show", reviewed.run_id, "logistic", "--audit-db", reviewed.db, cwd=reviewed.base)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"run {reviewed.run_id}" in out and "PASS" in out and "recommended: logistic" in out
    assert f"approve by {REVIEWER}: {REASON}" in out
    [waived] = [line for line in out.splitlines() if "dp-ratio" in line]
    assert "WAIVED" in waived
    assert f"waived by {REVIEWER} until {(runs.today_utc() + FAR).isoformat()}: {REASON}" in waived
    assert "lightgbm" not in out, "one candidate asked for, one shown"


def test_show_json_has_waived_rules_with_their_waiver_and_the_decision(reviewed: Trail) -> None:
    done = run_cli("show", reviewed.run_id, "logistic", "--audit-db", reviewed.db, "--format", "json",
                   cwd=reviewed.base)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["verdict"], document["recommended"], document["complete"]) == ("pass", "logistic", True)
    [candidate] = document["candidates"]
    assert (candidate["name"], candidate["verdict"]) == ("logistic", "pass")
    rules = {r["id"]: r for r in candidate["rules"]}
    assert rules["auc-floor"]["status"] == "pass" and "waiver" not in rules["auc-floor"]
    waived = rules["dp-ratio"]
    assert (waived["status"], waived["recorded_status"]) == ("waived", "fail")
    assert waived["waiver"]["reviewer"] == REVIEWER
    assert waived["waiver"]["reason"] == REASON
    assert waived["waiver"]["until"] == (runs.today_utc() + FAR).isoformat()
    [waiver_event] = load_run(reviewed.db, reviewed.run_id).waivers
    assert waived["waiver"]["seq"] == waiver_event.seq
    decision = candidate["decision"]
    assert (decision["decision"], decision["reviewer"], decision["reason"]) == ("approve", REVIEWER, REASON)
    assert decision["verdict_at_signoff"] == "pass"
    assert decision["evidence_sha256"] == load_run(reviewed.db, reviewed.run_id).rules["logistic"].data[
        "evidence_sha256"]
    assert document["rechecks"] == []


def test_runs_filtered_by_reviewer_and_by_verdict_list_the_reviewed_run(reviewed: Trail) -> None:
    by_reviewer = run_cli("runs", "--reviewer", REVIEWER, "--audit-db", reviewed.db, "--format", "json",
                          cwd=reviewed.base)
    assert by_reviewer.returncode == 0, by_reviewer.stderr
    [listed] = json.loads(by_reviewer.stdout)
    assert listed["run_id"] == reviewed.run_id
    assert (listed["verdict"], listed["recommended"], listed["reviewers"]) == ("pass", "logistic", [REVIEWER])

    passing = run_cli("runs", "--verdict", "pass", "--audit-db", reviewed.db, "--format", "json", cwd=reviewed.base)
    assert passing.returncode == 0, passing.stderr
    assert [s["run_id"] for s in json.loads(passing.stdout)] == [reviewed.run_id]

    assert list_runs(reviewed.db, RunFilter(reviewer="nobody")) == []
    assert [s["run_id"] for s in list_runs(reviewed.db, RunFilter(verdict="fail"))] == []
    assert [s["run_id"] for s in list_runs(reviewed.db, RunFilter(verdict="incomplete"))] == [reviewed.interrupted]


def test_the_card_is_rendered_again_with_the_review_and_the_waived_rule(reviewed: Trail) -> None:
    record = load_run(reviewed.db, reviewed.run_id)
    path = reviewed.base / record.cards["logistic"].data["path"]
    text = path.read_text(encoding="utf-8")
    assert sha256_text(text) == record.cards["logistic"].data["files"]["md"]["sha256"], "the newest card is this file"
    assert "## Policy verdict: **PASS**" in text
    [waived_row] = [line for line in text.splitlines() if line.startswith("| `dp-ratio`")]
    assert "**waived** (was fail)" in waived_row

    review = text.split("## Review", 1)[1].split("\n## ", 1)[0]
    escaped_reviewer = r"\[bold\]Ann\[/\] \| QA"
    escaped_reason = r"gap accepted \[red\]for now\[/\] \| see \|ticket\| 42"
    assert escaped_reviewer in review and escaped_reason in review
    assert "[bold]Ann" not in text, "markup is escaped in the card"
    rows = [line for line in review.splitlines() if line.startswith("|")]
    headers = [line for line in rows if "reviewer" in line]
    assert len(headers) == 2, review
    assert any("**approve**" in line for line in rows)
    [waiver_row] = [line for line in rows if "`dp-ratio`" in line]
    assert (runs.today_utc() + FAR).isoformat() in waiver_row
    for header in headers:
        width = len(cells(header))
        table_rows = rows[rows.index(header):][:3]  # header, separator, and the one decision of each kind
        assert [len(cells(line)) for line in table_rows] == [width] * len(table_rows), table_rows
    assert cells(waiver_row)[2] == escaped_reviewer and cells(waiver_row)[3] == escaped_reason

    other = (reviewed.base / record.cards["lightgbm"].data["path"]).read_text(encoding="utf-8")
    assert "No sign-off or waiver recorded yet." in other, "only the decided candidate's card changes"


def test_a_terminal_escape_sequence_in_a_reason_never_reaches_the_terminal(work: Trail) -> None:
    """Rich's Text stops markup, not control characters: a reason may either be refused or shown inert."""
    hostile = "ok\x1b[2J\x1b]0;owned\x07 really"
    try:
        waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann\x1b[31m", reason=hostile)
    except ReviewError:
        return  # refused when recorded: fine too
    done = run_cli("show", work.run_id, "logistic", "--audit-db", work.db, cwd=work.base)
    assert done.returncode == 0, done.stderr
    assert "really" in done.stdout
    assert "\x1b" not in done.stdout, "NO_COLOR is set: any escape character came from the recorded reason"


def test_a_review_from_another_folder_updates_the_card_the_audit_wrote(template: Template, tmp_path: Path) -> None:
    """The CLI's default cards folder is relative; a reviewer runs `mlgate waive` from anywhere with --audit-db."""
    t = copy_template(template, tmp_path / "ci")
    elsewhere = tmp_path / "reviewer"
    elsewhere.mkdir()
    done = run_cli("waive", t.run_id, "logistic", "dp-ratio", "--reviewer", "ann", "--reason", "explained",
                   "--audit-db", t.db, cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    card = (t.base / CARDS / t.run_id / "logistic.md").read_text(encoding="utf-8")
    assert "**waived** (was fail)" in card, "the card the audit wrote shows the waiver"
    assert list(elsewhere.iterdir()) == [], "nothing is written into the reviewer's working folder"


# --- re-check ---------------------------------------------------------------------------------------------------


def test_recheck_with_a_stricter_policy_prints_the_changes_records_them_and_leaves_the_verdict(work: Trail) -> None:
    waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="ann", reason="explained")
    before_view, before_listed = current(work), summary(work.db, work.run_id)
    assert (before_view.verdict, before_view.recommended) == ("pass", "logistic")
    events = kinds(work.db)
    stricter = write_json(work.base / "review-test-2.json", STRICTER)

    done = run_cli("recheck", work.run_id, "--policy", stricter, "--audit-db", work.db, cwd=work.base)
    assert done.returncode == 1, done.stdout + done.stderr  # no candidate passes the stricter pack
    out = done.stdout.splitlines()
    for line in ("logistic · auc-floor: pass → fail (review-test)", "lightgbm · auc-floor: pass → fail (review-test)",
                 "logistic · recall-floor: absent → pass (review-test)", "logistic: FAIL", "lightgbm: FAIL"):
        assert line in out, done.stdout
    assert not any("dp-ratio" in line for line in out), "unchanged rules are not listed"
    assert kinds(work.db) == [*events, runs.RECHECK]

    [event] = load_run(work.db, work.run_id).rechecks
    assert [(p["name"], p["version"]) for p in event.data["policies"]] == [("review-test", "2.0.0")]
    assert {"candidate": "logistic", "rule": "auc-floor", "policy": "review-test", "before": "pass",
            "after": "fail"} in event.data["changes"]
    assert event.data["candidates"]["logistic"]["verdict"] == "fail"

    shown = run_cli("show", work.run_id, "--audit-db", work.db, "--format", "json", cwd=work.base)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    [listed_recheck] = document["rechecks"]
    assert listed_recheck["seq"] == event.seq
    assert listed_recheck["policies"] == ["review-test 2.0.0"]
    assert listed_recheck["changes"] == event.data["changes"]
    assert (document["verdict"], document["recommended"]) == ("pass", "logistic"), "a re-check changes no verdict"

    after_view = current(work)
    assert (after_view.verdict, after_view.recommended) == (before_view.verdict, before_view.recommended)
    assert [c.verdict for c in after_view.candidates] == [c.verdict for c in before_view.candidates]
    assert summary(work.db, work.run_id) == before_listed
    assert verify(work.db).intact


def test_recheck_against_a_looser_policy_reports_the_removed_rule_and_keeps_the_run_failed(work: Trail) -> None:
    looser = write_json(work.base / "looser.json", {"name": "review-test", "version": "1.1.0", "rules": RULES[:1]})
    changes, data = recheck(work.db, work.run_id, [looser])
    assert {(c.candidate, c.rule, c.before, c.after) for c in changes} >= {
        ("logistic", "dp-ratio", "fail", None), ("lightgbm", "dp-ratio", "fail", None),
    }
    assert data["candidates"]["logistic"]["verdict"] == "pass"
    assert data["candidates"]["baseline"]["is_baseline"] is True
    now = current(work)
    assert (now.verdict, now.recommended) == ("fail", None), "only the recorded check and decisions count"


def test_recheck_with_an_unusable_policy_exits_2_and_records_nothing(work: Trail) -> None:
    broken = work.base / "broken.json"
    broken.write_text('{"name": "x", "rules": [', encoding="utf-8")
    before = work.db.read_bytes()
    done = run_cli("recheck", work.run_id, "--policy", broken, "--audit-db", work.db, cwd=work.base)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = error_lines(done.stderr)
    assert "broken.json" in line
    assert work.db.read_bytes() == before


# --- date windows -----------------------------------------------------------------------------------------------


@pytest.fixture
def tomorrow_clock(monkeypatch: pytest.MonkeyPatch) -> date:
    """Events appended while this is active are stamped tomorrow (a review recorded a day after the audit)."""
    tomorrow = runs.today_utc() + timedelta(days=1)
    monkeypatch.setattr(trail, "now_utc", lambda: f"{tomorrow.isoformat()}T09:00:00.000000Z")
    return tomorrow


def test_a_run_listed_by_its_start_date_shows_reviews_recorded_later(work: Trail, tomorrow_clock: date) -> None:
    waive(work.db, work.run_id, "logistic", "dp-ratio", reviewer="late", reason="explained", today=tomorrow_clock)
    today = tomorrow_clock - timedelta(days=1)
    everything = summary(work.db, work.run_id)
    assert (everything["verdict"], everything["recommended"], everything["reviewers"]) == ("pass", "logistic",
                                                                                          ["late"])
    window = listed_run(work.db, work.run_id, RunFilter(until=today))
    assert window is not None, "the run started on or before --until"
    assert (window["verdict"], window["recommended"], window["reviewers"]) == ("pass", "logistic", ["late"])
    assert listed_run(work.db, work.run_id, RunFilter(until=today, reviewer="late")) is not None
