"""What a rule kind returns (`Finding`) and the shapes it reads, shared by every rules module and the registry.

A module of its own so that the group helpers (`groups.py`), the rule kinds and the registry can all use them
without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "unknown", "error"]
Evidence = Mapping[str, Any]
Params = Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    """What one rule concluded about one candidate."""

    status: Status
    observed: float | None
    threshold: float | None
    message: str


def fmt(value: float, near: float | None = None) -> str:
    """A number as a reviewer reads it: four significant digits, more when it would otherwise print the same as
    the bound it is compared with (0.699996 must not read "0.7 is not >= 0.7")."""
    digits = 4
    while near is not None and digits < 17 and f"{value:.{digits}g}" == f"{near:.{digits}g}" and value != near:
        digits += 2
    return f"{value:.{digits}g}"



def faithful_part(part: Mapping[str, Any] | Finding, measured: str, bound: float, *, what: str,
                  output: str) -> tuple[Mapping[str, Any], float] | Finding:
    """An evidence part whose contributions + base match the output they explain within `bound`
    (`part[measured]["max_abs_error"]`), with that error; else the finding that ends the rule: the part's own
    (`unknown`), or a fail naming the error."""
    if isinstance(part, Finding):
        return part
    error = float(part[measured]["max_abs_error"])
    if error > bound:
        return Finding("fail", error, bound, f"{what} not faithful: contributions + base differ from {output} by "
                                             f"up to {fmt(error)} (> {fmt(bound)})")
    return part, error
