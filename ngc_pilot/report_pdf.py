"""The monthly report as a PDF (fpdf2), with its capacity plots drawn as vector lines.

Why this exists: the steering group reads the report on paper and as a PDF
attachment.  The PDF lays out :func:`ngc_pilot.report_layout.blocks` on A4
landscape (the payment-model table is wide): headings, paragraphs, bullet
lists, tables through fpdf2's ``table()``, and each capacity chart drawn with
fpdf2's own drawing primitives (rectangle, polyline) — no plotting library, no
raster image.  The text layer is real text, so ``pdftotext`` finds every
figure (the tests read it back).

Text is set in DejaVu Sans when the machine has it (Danish letters and
dashes as written), otherwise in the built-in Helvetica with the few
characters it lacks replaced (:mod:`ngc_pilot.pdf_document`, shared with the
invoice PDF).

Deliberately not here: gathering or wording anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace

from ngc_pilot.pdf_document import DocumentPDF
from ngc_pilot.report_layout import Block, Bullets, Chart, Heading, Para, Table

_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44))  # capacity, allocated, used
_SIZES = {1: 16, 2: 13, 3: 11}


class _Report(DocumentPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(
            footer_text,
            orientation="landscape",
            margin=12,
            page_break_margin=15,
            footer_offset=10,
        )


def render(blocks: Sequence[Block]) -> bytes:
    """The PDF of the report's blocks."""
    title = next((b.text for b in blocks if isinstance(b, Heading)), "")
    pdf = _Report(title)
    pdf.set_title(title)
    pdf.set_creator("ngc-pilot")
    pdf.add_page()
    for block in blocks:
        if isinstance(block, Heading):
            _heading(pdf, block)
        elif isinstance(block, Para):
            pdf.set_font(pdf.family, "", 9)
            pdf.multi_cell(0, 4.5, pdf.text_of(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif isinstance(block, Bullets):
            pdf.set_font(pdf.family, "", 9)
            for item in block.items:
                pdf.multi_cell(
                    0,
                    4.5,
                    pdf.text_of(f"• {item}" if pdf.unicode_font else f"- {item}"),
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
            pdf.ln(1)
        elif isinstance(block, Table):
            _table(pdf, block)
        elif isinstance(block, Chart):
            _chart(pdf, block)
    return bytes(pdf.output())


def _heading(pdf: _Report, block: Heading) -> None:
    if block.level == 2 and pdf.get_y() > pdf.h - 45:
        pdf.add_page()
    pdf.ln(2 if block.level > 1 else 0)
    pdf.set_font(pdf.family, "B", _SIZES.get(block.level, 10))
    pdf.multi_cell(
        0, 7 if block.level == 1 else 6, pdf.text_of(block.text), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(1)


def _widths(block: Table, usable: float) -> tuple[float, ...]:
    """Column widths from the longest text in each column, numbers never wrapped."""
    longest = [
        max([len(h) for h in block.headers[i : i + 1]] + [len(r[i]) for r in block.rows])
        for i in range(len(block.headers))
    ]
    weights = [max(6, min(60, n)) for n in longest]
    scale = usable / sum(weights)
    return tuple(w * scale for w in weights)


def _table(pdf: _Report, block: Table) -> None:
    pdf.set_font(pdf.family, "", 7.5)
    usable = pdf.w - pdf.l_margin - pdf.r_margin
    aligns = tuple("RIGHT" if i in block.numeric else "LEFT" for i in range(len(block.headers)))
    with pdf.table(
        col_widths=_widths(block, usable),
        text_align=aligns,
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
        borders_layout=TableBordersLayout.SINGLE_TOP_LINE,
        line_height=4,
        width=usable,
    ) as table:
        table.row([pdf.text_of(h) for h in block.headers])
        for n, row in enumerate(block.rows):
            style = FontFace(emphasis="BOLD") if block.total and n == len(block.rows) - 1 else None
            table.row([pdf.text_of(c) for c in row], style=style)
    pdf.ln(2)


def _chart(pdf: _Report, chart: Chart) -> None:
    width, height = 200.0, 50.0
    if pdf.get_y() + height + 14 > pdf.h - pdf.b_margin:
        pdf.add_page()
    x0, y0 = pdf.l_margin + 18, pdf.get_y() + 6
    pdf.set_font(pdf.family, "B", 9)
    pdf.cell(0, 5, pdf.text_of(chart.title), new_x="LMARGIN", new_y="NEXT")
    peak = max((max(s) for s in chart.series if s), default=0.0) or 1.0
    pdf.set_draw_color(130)
    pdf.set_line_width(0.2)
    pdf.rect(x0, y0, width, height)
    pdf.set_font(pdf.family, "", 7)
    pdf.text(pdf.l_margin, y0 + 3, f"{peak:,.0f}")
    pdf.text(pdf.l_margin, y0 + height, "0")
    pdf.set_line_width(0.5)
    for colour, values in zip(_COLOURS, chart.series, strict=True):
        if not values:
            continue
        pdf.set_draw_color(*colour)
        points = [
            (x0 + x * width, y0 + height - v / peak * height)
            for x, v in zip(chart.x, values, strict=True)
        ]
        if len(points) == 1:
            points.append((points[0][0] + 0.5, points[0][1]))
        pdf.polyline(points)
    legend_y = y0 + height + 5
    for i, (colour, label) in enumerate(zip(_COLOURS, chart.labels, strict=True)):
        lx = x0 + i * 45
        pdf.set_fill_color(*colour)
        pdf.rect(lx, legend_y - 2, 6, 1.5, style="F")
        pdf.text(lx + 8, legend_y, pdf.text_of(label))
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    pdf.set_y(legend_y + 4)
