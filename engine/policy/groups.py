"""What every group rule shares: which groupings it judges, and how it names the groups it could not judge.

A grouping is stored as `{"name", "columns", "groups": [...]}` in `evidence["slices"]` and, per conformal level,
in `evidence["conformal"]["levels"][i]["by_group"]`. `select_groupings` is the one filter over such lists (a rule's
`by`, columns in any order, or every grouping); the rest words the findings the same way in every rule kind: a
few names then "and N more", too-small groups reported, or made `unknown` or `fail` by the rule's `small_groups`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.policy.finding import Finding, Params

Grouping = Mapping[str, Any]
MAX_GROUPS_NAMED = 3


def grouping_name(by: str | Sequence[str]) -> str:
    """The name of a grouping as the evidence stores it: one column, or columns joined by ' × '."""
    return by if isinstance(by, str) else " × ".join(by)


def by_words(params: Params) -> str:
    """A rule's `by` as `policy explain` says it: the grouping's name, or every sensitive grouping."""
    by = params.get("by")
    return "every sensitive grouping" if by is None else grouping_name(by)


def select_groupings(groupings: Sequence[Grouping], by: str | Sequence[str] | None) -> list[Grouping]:
    """The groupings over exactly the columns of `by` (in any order), or all of them when `by` is None."""
    if by is None:
        return list(groupings)
    wanted = {by} if isinstance(by, str) else set(by)
    return [g for g in groupings if set(g["columns"]) == wanted]


def evidence_slices(evidence: Mapping[str, Any], by: str | Sequence[str] | None) -> list[Grouping] | None:
    """The slices a rule looks at (see `select_groupings`); None when the evidence has none that match."""
    slices = evidence.get("slices")
    if slices is None:
        return None
    return select_groupings(slices, by) or None


def count(n: int, noun: str) -> str:
    """`1 group`, `2 groups`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def named(items: Sequence[str], *, limit: int = MAX_GROUPS_NAMED, separator: str = "; ") -> str:
    """At most `limit` items, then how many more: messages stay one readable line."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return separator.join(items[:limit]) + more


def small_groups(slices: Sequence[Grouping]) -> list[str]:
    """Every group too small to judge, as `grouping=group (n=support)`."""
    return [f"{s['name']}={g['group']} (n={g['support']})" for s in slices for g in s["groups"] if g["too_small"]]


def apply_small_groups(finding: Finding, small: list[str], policy: str) -> Finding:
    """Report too-small groups in the message, or let them make the rule unknown (`policy` "unknown", only when
    it would pass) or failed ("fail")."""
    message = finding.message + (f"; {count(len(small), 'group')} too small to judge: {named(small)}" if small else "")
    if small and policy == "unknown" and finding.status == "pass":
        return Finding("unknown", finding.observed, finding.threshold, message)
    if small and policy == "fail":
        return Finding("fail", finding.observed, finding.threshold, message)
    return Finding(finding.status, finding.observed, finding.threshold, message)


def missing_grouping(params: Params) -> Finding:
    """The `unknown` finding of a group rule whose grouping is not in the evidence."""
    by = params.get("by")
    if by is None:
        return Finding("unknown", None, None, "no sensitive columns in the spec, so no groups to check")
    return Finding("unknown", None, None,
                   f"no grouping {grouping_name(by)!r} in the evidence (is it a sensitive column of the spec?)")
