"""The recipe "add a rule kind": one check function with its parameter schema and sentence, plus one registry record.

The kind added here (`min_test_rows`, in a patched registry: it never reaches the product) is then seen by every
reader of kinds: the generated policy schema (a policy using it validates, wrong parameters are refused with their
JSON path), the checker, `policy explain`, the README's rule reference, the TUI's evidence panel and the model
card. The rest checks the registry itself: the shipped schema file is the generated one, fragments cannot refer
outside the schema, and every kind's evidence has a view in the TUI and a section in the card.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from adult_scores import score_half
from conftest import ROOT

from engine.cards.markdown import SECTIONS, section_for_kind
from engine.evaluation.groups import sensitive_groupings
from engine.evaluation.performance import EvidenceSettings, evaluate
from engine.jsonfiles import schema_errors
from engine.policy.checker import check
from engine.policy.explain import explain, explanation_json, rule_sentence
from engine.policy.finding import Evidence, Finding, Params, fmt
from engine.policy.loader import Policy, PolicyProblems, Rule, load_policy
from engine.policy.reference import reference_markdown
from engine.policy.registry import RULE_KINDS, TASK_TYPES, RuleKind
from engine.policy.schema import SCHEMA_FILE, main, policy_schema_document, policy_schema_text
from tui.widgets.evidence import EVIDENCE_VIEWS, keys_for_rule, view_for_kind

# ---------------------------------------------------------------------------------------------------------------
# The new kind, as its module would hold it: check function, parameter schema fragment, explain sentence.


def min_test_rows(evidence: Evidence, params: Params) -> Finding:
    """The held-out test split has at least `min` rows."""
    rows, bound = evidence.get("rows"), float(params["min"])
    if rows is None:
        return Finding("unknown", None, bound, "the size of the test split was not recorded")
    ok = rows >= bound
    return Finding("pass" if ok else "fail", float(rows), bound,
                   f"{rows} test rows {'>=' if ok else 'is not >='} {fmt(bound)}")


MIN_TEST_ROWS_PARAMS: dict[str, Any] = {
    "description": "The held-out test split has at least min rows.",
    "required": ["min"],
    "properties": {"min": {"type": "integer", "minimum": 1, "description": "Fewest rows the test split may have."},
                   "use": {"$ref": "#/$defs/use"}},
    "examples": [{"id": "enough-test-rows", "kind": "min_test_rows", "min": 500, "severity": "block",
                  "checklist": "optimizing_metric"}],
}


def say_min_test_rows(params: Params) -> str:
    return f"the test split has at least {params['min']} rows"


NEW_KIND = RuleKind(min_test_rows, ("rows",), MIN_TEST_ROWS_PARAMS, ("metrics",), say_min_test_rows)


@pytest.fixture
def added(monkeypatch: pytest.MonkeyPatch) -> RuleKind:
    """The registry with the new kind's record added (undone after the test)."""
    monkeypatch.setitem(RULE_KINDS, "min_test_rows", NEW_KIND)
    return NEW_KIND


def document(**params: Any) -> dict[str, Any]:
    rule = {"id": "enough-test-rows", "kind": "min_test_rows", **params, "severity": "block",
            "checklist": "optimizing_metric"}
    return {"name": "recipe", "version": "1", "rules": [rule]}


@pytest.fixture(scope="module")
def evidence(adult_sample: pd.DataFrame) -> dict[str, Any]:
    """Real evidence of a scored half of the Adult sample."""
    scored = score_half(adult_sample)
    groupings = sensitive_groupings(scored.frame, ["sex"], {})
    found, _ = evaluate(scored.y, scored.proba, groupings=groupings,
                        settings=EvidenceSettings(resamples=0, seed=3, min_group_size=30))
    return found


# ---------------------------------------------------------------------------------------------------------------
# The recipe, followed


def test_the_policy_schema_accepts_the_new_kind_and_refuses_its_wrong_parameters(added: RuleKind) -> None:
    schema = policy_schema_document()
    assert "min_test_rows" in schema["$defs"]["rule"]["properties"]["kind"]["enum"]
    assert schema_errors(document(min=500), schema) == []
    assert schema_errors(document(min=0), schema) == ["/rules/0/min: 0 is less than the minimum of 1"]
    assert schema_errors(document(min="many"), schema) == ["/rules/0/min: 'many' is not of type 'integer'"]
    assert schema_errors(document(), schema) == ["/rules/0: 'min' is a required property"]
    unexpected = schema_errors(document(min=500, max=9), schema)
    assert len(unexpected) == 1 and unexpected[0].startswith("/rules/0: ") and "'max'" in unexpected[0]


def test_until_the_shipped_schema_is_regenerated_the_loader_refuses_the_new_kind(
        added: RuleKind, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(document(min=500)), encoding="utf-8")
    with pytest.raises(PolicyProblems) as refused:
        load_policy(path)
    assert refused.value.problems[0].startswith(f"{path.resolve()}: /rules/0/kind: ")
    assert policy_schema_text() != SCHEMA_FILE.read_text(encoding="utf-8")
    assert main(["--check"]) == 1 and "stale" in capsys.readouterr().out


def test_the_checker_runs_the_new_kind(added: RuleKind, evidence: dict[str, Any]) -> None:
    policy = recipe_policy(500)
    (outcome,) = check([policy], evidence)
    assert (outcome.kind, outcome.status, outcome.threshold) == ("min_test_rows", "pass", 500.0)
    assert outcome.message == f"{evidence['rows']} test rows >= 500"
    (too_few,) = check([recipe_policy(10**6)], evidence)
    assert too_few.status == "fail" and too_few.message.endswith("is not >= 1e+06")


def recipe_policy(minimum: int) -> Policy:
    rule = Rule("enough-test-rows", "min_test_rows", "block", "optimizing_metric", {"min": minimum}, "recipe")
    return Policy("recipe", "1", ROOT / "recipe.json", (rule,), ())


def test_policy_explain_says_what_the_new_kind_demands(added: RuleKind) -> None:
    explained = explanation_json(explain(recipe_policy(500)))
    (item,) = [item for item in explained["checklist"] if item["rules"]]
    assert item["id"] == "optimizing_metric"
    assert item["rules"][0]["demands"] == "the test split has at least 500 rows"
    # a kind without a sentence of its own is worded from its schema description and parameters
    plain = RuleKind(min_test_rows, ("rows",), MIN_TEST_ROWS_PARAMS, ("metrics",))
    RULE_KINDS["min_test_rows"] = plain
    assert rule_sentence(recipe_policy(7).rules[0]) == "The held-out test split has at least min rows. (min = 7)"


def test_the_readme_reference_documents_the_new_kind(added: RuleKind) -> None:
    reference = reference_markdown()
    assert "### `min_test_rows`\n\nThe held-out test split has at least min rows." in reference
    assert "| `min` | integer | yes | Fewest rows the test split may have. |" in reference
    assert "| `use` | `\"point\"` \\| `\"ci_lower\"` \\| `\"ci_upper\"` | no |" in reference
    assert json.dumps(MIN_TEST_ROWS_PARAMS["examples"][0]) in reference
    assert reference.index("### `beats_champion`") < reference.index("### `min_test_rows`")


def test_the_tui_and_the_card_show_the_evidence_the_record_names(added: RuleKind, evidence: dict[str, Any]) -> None:
    assert view_for_kind("min_test_rows") == ("metrics",)
    assert keys_for_rule("min_test_rows", evidence) == ["metrics"]
    assert section_for_kind("min_test_rows") == "metrics"
    RULE_KINDS["min_test_rows"] = RuleKind(min_test_rows, ("rows",), MIN_TEST_ROWS_PARAMS, ("slices",))
    assert keys_for_rule("min_test_rows", evidence) == ["slices"]
    assert section_for_kind("min_test_rows") == "groups"


def test_the_new_kind_is_gone_from_the_product_after_the_recipe() -> None:
    assert "min_test_rows" not in RULE_KINDS
    assert view_for_kind("min_test_rows") == () and section_for_kind("min_test_rows") is None


# ---------------------------------------------------------------------------------------------------------------
# The registry and what is generated from it


def test_the_shipped_schema_file_is_the_one_generated_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == policy_schema_text(), "run python -m engine.policy.schema"
    assert main(["--check"]) == 0 and "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("ref", ["https://example.com/evil.json", "file:///etc/passwd", "#/$defs/nothing_here",
                                 "other.json#/$defs/use"])
def test_a_fragment_referring_outside_the_schema_is_refused(ref: str) -> None:
    bad = RuleKind(min_test_rows, ("rows",), {"properties": {"min": {"$ref": ref}}}, ("metrics",))
    with pytest.raises(ValueError, match="outside this schema's definitions"):
        policy_schema_document({**RULE_KINDS, "min_test_rows": bad})


@pytest.mark.parametrize("name", ["by", "use", "metric", "rule", "checklist"])
def test_a_kind_cannot_take_the_name_of_a_shared_definition(name: str) -> None:
    with pytest.raises(ValueError, match="taken by shared schema definitions"):
        policy_schema_document({**RULE_KINDS, name: NEW_KIND})


def test_every_kind_has_its_evidence_views_in_the_tui_and_a_card_section() -> None:
    for name, kind in RULE_KINDS.items():
        assert kind.reads and kind.shows, name
        assert set(kind.task_types) <= set(TASK_TYPES), name
        assert all(key in EVIDENCE_VIEWS for key in kind.shows), name
        assert section_for_kind(name) in SECTIONS, name
        assert kind.params.get("description"), name


def test_no_private_name_is_imported_across_the_policy_and_card_modules() -> None:
    for package in ("engine/policy", "engine/cards", "tui/widgets"):
        for path in sorted((ROOT / package).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            private = [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                       for alias in node.names if alias.name.startswith("_") and node.module != "__future__"]
            assert private == [], path
