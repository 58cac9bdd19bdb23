"""``OpsFooter``: the key footer, rebuilt only when the keys it shows change.

Textual's Footer throws its key widgets away and mounts new ones whenever the
screen says its bindings *may* have changed — on every screen switch and
every focus change.  Mounting and styling those widgets was a good part of a
screen switch (``bench/tui.py``).  This footer compares what it would show
(key, label, enabled, tooltip of each active binding) with what it shows, and
rebuilds only when they differ.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class OpsFooter(Footer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None

    def _signature(self, screen: Screen) -> tuple[Any, ...]:
        return tuple(
            (binding.key, binding.action, binding.description, binding.show, enabled, tooltip)
            for _node, binding, enabled, tooltip in screen.active_bindings.values()
        )

    def bindings_changed(self, screen: Screen) -> None:
        # Footer.bindings_changed, with the rebuild deferred until focus has settled
        # (a switch changes the focus more than once) and skipped when nothing changed.
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        signature = self._signature(self.screen)
        if signature != self._shown:
            self._shown = signature
            await self.recompose()
