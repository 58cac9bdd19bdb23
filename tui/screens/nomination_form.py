"""Add or edit one nomination, validated exactly like a file import.

Every problem is shown at once: under its field, and in the summary in the
same words ``ngc-pilot intake import`` prints.  Nothing is stored until the
record is valid; storing makes a new revision of an existing id (audited).
Returns the import report, or None when cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea

from ngc_pilot.errors import InputError
from ngc_pilot.facade import Services
from ngc_pilot.intake import ImportReport
from policies.nomination import MAX_PITCH_WORDS
from policies.problems import Problem
from tui.nomination_fields import Field, fields, record_from_values, values_from_document


def _wid(key: str) -> str:
    return "f-" + key.replace(".", "-").replace("_", "-")


class NominationFormScreen(ModalScreen[ImportReport | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    class Saved(Message):
        def __init__(self, report: ImportReport) -> None:
            super().__init__()
            self.report = report

    class Refused(Message):
        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

    def __init__(self, services: Services, document: Mapping[str, Any] | None) -> None:
        super().__init__()
        self.services = services
        self.document = document
        self.fields = fields(services.policy.vocabularies, services.policy.maturity_levels)
        self.kinds = {f.key: f.kind for f in self.fields}

    @property
    def editing(self) -> bool:
        return self.document is not None

    def compose(self) -> ComposeResult:
        values = values_from_document(self.document or {}, self.kinds)
        with Vertical(id="form-dialog", classes="dialog"):
            title = (
                f"Edit nomination {self.document.get('id')}"
                if self.document
                else "Add a nomination"
            )
            yield Label(title, classes="dialog-title")
            yield Static("", id="form-summary")
            with VerticalScroll(id="form-fields"):
                for field in self.fields:
                    yield from self._field(field, values.get(field.key))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="form-save")
                yield Button("Cancel (esc)", id="form-cancel")

    def _field(self, field: Field, value: Any) -> ComposeResult:
        wid = _wid(field.key)
        with Vertical(classes="field"):
            if field.kind != "flag":
                yield Label(field.label, classes="field-label")
            widget: Widget
            if field.kind == "flag":
                widget = Checkbox(field.label, bool(value), id=wid)
            elif field.kind == "long":
                widget = TextArea(str(value or ""), id=wid, soft_wrap=True)
            elif field.kind == "choice":
                known = {v for _, v in field.choices}
                widget = Select(
                    field.choices,
                    prompt="choose…",
                    value=value if value in known else Select.NULL,
                    id=wid,
                )
            else:
                widget = Input(str(value or ""), id=wid, placeholder=field.hint)
                widget.disabled = field.key == "id" and self.editing
            yield widget
            if field.hint and field.kind in ("list", "long", "text"):
                yield Static(self._hint(field, value), classes="hint", id=f"{wid}-hint")
            yield Static("", classes="field-error", id=f"{wid}-error")

    def _hint(self, field: Field, value: Any) -> str:
        if field.key == "pitch":
            return f"{len(str(value or '').split())} of at most {MAX_PITCH_WORDS} words"
        return field.hint

    def on_mount(self) -> None:
        first = "#f-name" if self.editing else "#f-id"
        self.query_one(first).focus()

    @on(TextArea.Changed, "#f-pitch")
    def _pitch_changed(self, event: TextArea.Changed) -> None:
        words = len(event.text_area.text.split())
        hint = self.query_one("#f-pitch-hint", Static)
        hint.update(f"{words} of at most {MAX_PITCH_WORDS} words")
        hint.set_class(words > MAX_PITCH_WORDS, "over")

    # ----------------------------------------------------------------- values

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in self.fields:
            widget = self.query_one(f"#{_wid(field.key)}")
            if isinstance(widget, Checkbox):
                out[field.key] = widget.value
            elif isinstance(widget, TextArea):
                out[field.key] = widget.text
            elif isinstance(widget, Select):
                out[field.key] = None if widget.is_blank() else widget.value
            elif isinstance(widget, Input):
                out[field.key] = widget.value
        if self.editing and self.document is not None:
            out["id"] = self.document.get("id", "")
        return out

    def record(self) -> dict[str, Any]:
        return record_from_values(self.values(), self.kinds)

    # ---------------------------------------------------------------- actions

    @on(Button.Pressed, "#form-save")
    def action_save(self) -> None:
        record = self.record()
        try:
            self.services.validate_nomination(record)
        except InputError as exc:
            self.show_problems(exc.problems)
            return
        self.show_problems([])
        self.query_one("#form-summary", Static).update("Saving…")
        self._store(record)

    @work(thread=True, exclusive=True, group="save")
    def _store(self, record: dict[str, Any]) -> None:
        try:
            report = self.services.save_nomination(record, expect_new=not self.editing)
        except Exception as exc:  # noqa: BLE001 - shown in the form, never a traceback
            self.post_message(self.Refused(exc))
            return
        self.post_message(self.Saved(report))

    def on_nomination_form_screen_saved(self, message: Saved) -> None:
        self.dismiss(message.report)

    def on_nomination_form_screen_refused(self, message: Refused) -> None:
        if isinstance(message.error, InputError):
            self.show_problems(message.error.problems)
        else:
            self.query_one("#form-summary", Static).update(
                f"Could not save: {type(message.error).__name__}: {message.error}"
            )
            self.query_one("#form-summary").set_class(True, "has-problems")

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    # ---------------------------------------------------------------- display

    def show_problems(self, problems: list[Problem]) -> None:
        """Each problem under its field, and all of them in the summary."""
        by_field: dict[str, list[str]] = {}
        for problem in problems:
            key = self._field_for(problem.field)
            if key is not None:
                by_field.setdefault(key, []).append(problem.message)
        for field in self.fields:
            error = self.query_one(f"#{_wid(field.key)}-error", Static)
            messages = by_field.get(field.key, [])
            error.update(Content("\n".join(messages)))
            error.set_class(bool(messages), "shown")
        summary = self.query_one("#form-summary", Static)
        if problems:
            count = len(problems)
            summary.update(
                Content(
                    f"{count} problem{'s' if count != 1 else ''}; nothing was saved\n"
                    + "\n".join(f"  {p}" for p in problems)
                )
            )
        else:
            summary.update("")
        summary.set_class(bool(problems), "has-problems")
        first = next((f for f in self.fields if f.key in by_field), None)
        if first is not None:
            widget = self.query_one(f"#{_wid(first.key)}")
            if widget.focusable:
                widget.focus()

    def _field_for(self, name: str) -> str | None:
        if name in self.kinds:
            return name
        return next((key for key in self.kinds if key.startswith(name + ".")), None)
