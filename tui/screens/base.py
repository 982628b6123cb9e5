"""What every mlgate screen shares: typed access to the app, and reloading when the trail changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import MlgateApp


class MlgateScreen(Screen[None]):
    """A screen of the mlgate app; `reload` is called when the trail file changes."""

    @property
    def mlgate(self) -> MlgateApp:
        return cast("MlgateApp", self.app)

    def reload(self) -> None:
        """Read again what this screen shows (in a thread worker); the default screen shows nothing read."""
