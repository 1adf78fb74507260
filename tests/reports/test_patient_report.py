"""The patient progress report: what the PDF says, who may fetch it, the CLI, and the audit
trail; on SQLite and PostgreSQL, the record built through the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.cli import app as cli_app
from ketaclinic.config import Settings
from ketaclinic.labels import label
from ketaclinic.reports.render import DISCLAIMER, number
from ketaclinic.reports.render import pdf_text as in_core_font
from tests.conftest import Person, cli_env, log_in, patient_body, token_for
from tests.reports.helpers import Record, build_record, pdf_text

runner = CliRunner()


@pytest.fixture
def record(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Record:
    return build_record(client, make_person, factory)


def _report_events(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "report.patient")
        return list(session.scalars(query.order_by(AuditEvent.id)).all())


def _env(settings: Settings) -> dict[str, str]:
    return cli_env(settings)


def _web_client(app: FastAPI, person: Person) -> TestClient:
    web = TestClient(app)
    log_in(web, person)
    return web


def test_the_pdf_names_the_patient_diagnoses_doses_scores_and_adverse_events(
    app: FastAPI, record: Record, make_person: Callable[..., Person]
) -> None:
    web = _web_client(app, make_person(Role.PHYSICIAN))
    response = web.get(f"/patients/{record.patient_id}/report.pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert f"MRN {record.mrn}" in text
    assert len(record.diagnosis_codes) == 2
    for code in record.diagnosis_codes:
        assert code in text
    # The session's row: what delivered() derives from the pump timeline, in mg then mL.
    assert f"{number(record.delivered_mg)} {number(record.delivered_ml)}" in text
    assert [context for context, _ in record.phq9_totals] == ["baseline", "pre", "post"]
    assert len({total for _, total in record.phq9_totals}) == 3
    for context, total in record.phq9_totals:
        assert (
            f"PHQ-9 {label(context)} {total} " in text
        )  # "pre" reads "before" (ketaclinic/labels.py)
    # "≥" is not in the PDF's core font; the report writes ">=" (render.pdf_text).
    assert "≥" in record.alert_message
    assert in_core_font(record.alert_message) in text
    assert "Nausea / vomiting: severe" in text
    assert " ".join(DISCLAIMER.split()) in text
    assert "Page 1 of" in text


def test_the_report_states_the_change_in_phq9_from_baseline(
    app: FastAPI, record: Record, make_person: Callable[..., Person]
) -> None:
    web = _web_client(app, make_person(Role.NURSE))
    text = pdf_text(web.get(f"/patients/{record.patient_id}/report.pdf").content)
    baseline, latest = record.phq9_totals[0][1], record.phq9_totals[-1][1]
    assert f"PHQ-9: {baseline} at baseline" in text
    assert f"{latest} latest" in text
    assert "response; remission" in text  # 15 → 1: a fall of at least 50 %, and below 5


def test_the_web_report_is_a_pdf_attachment_and_one_audited_read(
    app: FastAPI,
    record: Record,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    physician = make_person(Role.PHYSICIAN)
    before = _report_events(factory)
    response = _web_client(app, physician).get(f"/patients/{record.patient_id}/report.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="progress-{record.mrn}.pdf"'
    )
    events = _report_events(factory)[len(before) :]
    assert [(e.username, e.patient_id) for e in events] == [(physician.username, record.patient_id)]


def test_front_desk_staff_and_another_clinic_cannot_fetch_the_report(
    app: FastAPI,
    record: Record,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
) -> None:
    url = f"/patients/{record.patient_id}/report.pdf"
    staff = _web_client(app, make_person(Role.STAFF))
    outsider = _web_client(app, make_person(Role.PHYSICIAN, clinic="SOUTH"))
    assert staff.get(url).status_code == 403
    assert outsider.get(url).status_code == 404
    assert _report_events(factory) == []


def test_the_patient_page_offers_the_report_to_clinicians_only(
    app: FastAPI, record: Record, make_person: Callable[..., Person]
) -> None:
    link = f'href="/patients/{record.patient_id}/report.pdf"'
    nurse_page = _web_client(app, make_person(Role.NURSE)).get(f"/patients/{record.patient_id}")
    staff_page = _web_client(app, make_person(Role.STAFF)).get(f"/patients/{record.patient_id}")
    assert link in nurse_page.text
    assert "Progress report (PDF)" in nurse_page.text
    assert staff_page.status_code == 200
    assert link not in staff_page.text


def test_the_cli_writes_the_report_and_audits_it_as_the_cli(
    settings: Settings, record: Record, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    out = tmp_path / "report.pdf"
    result = runner.invoke(
        cli_app, ["report", "patient", record.mrn, "--out", str(out)], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes())
    assert f"MRN {record.mrn}" in text
    assert f"{number(record.delivered_mg)} {number(record.delivered_ml)}" in text
    events = _report_events(factory)
    assert [(e.username, e.client_address, e.patient_id) for e in events] == [
        ("cli", "cli", record.patient_id)
    ]


def test_the_cli_refuses_an_unknown_mrn_with_exit_2(
    settings: Settings, record: Record, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    out = tmp_path / "report.pdf"
    result = runner.invoke(
        cli_app, ["report", "patient", "NO-SUCH-MRN", "--out", str(out)], env=_env(settings)
    )
    assert result.exit_code == 2
    assert "no patient with MRN 'NO-SUCH-MRN'" in result.output
    assert not out.exists()
    assert _report_events(factory) == []


def test_the_cli_refuses_an_unwritable_path_with_exit_2_and_reads_nothing(
    settings: Settings, record: Record, tmp_path: Path, factory: sessionmaker[Session]
) -> None:
    out = tmp_path / "missing-directory" / "report.pdf"
    result = runner.invoke(
        cli_app, ["report", "patient", record.mrn, "--out", str(out)], env=_env(settings)
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert _report_events(factory) == []


def test_the_cli_asks_for_a_clinic_when_the_mrn_is_in_two(
    settings: Settings,
    record: Record,
    tmp_path: Path,
    client: TestClient,
    make_person: Callable[..., Person],
) -> None:
    south = token_for(client, make_person(Role.NURSE, clinic="SOUTH"))
    other = client.post("/api/v1/patients", json=patient_body(mrn=record.mrn), headers=south)
    assert other.status_code == 201, other.text
    out = tmp_path / "report.pdf"
    args = ["report", "patient", record.mrn, "--out", str(out)]
    ambiguous = runner.invoke(cli_app, args, env=_env(settings))
    assert ambiguous.exit_code == 2
    assert "--clinic" in ambiguous.output
    chosen = runner.invoke(cli_app, [*args, "--clinic", "NORTH"], env=_env(settings))
    assert chosen.exit_code == 0, chosen.output
    assert record.diagnosis_codes[-1] in pdf_text(out.read_bytes())
    unknown = runner.invoke(cli_app, [*args, "--clinic", "NOWHERE"], env=_env(settings))
    assert unknown.exit_code == 2
    assert "no clinic 'NOWHERE'" in unknown.output
