"""`:` jumps to a run, as k9s's `:` does: the command palette, searching the runs the runs screen has read (by
run id, spec name, policy, verdict, candidate), and Enter opens the chosen run's leaderboard."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import partial
from typing import Any

from textual.command import Hit, Hits, Provider

from tui.messages import RunChosen
from tui.text import visible

SHOWN = 50


def run_label(run: dict[str, Any]) -> str:
    policies = ", ".join(run.get("policies") or [])
    return visible(f"{run['run_id']} · {run['name']} · {policies} · {run['verdict']}")


class RunsProvider(Provider):
    """The runs of the trail as palette hits; choosing one posts `RunChosen`."""

    def runs(self) -> list[dict[str, Any]]:
        found = next((getattr(s, "runs", None) for s in self.app.screen_stack if hasattr(s, "runs")), None)
        return list(found or [])

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        shown = 0
        for run in self.runs():
            label = run_label(run) + " " + " ".join(visible(c) for c in run.get("candidates", []))
            score = matcher.match(label)
            if score > 0 and shown < SHOWN:
                shown += 1
                yield Hit(score, matcher.highlight(run_label(run)),
                          partial(self.app.post_message, RunChosen(str(run["run_id"]))), help="open this run")

    async def discover(self) -> AsyncGenerator[Hit, None]:  # type: ignore[override]
        for run in self.runs()[:SHOWN]:
            yield Hit(1.0, run_label(run), partial(self.app.post_message, RunChosen(str(run["run_id"]))),
                      help="open this run")
