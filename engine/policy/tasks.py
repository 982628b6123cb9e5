"""A policy checked against the task of the audit it gates: every rule must be able to apply to that task.

A rule kind says the task types it applies to (`RuleKind.task_types`); a rule naming a metric says which one,
and `engine.evaluation.task_metrics` which tasks compute it; a fairness rule names a gap measure of one task
type; a parameter that only some tasks can judge says which in `PARAM_TASKS` (a set-size bound on a regression's
intervals, a class-wise ECE of a binary candidate). A `roc_auc` threshold in a regression audit, or a
`reason_codes` rule in a multiclass one, is a mistake
in the policy for this audit: it is refused before anything is trained (`PolicyProblems`, exit 2), naming the
file and the rule, rather than left to end as `unknown`. Rules whose evidence a task has not computed yet stay
valid and are `unknown` at the end (see `engine.evaluation.task_candidate`).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.evaluation.task_metrics import ALL_METRICS, task_metrics
from engine.policy.loader import Policy, PolicyProblems, Rule
from engine.policy.registry import RULE_KINDS
from engine.policy.rules import FAIRNESS_TASKS

MAX_NAMES_SHOWN = 8
CLASSIFICATION = ("binary", "multiclass")
REGRESSION = ("regression",)
# kind -> parameter -> the tasks it applies to: for any value (a tuple), or per value (a dict of tuples)
PARAM_TASKS: dict[str, dict[str, tuple[str, ...] | dict[str, tuple[str, ...]]]] = {
    "conformal_coverage": {
        "method": {"sets": CLASSIFICATION, "split": REGRESSION, "cqr": REGRESSION},
        "max_mean_set_size": CLASSIFICATION,
        "max_mean_width": REGRESSION,
    },
    "calibration": {"measure": {"classwise_ece": ("multiclass",)}},
}


def _some(names: Iterable[str]) -> str:
    listed = list(names)
    more = f", … ({len(listed) - MAX_NAMES_SHOWN} more)" if len(listed) > MAX_NAMES_SHOWN else ""
    return ", ".join(listed[:MAX_NAMES_SHOWN]) + more


def rule_problem(rule: Rule, task: str) -> str | None:
    """Why `rule` cannot apply to an audit of `task`, or None when it can."""
    kind = RULE_KINDS[rule.kind]
    if task not in kind.task_types:
        return f"kind {rule.kind!r} applies to {' and '.join(kind.task_types)} audits, not to {task} ones"
    metric = rule.params.get("metric")
    if isinstance(metric, str) and metric in ALL_METRICS and task not in ALL_METRICS[metric].tasks:
        return f"metric {metric!r} is not computed for {task} audits (they have: {_some(task_metrics(task))})"
    measure = rule.params.get("measure")
    if rule.kind == "fairness" and measure not in FAIRNESS_TASKS[task]:
        return f"measure {measure!r} is not a {task} fairness measure (they are: {_some(FAIRNESS_TASKS[task])})"
    return param_problem(rule, task)


def param_problem(rule: Rule, task: str) -> str | None:
    """Why one of `rule`'s parameters (or its value) cannot apply to `task` (`PARAM_TASKS`), or None."""
    for name, tasks in PARAM_TASKS.get(rule.kind, {}).items():
        if name not in rule.params:
            continue
        given = rule.params[name]
        applies = tasks.get(str(given)) if isinstance(tasks, dict) else tasks
        if applies is not None and task not in applies:
            what = f"{name} {given!r}" if isinstance(tasks, dict) else name
            return f"{what} applies to {' and '.join(applies)} audits, not to {task} ones"
    return None


def task_problems(policy: Policy, task: str) -> list[str]:
    """Every rule of `policy` that cannot apply to `task`, one `FILE: rule ID (kind): why` line each."""
    return [f"{policy.path}: rule {rule.id!r} ({rule.kind}): {problem}" for rule in policy.rules
            if (problem := rule_problem(rule, task)) is not None]


def check_for_task(policies: Iterable[Policy], task: str) -> None:
    """Refuse policies with a rule that cannot apply to `task` (`PolicyProblems`, every problem listed)."""
    problems = [line for policy in policies for line in task_problems(policy, task)]
    if problems:
        raise PolicyProblems(problems)
