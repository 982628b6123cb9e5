"""Whether a reviewer's action can be recorded at all, decided before the form asks for a reason.

The rules are the engine's (`engine.decision.may_sign_off`: an incomplete run, the baseline, a candidate that
failed to train, blocking rules not passed; a waiver only of a failed, unknown or errored rule), applied to the
run as the screen loaded it, so an impossible action is refused at once, in words that name the TUI's keys, not
the CLI's flags. The engine checks again when the form records (the trail may have changed meanwhile).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.decision import BLOCKING_STATUSES, may_sign_off
from tui import reads

WAIVE_HERE = "waive the failed rule first: select it in the rules table (Tab) and press w"


def signoff_refusal(run: reads.Run, candidate: str, decision: str) -> str | None:
    """Why approving (or rejecting) `candidate` of `run` is refused, or None when the form may open."""
    view = run.view
    refused = may_sign_off(run_id=view.run_id, complete=view.complete, name=candidate,
                           candidates=view.standings(), approve=decision == "approve")
    if refused is None:
        return None
    return refused.message + (f"; {WAIVE_HERE}" if refused.hint else "")


def waiver_refusal(outcome: Mapping[str, Any]) -> str | None:
    """Why waiving the rule outcome is refused (only a failed, unknown or errored rule can be), or None."""
    recorded = str(outcome.get("recorded_status", outcome.get("status")))
    if recorded in BLOCKING_STATUSES:
        return None
    return (f"rule {outcome.get('id')!r} is {recorded.upper()}: only a failed, unknown or errored rule can be "
            "waived; nothing to record")
