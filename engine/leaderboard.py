"""One leaderboard model of a run, for every view of it: the CLI's table, the CI reports and the TUI's run screen.

A `Leaderboard` is the run's candidates in order, each a `Row` with the marker of the recommended one, the
optimizing metric's value and confidence interval, the lift over the baseline, the rule counts, the verdict and
the latest sign-off. It is built either from a finished audit's result (`from_result`) or from a run read back
from the trail (`from_view`, with the candidates' recorded evidence), and says how its numbers read
(`value_text`, `lift_text`, `counts_text`), so every view shows the same words. It imports no front end: each
view draws it its own way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.audit.runs import RunView
from engine.evaluation.task_metrics import ALL_METRICS

MARKER = "★"
MISSING = "—"
DIGITS = 4


class Checked(Protocol):
    """A rule outcome as an audit's result holds it."""

    @property
    def status(self) -> str: ...


class Scored(Protocol):
    """A candidate as an audit's result holds it."""

    @property
    def name(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def is_baseline(self) -> bool: ...
    @property
    def verdict(self) -> str: ...
    @property
    def metrics(self) -> Mapping[str, float | None]: ...
    @property
    def lift(self) -> Mapping[str, float | None]: ...
    @property
    def outcomes(self) -> Sequence[Checked]: ...
    @property
    def error(self) -> str | None: ...
    @property
    def card(self) -> str | None: ...


class Audited(Protocol):
    """A finished audit's result (engine.service's AuditResult)."""

    @property
    def optimizing_metric(self) -> str: ...
    @property
    def recommended(self) -> str | None: ...
    @property
    def candidates(self) -> Sequence[Scored]: ...


@dataclass(frozen=True)
class Counts:
    """How a candidate's rules came out; `unknown` includes the rules that raised an error."""

    passed: int = 0
    failed: int = 0
    unknown: int = 0
    waived: int = 0

    @classmethod
    def of(cls, statuses: Sequence[str]) -> Counts:
        return cls(passed=statuses.count("pass"), failed=statuses.count("fail"),
                   unknown=statuses.count("unknown") + statuses.count("error"), waived=statuses.count("waived"))


@dataclass(frozen=True)
class Row:
    """One candidate of the leaderboard."""

    name: str
    family: str
    is_baseline: bool
    recommended: bool
    value: float | None
    interval: tuple[float, float] | None
    lift: float | None
    counts: Counts
    verdict: str
    error: str | None = None
    card: str | None = None
    signoff: str | None = None  # the latest sign-off's decision (approve or reject), read back from the trail

    @property
    def marker(self) -> str:
        return MARKER if self.recommended else ""

    def value_text(self) -> str:
        return MISSING if self.value is None else f"{self.value:.{DIGITS}f}"

    def lift_text(self) -> str:
        """The lift over the baseline, signed; a dash for the baseline itself or when it was not computed."""
        return MISSING if self.lift is None or self.is_baseline else f"{self.lift:+.{DIGITS}f}"

    def counts_text(self) -> str:
        """pass/fail/unknown+error, as the CLI's table shows them."""
        return f"{self.counts.passed}/{self.counts.failed}/{self.counts.unknown}"


@dataclass(frozen=True)
class Leaderboard:
    """The candidates of one run, in the run's order, ranked on one optimizing metric."""

    metric: str
    recommended: str | None
    rows: list[Row]

    @property
    def metric_label(self) -> str:
        """The metric's name as people read it (ROC AUC), or its key when the metric is unknown here."""
        known = ALL_METRICS.get(self.metric)
        return known.label if known else self.metric

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)


def interval_of(pair: Any) -> tuple[float, float] | None:
    """A recorded [low, high] pair, or None when it is absent or either end was not computed."""
    if not isinstance(pair, Sequence) or len(pair) != 2 or pair[0] is None or pair[1] is None:
        return None
    return float(pair[0]), float(pair[1])


def from_result(result: Audited) -> Leaderboard:
    """The leaderboard of an audit that just finished (no waivers yet; no intervals: the result holds none)."""
    metric = result.optimizing_metric
    rows = [Row(name=c.name, family=c.family, is_baseline=c.is_baseline, recommended=c.name == result.recommended,
                value=c.metrics.get(metric), interval=None, lift=None if c.is_baseline else c.lift.get(metric),
                counts=Counts.of([o.status for o in c.outcomes]), verdict=c.verdict, error=c.error, card=c.card)
            for c in result.candidates]
    return Leaderboard(metric=metric, recommended=result.recommended, rows=rows)


def from_view(view: RunView, *, evidence: Mapping[str, Mapping[str, Any]],
              errors: Mapping[str, str | None] | None = None) -> Leaderboard:
    """The leaderboard of a run as it stands now (waivers applied), from each candidate's recorded evidence
    (`evidence[name]`: its lift over the baseline and its intervals) and the error that stopped it, if any."""
    metric = view.optimizing_metric
    errors = errors or {}
    rows = []
    for c in view.candidates:
        recorded = evidence.get(c.name, {})
        lift = recorded.get("lift_over_baseline", {}).get(metric)
        rows.append(Row(
            name=c.name, family=c.family, is_baseline=c.is_baseline, recommended=c.name == view.recommended,
            value=c.metrics.get(metric), interval=interval_of(recorded.get("intervals", {}).get("metrics", {})
                                                              .get(metric)),
            lift=None if c.is_baseline or lift is None else float(lift),
            counts=Counts.of([o["status"] for o in c.outcomes]), verdict=c.verdict, error=errors.get(c.name),
            signoff=c.decision["decision"] if c.decision else None,
        ))
    return Leaderboard(metric=metric, recommended=view.recommended, rows=rows)
