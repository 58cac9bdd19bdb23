"""The one A4 document base that ngc-pilot's PDFs share (fpdf2): font, text and footer.

Why this exists: the shadow invoices (:mod:`ngc_pilot.invoice_pdf`) and the
steering group's report (:mod:`ngc_pilot.report_pdf`) are both read on
paper, in Danish as well as English.  Both set their text in DejaVu Sans when
the machine has it (Debian's fonts-dejavu-core, so æ, ø, å and the dashes
print as written) and otherwise in the PDF's built-in Helvetica with the few
characters Latin-1 lacks replaced; both print a footer with the page number.
That choice lives here once.

Deliberately not here: page layout, headings, tables — each document lays out
its own pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fpdf import FPDF

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
# What the built-in Helvetica (Latin-1) prints instead of the characters it lacks.
_NOT_LATIN1 = {"—": "-", "–": "-", "…": "...", "→": "->", "−": "-", "\u202f": " "}


def _dejavu() -> Path | None:
    """DejaVuSans.ttf where its bold face lies beside it, or None."""
    for folder in FONT_DIRS:
        regular = folder / "DejaVuSans.ttf"
        if regular.is_file() and (folder / "DejaVuSans-Bold.ttf").is_file():
            return regular
    return None


class DocumentPDF(FPDF):
    """An A4 document in DejaVu Sans (or Helvetica) with a centred footer and page number.

    ``footer_text`` is printed at the foot of every page followed by
    ``page_label`` and the page number (``"page 3"``, or just ``"3"``).
    """

    def __init__(
        self,
        footer_text: str,
        *,
        orientation: Literal["portrait", "landscape"],
        margin: float,
        page_break_margin: float,
        footer_offset: float,
        page_label: str = "",
    ) -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.footer_text = footer_text
        self.page_label = page_label
        self.footer_offset = footer_offset
        self.family = "Helvetica"
        regular = _dejavu()
        if regular is not None:
            self.add_font("DejaVu", "", str(regular))
            self.add_font("DejaVu", "B", str(regular.parent / "DejaVuSans-Bold.ttf"))
            self.family = "DejaVu"
        self.set_auto_page_break(auto=True, margin=page_break_margin)
        self.set_margins(margin, margin, margin)

    @property
    def unicode_font(self) -> bool:
        """Whether the text is set in a font that prints every character as written."""
        return self.family == "DejaVu"

    def text_of(self, text: str) -> str:
        """``text`` as the current font can print it (unchanged in DejaVu Sans)."""
        if self.unicode_font:
            return text
        for bad, good in _NOT_LATIN1.items():
            text = text.replace(bad, good)
        return text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-self.footer_offset)
        self.set_font(self.family, "", 7)
        self.set_text_color(110)
        label = f"{self.page_label} " if self.page_label else ""
        self.cell(0, 5, self.text_of(f"{self.footer_text}   {label}{self.page_no()}"), align="C")
        self.set_text_color(0)
