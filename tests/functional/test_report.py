"""The steering group's monthly report: its figures equal the CLI's, in every format and language."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select
from support.report_seed import MONTH, seed_month
from support.smtpserver import SmtpServer

from ngc_pilot import mail, reports
from ngc_pilot.db import make_engine
from ngc_pilot.errors import InputError
from ngc_pilot.models import AuditEvent, OutboxMessage
from ngc_pilot.request_models import ChangeRequest
from ngc_pilot.settings import MailSettings, Settings, build_settings
from policies.rating import money

pytestmark = pytest.mark.migrated

SHIPPED = Path(__file__).resolve().parents[2] / "policies"
SINCE, UNTIL = "2021-05-01T00:00Z", "2021-06-01T00:00Z"


KINDS = {
    "da": {"extend": "forlængelse", "resize": "ny størrelse"},
    "en": {"extend": "extension", "resize": "resize"},
}
ACCESS = {
    "da": (
        "fra {} (egen dato)",
        "fra {} (politikkens dato)",
        "givet {}",
        "ikke givet",
        "ingen (bruger ikke de nationale genomdata)",
    ),
    "en": (
        "from {} (own date)",
        "from {} (policy date)",
        "granted {}",
        "not granted",
        "none (does not use the national genome data)",
    ),
}


@pytest.fixture
def seeded(database):
    seed_month(database.url, 3).dispose()
    return database


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def squeeze(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


def cli_figures(cli) -> tuple[list[dict], dict, dict, dict]:
    invoices = cli("invoice", "--month", MONTH, "--json")
    assert invoices.code == 0, invoices.err
    usage = cli("usage", "--since", SINCE, "--until", UNTIL, "--json")
    assert usage.code == 0, usage.err
    evaluation = cli("evaluation", "list", "--json")
    assert evaluation.code == 0, evaluation.err
    flat = cli(
        "invoice", "--month", MONTH, "--prices", str(SHIPPED / "prices-flat-fee.yaml"), "--json"
    )
    assert flat.code == 0, flat.err
    return usage.json(), invoices.json(), evaluation.json(), flat.json()


@pytest.mark.parametrize("lang", ["da", "en"])
def test_the_pdf_read_back_shows_the_figures_of_usage_invoice_and_evaluation_list(
    cli, seeded, tmp_path, lang
):
    usage, invoices, evaluation, flat = cli_figures(cli)
    target = tmp_path / f"report-{lang}.pdf"
    result = cli("report", "--month", MONTH, "--lang", lang, "-o", str(target), "--json")
    assert result.code == 0, result.err
    assert result.json()["path"] == str(target)
    text = squeeze(pdf_text(target))
    lines = text.splitlines()
    # usage: each (pilot, metric, quantity) on one line of the usage table
    assert len(usage) == 9
    for row in usage:
        assert any(
            line.startswith(f"{row['pilot']} {row['metric']} {row['quantity']} ") for line in lines
        ), row
    # shadow invoices: each pilot's list, discount and charged, and the totals
    docs = invoices["invoices"]
    assert len(docs) == 3 and Decimal(docs[0]["list_total"]) > 0
    for doc in docs:
        figures = " ".join(
            money(Decimal(doc[k])) for k in ("list_total", "discount_total", "charged_total")
        )
        assert f"{doc['pilot']} {doc['revision']} {figures}" in text
    total = sum(Decimal(d["list_total"]) for d in docs)
    assert money(total) in text
    # the payment-model test: the flat fee's list totals equal `invoice --prices`
    for row in flat["tenants"]:
        assert money(Decimal(row["other"]["list_total"])) in text
    # evaluation: responses, distribution and mean per scale question
    for area in evaluation["areas"]:
        for q in area["questions"]:
            if q["kind"] != "scale" or not q["responses"]:
                continue
            dist = " ".join(str(q["distribution"][str(n)]) for n in range(1, 6))
            expected = f"{q['responses']} {dist} {q['mean']}"
            assert any(line.startswith(q["id"] + ":") and expected in line for line in lines), q
    assert "Mere GPU, tak" in text and "Slow <storage> & more" in text
    heading = {"da": "Betalingsmodellen afprøvet", "en": "The payment-model test"}[lang]
    assert heading in text
    assert ("udløber 2021-06-10" if lang == "da" else "expires 2021-06-10") in text
    # the pilots: pending change requests as `requests list` shows them, data-access dates
    pending = cli("requests", "list", "--status", "pending", "--json")
    assert pending.code == 0, pending.err
    assert [r["pilot"] for r in pending.json()] == ["P-2", "P-3"]
    kinds = KINDS[lang]
    for r in pending.json():
        age = r["age_seconds"] // 86400
        row = f"{r['id']} {r['pilot']} {kinds[r['kind']]} {r['value']} {r['filed_at'][:10]} "
        found = [line.strip() for line in lines if line.strip().startswith(row)]
        assert len(found) == 1, row
        assert int(found[0].split()[-1]) in (age, age + 1)  # the report was made a moment later
    own, policy, granted, not_granted, not_wanted = ACCESS[lang]
    assert f"{own.format('2021-05-20')}; {not_granted}" in text  # P-2's own date
    assert f"{policy.format('2021-06-01')}; {granted.format('2021-05-02')}" in text  # P-1
    assert f"{not_wanted}; {not_granted}" in text  # P-3 names no national genome data


@pytest.mark.parametrize("lang", ["da", "en"])
def test_markdown_has_the_same_figures_as_tables(cli, seeded, tmp_path, lang):
    usage, invoices, evaluation, _ = cli_figures(cli)
    target = tmp_path / "r.md"
    assert (
        cli("report", "--month", MONTH, "--format", "md", "--lang", lang, "-o", str(target)).code
        == 0
    )
    text = target.read_text(encoding="utf-8")
    for row in usage:
        assert f"| {row['pilot']} | {row['metric']} | {row['quantity']} |" in text
    for doc in invoices["invoices"]:
        assert (
            f"| {doc['pilot']} | {doc['revision']} | {money(Decimal(doc['list_total']))} |" in text
        )
    compute = next(
        q for a in evaluation["areas"] for q in a["questions"] if q["id"] == "infra.compute"
    )
    assert f"| {compute['responses']} | 0 | 1 | 0 | 1 | 1 | {compute['mean']} |" in text
    assert ("## Risici" if lang == "da" else "## Risks") in text


@pytest.mark.parametrize("lang", ["da", "en"])
def test_html_escapes_peoples_text_and_draws_the_capacity_plots_inline(cli, seeded, tmp_path, lang):
    target = tmp_path / "r.html"
    assert (
        cli("report", "--month", MONTH, "--format", "html", "--lang", lang, "-o", str(target)).code
        == 0
    )
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in page
    assert "Slow &lt;storage&gt; &amp; more" in page and "<storage>" not in page
    assert page.count("<svg") == 2 and "<polyline" in page  # VCPU and MEMORY_MB
    assert "<script" not in page


def test_the_report_is_audited_and_danish_by_default(cli, seeded, tmp_path):
    target = tmp_path / "r.md"
    assert cli("report", "--month", MONTH, "--format", "md", "-o", str(target)).code == 0
    assert target.read_text(encoding="utf-8").startswith("# Styregruppens månedsrapport")
    engine = make_engine(seeded.url)
    with Session(engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "report.generated")
        ).one()
    engine.dispose()
    assert event.subject == f"report:{MONTH}" and event.actor == "tester"
    assert event.details["path"] == str(target) and event.details["language"] == "da"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--month", "2021-13"], "2021-13"),
        (["--month", "May"], "May"),
        (["--month", "2030-01"], "no data for this month"),
        (["--month", MONTH, "--format", "docx"], "docx"),
        (["--month", MONTH, "--lang", "de"], "allowed: da, en"),
    ],
)
def test_bad_input_is_one_clear_line_exit_2_and_nothing_written(cli, seeded, tmp_path, args, field):
    target = tmp_path / "r.pdf"
    before = cli("audit", "--json").out
    result = cli("report", *args, "-o", str(target))
    assert result.code == 2
    problems = [line for line in result.err.splitlines() if line.startswith("  ")]
    assert len(problems) == 1 and field in problems[0]
    assert not [p for p in tmp_path.iterdir() if "r.pdf" in p.name]  # not even a temporary file
    assert cli("audit", "--json").out == before  # nothing recorded either


def job_settings(url: str, reports_dir: Path, **report) -> Settings:
    return build_settings(
        overrides={
            "database": {"url": url},
            "report": {"dir": str(reports_dir), **report},
            "audit": {"actor": "scheduler"},
        },
        environ={},
    )


def test_the_monthly_job_writes_last_months_report_under_the_report_dir(seeded, tmp_path):
    settings = job_settings(seeded.url, tmp_path / "reports", recipients=["sg@example.org"])
    engine = make_engine(seeded.url)
    try:
        summary = reports.monthly_report(engine, settings, now=datetime(2021, 6, 1, 3, tzinfo=UTC))
        path = Path(summary["path"])
        assert summary["month"] == MONTH
        assert path == tmp_path / "reports" / f"steering-report-{MONTH}-da.pdf"
        assert path.read_bytes().startswith(b"%PDF")
        assert summary["queued"] == ["sg@example.org"]
        # A month with nothing in it is skipped, not failed.
        empty = reports.monthly_report(engine, settings, now=datetime(2030, 2, 1, tzinfo=UTC))
        assert "path" not in empty and "no data" in empty["skipped"]
        with Session(engine) as session:
            events = session.exec(
                select(AuditEvent).where(AuditEvent.action == "report.generated")
            ).all()
            queued = session.exec(
                select(AuditEvent).where(AuditEvent.action == "report.queued")
            ).one()
        assert [(e.actor, e.details["recipients"]) for e in events] == [("scheduler", 1)]
        assert queued.details["to"] == ["sg@example.org"] and queued.subject == f"report:{MONTH}"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("lang", "subject"),
    [("da", "Styregruppens månedsrapport"), ("en", "The steering group's monthly report")],
)
def test_the_monthly_job_mails_the_pdf_to_each_recipient_once_in_the_reports_language(
    seeded, tmp_path, lang, subject
):
    group = ["sg@example.org", "chair@example.org"]
    settings = job_settings(seeded.url, tmp_path / "reports", recipients=group, language=lang)
    mail_settings = MailSettings(smtp_host="127.0.0.1", sender="ngc@example.org")
    engine = make_engine(seeded.url)
    june = datetime(2021, 6, 1, 3, tzinfo=UTC)
    try:
        summary = reports.monthly_report(engine, settings, now=june)
        assert summary["queued"] == group and summary["language"] == lang
        first = Path(summary["path"]).read_bytes()
        again = reports.monthly_report(engine, settings, now=june)  # a re-run queues nothing
        assert again["queued"] == [] and again["already_queued"] == group
        with SmtpServer() as smtp:
            sent = mail.send_due(
                engine, mail_settings.model_copy(update={"smtp_port": smtp.port}), actor="t"
            )
            assert sent.sent == 2
            received = list(smtp.received)
        with Session(engine) as session:
            keys = session.exec(select(OutboxMessage.key).order_by(OutboxMessage.key)).all()
    finally:
        engine.dispose()
    assert keys == [f"report:{MONTH}:{r}" for r in sorted(group)]
    assert sorted(r for got in received for r in got.rcpt_tos) == sorted(group)
    for got in received:
        message = got.message
        assert subject in message["Subject"] and MONTH in message["Subject"]
        [pdf] = list(message.iter_attachments())
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_filename() == f"steering-report-{MONTH}-{lang}.pdf"
        copy = tmp_path / f"{got.rcpt_tos[0]}.pdf"
        copy.write_bytes(pdf.get_content())
        assert copy.read_bytes() == first  # the bytes queued, not a later run's file
        text = squeeze(pdf_text(copy))
        heading = {"da": "Betalingsmodellen afprøvet", "en": "The payment-model test"}[lang]
        assert heading in text and "P-2" in text


def test_the_monthly_job_queues_nothing_without_recipients_and_says_so(seeded, tmp_path):
    settings = job_settings(seeded.url, tmp_path / "reports")
    engine = make_engine(seeded.url)
    try:
        summary = reports.monthly_report(engine, settings, now=datetime(2021, 6, 1, tzinfo=UTC))
        with Session(engine) as session:
            rows = session.exec(select(OutboxMessage)).all()
    finally:
        engine.dispose()
    assert Path(summary["path"]).exists()
    assert summary["queued"] == [] and "report.recipients is empty" in summary["mail"]
    assert rows == []


def test_a_malformed_recipient_fails_the_job_before_anything_is_written(seeded, tmp_path):
    settings = job_settings(seeded.url, tmp_path / "reports", recipients=["not an address"])
    engine = make_engine(seeded.url)
    try:
        with pytest.raises(InputError) as caught:
            reports.monthly_report(engine, settings, now=datetime(2021, 6, 1, tzinfo=UTC))
        with Session(engine) as session:
            rows = session.exec(select(OutboxMessage)).all()
    finally:
        engine.dispose()
    assert "not an address" in str(caught.value) and rows == []
    assert not (tmp_path / "reports").exists()


def test_report_settings_have_defaults_and_descriptions():
    settings = build_settings(environ={})
    assert settings.report_dir == Path("var/reports")
    assert settings.report.recipients == [] and settings.report.language == "da"
    fields = type(settings.report).model_fields
    assert all(fields[name].description for name in ("dir", "recipients", "language"))


def test_the_selection_section_shows_the_decision_and_what_it_does_not_cover(database, tmp_path):
    from tui.testing import demo_services, populate

    services = demo_services(database.url)
    try:
        populate(services, commit=True)
        settings = build_settings(overrides={"database": {"url": database.url}}, environ={})
        report = reports.build(services.engine, settings, "2021-05", fmt="md", language="en")
    finally:
        services.engine.dispose()
    text = report.content.decode()
    assert "Decision #1 made " in text and "by Steering group (test)" in text
    coverage = report.data.coverage
    assert coverage and all(c.covered for c in coverage)
    assert any(c.missing for c in coverage)  # a heterogeneous set still leaves values out
    for c in coverage:
        assert f"| {c.dimension} | {', '.join(c.covered)} |" in text
    assert report.data.coverage_unknown == 0


def test_pending_requests_show_their_age_on_the_day_the_report_is_made(seeded):
    settings = build_settings(overrides={"database": {"url": seeded.url}}, environ={})
    engine = make_engine(seeded.url)
    try:
        june = datetime(2021, 6, 1, 9, tzinfo=UTC)
        report = reports.build(engine, settings, MONTH, fmt="md", language="en", now=june)
        with Session(engine) as session:
            for request in session.exec(select(ChangeRequest)).all():
                request.status = "rejected"
                session.add(request)
            session.commit()
        none = reports.build(engine, settings, MONTH, fmt="md", language="da", now=june)
    finally:
        engine.dispose()
    text = report.content.decode()
    # P-2 filed 2021-05-22 10:00, P-3 2021-05-23 10:00; P-1's request is decided, so not shown
    assert "| 2 | P-2 | extension | 2021-09-30 | 2021-05-22 | 9 |" in text
    assert "| 3 | P-3 | resize | medium | 2021-05-23 | 8 |" in text
    assert "| P-1 | resize |" not in text
    assert "| P-2 | Project P-2 |" in text and "from 2021-05-20 (own date); not granted" in text
    assert "Ingen ændringsanmodninger venter på en afgørelse." in none.content.decode()
