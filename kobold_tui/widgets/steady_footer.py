"""A `Footer` that rebuilds its keys only when the keys it shows change.

Textual's footer recomposes on every bindings refresh of its screen (three while a screen opens: focus, resume,
and once more after the first refresh), and each recompose mounts and restyles every key again, ~30 ms of the
event loop for the merge screen's dozen commands. This one coalesces the refreshes of one frame and skips the
recompose when the shown keys are those already on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class SteadyFooter(Footer):
    """Textual's footer, recomposed once per change of what it shows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None
        self._pending = False

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._recompose_if_changed)

    def _shown_keys(self) -> tuple[Any, ...]:
        """What `compose` shows: the displayed bindings with their state, and the footer's own options."""
        palette = self.app.COMMAND_PALETTE_BINDING
        keys = tuple(
            (key, self.app.get_key_display(binding), binding.description, binding.action, binding.group,
             binding.tooltip, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == palette
        )  # fmt: skip
        return (keys, self.compact, self.show_command_palette, self.combine_groups)

    async def _recompose_if_changed(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        shown = self._shown_keys()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
