"""The app: screens as modes, global keys, command palette, error display.

Deliberately small: each screen loads and shows its own data; the app only
switches between them, counts data changes (so a screen reloads when shown
after another screen wrote something) and turns failures into notifications.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from ngc_pilot.cli.context import AppContext
from ngc_pilot.settings import Settings
from tui.errors import describe
from tui.messages import ServiceFailed
from tui.screens import SCREENS
from tui.screens.help import HelpScreen
from tui.services import Services


class OpsApp(App[None]):
    """NGC operations: applications, selection, tenants, usage, capacity, jobs, audit."""

    CSS_PATH = "app.tcss"
    TITLE = "ngc-pilot"
    MODES: ClassVar = {screen.MODE: screen for screen in SCREENS}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(n), f"switch_mode('{screen.MODE}')", screen.TITLE, show=False)
            for n, screen in enumerate(SCREENS, start=1)
        ),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.data_version = 0  # bumped by a screen after it writes; others reload when shown

    def on_mount(self) -> None:
        self.sub_title = self.services.database_label
        self.switch_mode(SCREENS[0].MODE)

    def on_service_failed(self, message: ServiceFailed) -> None:
        title, text = describe(message.action, message.error, self.services.error_log)
        self.notify(text, title=title, severity="error", timeout=12, markup=False)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for n, cls in enumerate(SCREENS, start=1):
            yield SystemCommand(
                f"Go to {cls.TITLE}",
                f"Switch screen (key {n})",
                partial(self.switch_mode, cls.MODE),
            )
        title = screen.title or ""
        for binding in _own_bindings(screen):
            yield SystemCommand(
                f"{title}: {binding.description}",
                binding.tooltip or f"key {binding.key_display or binding.key}",
                partial(screen.run_action, binding.action),
            )
        yield SystemCommand("Help", "Keys of this screen and the global keys (?)", self.action_help)
        yield from super().get_system_commands(screen)


def _own_bindings(screen: Screen) -> list[Binding]:
    """The screen's described bindings (its own and its ngc-pilot base classes')."""
    found: dict[str, Binding] = {}
    for cls in type(screen).__mro__:
        if cls is Screen:
            break
        for binding in cls.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding) and binding.description:
                found.setdefault(binding.action, binding)
    return list(found.values())


def make_app(source: AppContext | Settings | Services) -> OpsApp:
    """The TUI on the database and policy of ``source`` (an empty database is migrated)."""
    if isinstance(source, Services):
        services = source
    elif isinstance(source, AppContext):
        services = Services.from_context(source)
    else:
        services = Services.from_settings(source)
    return OpsApp(services)
