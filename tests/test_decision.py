"""engine.decision: the one place that decides what an audit's outcomes mean.

Fast tests walk every status x severity x fail_on combination through `blocks` and `candidate_verdict`, the
Outcome JSON the trail stores (waived outcomes included), waivers (active, expired, renewed), the recommendation
(higher-is-better and loss metrics, ties, missing values, ineligible candidates), the run verdict and the
refusals' wording. The slow ones check that the run views, `review.signoff` and `champion.promote` decide through
it on a real audited trail (tests/review_trail.py: the audit tests/test_review.py uses, trained once per session).
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import DEFAULT_POLICY
from review_trail import POLICY_FILE, Template, Trail, copy_template

from engine import decision
from engine.audit import runs
from engine.audit.trail import NewEvent, append
from engine.champion import ChampionError, promote, registry
from engine.decision import (
    APPROVE,
    BLOCKING_STATUSES,
    FAIL_ON,
    INCOMPLETE,
    PROMOTE,
    RECORD,
    SEVERITIES,
    STATUSES,
    VERDICTS,
    WAIVE_HINT,
    Contender,
    Outcome,
    Refusal,
    Standing,
    Waiver,
    apply_waivers,
    blocks,
    candidate_verdict,
    may_promote,
    may_sign_off,
    recommend,
    refusal,
    run_verdict,
)
from engine.policy import checker
from engine.policy.loader import load_policies
from engine.review import ReviewError, signoff, waive

pytest_plugins = ["review_trail"]

# Every (status, severity, fail_on) that fails its candidate, written out: a rule that was not passed (failed,
# unknown, errored) and blocks, or any such rule when fail_on is "warn". Passed and waived rules never do.
BLOCKING_CASES = {
    (status, severity, fail_on)
    for status in ("fail", "unknown", "error")
    for severity, fail_on in (("block", "block"), ("block", "warn"), ("warn", "warn"))
}
TODAY = date(2026, 3, 10)


def outcome(status: str = "pass", severity: str = "block", rule: str = "r", policy: str = "p",
            observed: float | None = 0.5) -> Outcome:
    return Outcome(rule, "metric_threshold", severity, "optimizing_metric", policy, status,  # type: ignore[arg-type]
                   observed, 0.7, f"{rule} is {status}")


def waiver(rule: str = "r", policy: str = "p", *, until: str | None = None, seq: int = 1,
           reason: str = "explained") -> Waiver:
    return Waiver(rule, policy, "ann", reason, until, seq)


# --- blocking and the candidate verdict --------------------------------------------------------------------------


def test_the_statuses_and_the_blocking_ones() -> None:
    assert STATUSES == ("pass", "fail", "unknown", "error", "waived")
    assert {"fail", "unknown", "error"} == BLOCKING_STATUSES
    assert SEVERITIES == FAIL_ON == ("block", "warn")
    assert VERDICTS == ("pass", "fail", "incomplete")
    assert len(BLOCKING_CASES) == 9


@pytest.mark.parametrize(("status", "severity", "fail_on"), list(itertools.product(STATUSES, SEVERITIES, FAIL_ON)))
def test_blocks_and_the_verdict_for_every_status_severity_and_fail_on(status: str, severity: str,
                                                                      fail_on: str) -> None:
    expected = (status, severity, fail_on) in BLOCKING_CASES
    one = outcome(status, severity)
    assert blocks(severity, status, fail_on) is expected
    assert one.blocks(fail_on) is expected
    assert decision.blocking([outcome("pass"), one], fail_on=fail_on) == ([one] if expected else [])
    verdict = "fail" if expected else "pass"
    assert candidate_verdict([one], fail_on=fail_on) == verdict
    assert candidate_verdict([outcome("pass"), one, outcome("pass", "warn")], fail_on=fail_on) == verdict
    assert candidate_verdict([one], fail_on=fail_on, error="ValueError: boom") == "fail"


def test_blocks_defaults_to_fail_on_block() -> None:
    assert blocks("block", "fail") and not blocks("warn", "fail")
    assert candidate_verdict([outcome("fail", "warn")]) == "pass"


def test_a_candidate_with_no_outcomes_passes_unless_it_failed_to_train() -> None:
    assert candidate_verdict([], fail_on="block") == "pass"
    assert candidate_verdict([], fail_on="warn", error="LightGBMError: no data") == "fail"


def test_the_checker_makes_the_decision_modules_outcomes() -> None:
    assert checker.Outcome is Outcome
    made = checker.check(load_policies([DEFAULT_POLICY]), {})
    assert made and all(isinstance(o, Outcome) for o in made)
    assert candidate_verdict(made) == "fail", "rules without their evidence are unknown, and the block ones block"


# --- the Outcome JSON the trail stores ---------------------------------------------------------------------------


def test_an_outcomes_json_is_its_fields_in_order_and_reads_back_equal() -> None:
    one = outcome("fail")
    assert list(one.to_json()) == ["id", "kind", "severity", "checklist", "policy", "status", "observed",
                                   "threshold", "message"]
    assert Outcome.from_json(one.to_json()) == one
    stored = dict(sorted(one.to_json().items()))  # the trail hands its JSON back with sorted keys
    assert Outcome.from_json(stored) == one


def test_a_waived_outcome_keeps_its_recorded_status_and_carries_the_waiver() -> None:
    recorded = outcome("unknown", rule="dp", policy="fair")
    covering = waiver("dp", "fair", until="2026-04-01", seq=42)
    waived = recorded.waived_by(covering)
    assert (waived.status, waived.recorded_status, waived.waiver) == ("waived", "unknown", covering)
    data = waived.to_json()
    assert list(data)[-2:] == ["recorded_status", "waiver"]
    assert data["waiver"] == {"reviewer": "ann", "reason": "explained", "until": "2026-04-01", "seq": 42}
    assert {k: v for k, v in data.items() if k not in ("status", "recorded_status", "waiver")} == {
        k: v for k, v in recorded.to_json().items() if k != "status"}
    assert Outcome.from_json(data) == waived
    assert not waived.blocks("warn")


def test_a_waiver_reads_from_its_event() -> None:
    data = {"candidate": "logistic", "rule_id": "dp", "policy": "fair", "status": "fail", "reviewer": "ann",
            "reason": "ok", "until": None, "evidence_sha256": "ab", "policies": []}
    assert Waiver.from_event(data, seq=7) == Waiver("dp", "fair", "ann", "ok", None, 7)


# --- waivers -------------------------------------------------------------------------------------------------------


def test_a_waiver_holds_through_its_until_date_and_forever_without_one() -> None:
    until = waiver(until=TODAY.isoformat())
    assert until.active(TODAY - timedelta(days=30)) and until.active(TODAY)
    assert not until.active(TODAY + timedelta(days=1))
    assert waiver(until=None).active(date(2999, 1, 1))


@pytest.mark.parametrize("status", sorted(BLOCKING_STATUSES))
@pytest.mark.parametrize("severity", SEVERITIES)
def test_an_active_waiver_turns_a_not_passed_rule_into_waived(status: str, severity: str) -> None:
    recorded = outcome(status, severity)
    [waived] = apply_waivers([recorded], [waiver(until=TODAY.isoformat())], today=TODAY)
    assert (waived.status, waived.recorded_status) == ("waived", status)
    assert candidate_verdict([waived], fail_on="warn") == "pass"


def test_waivers_change_only_the_not_passed_rule_of_their_policy_while_active() -> None:
    passed, other_rule, other_policy, failed = (outcome("pass"), outcome("fail", rule="q"),
                                                outcome("fail", policy="other"), outcome("fail"))
    result = apply_waivers([passed, other_rule, other_policy, failed], [waiver()], today=TODAY)
    assert result[:3] == [passed, other_rule, other_policy]
    assert result[3].status == "waived"
    expired = waiver(until=(TODAY - timedelta(days=1)).isoformat())
    assert apply_waivers([failed], [expired], today=TODAY) == [failed]
    assert candidate_verdict(apply_waivers([failed], [expired], today=TODAY)) == "fail"
    already = failed.waived_by(waiver())
    assert apply_waivers([already], [waiver(seq=9)], today=TODAY) == [already], "a waived rule is not waived twice"


def test_an_expired_waiver_renewed_shows_the_renewal_and_the_last_active_waiver_wins() -> None:
    failed = outcome("fail")
    expired = waiver(until=(TODAY - timedelta(days=1)).isoformat(), seq=1, reason="first")
    renewed = waiver(until=(TODAY + timedelta(days=30)).isoformat(), seq=5, reason="renewed")
    [now] = apply_waivers([failed], [expired, renewed], today=TODAY)
    assert now.waiver == renewed
    [later] = apply_waivers([failed], [renewed, waiver(seq=8, reason="for good")], today=TODAY)
    assert later.waiver is not None and later.waiver.reason == "for good"
    [lapsed] = apply_waivers([failed], [expired, renewed], today=TODAY + timedelta(days=31))
    assert lapsed == failed


# --- recommendation and the run verdict -----------------------------------------------------------------------


def test_the_recommendation_is_the_best_by_a_higher_is_better_metric() -> None:
    contenders = [Contender("a", 0.71), Contender("b", 0.83), Contender("c", 0.79)]
    assert recommend(contenders, metric="roc_auc") == "b"


@pytest.mark.parametrize("metric", ["log_loss", "brier"])
def test_the_recommendation_is_the_lowest_by_a_loss_metric(metric: str) -> None:
    contenders = [Contender("a", 0.41), Contender("b", 0.38), Contender("c", 0.52)]
    assert recommend(contenders, metric=metric) == "b"


def test_ties_go_to_the_first_candidate_and_missing_values_are_never_recommended() -> None:
    assert recommend([Contender("a", 0.8), Contender("b", 0.8)], metric="roc_auc") == "a"
    assert recommend([Contender("a", 0.3), Contender("b", 0.3)], metric="log_loss") == "a"
    assert recommend([Contender("a", None), Contender("b", 0.6)], metric="roc_auc") == "b"
    assert recommend([Contender("a", None), Contender("b", None)], metric="roc_auc") is None
    assert recommend([], metric="roc_auc") is None
    assert recommend([Contender("a", 0.0), Contender("b", -0.1)], metric="roc_auc") == "a"


def test_the_baseline_a_failing_and_a_rejected_candidate_are_never_recommended() -> None:
    contenders = [Contender("baseline", 0.99, is_baseline=True), Contender("failing", 0.95, verdict="fail"),
                  Contender("rejected", 0.9, rejected=True), Contender("kept", 0.7)]
    assert recommend(contenders, metric="roc_auc") == "kept"
    assert recommend(contenders[:3], metric="roc_auc") is None
    assert recommend([Contender("a", 0.7), Contender("b", None), Contender("c", 0.9)], metric="roc_auc") == "c"


def test_a_complete_run_passes_when_it_recommends_and_an_incomplete_one_is_incomplete() -> None:
    assert run_verdict(complete=True, recommended="logistic") == "pass"
    assert run_verdict(complete=True, recommended=None) == "fail"
    assert run_verdict(complete=False, recommended=None) == INCOMPLETE == "incomplete"
    assert run_verdict(complete=False, recommended="logistic") == "incomplete"


# --- the refusals, one check for an approval and a promotion ------------------------------------------------------


STANDINGS = (
    Standing("baseline", True, (outcome("pass"),)),
    Standing("clean", False, (outcome("pass"), outcome("fail", "warn", rule="w"))),
    Standing("blocked", False, (outcome("fail", rule="dp"), outcome("unknown", rule="auc"), outcome("pass"))),
    Standing("broken", False, (outcome("unknown"),), error="ValueError: boom"),
    Standing("turned-down", False, (outcome("pass"),), rejected_by="Dee"),
    Standing("strict", False, (outcome("fail", "warn", rule="w"),), fail_on="warn"),
)


def refused(action: decision.Action, name: str, *, complete: bool = True) -> Refusal | None:
    return refusal(action, run_id="R1", complete=complete, name=name, candidates=STANDINGS)


WORDING = [  # (candidate, approve's refusal, promote's refusal): the same check, only the verb differs
    ("baseline", "'baseline' is the baseline: a reference, never a model to approve",
     "'baseline' is the baseline: a reference, never a model to promote"),
    ("blocked", "cannot approve 'blocked' in run R1: blocking rules not passed: dp (fail), auc (unknown)",
     "cannot promote 'blocked' of run R1: blocking rules not passed: dp (fail), auc (unknown)"),
    ("broken", "'broken' of run R1 failed to train; it cannot be signed off",
     "'broken' of run R1 failed to train; it cannot be promoted"),
    ("strict", "cannot approve 'strict' in run R1: blocking rules not passed: w (fail)",
     "cannot promote 'strict' of run R1: blocking rules not passed: w (fail)"),
    ("nope", "run R1 has no candidate 'nope'; its candidates are: baseline, clean, blocked, broken, turned-down, "
             "strict", None),
]


@pytest.mark.parametrize(("name", "approve", "promote_"), WORDING)
def test_an_approval_and_a_promotion_are_refused_by_one_check(name: str, approve: str, promote_: str | None) -> None:
    approval, promotion = refused(APPROVE, name), refused(PROMOTE, name)
    assert approval is not None and promotion is not None
    assert approval.message == approve
    assert promotion.message == (promote_ or approve)
    hint = WAIVE_HINT if "blocking rules" in approve else None
    assert approval.hint == promotion.hint == hint


def test_an_incomplete_run_refuses_every_decision() -> None:
    for action, done in ((APPROVE, "signed off"), (RECORD, "signed off"), (PROMOTE, "promoted")):
        found = refused(action, "clean", complete=False)
        assert found == Refusal(f"run R1 is incomplete (it never finished); nothing in it can be {done}")


def test_a_clean_candidate_may_be_approved_and_promoted_and_warnings_do_not_block() -> None:
    for action in (APPROVE, PROMOTE, RECORD):
        assert refused(action, "clean") is None


def test_a_rejected_candidate_may_be_approved_again_but_not_promoted() -> None:
    assert refused(APPROVE, "turned-down") is None
    assert refused(PROMOTE, "turned-down") == Refusal("'turned-down' of run R1 was rejected by Dee; it cannot be "
                                                      "promoted")


def test_a_rejection_or_a_waiver_needs_only_the_run_and_the_candidate() -> None:
    for name in ("baseline", "blocked", "broken", "turned-down"):
        assert refused(RECORD, name) is None
    assert may_sign_off(run_id="R1", complete=True, name="blocked", candidates=STANDINGS, approve=False) is None
    assert may_sign_off(run_id="R1", complete=True, name="blocked", candidates=STANDINGS) == refused(APPROVE,
                                                                                                      "blocked")
    assert may_promote(run_id="R1", complete=True, name="blocked", candidates=STANDINGS) == refused(PROMOTE, "blocked")


# --- on a real audited trail ----------------------------------------------------------------------------------


@pytest.fixture
def trail(review_template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trail:
    copied = copy_template(review_template, tmp_path / "audit")
    monkeypatch.chdir(copied.base)
    return copied


def now(t: Trail, run_id: str | None = None) -> runs.RunView:
    return runs.view(runs.load_run(t.db, run_id or t.run_id))


def approval_refused(t: Trail, name: str, run_id: str | None = None) -> ReviewError:
    with pytest.raises(ReviewError) as caught:
        signoff(t.db, run_id or t.run_id, name, decision="approve", reviewer="ann", reason="ready")
    return caught.value


def promotion_refused(t: Trail, name: str, run_id: str | None = None) -> ChampionError:
    with pytest.raises(ChampionError) as caught:
        promote(t.db, run_id or t.run_id, name, reviewer="ann", reason="ready")
    return caught.value


def asked(t: Trail, name: str, run_id: str | None = None) -> tuple[Refusal | None, Refusal | None]:
    """What engine.decision answers for an approval and a promotion of `name`, from the run as it stands."""
    current = now(t, run_id)
    facts: dict[str, Any] = {"run_id": current.run_id, "complete": current.complete, "name": name,
                             "candidates": current.standings()}
    return may_sign_off(**facts), may_promote(**facts)


@pytest.mark.slow
def test_the_run_view_decides_through_the_decision_module(review_template: Template) -> None:
    record = runs.load_run(review_template.base / "audit.duckdb", review_template.run_id)
    current = runs.view(record)
    for candidate in current.candidates:
        stored = record.rules[candidate.name].data["outcomes"]
        assert candidate.outcomes == stored and [list(o) for o in candidate.outcomes] == [list(o) for o in stored]
        assert candidate.verdict == candidate_verdict([Outcome.from_json(o) for o in stored], fail_on="block")
        assert candidate.blocking_failures() == decision.blocking(candidate.checked())
    assert [c.verdict for c in current.candidates] == ["fail", "fail", "fail"]
    assert current.recommended == recommend([c.contender("roc_auc") for c in current.candidates],
                                            metric="roc_auc") is None
    assert current.verdict == "fail"
    interrupted = runs.view(runs.load_run(review_template.base / "audit.duckdb", review_template.interrupted))
    assert (interrupted.verdict, interrupted.recommended) == ("incomplete", None)


@pytest.mark.slow
def test_signoff_and_promotion_are_refused_with_the_same_check_on_a_real_trail(trail: Trail) -> None:
    before = trail.db.read_bytes()
    approval, promotion = asked(trail, "logistic")
    assert approval is not None and promotion is not None
    approval_error, promotion_error = approval_refused(trail, "logistic"), promotion_refused(trail, "logistic")
    assert (approval_error.message, approval_error.hint) == (approval.message, approval.hint)
    assert (promotion_error.message, promotion_error.hint) == (promotion.message, promotion.hint)
    assert approval.message == f"cannot approve 'logistic' in run {trail.run_id}: blocking rules not passed: " \
                               "dp-ratio (fail)"
    assert promotion.message == approval.message.replace("approve", "promote").replace(" in run", " of run")
    assert approval.hint == promotion.hint == WAIVE_HINT
    for name in ("baseline",):
        assert approval_refused(trail, name).message.endswith("never a model to approve")
        assert promotion_refused(trail, name).message.endswith("never a model to promote")
    assert "nothing in it can be signed off" in approval_refused(trail, "logistic", trail.interrupted).message
    assert "nothing in it can be promoted" in promotion_refused(trail, "logistic", trail.interrupted).message
    assert trail.db.read_bytes() == before, "a refusal writes nothing"


@pytest.mark.slow
def test_after_a_waiver_both_are_allowed_and_a_rejection_stops_only_the_promotion(trail: Trail) -> None:
    waive(trail.db, trail.run_id, "logistic", "dp-ratio", reviewer="ann", reason="explained")
    assert asked(trail, "logistic") == (None, None)
    assert now(trail).recommended == "logistic"

    signoff(trail.db, trail.run_id, "logistic", decision="reject", reviewer="Dee", reason="unstable")
    approval, promotion = asked(trail, "logistic")
    assert approval is None, "a reviewer may change a rejection into an approval"
    assert promotion == Refusal(f"'logistic' of run {trail.run_id} was rejected by Dee; it cannot be promoted")
    assert promotion_refused(trail, "logistic").message == promotion.message
    assert (now(trail).verdict, now(trail).recommended) == ("fail", None)

    signoff(trail.db, trail.run_id, "logistic", decision="approve", reviewer="ann", reason="reconsidered")
    assert asked(trail, "logistic") == (None, None)
    promote(trail.db, trail.run_id, "logistic", reviewer="ann", reason="fair enough")
    champion = registry(trail.db, "adult-review").current
    assert champion is not None and (champion["run_id"], champion["candidate"]) == (trail.run_id, "logistic")


def _run_with_a_failed_candidate(t: Trail) -> str:
    """A completed run of the same spec in which logistic failed to train (its rules checked on no evidence)."""
    record = runs.load_run(t.db, t.run_id)
    run_id = "20000101T000000Z-failed"
    failed = {**record.candidates["logistic"].data, "evidence": None, "evidence_sha256": None,
              "error": "ValueError: solver failed"}
    outcomes = [o.to_json() for o in checker.check(load_policies([t.base / POLICY_FILE]), {})]
    append(t.db, [
        NewEvent(runs.RUN_STARTED, run_id, record.started.data),
        NewEvent(runs.CANDIDATE_EVALUATED, run_id, record.candidates["baseline"].data),
        NewEvent(runs.RULES_CHECKED, run_id, record.rules["baseline"].data),
        NewEvent(runs.CANDIDATE_EVALUATED, run_id, failed),
        NewEvent(runs.RULES_CHECKED, run_id, {**record.rules["logistic"].data, "evidence_sha256": None,
                                              "outcomes": outcomes, "verdict": "fail"}),
        NewEvent(runs.RUN_COMPLETED, run_id, {"verdict": "fail", "recommended": None, "optimizing_metric": "roc_auc",
                                              "candidates": {"baseline": "fail", "logistic": "fail"}}),
    ])
    return run_id


@pytest.mark.slow
def test_a_candidate_that_failed_to_train_fails_and_can_be_neither_approved_nor_promoted(trail: Trail) -> None:
    run_id = _run_with_a_failed_candidate(trail)
    logistic = now(trail, run_id).candidate("logistic")
    assert logistic is not None and (logistic.verdict, logistic.error) == ("fail", "ValueError: solver failed")
    approval, promotion = asked(trail, "logistic", run_id)
    assert approval == Refusal(f"'logistic' of run {run_id} failed to train; it cannot be signed off")
    assert promotion == Refusal(f"'logistic' of run {run_id} failed to train; it cannot be promoted")
    assert approval_refused(trail, "logistic", run_id).message == approval.message
    assert promotion_refused(trail, "logistic", run_id).message == promotion.message
