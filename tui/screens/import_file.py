"""Import nomination files (YAML, JSON, CSV): all-or-nothing, every problem listed.

Type paths (separated by ``;``) or pick files in the tree.  The import runs
in a worker through ``intake.import_files``, so a refused file leaves the
database untouched and its problems appear here, in the CLI's words.
Returns the import report, or None when cancelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Static

from ngc_pilot.errors import InputError
from ngc_pilot.facade import Services
from ngc_pilot.intake import ImportReport

SUFFIXES = (".yaml", ".yml", ".json", ".csv")


class NominationFiles(DirectoryTree):
    """Folders and the files the import reads; nothing else."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p
            for p in paths
            if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in SUFFIXES)
        ]


def parse_paths(text: str) -> list[Path]:
    return [Path(part.strip()).expanduser() for part in text.split(";") if part.strip()]


class ImportFileScreen(ModalScreen[ImportReport | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "import", "Import", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    class Done(Message):
        def __init__(self, report: ImportReport) -> None:
            super().__init__()
            self.report = report

    class Refused(Message):
        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    def __init__(self, services: Services, start: Path | None = None) -> None:
        super().__init__()
        self.services = services
        self.start = start or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(id="import-dialog", classes="dialog"):
            yield Label("Import nominations", classes="dialog-title")
            yield Input(
                placeholder="file.yaml; other.csv  (YAML, JSON or CSV; all or nothing)",
                id="import-paths",
            )
            yield NominationFiles(self.start, id="import-tree")
            yield Static("", id="import-result")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Import (ctrl+s)", variant="primary", id="import-go")
                yield Button("Cancel (esc)", id="import-cancel")

    def on_mount(self) -> None:
        self.query_one("#import-paths", Input).focus()

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        field = self.query_one("#import-paths", Input)
        paths = parse_paths(field.value)
        if event.path not in paths:
            paths.append(event.path)
        field.value = "; ".join(str(p) for p in paths)

    @on(Input.Submitted, "#import-paths")
    @on(Button.Pressed, "#import-go")
    def action_import(self) -> None:
        paths = parse_paths(self.query_one("#import-paths", Input).value)
        result = self.query_one("#import-result", Static)
        if not paths:
            result.update("Name at least one file, or pick one in the tree (enter).")
            result.set_class(True, "has-problems")
            return
        result.update("Importing…")
        result.set_class(False, "has-problems")
        self._import(paths)

    @work(thread=True, exclusive=True, group="import")
    def _import(self, paths: list[Path]) -> None:
        try:
            report = self.services.import_files(paths)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog, never a traceback
            self.post_message(self.Refused(exc))
            return
        self.post_message(self.Done(report))

    def on_import_file_screen_done(self, message: Done) -> None:
        self.dismiss(message.report)

    def on_import_file_screen_refused(self, message: Refused) -> None:
        result = self.query_one("#import-result", Static)
        error = message.error
        if isinstance(error, InputError):
            count = len(error.problems)
            result.update(
                Content(
                    f"{count} problem{'s' if count != 1 else ''}; nothing was imported\n"
                    + "\n".join(f"  {p}" for p in error.problems)
                )
            )
        else:
            result.update(Content(f"Could not import: {type(error).__name__}: {error}"))
        result.set_class(True, "has-problems")

    @on(Button.Pressed, "#import-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
