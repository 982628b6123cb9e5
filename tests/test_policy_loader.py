"""engine.policy.loader: the shipped policy, parse and schema errors with file and JSON path, extends, no network."""

from __future__ import annotations

import copy
import hashlib
import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import DEFAULT_POLICY

from engine.errors import PolicyError
from engine.jsonfiles import MAX_DOCUMENT_BYTES, schema_errors
from engine.policy.loader import PolicyProblems, load_policies, load_policy, policy_schema

CHECKLIST = [
    "optimizing_metric",
    "satisficing_metrics",
    "slice_metrics",
    "fairness",
    "calibration",
    "explainability",
    "robustness",
    "feature_availability",
    "skew",
    "reproducibility",
    "artifacts",
    "rollback",
    "data_and_split",
    "decisions_explained",
    "monitoring",  # judged after approval (engine.monitor)
]

GOOD_RULE = {
    "id": "auc-floor",
    "kind": "metric_threshold",
    "metric": "roc_auc",
    "op": ">=",
    "value": 0.7,
    "severity": "block",
    "checklist": "optimizing_metric",
}
LIFT_RULE = {
    "id": "auc-lift",
    "kind": "beats_baseline",
    "metric": "roc_auc",
    "min_lift": 0.05,
    "severity": "warn",
    "checklist": "optimizing_metric",
}


def _document(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "test", "version": "1.0.0", "rules": list(rules), **top}


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def test_default_policy_loads_and_is_valid() -> None:
    document = json.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))
    assert schema_errors(document, policy_schema()) == []
    policy = load_policy(DEFAULT_POLICY)
    assert policy.name == "default"
    assert policy.path == DEFAULT_POLICY.resolve()
    assert [rule.id for rule in policy.rules] == [rule["id"] for rule in document["rules"]]
    auc = policy.rules[0]
    assert (auc.kind, auc.severity, auc.checklist, auc.policy) == (
        "metric_threshold",
        "block",
        "optimizing_metric",
        "default",
    )
    assert auc.params == {
        "metric": "roc_auc",
        "op": ">=",
        "value": 0.70,
        "use": "ci_lower",
        "description": document["rules"][0]["description"],
    }
    (source,) = policy.sources
    assert source.path == str(DEFAULT_POLICY.resolve())
    assert source.sha256 == hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest()
    assert source.text == DEFAULT_POLICY.read_text(encoding="utf-8")


def test_checklist_enum_is_the_twelve_design_items() -> None:
    assert policy_schema()["$defs"]["checklist"]["enum"] == CHECKLIST


def test_load_policies_keeps_the_order(tmp_path: Path) -> None:
    other = _write(tmp_path / "other.json", _document(GOOD_RULE, name="other"))
    assert [p.name for p in load_policies([other, DEFAULT_POLICY])] == ["other", "default"]


def test_missing_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(PolicyError, match="not found") as caught:
        load_policy(path)
    assert str(path) in caught.value.message


MALFORMED = [
    ('{\n  "name": "x",\n  "version": "1",\n  "rules": [\n    {"id": "a",}\n  ]\n}\n', 5),
    ('{"name": "x"\n"version": "1"}', 2),
    ("", 1),
]


@pytest.mark.parametrize(("text", "line"), MALFORMED)
def test_malformed_json_names_the_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert not isinstance(caught.value, PolicyProblems)
    assert caught.value.message.startswith(str(path))
    assert f"line {line}," in caught.value.message
    assert "not valid JSON" in caught.value.message


def test_non_utf8_policy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(PolicyError, match="not UTF-8") as caught:
        load_policy(path)
    assert str(path) in caught.value.message


def _with(rule: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = {**copy.deepcopy(rule), **changes}
    return {k: v for k, v in changed.items() if v is not _DROP}


_DROP = object()

# A document and the JSON paths that its problems must name (each at least once).
INVALID = {
    "unknown kind": (_document(_with(GOOD_RULE, kind="magic")), ["/rules/0/kind"]),
    "bad op": (_document(_with(GOOD_RULE, op="==")), ["/rules/0/op"]),
    "bad metric": (_document(_with(LIFT_RULE, metric="gini")), ["/rules/0/metric"]),
    "missing severity": (_document(_with(GOOD_RULE, severity=_DROP)), ["/rules/0"]),
    "missing value": (_document(_with(GOOD_RULE, value=_DROP)), ["/rules/0"]),
    "extra property on a rule": (_document(GOOD_RULE, _with(LIFT_RULE, colour="red")), ["/rules/1"]),
    "parameter of another kind": (_document(_with(LIFT_RULE, op=">=")), ["/rules/0"]),
    "wrong checklist": (_document(_with(GOOD_RULE, checklist="vibes")), ["/rules/0/checklist"]),
    "bad severity": (_document(_with(GOOD_RULE, severity="fatal")), ["/rules/0/severity"]),
    "value not a number": (_document(_with(GOOD_RULE, value="0.7")), ["/rules/0/value"]),
    "bad rule id": (_document(_with(GOOD_RULE, id="has space")), ["/rules/0/id"]),
    "missing name": ({"version": "1", "rules": []}, ["/"]),
    "extra top-level property": (_document(GOOD_RULE, owner="me"), ["/"]),
    "rules not a list": ({"name": "x", "version": "1", "rules": {}}, ["/rules"]),
    "document not an object": ([GOOD_RULE], ["/"]),
    "remote $ref in a rule": (_document({**GOOD_RULE, "$ref": "https://example.invalid/x.json"}), ["/rules/0"]),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_schema_invalid_policy_lists_problems_with_file_and_json_path(tmp_path: Path, case: str) -> None:
    document, paths = INVALID[case]
    path = _write(tmp_path / "policy.json", document)
    with pytest.raises(PolicyProblems) as caught:
        load_policy(path)
    problems = caught.value.problems
    assert problems
    for problem in problems:
        assert problem.startswith(f"{path.resolve()}: /")
    for json_path in paths:
        assert any(p.startswith(f"{path.resolve()}: {json_path}: ") for p in problems), problems
    assert caught.value.message.startswith(problems[0])


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    document = _document(
        _with(GOOD_RULE, op="=="),
        _with(LIFT_RULE, checklist="vibes"),
        _with(GOOD_RULE, id="third", severity=_DROP),
        _with(LIFT_RULE, id="fourth", metric="gini"),
    )
    path = _write(tmp_path / "policy.json", document)
    with pytest.raises(PolicyProblems) as caught:
        load_policy(path)
    problems = caught.value.problems
    prefix = f"{path.resolve()}: "
    assert any(p.startswith(prefix + "/rules/0/op: ") for p in problems)
    assert any(p.startswith(prefix + "/rules/1/checklist: ") for p in problems)
    assert any(p.startswith(prefix + "/rules/2: ") and "severity" in p for p in problems)
    assert any(p.startswith(prefix + "/rules/3/metric: ") for p in problems)
    assert f"(and {len(problems) - 1} more)" in caught.value.message


def test_missing_property_problem_names_the_property(tmp_path: Path) -> None:
    path = _write(tmp_path / "policy.json", _document(_with(GOOD_RULE, severity=_DROP)))
    with pytest.raises(PolicyProblems) as caught:
        load_policy(path)
    assert any("'severity' is a required property" in p for p in caught.value.problems)


def test_extra_property_problem_names_the_property(tmp_path: Path) -> None:
    path = _write(tmp_path / "policy.json", _document(_with(GOOD_RULE, colour="red")))
    with pytest.raises(PolicyProblems) as caught:
        load_policy(path)
    assert any(p.startswith(f"{path.resolve()}: /rules/0: ") and "colour" in p for p in caught.value.problems)


def test_duplicate_rule_ids(tmp_path: Path) -> None:
    document = _document(GOOD_RULE, LIFT_RULE, _with(LIFT_RULE, id="auc-floor"), _with(GOOD_RULE, id="auc-lift"))
    path = _write(tmp_path / "policy.json", document)
    with pytest.raises(PolicyProblems) as caught:
        load_policy(path)
    assert caught.value.problems == [
        f"{path.resolve()}: /rules/2/id: duplicate rule id 'auc-floor'",
        f"{path.resolve()}: /rules/3/id: duplicate rule id 'auc-lift'",
    ]


def test_oversized_policy_is_refused_before_parsing(tmp_path: Path) -> None:
    text = json.dumps(_document(GOOD_RULE))
    path = tmp_path / "huge.json"
    path.write_text(text + " " * (MAX_DOCUMENT_BYTES + 1 - len(text)), encoding="utf-8")
    assert path.stat().st_size == MAX_DOCUMENT_BYTES + 1
    with pytest.raises(PolicyError, match="more than") as caught:
        load_policy(path)
    assert str(path.resolve()) in caught.value.message
    assert str(MAX_DOCUMENT_BYTES + 1) in caught.value.message


def test_a_policy_of_exactly_the_size_limit_loads(tmp_path: Path) -> None:
    text = json.dumps(_document(GOOD_RULE))
    path = tmp_path / "big.json"
    path.write_text(text + " " * (MAX_DOCUMENT_BYTES - len(text)), encoding="utf-8")
    assert load_policy(path).rules[0].id == "auc-floor"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any attempt to reach the network fail the test (and record it)."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[:2]))
        raise AssertionError(f"network access attempted: {args[:2]!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


REMOTE = {
    "$ref in a rule": _document({**GOOD_RULE, "$ref": "https://example.invalid/x.json"}),
    "a rule that is only a $ref": _document({"$ref": "https://example.invalid/rule.json"}),
    "$ref as the rules": _document(rules={"$ref": "https://example.invalid/rules.json"}),
    "$ref at the top": {"$ref": "https://example.invalid/policy.json"},
    "$id and $ref": _document({"$id": "https://example.invalid/", "$ref": "x.json"}),
}


@pytest.mark.parametrize("case", list(REMOTE))
def test_remote_refs_are_invalid_and_never_fetched(tmp_path: Path, no_network: list[str], case: str) -> None:
    path = _write(tmp_path / "remote.json", REMOTE[case])
    with pytest.raises(PolicyProblems):
        load_policy(path)
    assert no_network == []


def test_remote_schema_and_extends_are_never_fetched(tmp_path: Path, no_network: list[str]) -> None:
    schema_only = _write(
        tmp_path / "schema.json", _document(GOOD_RULE, **{"$schema": "https://example.invalid/s.json"})
    )
    assert load_policy(schema_only).rules[0].id == "auc-floor"
    remote_parent = _write(tmp_path / "child.json", _document(GOOD_RULE, extends="https://example.invalid/p.json"))
    with pytest.raises(PolicyError, match="not found"):
        load_policy(remote_parent)
    assert no_network == []


def test_no_network_fixture_really_blocks(no_network: list[str]) -> None:
    with pytest.raises(AssertionError, match="network access attempted"):
        urllib.request.urlopen("https://example.invalid/")
    assert len(no_network) == 1


def test_extends_puts_parent_rules_first_and_child_replaces_same_id(tmp_path: Path) -> None:
    parent = _write(
        tmp_path / "parent.json",
        _document(GOOD_RULE, LIFT_RULE, _with(GOOD_RULE, id="recall", metric="recall", value=0.3), name="parent"),
    )
    (tmp_path / "packs").mkdir()
    child = _write(
        tmp_path / "packs" / "child.json",
        _document(
            _with(GOOD_RULE, id="pr-floor", metric="pr_auc", value=0.4),
            _with(LIFT_RULE, min_lift=0.1, severity="block"),
            name="child",
            extends="../parent.json",
        ),
    )
    policy = load_policy(child)
    assert policy.name == "child"
    assert [r.id for r in policy.rules] == ["auc-floor", "auc-lift", "recall", "pr-floor"]
    by_id = {r.id: r for r in policy.rules}
    assert by_id["auc-lift"].params["min_lift"] == 0.1
    assert by_id["auc-lift"].severity == "block"
    assert by_id["auc-lift"].policy == "child"
    assert by_id["auc-floor"].policy == "parent"
    assert [s.path for s in policy.sources] == [str(parent.resolve()), str(child.resolve())]


def test_extends_chain_of_three(tmp_path: Path) -> None:
    _write(tmp_path / "a.json", _document(_with(GOOD_RULE, id="a"), name="a"))
    _write(tmp_path / "b.json", _document(_with(GOOD_RULE, id="b"), name="b", extends="a.json"))
    c = _write(tmp_path / "c.json", _document(_with(GOOD_RULE, id="c"), name="c", extends="b.json"))
    policy = load_policy(c)
    assert [r.id for r in policy.rules] == ["a", "b", "c"]
    assert [Path(s.path).name for s in policy.sources] == ["a.json", "b.json", "c.json"]


def test_extends_of_the_default_policy(tmp_path: Path) -> None:
    child = _write(
        tmp_path / "bank.json", _document(_with(GOOD_RULE, value=0.85), name="bank", extends=str(DEFAULT_POLICY))
    )
    policy = load_policy(child)
    default = load_policy(DEFAULT_POLICY)
    assert [r.id for r in policy.rules] == [r.id for r in default.rules]
    assert policy.rules[0].params["value"] == 0.85


@pytest.mark.parametrize("files", [{"self.json": "self.json"}, {"a.json": "b.json", "b.json": "a.json"}])
def test_extends_cycle_is_a_policy_error(tmp_path: Path, files: dict[str, str]) -> None:
    for name, parent in files.items():
        _write(tmp_path / name, _document(GOOD_RULE, extends=parent))
    first = tmp_path / next(iter(files))
    with pytest.raises(PolicyError, match="/extends") as caught:
        load_policy(first)
    assert not isinstance(caught.value, PolicyProblems)


def test_invalid_parent_is_reported_against_the_parent_file(tmp_path: Path) -> None:
    parent = _write(tmp_path / "parent.json", _document(_with(GOOD_RULE, op="==")))
    child = _write(tmp_path / "child.json", _document(LIFT_RULE, extends="parent.json"))
    with pytest.raises(PolicyProblems) as caught:
        load_policy(child)
    assert caught.value.problems[0].startswith(f"{parent.resolve()}: /rules/0/op: ")


def test_checklist_table_equals_the_schema_vocabulary() -> None:
    from engine.checklist import CHECKLIST_IDS
    from engine.jsonfiles import load_schema

    schema = load_schema("engine.policy", "policy-v1.schema.json")
    assert list(schema["$defs"]["checklist"]["enum"]) == list(CHECKLIST_IDS)
