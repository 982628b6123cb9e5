"""Policies in plain words: what each rule demands, which checklist items a policy covers, a starter policy.

`explain` is for the person who reads a policy before trusting a verdict (`mlgate policy explain`); `starter`
writes a self-contained copy of a shipped pack to edit (`mlgate policy init`). Each kind's sentence is part of its
record in `engine.policy.registry`; kinds without one are described from their schema description, so a new kind
is never explained as nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.checklist import AFTER_APPROVAL, CHECKLIST, ChecklistItem
from engine.policy.loader import POLICIES_DIR, Policy, Rule, load_policy, policy_schema
from engine.policy.registry import RULE_KINDS

PACKS = ("default", "high-risk")


def rule_sentence(rule: Rule) -> str:
    """What one rule demands, in words: its kind's sentence (`RuleKind.explain`), else the kind's description
    with the rule's parameters (also when the sentence lacks a parameter it needs)."""
    kind = RULE_KINDS.get(rule.kind)
    if kind is not None and kind.explain is not None:
        try:
            return kind.explain(rule.params)
        except KeyError:
            pass
    described = str(kind.params.get("description", rule.kind)) if kind is not None else rule.kind
    params = ", ".join(f"{k} = {v}" for k, v in rule.params.items() if k != "description")
    return f"{described} ({params})" if params else described


@dataclass(frozen=True)
class Explanation:
    policy: Policy
    items: list[tuple[ChecklistItem, list[Rule]]]

    @property
    def uncovered(self) -> list[ChecklistItem]:
        return [item for item, rules in self.items if not rules]


def explain(policy: Policy) -> Explanation:
    """The rules of a policy (its `extends` chain resolved) grouped by checklist item, in checklist order."""
    later = [item for item in AFTER_APPROVAL if any(r.checklist == item.id for r in policy.rules)]
    return Explanation(policy, [(item, [r for r in policy.rules if r.checklist == item.id])
                                for item in (*CHECKLIST, *later)])


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    policy = explanation.policy
    return {
        "policy": policy.name, "version": policy.version, "path": str(policy.path),
        "checklist": [
            {"id": item.id, "ready_if": item.ready_if, "covered": bool(rules),
             "rules": [{"id": r.id, "kind": r.kind, "severity": r.severity, "demands": rule_sentence(r),
                        "description": r.params.get("description")} for r in rules]}
            for item, rules in explanation.items
        ],
        "uncovered": [item.id for item in explanation.uncovered],
    }


def starter(pack: str) -> dict[str, Any]:
    """A self-contained policy with every rule of a shipped pack (its `extends` chain flattened), to edit."""
    policy = load_policy(POLICIES_DIR / f"{pack}.json")
    return {
        "$schema": policy_schema()["$id"],
        "name": "my-policy",
        "version": "0.1.0",
        "description": f"Started from mlgate's {policy.name} pack {policy.version}; edit the rules to fit.",
        "rules": [{"id": r.id, "kind": r.kind, **{k: v for k, v in r.params.items() if k != "description"},
                   "severity": r.severity, "checklist": r.checklist,
                   **({"description": r.params["description"]} if "description" in r.params else {})}
                  for r in policy.rules],
    }
