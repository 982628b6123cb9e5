"""Policies in plain words: what each rule demands, which checklist items a policy covers, a starter policy.

`explain` is for the person who reads a policy before trusting a verdict (`mlgate policy explain`); `starter`
writes a self-contained copy of a shipped pack to edit (`mlgate policy init`). Kinds without a sentence of their
own are described from the schema, so a new kind is never explained as nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.checklist import CHECKLIST, ChecklistItem
from engine.policy.loader import POLICIES_DIR, Policy, Rule, load_policy, policy_schema
from engine.policy.rules import LABELS

PACKS = ("default", "high-risk")
USE_WORDS = {"point": "", "ci_lower": " (lower bound of its confidence interval)",
             "ci_upper": " (upper bound of its confidence interval)"}


def _by(params: Mapping[str, Any]) -> str:
    by = params.get("by")
    if by is None:
        return "every sensitive grouping"
    return " × ".join(by) if isinstance(by, list) else str(by)


def _metric_threshold(p: Mapping[str, Any]) -> str:
    return f"{LABELS[p['metric']]}{USE_WORDS[p.get('use', 'point')]} on the test split {p['op']} {p['value']}"


def _beats_baseline(p: Mapping[str, Any]) -> str:
    significance = f", with a paired-bootstrap p-value at most {p['significance']}" if "significance" in p else ""
    return f"{LABELS[p['metric']]} better than the baseline's by at least {p['min_lift']}{significance}"


def _slice_metric(p: Mapping[str, Any]) -> str:
    bounds = [f"{k.replace('_', ' ')} {v}" for k, v in p.items() if k.startswith(("min", "max"))]
    return f"{LABELS[p['metric']]} of each group of {_by(p)} within bounds ({', '.join(bounds)})"


def _fairness(p: Mapping[str, Any]) -> str:
    limit = f"at most {p['max']}" if "max" in p else f"at least {p.get('min')}"
    return f"{p['measure'].replace('_', ' ')} across groups of {_by(p)} {limit}{USE_WORDS[p.get('use', 'point')]}"


def _calibration(p: Mapping[str, Any]) -> str:
    where = f" in every group of {_by(p)}" if "by" in p else ""
    return f"{p['measure'].upper()} ({p.get('strategy', 'uniform')} bins) at most {p['max']}{where}"


def _conformal_coverage(p: Mapping[str, Any]) -> str:
    level = f"at {p['confidence']}" if "confidence" in p else "at every level of the spec"
    size = f", mean set size at most {p['max_mean_set_size']}" if "max_mean_set_size" in p else ""
    return (f"conformal prediction sets {level} cover the truth within {p.get('tolerance', 0)} of the level, "
            f"overall and in each group of {_by(p)}{size}")


def _explainability(p: Mapping[str, Any]) -> str:
    top = f"; no sensitive column or proxy among the top {p['top_k']} drivers" if "top_k" in p else ""
    return f"explanations add up to the model's output within {p.get('max_faithfulness_error', 1e-6)}{top}"


def _robustness(p: Mapping[str, Any]) -> str:
    parts = [f"{LABELS[p.get('metric', 'roc_auc')]} drop under perturbation at most {p['max_drop']}"
             if "max_drop" in p else "",
             f"invariance violations at most {p['max_invariance_violation_rate']}"
             if "max_invariance_violation_rate" in p else "",
             f"directional violations at most {p['max_directional_violation_rate']}"
             if "max_directional_violation_rate" in p else ""]
    return "; ".join(part for part in parts if part)


SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "metric_threshold": _metric_threshold,
    "beats_baseline": _beats_baseline,
    "slice_metric": _slice_metric,
    "fairness": _fairness,
    "calibration": _calibration,
    "conformal_coverage": _conformal_coverage,
    "explainability": _explainability,
    "robustness": _robustness,
}


def rule_sentence(rule: Rule) -> str:
    """What one rule demands, in words."""
    sentence = SENTENCES.get(rule.kind)
    if sentence is not None:
        try:
            return sentence(rule.params)
        except KeyError:
            pass
    described = policy_schema()["$defs"].get(rule.kind, {}).get("description", rule.kind)
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
    return Explanation(policy, [(item, [r for r in policy.rules if r.checklist == item.id]) for item in CHECKLIST])


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
