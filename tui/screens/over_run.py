"""What the screens over one run share (the leaderboard, a candidate's checklist, the comparison): the run read
whole in a worker on mount and whenever the trail changes, and the actions on a candidate of it (its card, a
sign-off refused at once when it cannot be recorded)."""

from __future__ import annotations

from tui import reads
from tui.messages import CardChosen, SignoffChosen
from tui.refusals import signoff_refusal
from tui.screens.base import MlgateScreen


class RunView(MlgateScreen):
    """A screen over run `run_id`: `show_run` draws the run each time it is read."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: reads.Run | None = None

    def screen_title(self) -> str:
        """The screen's title."""
        return f"run {self.run_id}"

    def on_mount(self) -> None:
        self.title = self.screen_title()
        self.reload()

    def reload(self) -> None:
        path, run_id = self.audit_db, self.run_id
        self.load(self.read, lambda: reads.load(path, run_id), group=type(self).__name__)

    def read(self, run: reads.Run) -> None:
        self.run = run
        self.show_run(run)

    def show_run(self, run: reads.Run) -> None:
        """Draw the run (the subclass's part)."""

    def chosen(self) -> str | None:
        """The candidate the actions act on (the selected one, or the screen's own)."""
        return None

    def action_card(self) -> None:
        name = self.chosen()
        if self.run is not None and name is not None:
            self.post_message(CardChosen(name, self.run.card(name)))

    def action_approve(self) -> None:
        self.sign("approve")

    def action_reject(self) -> None:
        self.sign("reject")

    def sign(self, decision: str) -> None:
        """Open the sign-off form, or refuse at once (before any reason is asked) when it cannot be recorded."""
        name = self.chosen()
        if name is None or self.run is None:
            return
        refused = signoff_refusal(self.run, name, decision)
        if refused is not None:
            self.refuse(refused)
            return
        self.post_message(SignoffChosen(self.run_id, name, decision))
