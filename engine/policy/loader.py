"""Loading policy files: size-capped, schema-validated (every error with file and JSON path), `extends` resolved.

A policy file is untrusted input. It is read with a size cap, parsed, and validated against the bundled
Draft 2020-12 schema (`policy-v1.schema.json`, generated from the rule-kind registry by `engine.policy.schema`
and tested equal to it) with no remote `$ref` ever fetched. All problems are collected so `mlgate policy
validate` can list them at once. The text and SHA-256 of every file read (parents included) are kept for
the audit trail.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.canonical import sha256_text
from engine.errors import PolicyError
from engine.jsonfiles import load_schema, parse_document, read_text, schema_errors


def packs_dir() -> Path:
    """The shipped policy packs: `policies/` of a checkout, installed as the data-only package `engine.packs`."""
    spec = importlib.util.find_spec("engine.packs")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else Path(__file__).resolve().parents[2] / "policies"


POLICIES_DIR = packs_dir()
DEFAULT_POLICY = POLICIES_DIR / "default.json"
SCHEMA_NAME = "policy-v1.schema.json"
MAX_EXTENDS_DEPTH = 8


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    severity: str
    checklist: str
    params: dict[str, Any]
    policy: str


@dataclass(frozen=True)
class PolicySource:
    path: str
    sha256: str
    text: str


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    path: Path
    rules: tuple[Rule, ...]
    sources: tuple[PolicySource, ...]


class PolicyProblems(PolicyError):
    """Every problem found in one policy file, one `FILE: /path: message` line each."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)
        self.problems = problems


def policy_record(policy: Policy, *, with_sources: bool = False) -> dict[str, Any]:
    """How an event refers to a policy: name, version, path, SHA-256 (and every file's text, for a run's start)."""
    record: dict[str, Any] = {"name": policy.name, "version": policy.version, "path": str(policy.path),
                              "sha256": policy.sources[-1].sha256}
    if with_sources:
        record["sources"] = [source.__dict__ for source in policy.sources]
    return record


def policy_schema() -> dict[str, Any]:
    """The shipped policy schema (see `engine.policy.schema` for how it is made)."""
    return load_schema("engine.policy", SCHEMA_NAME)


def _read_document(path: Path) -> tuple[dict[str, Any], PolicySource]:
    text = read_text(path, error=PolicyError, what="policy")
    document = parse_document(text, path, error=PolicyError)
    problems = [f"{path}: {p}" for p in schema_errors(document, policy_schema())]
    if not problems:
        ids = [rule["id"] for rule in document["rules"]]
        problems = [
            f"{path}: /rules/{index}/id: duplicate rule id {rule_id!r}"
            for index, rule_id in enumerate(ids)
            if rule_id in ids[:index]
        ]
    if problems:
        raise PolicyProblems(problems)
    source = PolicySource(str(path), sha256_text(text), text)
    return document, source


def load_policy(path: Path, *, _depth: int = 0) -> Policy:
    """Load and validate one policy file and the chain of files it extends."""
    path = path.resolve()
    if _depth > MAX_EXTENDS_DEPTH:
        raise PolicyError(f"{path}: /extends: more than {MAX_EXTENDS_DEPTH} levels of extends (a cycle?)")
    document, source = _read_document(path)
    rules: dict[str, Rule] = {}
    sources: tuple[PolicySource, ...] = ()
    if "extends" in document:
        parent = load_policy(path.parent / document["extends"], _depth=_depth + 1)
        rules = {rule.id: rule for rule in parent.rules}
        sources = parent.sources
    for raw in document["rules"]:
        params = {k: v for k, v in raw.items() if k not in ("id", "kind", "severity", "checklist")}
        rules[raw["id"]] = Rule(raw["id"], raw["kind"], raw["severity"], raw["checklist"], params, document["name"])
    return Policy(document["name"], document["version"], path, tuple(rules.values()), (*sources, source))


def load_policies(paths: tuple[Path, ...] | list[Path]) -> list[Policy]:
    return [load_policy(path) for path in paths]
