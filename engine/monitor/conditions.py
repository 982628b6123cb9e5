"""The conditions a champion is monitored against, and what their outcomes mean as alerts.

Conditions are a policy: the one named on the command line, else the one attached to the champion's promotion
(stored whole in its `champion_promoted` event, so it is judged as it was approved), else the shipped
`monitoring` pack. Every rule kind applies: the monitoring kinds (`engine.policy.rules_monitor`) and, on a
labelled batch, the audit's kinds. A failed rule raises an alert: its `alert` parameter, else `critical` for
severity block and `warning` for warn (the seeds' levels); a critical failure lapses the approval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.decision import Outcome
from engine.policy.checker import check
from engine.policy.loader import Policy, Rule, load_policy, packs_dir, policy_record

ALERT_LEVELS = ("info", "warning", "critical")
MONITORING_PACK = "monitoring.json"
FAILED = ("fail", "error")

JSON = dict[str, Any]


def stored_conditions(policy: Policy) -> JSON:
    """A policy as a promotion stores it: its record (name, version, path, SHA-256) and its resolved rules."""
    return {**policy_record(policy),
            "rules": [{"id": r.id, "kind": r.kind, "severity": r.severity, "checklist": r.checklist,
                       "params": r.params, "policy": r.policy} for r in policy.rules]}


def attached_conditions(path: Path | None) -> JSON | None:
    """The monitoring policy at `path` as a promotion attaches it (None: no conditions attached)."""
    return None if path is None else stored_conditions(load_policy(path))


def policy_of(stored: Mapping[str, Any]) -> Policy:
    """The policy a promotion stored (see `stored_conditions`)."""
    rules = tuple(Rule(r["id"], r["kind"], r["severity"], r["checklist"], dict(r["params"]), r["policy"])
                  for r in stored["rules"])
    return Policy(stored["name"], stored["version"], Path(stored["path"]), rules, ())


def conditions(*, given: Path | None, attached: Mapping[str, Any] | None) -> tuple[JSON, str]:
    """The conditions to judge and where they come from (`--policy`, `promotion` or `default pack`)."""
    if given is not None:
        return stored_conditions(load_policy(given)), "--policy"
    if attached is not None:
        return dict(attached), "promotion"
    return stored_conditions(load_policy(packs_dir() / MONITORING_PACK)), "default pack"


def alert_level(rule: Mapping[str, Any], severity: str) -> str:
    """The alert a failure of the rule raises."""
    level = rule.get("params", {}).get("alert")
    return str(level) if level in ALERT_LEVELS else "critical" if severity == "block" else "warning"


def judge(stored: Mapping[str, Any], evidence: Mapping[str, Any]) -> list[JSON]:
    """Every rule's outcome on the monitoring evidence, with the alert level a failure raises."""
    rules = {r["id"]: r for r in stored["rules"]}
    outcomes: list[Outcome] = check([policy_of(stored)], evidence)
    return [{**o.to_json(), "alert": alert_level(rules[o.id], o.severity)} for o in outcomes]


def alerts(outcomes: Sequence[Mapping[str, Any]]) -> list[JSON]:
    """The outcomes that failed, the most severe first."""
    failed = [dict(o) for o in outcomes if o["status"] in FAILED]
    return sorted(failed, key=lambda o: -ALERT_LEVELS.index(o["alert"]))


def failed_at(outcomes: Sequence[Mapping[str, Any]], level: str) -> list[JSON]:
    """The failed outcomes whose alert is `level` or more severe."""
    floor = ALERT_LEVELS.index(level)
    return [o for o in alerts(outcomes) if ALERT_LEVELS.index(o["alert"]) >= floor]
