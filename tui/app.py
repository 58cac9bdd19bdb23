"""The app: screens as modes, global keys, command palette, error display.

Deliberately small: each screen loads and shows its own data; the app only
switches between them, counts data changes (so a screen reloads when shown
after another screen wrote something) and turns failures into notifications.

Launch is kept short by opening the service layer (SQLAlchemy, the ORM, the
migration check, the policy: most of the import time) in a worker *after*
the first screen is on the terminal, when the app is made from settings.
Screens load their data in workers that wait for it; nothing in ``tui``
imports the service layer at import time (``tests/functional/test_tui_launch.py``).
Made from an application context or from ready services, the app uses them as is.
The Jobs screen lists and runs the scheduler's jobs: the app hands the facade
:class:`scheduler.manual.SchedulerJobs` (the TUI sits above the scheduler).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from tui.errors import NotStarted, describe
from tui.messages import ServiceFailed
from tui.screens import SCREENS
from tui.screens.help import HelpScreen

if TYPE_CHECKING:
    from ngc_pilot.application import Application
    from ngc_pilot.facade import Services
    from ngc_pilot.settings import Settings


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

    class Started(Message):
        """The service layer is open (posted by the worker that opened it)."""

    def __init__(
        self,
        services: Services | None = None,
        *,
        opening: Callable[[], Services] | None = None,
        label: str = "",
    ) -> None:
        super().__init__()
        if (services is None) == (opening is None):
            raise ValueError("give ready services or a way to open them, not both")
        self._services = services
        self._open_services = opening
        self._services_ready = threading.Event()
        if services is not None:
            self._services_ready.set()
        self._database_label = label
        self.data_version = 0  # bumped by a screen after it writes; others reload when shown

    @property
    def services(self) -> Services:
        """The service layer; waits while it is being opened (workers ask first)."""
        self._services_ready.wait()
        if self._services is None:
            raise NotStarted
        return self._services

    def on_mount(self) -> None:
        if self._services is not None:
            self.sub_title = self._services.database_label
        else:
            self.sub_title = f"{self._database_label} (opening…)"
            # After the first screen is painted: the import work of opening the
            # database would otherwise compete with drawing it.
            self.call_after_refresh(self._open_worker)
        self.switch_mode(SCREENS[0].MODE)

    @work(thread=True, group="open")
    def _open_worker(self) -> None:
        assert self._open_services is not None
        try:
            self._services = self._open_services()
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            self.post_message(ServiceFailed("Opening the database", exc))
        else:
            self.post_message(self.Started())
        finally:
            self._services_ready.set()  # screens waiting for the services go on (or give up)

    def on_ops_app_started(self) -> None:
        if self._services is not None:
            self.sub_title = self._services.database_label

    def on_service_failed(self, message: ServiceFailed) -> None:
        log = self._services.error_log if self._services is not None else None
        title, text = describe(message.action, message.error, log)
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


def make_app(source: Application | Settings | Services) -> OpsApp:
    """The TUI on the database and policy of ``source`` (an empty database is migrated).

    From settings, the database is opened in a worker once the first screen is
    shown; from an application context or ready services, right away.
    """
    from ngc_pilot.settings import Settings

    if isinstance(source, Settings):
        settings = source

        def opening() -> Services:
            return open_services(settings)

        return OpsApp(opening=opening, label=_url_label(settings))
    from ngc_pilot.facade import Services

    if isinstance(source, Services):
        return OpsApp(source)
    return OpsApp(open_services(source))


def open_services(source: Application | Settings) -> Services:
    """The service facade on ``source``, with the scheduler's jobs."""
    from ngc_pilot.application import Application
    from ngc_pilot.facade import Services
    from scheduler.manual import SchedulerJobs

    app = source if isinstance(source, Application) else Application(source)
    return Services.from_application(app, jobs=SchedulerJobs(app.settings))


def _url_label(settings: Settings) -> str:
    """The database as the header shows it before the service layer is open (no password)."""
    url = settings.database_url
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
