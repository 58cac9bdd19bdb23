"""What the monthly report says, as a list of neutral blocks every format renders.

Why this exists: Markdown, HTML and PDF must say the same thing with the same
figures, so the words (from :mod:`ngc_pilot.report_messages`) and the
formatted numbers are put together once, here, into headings, paragraphs,
bullet lists, tables and charts; each renderer only lays those out.  Numbers
are formatted as the CLI prints them: money with :func:`policies.rating.money`,
quantities, means and hours as the exact decimals of the ``--json`` output.

Over 400 lines because it is the report's whole text, one short function per
section in reading order; splitting the sections across modules would only
scatter one document.

Deliberately not here: gathering (``ngc_pilot.report_data``), any markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ngc_pilot.report_data import Cost, PilotRow, ReportData
from ngc_pilot.report_messages import Messages
from policies.rating import Month, money


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[int, ...] = ()  # right-aligned columns
    total: bool = False  # the last row is a total


@dataclass(frozen=True)
class Chart:
    """One resource class over the month: capacity, allocated and used per snapshot."""

    title: str
    labels: tuple[str, str, str]
    x: tuple[float, ...]  # 0..1 through the month
    series: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]


Block = Heading | Para | Bullets | Table | Chart


def _cost_row(name: str, c: Cost | tuple[Decimal, Decimal, Decimal]) -> tuple[str, ...]:
    values = (c.list_total, c.discount_total, c.charged_total) if isinstance(c, Cost) else c
    return (name, *(money(v) for v in values))


def _hours(figures: dict[str, Any]) -> str:
    value = figures.get("median_hours")
    return "–" if value is None else str(value)


def blocks(data: ReportData, m: Messages) -> list[Block]:
    """The whole report, in order."""
    out: list[Block] = [
        Heading(1, m("title", month=data.month)),
        Para(m("generated", at=data.generated_at.strftime("%Y-%m-%d %H:%M"))),
    ]
    out += _selection(data, m)
    out += _pilots(data, m)
    out += _usage(data, m)
    out += _payment_model(data, m)
    out += _capacity(data, m)
    out += _evaluation(data, m)
    out += _support(data, m)
    out += _risks(data, m)
    return out


def _selection(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(2, m["selection"])]
    d = data.decision
    if d is None:
        out.append(Para(m["no_decision"]))
    else:
        out.append(
            Para(
                m(
                    "decision",
                    id=d.id,
                    at=d.decided_at.strftime("%Y-%m-%d"),
                    by=d.decided_by,
                    reason=d.reason,
                )
            )
        )
        out.append(
            Para(
                m(
                    "decision_facts",
                    digest=d.policy_digest[:12],
                    k_min=d.k_min,
                    k_max=d.k_max,
                    optimal=m["yes"] if d.optimal else m["no"],
                    objective=f"{d.objective:.2f}",
                )
            )
        )
        out.append(Para(m("selected", ids=", ".join(d.selected) or m["none"])))
    out.append(Heading(3, m["coverage"]))
    if data.coverage:
        out.append(
            Table(
                (m["coverage_dimension"], m["coverage_covered"], m["coverage_missing"]),
                tuple(
                    (
                        c.dimension,
                        ", ".join(c.covered) or m["none"],
                        ", ".join(c.missing) or m["none"],
                    )
                    for c in data.coverage
                ),
            )
        )
    else:
        out.append(Para(m["coverage_none"]))
    if data.coverage_unknown:
        out.append(Para(m("coverage_unknown", count=data.coverage_unknown)))
    return out


def _pilots(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(2, m["pilots"])]
    if not data.pilots:
        return [*out, Para(m["no_pilots"])]
    rows = []
    for p in data.pilots:
        reached = "; ".join(
            f"{m.get('milestone_' + kind, kind)} {day.isoformat()}" for kind, day in p.milestones
        )
        rows.append(
            (
                p.pilot_id,
                p.name,
                m.get("state_" + p.state, p.state),
                m.get("state_" + p.tenant_state, p.tenant_state)
                if p.tenant_state
                else m["no_tenant"],
                f"{p.planned_start.isoformat()} – {p.planned_end.isoformat()}",
                reached or m["none"],
                _access(p, m),
                m.get("dpa_" + p.dpa, p.dpa),
            )
        )
    out.append(
        Table(
            (
                m["col_pilot"],
                m["col_project"],
                m["col_state"],
                m["col_tenant"],
                m["col_dates"],
                m["col_milestones"],
                m["col_data_access"],
                m["col_dpa"],
            ),
            tuple(rows),
        )
    )
    out += _requests(data, m)
    return out


def _access(p: PilotRow, m: Messages) -> str:
    """From when the pilot may reach the data (its own date or the policy's; none when its
    nomination names no national genome data, which it is then never given), and when granted."""
    if not p.access_wanted:
        allowed = m["access_not_wanted"]
    elif p.access_date is None:
        allowed = m["dash"]
    else:
        allowed = m("access_from_own" if p.access_own else "access_from_policy", date=p.access_date)
    granted = m("access_granted", date=p.data_access) if p.data_access else m["access_not_granted"]
    return f"{allowed}; {granted}"


def _requests(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(3, m["requests"])]
    if not data.requests:
        return [*out, Para(m["no_requests"])]
    rows = tuple(
        (
            str(r.id),
            r.pilot_id,
            m.get("request_" + r.kind, r.kind),
            r.value or m["dash"],
            r.filed_at.strftime("%Y-%m-%d"),
            str(r.age_days),
        )
        for r in data.requests
    )
    headers = (
        m["col_request"],
        m["col_pilot"],
        m["col_kind"],
        m["col_wanted"],
        m["col_filed"],
        m["col_age_days"],
    )
    return [*out, Table(headers, rows, numeric=(0, 5))]


def _usage(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(2, m["usage"])]
    if data.usage:
        out.append(
            Table(
                (m["col_pilot"], m["col_metric"], m["col_quantity"], m["col_unit"]),
                tuple((u.pilot_id, u.metric, str(u.quantity), u.unit) for u in data.usage),
                numeric=(2,),
            )
        )
    else:
        out.append(Para(m("no_usage", month=data.month)))
    out.append(Heading(3, m("costs", currency=data.currency)))
    if data.invoices:
        rows = [(c.pilot_id, str(c.revision), *_cost_row("", c)[1:]) for c in data.invoices]
        rows.append((m["total"], "", *_cost_row("", data.invoice_totals())[1:]))
        out.append(
            Table(
                (
                    m["col_pilot"],
                    m["col_revision"],
                    m["col_list"],
                    m["col_discount"],
                    m["col_charged"],
                ),
                tuple(rows),
                numeric=(1, 2, 3, 4),
                total=True,
            )
        )
    else:
        out.append(Para(m("no_invoices", month=data.month)))
    return out


def _payment_model(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(2, m["payment_model"]), Para(m["payment_model_intro"])]
    readable = [c for c in data.candidates if c.problem is None]
    for c in data.candidates:
        if c.problem is not None:
            out.append(Para(m("candidate_problem", source=c.source, problem=c.problem)))
    if not readable:
        return out
    pilots = sorted({cost.pilot_id for c in readable for cost in c.costs})
    headers = [m["col_pilot"]]
    for c in readable:
        headers += [f"{c.source}: {m['col_list']}", f"{c.source}: {m['col_charged']}"]
    rows = []
    for pid in pilots:
        row = [pid]
        for c in readable:
            cost = next((x for x in c.costs if x.pilot_id == pid), None)
            row += [money(cost.list_total), money(cost.charged_total)] if cost else ["–", "–"]
        rows.append(tuple(row))
    total = [m["total"]]
    for c in readable:
        list_total, _, charged = c.totals()
        total += [money(list_total), money(charged)]
    rows.append(tuple(total))
    out.append(
        Table(
            tuple(headers),
            tuple(rows),
            numeric=tuple(range(1, len(headers))),
            total=True,
        )
    )
    return out


def _capacity(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(2, m["capacity"])]
    if not data.capacity:
        return [*out, Para(m("no_capacity", month=data.month))]
    out.append(Para(m["capacity_legend"]))
    month = Month.parse(data.month)
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    span = month.days * 86400.0
    for s in data.capacity:
        x = tuple(min(1.0, (t - start).total_seconds() / span) for t in s.times)
        out.append(
            Chart(
                s.resource_class,
                (m["series_capacity"], m["series_allocated"], m["series_used"]),
                x,
                (s.capacity, s.allocated, s.used),
            )
        )
    return out


def _evaluation(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(2, m["evaluation"])]
    if data.evaluation_problem:
        out.append(Para(m("evaluation_problem", problem=data.evaluation_problem)))
    summary = data.evaluation
    if summary is None:
        return out
    out.append(
        Para(
            m("evaluation_intro", version=summary["questionnaire"], responses=summary["responses"])
        )
    )
    lang = m.language
    for area in summary["areas"]:
        title = area["title"].get(lang) or area["id"]
        out.append(Heading(3, m("area_responses", area=title, responses=area["responses"])))
        rows = []
        for q in area["questions"]:
            dist = q.get("distribution")
            text = (q["text"] or {}).get(lang) or q["id"]
            mean = q.get("mean")
            rows.append(
                (
                    f"{q['id']}: {text}",
                    str(q["responses"]),
                    *([dist[str(n)] for n in range(1, 6)] if dist else [""] * 5),
                    ("–" if mean is None else str(mean)) if dist else m["free_text"],
                )
            )
        out.append(
            Table(
                (m["col_question"], m["col_responses"], "1", "2", "3", "4", "5", m["col_mean"]),
                tuple(tuple(str(v) for v in r) for r in rows),
                numeric=(1, 2, 3, 4, 5, 6, 7),
            )
        )
        comments = data.comments.get(area["id"], [])
        if comments:
            out.append(
                Bullets(
                    tuple(
                        f"{c['pilot']}, {c['respondent']} ({c['question']}): {c['text']}"
                        for c in comments
                    )
                )
            )
        else:
            out.append(Para(m["no_comments"]))
    return out


def _support(data: ReportData, m: Messages) -> list[Block]:
    rows = tuple(
        (
            m.get("area_" + a["area"], a["area"]),
            str(a["opened"]),
            str(a["open"]),
            _hours(a["response"]),
            _hours(a["resolution"]),
        )
        for a in data.support.get("areas", [])
    )
    return [
        Heading(2, m["support"]),
        Table(
            (
                m["col_area"],
                m["col_opened"],
                m["col_open"],
                m["col_response_median"],
                m["col_resolution_median"],
            ),
            rows,
            numeric=(1, 2, 3, 4),
        ),
    ]


def _risks(data: ReportData, m: Messages) -> list[Block]:
    out: list[Block] = [Heading(2, m["risks"])]
    if not data.risks:
        return [*out, Para(m["no_risks"])]
    items = []
    for r in data.risks:
        values = dict(r.values)
        if "resource" in values:
            values["resource"] = m[values["resource"]]
        if r.kind == "dpa":
            values["state"] = m.get("dpa_" + values["state"], values["state"])
        items.append(m(f"risk_{r.kind}", pilot=r.pilot_id, **values))
    out.append(Bullets(tuple(items)))
    return out
