"""engine.policy.explain and .reference: `mlgate policy explain`, `policy init`, the rule reference."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, run_cli

from engine.checklist import CHECKLIST, CHECKLIST_IDS
from engine.policy.explain import explain, rule_sentence, starter
from engine.policy.loader import POLICIES_DIR, load_policy
from engine.policy.reference import END, PAGE, START, example, reference_markdown, replace_section
from engine.policy.registry import RULE_KINDS


def test_explain_groups_every_rule_under_its_checklist_item_and_lists_the_uncovered() -> None:
    policy = load_policy(POLICIES_DIR / "high-risk.json")
    explanation = explain(policy)
    assert [item.id for item, _ in explanation.items] == [item.id for item in CHECKLIST]  # no monitoring rule
    grouped = [rule.id for _, rules in explanation.items for rule in rules]
    assert sorted(grouped) == sorted(rule.id for rule in policy.rules)  # every rule exactly once
    covered = {rule.checklist for rule in policy.rules}
    assert {item.id for item in explanation.uncovered} == {item.id for item in CHECKLIST} - covered
    assert set(CHECKLIST_IDS) == {item.id for item in CHECKLIST} | {"monitoring"}


def test_rule_sentences_state_the_bound_and_the_interval_bound_used() -> None:
    rules = {rule.id: rule for rule in load_policy(POLICIES_DIR / "high-risk.json").rules}
    assert rule_sentence(rules["auc-floor"]) == (
        "ROC AUC (lower bound of its confidence interval) on the test split >= 0.85")
    assert rule_sentence(rules["dp-ratio-sex"]) == "demographic parity ratio across groups of sex at least 0.8"
    assert "0.01" in rule_sentence(rules["auc-beats-baseline"])


def test_policy_explain_cli_text_and_json(tmp_path: Path) -> None:
    done = run_cli("policy", "explain", POLICIES_DIR / "default.json")
    assert done.returncode == 0, done.stderr
    assert "auc-floor: ROC AUC (lower bound of its confidence interval) on the test split >= 0.7" in done.stdout
    assert "uncovered checklist items: fairness, decisions_explained\n" in done.stdout
    as_json = json.loads(run_cli("policy", "explain", POLICIES_DIR / "default.json", "--format", "json").stdout)
    assert as_json["uncovered"] == ["fairness", "decisions_explained"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "version": "1", "rules": [{"id": "a", "kind": "nope"}]}', encoding="utf-8")
    refused = run_cli("policy", "explain", bad)
    assert refused.returncode == 2 and str(bad) in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_policy_init_writes_a_valid_self_contained_pack_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "mine.json"
    done = run_cli("policy", "init", "--pack", "high-risk", "--out", out)
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    assert "extends" not in written
    shipped = load_policy(POLICIES_DIR / "high-risk.json")
    assert [r["id"] for r in written["rules"]] == [r.id for r in shipped.rules]
    mine = load_policy(out)  # validates
    assert [(r.kind, r.severity, r.checklist) for r in mine.rules] == [
        (r.kind, r.severity, r.checklist) for r in shipped.rules]
    assert written == starter("high-risk")
    before = out.read_bytes()
    again = run_cli("policy", "init", "--out", out)
    assert again.returncode == 2 and "already exists" in again.stderr and out.read_bytes() == before
    assert run_cli("policy", "init", "--out", out, "--force").returncode == 0
    assert json.loads(out.read_text(encoding="utf-8"))["rules"] == starter("default")["rules"]


def test_the_docs_rule_reference_is_generated_from_the_registry() -> None:
    page = (ROOT / PAGE).read_text(encoding="utf-8")
    generated = reference_markdown()
    assert generated in page, f"{PAGE} is out of date: run `python -m scripts.docs_reference`"
    assert page.count(END) == 1
    assert END not in (ROOT / "README.md").read_text(encoding="utf-8")  # the reference moved to the site
    for kind in RULE_KINDS:
        assert f"### `{kind}`" in generated
        shown = example(kind)
        assert shown is not None, f"rule kind {kind} has no example (schema `examples` or a shipped pack)"
        assert shown["kind"] == kind


def test_the_reference_section_of_a_page_is_rewritten_between_its_markers() -> None:
    stale = f"# Rule kinds\n\nbefore\n\n{START}\n\n### `old_kind`\n\n{END}\n\nafter\n"
    rewritten = replace_section(stale)
    assert rewritten == f"# Rule kinds\n\nbefore\n\n{reference_markdown()}\n\nafter\n"
    assert replace_section(rewritten) == rewritten
