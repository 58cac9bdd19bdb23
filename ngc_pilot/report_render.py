"""The monthly report as Markdown or HTML (with inline SVG charts), from its blocks.

Why this exists: the steering group reads the report as a PDF, but a
Markdown copy goes into a wiki or a mail and an HTML page opens anywhere.
Both are Jinja2 templates over :func:`ngc_pilot.report_layout.blocks`; the
HTML escapes every text (names and comments come from people) and draws each
capacity chart as an inline SVG, so the page is one self-contained file.

Deliberately not here: gathering, wording (the blocks carry the words), PDF
(``ngc_pilot.report_pdf``).
"""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import Environment, select_autoescape

from ngc_pilot.report_layout import Block, Bullets, Chart, Heading, Para, Table

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c")  # capacity, allocated, used

_MD = """{% for b in blocks -%}
{% if b.kind == 'heading' %}{{ '#' * b.level }} {{ b.text }}

{% elif b.kind == 'para' %}{{ b.text }}

{% elif b.kind == 'bullets' %}{% for item in b.entries %}- {{ item }}
{% endfor %}
{% elif b.kind == 'table' %}| {{ b.headers | join(' | ') }} |
|{% for h in b.headers %}{{ '---:' if loop.index0 in b.numeric else '---' }}|{% endfor %}
{% for row in b.rows %}| {{ row | join(' | ') }} |
{% endfor %}
{% elif b.kind == 'chart' %}**{{ b.title }}** ({{ b.labels | join(', ') }}):
{% for label, values in b.pairs %}- {{ label }}: min {{ values[0] }}, max {{ values[1] }}, last {{ values[2] }}
{% endfor %}
{% endif %}{% endfor %}"""

_HTML = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; vertical-align: top; }
td.num, th.num { text-align: right; }
tr.total td { font-weight: bold; }
</style></head><body>
{% for b in blocks %}{% if b.kind == 'heading' %}<h{{ b.level }}>{{ b.text }}</h{{ b.level }}>
{% elif b.kind == 'para' %}<p>{{ b.text }}</p>
{% elif b.kind == 'bullets' %}<ul>{% for item in b.entries %}<li>{{ item }}</li>{% endfor %}</ul>
{% elif b.kind == 'table' %}<table><thead><tr>{% for h in b.headers %}<th{% if loop.index0 in b.numeric %} class="num"{% endif %}>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{% for row in b.rows %}<tr{% if b.total and loop.last %} class="total"{% endif %}>{% for cell in row %}<td{% if loop.index0 in b.numeric %} class="num"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% elif b.kind == 'chart' %}<figure>{{ b.svg | safe }}<figcaption>{{ b.title }}</figcaption></figure>
{% endif %}{% endfor %}</body></html>
"""


def _env(autoescape: bool) -> Environment:
    return Environment(
        autoescape=select_autoescape(default=True, default_for_string=True)
        if autoescape
        else False,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _view(block: Block, *, html: bool) -> dict[str, object]:
    if isinstance(block, Heading):
        return {"kind": "heading", "level": block.level, "text": block.text}
    if isinstance(block, Para):
        return {"kind": "para", "text": block.text}
    if isinstance(block, Bullets):
        return {"kind": "bullets", "entries": block.items}
    if isinstance(block, Table):
        rows = block.rows if html else tuple(tuple(_md_cell(c) for c in r) for r in block.rows)
        headers = block.headers if html else tuple(_md_cell(h) for h in block.headers)
        return {
            "kind": "table",
            "headers": headers,
            "rows": rows,
            "numeric": block.numeric,
            "total": block.total,
        }
    assert isinstance(block, Chart)
    pairs = [
        (label, (_num(min(v)), _num(max(v)), _num(v[-1])))
        for label, v in zip(block.labels, block.series, strict=True)
        if v
    ]
    return {
        "kind": "chart",
        "title": block.title,
        "labels": block.labels,
        "pairs": pairs,
        "svg": svg_chart(block) if html else "",
    }


def _num(value: float) -> str:
    return f"{value:,.0f}"


def markdown(blocks: Sequence[Block]) -> str:
    views = [_view(b, html=False) for b in blocks]
    return _env(False).from_string(_MD).render(blocks=views)


def html(blocks: Sequence[Block], *, lang: str) -> str:
    views = [_view(b, html=True) for b in blocks]
    title = next((b.text for b in blocks if isinstance(b, Heading)), "")
    return _env(True).from_string(_HTML).render(blocks=views, lang=lang, title=title)


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def svg_chart(chart: Chart, width: int = 600, height: int = 220) -> str:
    """A line chart of the three series over the month (x: 0..1), with a legend."""
    left, right, top, bottom = 60, 10, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(s) for s in chart.series if s), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_escape(chart.title)}">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 10}" font-size="10" text-anchor="end">{_num(peak)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    for colour, values in zip(COLOURS, chart.series, strict=True):
        if not values:
            continue
        points = " ".join(
            f"{left + x * plot_w:.1f},{top + plot_h - v / peak * plot_h:.1f}"
            for x, v in zip(chart.x, values, strict=True)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
    for i, (colour, label) in enumerate(zip(COLOURS, chart.labels, strict=True)):
        x = left + i * 130
        parts.append(
            f'<rect x="{x}" y="{height - 20}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{height - 14}" font-size="11">{_escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
