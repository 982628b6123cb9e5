"""The policy schema, generated from the rule-kind registry: `policy_schema_document()`.

The kinds' enum, one if/then branch per kind and each kind's `$defs` entry come from `RULE_KINDS` (each record's
`params` fragment); the rest (the policy's own fields, the checklist and metric vocabularies, the definitions that
fragments share through `$ref`) is written here once. The schema stays a shipped file,
`engine/policy/policy-v1.schema.json`, because the loader validates policies against that file (read as package
data, no remote `$ref` ever fetched) and editors use it through a policy's `$schema`; a test asserts the file
equals `policy_schema_text()`, and `python -m engine.policy.schema` rewrites it (`--check`: exit 1 when stale).

Fragments may only `$ref` a definition of this document (`#/$defs/...`): a remote or dangling reference in a
registry record is refused here, before it could reach a file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.checklist import CHECKLIST_IDS
from engine.evaluation.task_metrics import ALL_METRICS
from engine.policy.registry import RULE_KINDS, RuleKind
from engine.policy.rules import LABELS

SCHEMA_FILE = Path(__file__).with_name("policy-v1.schema.json")
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
LOCAL_REF = "#/$defs/"

# The definitions kinds share through `$ref` (metric names, interval bounds, groupings, small groups).
SHARED_DEFS: dict[str, Any] = {
    "use": {"enum": ["point", "ci_lower", "ci_upper"],
            "description": "Judge the point estimate or a bound of its bootstrap interval (default point)."},
    "by": {"description": "A sensitive column, or a list of them for their intersection.",
           "oneOf": [{"type": "string", "minLength": 1},
                     {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
                      "uniqueItems": True}]},
    "small_groups": {"enum": ["report", "unknown", "fail"],
                     "description": "Groups below the spec's min_group_size: name them in the message (report, "
                                    "default), or make the rule unknown or failed."},
    "slice_metric_name": {"enum": list(LABELS)},
}


def _policy_properties() -> dict[str, Any]:
    return {
        "$schema": {"type": "string"},
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "version": {"type": "string", "minLength": 1, "maxLength": 50},
        "description": {"type": "string", "maxLength": 5000},
        "extends": {"type": "string", "minLength": 1,
                    "description": "Another policy file (relative to this one) whose rules come first; a rule here "
                                   "with the same id replaces it."},
        "rules": {"type": "array", "maxItems": 500, "items": {"$ref": "#/$defs/rule"}, "minItems": 1},
    }


def _rule(kinds: Mapping[str, RuleKind]) -> dict[str, Any]:
    """A rule: the fields every kind has, then the parameters of its kind (if kind is K, then K's definition)."""
    return {
        "type": "object",
        "required": ["id", "kind", "severity", "checklist"],
        "properties": {
            "id": {"type": "string", "pattern": NAME_PATTERN},
            "kind": {"enum": list(kinds)},
            "severity": {"enum": ["block", "warn"]},
            "checklist": {"$ref": "#/$defs/checklist"},
            "description": {"type": "string", "maxLength": 2000},
        },
        "allOf": [{"if": {"required": ["kind"], "properties": {"kind": {"const": kind}}},
                   "then": {"$ref": f"{LOCAL_REF}{kind}"}} for kind in kinds],
        "unevaluatedProperties": False,
    }


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref":
                yield str(value)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def policy_schema_document(kinds: Mapping[str, RuleKind] | None = None) -> dict[str, Any]:
    """The policy schema for `kinds` (default: the registry). Raises ValueError for a kind whose name is taken by
    a shared definition, or whose fragment refers to anything but a definition of this document."""
    kinds = RULE_KINDS if kinds is None else kinds
    common = {"checklist": {"enum": list(CHECKLIST_IDS)}, "metric": {"enum": list(ALL_METRICS)}, **SHARED_DEFS}
    taken = sorted(set(kinds) & {*common, "rule"})
    if taken:
        raise ValueError(f"rule kind names taken by shared schema definitions: {', '.join(taken)}")
    defs: dict[str, Any] = {**common, "rule": _rule(kinds), **{kind: dict(k.params) for kind, k in kinds.items()}}
    for kind, record in kinds.items():
        bad = [ref for ref in _refs(record.params)
               if not ref.startswith(LOCAL_REF) or ref.removeprefix(LOCAL_REF) not in defs]
        if bad:
            raise ValueError(f"rule kind {kind}: $ref outside this schema's definitions: {', '.join(bad)}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:mlgate:policy-v1",
        "title": "mlgate policy",
        "description": "A named, versioned list of rules that a model candidate must satisfy.",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "version", "rules"],
        "properties": _policy_properties(),
        "$defs": defs,
    }


def policy_schema_text(kinds: Mapping[str, RuleKind] | None = None) -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(policy_schema_document(kinds), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Rewrite the shipped schema file from the registry; with `--check`, only say whether it is up to date."""
    text = policy_schema_text()
    if "--check" in argv:
        current = SCHEMA_FILE.read_text(encoding="utf-8")
        print(f"{SCHEMA_FILE}: {'up to date' if current == text else 'stale: run python -m engine.policy.schema'}")
        return 0 if current == text else 1
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
