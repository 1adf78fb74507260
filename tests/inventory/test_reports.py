"""The inspector's reports, on SQLite and PostgreSQL: the biennial inventory derived from a ledger
built through the API, the administration record as page, CSV and PDF, the reconciliation that
lists what does not balance, a lot's history, and the command line."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit.models import AuditEvent
from ketaclinic.cli import app as cli_app
from ketaclinic.config import Settings
from ketaclinic.inventory import core, reports, service
from ketaclinic.inventory.core import Movement
from tests.conftest import Person, cli_env, log_in, token_for
from tests.infusions.test_api import at
from tests.infusions.test_check_in_and_discharge import LOW_DOSE
from tests.inventory.helpers import API, Stock

runner = CliRunner()
UTC_ZONE = ZoneInfo("UTC")  # the test settings' clinic time zone
#: T0 (tests.infusions.test_api) is 2026-03-02 09:00 UTC; the receipts are a day earlier.
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 2)
ADDRESS = {"line1": "12 Synthetic Lane", "line2": "Apt 3", "city": "Demo City", "state": "or",
           "zip": "00000"}  # fmt: skip
ADDRESS_LINE = "12 Synthetic Lane, Apt 3, Demo City, OR 00000"
MANNER = "=HYPERLINK(sharps bin)"  # typed like a formula: the CSV must carry it as text


@dataclass(frozen=True)
class Ledger:
    """What the API said at each step, to derive the expected figures from."""

    received_mg: Decimal
    given_mg: Decimal
    wasted_mg: Decimal
    disposed_mg: Decimal
    session_id: int
    unreconciled_session_id: int


def _build_ledger(stock: Stock, factory: sessionmaker[Session]) -> Ledger:
    """Receipts of two lots, a low-dose session drawn, run with rate changes and a bolus,
    stopped and its waste witnessed; a second session drawn and aborted without its waste;
    and one container of the second lot disposed of to a reverse distributor."""
    team = stock.team
    _, second_lot = stock.receive("K-002", "2027-09-30", containers=1)
    with at(-30):
        sid = team.schedule(LOW_DOSE)
        stock.draw(sid, volume_ml="4")  # 200 mg of K-001 into the bag
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(10):
        team.act(sid, "bolus", team.nurse, dose_mg="5", reason="breakthrough pain")
    with at(20):
        team.act(sid, "rate", team.nurse, rate_mg_per_h="20")
    with at(40):
        team.act(sid, "rate", team.nurse, rate_mg_per_h="10")
    with at(60):
        stopped = team.act(sid, "stop", team.nurse)
    with at(65):
        chain = stock.post(
            f"/sessions/{sid}/waste", {"manner": MANNER, "witness": stock.witness}, team.nurse
        )
    given = Decimal(stopped["delivered"]["total_mg"])
    assert Decimal(chain["administered_mg"]) == given
    with at(70):
        other = team.schedule()
        stock.draw(other, containers=1)  # 500 mg of K-001, never reconciled
        team.act(other, "abort", team.nurse, reason="patient unwell")
    witness_id = _my_id(stock)
    with factory() as session, session.begin(), at(80):
        lot = service.lock_lot(session, second_lot)
        product = service.product_of(session, lot)
        amount = core.quantity_of(service.core_product(product), containers=1)
        actor = Actor(stock.witness_person.user_id, "nurse", Role.NURSE, lot.clinic_id)
        service.append(
            session,
            actor,
            Movement.DISPOSE,
            lot,
            amount,
            witness_user_id=witness_id,
            location_id=stock.safe["id"],
            containers=1,
            manner="reverse distributor (synthetic), DEA RS1234563",
        )
    return Ledger(
        received_mg=Decimal(1000 + 500),  # 2 + 1 vials of 10 mL × 50 mg/mL
        given_mg=given,
        wasted_mg=Decimal(chain["wasted_mg"]),
        disposed_mg=amount.mg,
        session_id=sid,
        unreconciled_session_id=other,
    )


def _my_id(stock: Stock) -> int:
    """The team's nurse: a licensed person other than the one recording the disposal."""
    me = stock.client.get("/api/v1/me", headers=stock.team.nurse).json()
    value: int = me["user_id"]
    return value


def _report(factory: sessionmaker[Session], build: Callable[[Session], reports.Report]) -> Any:
    with factory() as session, session.begin():
        return build(session)


def _period() -> reports.Period:
    return reports.period(FIRST, LAST, UTC_ZONE)


def test_the_biennial_inventory_equals_receipts_less_administrations_waste_and_disposals(
    stock: Stock, factory: sessionmaker[Session]
) -> None:
    ledger = _build_ledger(stock, factory)
    clinic_id = _clinic(factory)
    report = _report(
        factory,
        lambda s: reports.biennial(
            s, clinic_id=clinic_id, period=_period(), taken=reports.Taken.CLOSE
        ),
    )
    counted, open_sessions, summary = report.tables
    on_hand = sum((Decimal(row[9]) for row in counted.rows), Decimal(0))
    still_drawn = sum((Decimal(row[2]) for row in open_sessions.rows), Decimal(0))
    expected = ledger.received_mg - ledger.given_mg - ledger.wasted_mg - ledger.disposed_mg
    # The aborted session's 500 mg left stock but is neither given nor wasted yet.
    assert on_hand + still_drawn == expected
    assert still_drawn == 500
    assert [r[1] for r in open_sessions.rows] == ["K-001"]
    assert all(row[-1] == "yes" for row in summary.rows)
    k1 = next(r for r in counted.rows if r[3] == "K-001")
    # 1000 - 200 - 500 = 300 mg of K-001: no sealed vial, 6 mL in the opened one.
    assert (k1[6], k1[7], k1[9]) == (0, Decimal(6), Decimal(300))
    assert [r for r in counted.rows if r[3] == "K-002"] == []  # disposed of


def test_the_inventory_at_opening_of_business_excludes_that_days_movements(
    stock: Stock, factory: sessionmaker[Session]
) -> None:
    _build_ledger(stock, factory)
    clinic_id = _clinic(factory)
    report = _report(
        factory,
        lambda s: reports.biennial(
            s, clinic_id=clinic_id, period=_period(), taken=reports.Taken.OPENING
        ),
    )
    counted = report.tables[0]
    # Before 2026-03-02 00:00 only the receipts had happened: 2 sealed vials and 1.
    assert sorted((r[3], r[6], r[7]) for r in counted.rows) == [
        ("K-001", 2, Decimal(0)),
        ("K-002", 1, Decimal(0)),
    ]
    assert ("Taken", "opening (opening of business, 2026-03-02 00:00 UTC)") in report.facts


def _clinic(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.code == "NORTH"))
    assert clinic_id is not None
    return clinic_id


def _browser(app: FastAPI, person: Person) -> TestClient:
    browser = TestClient(app)
    log_in(browser, person)
    return browser


def _events(factory: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_administration_record_names_patient_dose_giver_and_witness_on_page_csv_and_pdf(
    app: FastAPI,
    stock: Stock,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    ledger = _build_ledger(stock, factory)
    admin = _browser(app, make_person(Role.ADMIN))
    query = f"from={FIRST}&to={LAST}"
    before = admin.get(f"/inventory/reports/administrations?{query}&format=csv").text
    assert f",{reports.NO_ADDRESS}," in before  # no address on file yet: the record says so
    recorded = stock.client.patch(
        f"/api/v1/patients/{stock.team.patient_id}", json={"address": ADDRESS},
        headers=stock.team.nurse,
    )  # fmt: skip
    assert recorded.status_code == 200, recorded.text
    page = admin.get(f"/inventory/reports/administrations?{query}")
    assert page.status_code == 200, page.text
    assert "Synthetic-Case, Test" in page.text
    assert ADDRESS_LINE in page.text
    assert core.format_ndc(core.normalise_ndc("0000-0000-01")) in page.text
    assert reports.exact(ledger.given_mg) in page.text
    assert stock.witness_person.username in page.text

    exported = admin.get(f"/inventory/reports/administrations?{query}&format=csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    heading = rows.index(["Date", *_administration_headings()[1:]])
    record = dict(zip(rows[heading], rows[heading + 1], strict=True))
    assert record["Patient"] == "Synthetic-Case, Test"
    assert record["Patient address"] == ADDRESS_LINE
    assert record["Date"] == "2026-03-02"
    assert Decimal(record["Given mg"]) == ledger.given_mg
    assert Decimal(record["Wasted mg"]) == ledger.wasted_mg
    assert Decimal(record["Given mL"]) == ledger.given_mg / 50  # 50 mg/mL
    assert record["Lot"] == "K-001"
    assert record["Manner of waste"] == "'" + MANNER  # neutralised, not a live formula
    assert record["Session"] == str(ledger.session_id)

    pdf = admin.get(f"/inventory/reports/administrations?{query}&format=pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages
    ).replace("\n", " ")
    assert "Dispensing and administration record" in text
    assert "Synthetic-Case, Test" in text
    assert "Synthetic Lane" in text and "00000" in text  # the address, however the cell wraps
    assert "K-001" in text
    assert "RS1234563" not in text  # the supplier is not in this record; the registrant is

    events = _events(factory, "inventory.report.administrations")
    assert [e.detail.split(" ")[1] for e in events if e.detail] == [
        "format=csv",  # before the address was recorded
        "format=html",
        "format=csv",
        "format=pdf",
    ]
    assert all("Synthetic" not in (e.detail or "") for e in events)
    assert all(e.patient_id is None for e in events)


def _administration_headings() -> tuple[str, ...]:
    return (
        "Date", "Patient", "MRN", "Patient address", "Substance", "NDC", "Lot", "Given mg",
        "Given mL", "Administered by", "Wasted mg", "Wasted mL", "Waste witness",
        "Waste recorded by", "Manner of waste", "Session",
    )  # fmt: skip


def test_the_reconciliation_lists_the_session_whose_waste_is_not_recorded(
    app: FastAPI,
    stock: Stock,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    ledger = _build_ledger(stock, factory)
    clinic_id = _clinic(factory)
    report = _report(
        factory, lambda s: reports.reconciliation(s, clinic_id=clinic_id, period=_period())
    )
    attention, everything = report.tables
    assert [(r[0], r[-1]) for r in attention.rows] == [
        (ledger.unreconciled_session_id, "waste not recorded")
    ]
    balanced = next(r for r in everything.rows if r[0] == ledger.session_id)
    # drawn = administered + wasted + returned, so nothing is unaccounted for.
    assert balanced[4] == ledger.given_mg + ledger.wasted_mg
    assert (balanced[8], balanced[9]) == (0, "balanced")
    page = _browser(app, make_person(Role.NURSE)).get(
        f"/inventory/reports/reconciliation?from={FIRST}&to={LAST}"
    )
    assert page.status_code == 200
    assert "waste not recorded" in page.text


def test_a_lots_history_runs_from_its_receipt_to_today_with_the_stock_after_each_entry(
    app: FastAPI,
    stock: Stock,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    _build_ledger(stock, factory)
    clinic_id = _clinic(factory)
    report = _report(
        factory,
        lambda s: reports.lot_history(
            s, clinic_id=clinic_id, lot_id=stock.lot_id, period=_period()
        ),
    )
    entries = report.tables[0].rows
    assert [r[1] for r in entries] == [
        "receive",
        "draw",
        "administer",
        "waste",
        "draw",
    ]
    # 1000 received, 200 drawn, the session's chain leaves stock alone, 500 drawn.
    assert [r[6] for r in entries] == [1000, 800, 800, 800, 300]
    browser = _browser(app, make_person(Role.PHYSICIAN))
    assert browser.get(f"/inventory/reports/lots/{stock.lot_id}").status_code == 200
    other = _browser(app, make_person(Role.PHYSICIAN, clinic="SOUTH"))
    assert other.get(f"/inventory/reports/lots/{stock.lot_id}").status_code == 404


def test_the_receipts_report_carries_the_suppliers_dea_number(
    stock: Stock, factory: sessionmaker[Session]
) -> None:
    clinic_id = _clinic(factory)
    report = _report(factory, lambda s: reports.receipts(s, clinic_id=clinic_id, period=_period()))
    (row,) = report.tables[0].rows
    assert (row[4], row[8], row[10], row[11], row[15]) == (
        "RS1234563",
        "K-001",
        2,
        Decimal(1000),
        "confirmed",
    )


def test_a_range_that_runs_backwards_is_refused_on_the_page_and_nothing_is_audited(
    app: FastAPI, stock: Stock, factory: sessionmaker[Session], make_person: Callable[..., Person]
) -> None:
    browser = _browser(app, make_person(Role.NURSE))
    refused = browser.get(f"/inventory/reports/receipts?from={LAST}&to={FIRST}")
    assert refused.status_code == 422
    assert "is after to" in refused.text
    assert _events(factory, "inventory.report.receipts") == []
    assert browser.get("/inventory/reports/receipts?format=xls").status_code == 422


def test_staff_never_read_the_reports(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    browser = _browser(app, make_person(Role.STAFF))
    assert browser.get("/inventory/reports/administrations").status_code == 403
    staff = token_for(stock.client, make_person(Role.STAFF))
    assert stock.client.get(API + "/balance", headers=staff).status_code == 403


def test_the_command_writes_the_administration_record_as_csv_and_the_inventory_as_pdf(
    settings: Settings, stock: Stock, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ledger = _build_ledger(stock, factory)
    out = tmp_path / "administrations.csv"
    args = ["inventory", "report", "administrations", "--from", str(FIRST), "--to", str(LAST)]
    done = runner.invoke(cli_app, [*args, "--out", str(out)], env=cli_env(settings))
    assert done.exit_code == 0, done.output
    assert "Synthetic-Case, Test" in out.read_text()
    assert reports.exact(ledger.given_mg) in out.read_text()
    pdf = tmp_path / "inventory.pdf"
    args[2] = "biennial"
    done = runner.invoke(cli_app, [*args, "--out", str(pdf)], env=cli_env(settings))
    assert done.exit_code == 0, done.output
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Controlled-substance inventory" in text
    assert "close of business" in text
    assert [e.detail.split(" ")[1] for e in _events(factory, "inventory.report.biennial")] == [
        "format=pdf"
    ]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["administrations", "--from", "2026-03-02", "--to", "2026-03-01"], "is after"),
        (["administrations", "--from", "2026-02-30", "--to", "2026-03-01"], "not a date"),
        (["stocktake", "--from", "2026-03-01", "--to", "2026-03-01"], "no report"),
        (["biennial", "--from", "2026-03-01", "--to", "2026-03-01", "--taken", "noon"], "taken"),
    ],
)
def test_the_command_refuses_bad_input_with_exit_2(
    settings: Settings, stock: Stock, tmp_path: Path, args: list[str], reason: str
) -> None:
    out = ["--out", str(tmp_path / "r.csv")]
    done = runner.invoke(cli_app, ["inventory", "report", *args, *out], env=cli_env(settings))
    assert done.exit_code == 2
    assert reason in done.output
    assert not (tmp_path / "r.csv").exists()


def test_the_command_refuses_a_file_that_is_neither_pdf_nor_csv(
    settings: Settings, stock: Stock, tmp_path: Path
) -> None:
    args = ["inventory", "report", "biennial", "--from", "2026-03-01", "--to", "2026-03-01"]
    done = runner.invoke(cli_app, [*args, "--out", str(tmp_path / "r.xlsx")], env=cli_env(settings))
    assert done.exit_code == 2
    assert "must end in .pdf or .csv" in done.output


def test_every_report_answers_as_a_page_a_csv_and_a_pdf_and_the_overview_links_them(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    browser = _browser(app, make_person(Role.ADMIN))
    assert 'href="/inventory/reports"' in browser.get("/inventory").text
    index = browser.get("/inventory/reports")
    assert f'href="/inventory/reports/lots/{stock.lot_id}"' in index.text
    paths = [
        f"/inventory/reports/{name}?from={FIRST}&to={LAST}"
        for name in ("administrations", "biennial", "receipts", "reconciliation")
    ]
    paths += [f"/inventory/reports/biennial?to={LAST}&taken=opening"]
    paths += [f"/inventory/reports/lots/{stock.lot_id}?to={LAST}"]
    for path in paths:
        page = browser.get(path)
        assert page.status_code == 200, (path, page.text)
        assert "format=pdf" in page.text and "format=csv" in page.text
        assert browser.get(f"{path}&format=csv").headers["content-type"].startswith("text/csv")
        pdf = browser.get(f"{path}&format=pdf")
        assert PdfReader(io.BytesIO(pdf.content)).pages, path
    assert browser.get("/inventory/reports/biennial?taken=noon").status_code == 422
