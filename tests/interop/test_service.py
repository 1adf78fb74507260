"""Receiving HL7 v2 messages into a real database (SQLite and PostgreSQL): vitals placed on the
active session through the nurse's charting rules, everything else kept in the inbox, each MSH-10
stored once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date
from decimal import Decimal
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.models import SessionAlert, SessionEvent
from ketaclinic.interop import service
from ketaclinic.interop.device_codes import FLOWSHEET_FIELDS_TODAY, SPO2, SYSTOLIC
from ketaclinic.interop.hl7_core import sample_adt, sample_oru_r01
from ketaclinic.interop.models import Hl7Message
from ketaclinic.patients.models import Patient
from tests.conftest import Person
from tests.infusions.test_api import CALM_VITALS, Team, at

MRN = "MRN-1"  # tests.conftest.patient_body


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _infusing(team: Team) -> int:
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    return sid


def _values(**changes: int | str) -> dict[str, Decimal]:
    values = {name: Decimal(value) for name, value in CALM_VITALS.items()}
    values.update({name: Decimal(str(value)) for name, value in changes.items()})
    return values


def _oru(control_id: str, *, mrn: str = MRN, minutes: int = 5, **changes: int | str) -> str:
    with at(minutes):
        observed_at = clock.now()
    return sample_oru_r01(
        control_id=control_id, mrn=mrn, observed_at=observed_at, values=_values(**changes)
    )


def _receive(factory: sessionmaker[Session], text: str, minutes: int = 6) -> str:
    with at(minutes), factory() as session:
        clinic_id = _clinic(factory)
        return service.receive(session, text, clinic_id=clinic_id, zone=UTC, now=clock.now())


def _clinic(factory: sessionmaker[Session]) -> int:
    with factory() as session, session.begin():
        return service.resolve_clinic(session, None)


def _msa(ack: str) -> list[str]:
    return next(s for s in ack.split("\r") if s.startswith("MSA")).split("|")


def _stored(factory: sessionmaker[Session]) -> list[Hl7Message]:
    with factory() as session:
        return list(session.scalars(select(Hl7Message).order_by(Hl7Message.id)))


def _vitals(factory: sessionmaker[Session], sid: int) -> list[SessionEvent]:
    with factory() as session:
        return list(
            session.scalars(
                select(SessionEvent).where(
                    SessionEvent.session_id == sid, SessionEvent.kind == "vitals"
                )
            )
        )


def test_vitals_land_on_the_active_session_marked_as_from_a_device(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    ack = _receive(factory, _oru("M1"))
    assert _msa(ack)[1:3] == ["AA", "M1"]
    charted = _vitals(factory, sid)
    assert len(charted) == before + 1
    entry = charted[-1]
    assert {k: entry.data[k] for k in FLOWSHEET_FIELDS_TODAY} == CALM_VITALS
    assert entry.data["source"] == "device"
    assert entry.data["device"] == "0012A1FFFE000001"
    (stored,) = _stored(factory)
    assert (stored.outcome, stored.ack_code, stored.session_id) == ("accepted", "AA", sid)
    assert stored.ack_text == ack


def test_a_high_device_value_raises_the_same_alert_as_a_typed_one(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _infusing(team)
    assert _msa(_receive(factory, _oru("M2", **{SYSTOLIC: 190})))[1] == "AA"
    with factory() as session:
        rules = session.scalars(
            select(SessionAlert.rule_id).where(SessionAlert.session_id == sid)
        ).all()
    assert rules == ["systolic_high"]
    with at(7):
        typed = team.client.post(
            f"/api/v1/sessions/{sid}/vitals",
            json={**CALM_VITALS, "systolic_mmhg": 190},
            headers=team.nurse,
        )
    assert typed.status_code == 200, typed.text
    assert [a["rule_id"] for a in typed.json()["alerts"]] == ["systolic_high", "systolic_high"]


@pytest.mark.parametrize(
    ("mrn", "changes", "reason"),
    [
        ("NOBODY-9", {}, "no patient with this MRN"),
        (MRN, {SYSTOLIC: "120.5"}, "whole numbers"),
        (MRN, {SYSTOLIC: 260}, "systolic"),
        (MRN, {SPO2: 40}, "spo2_percent"),
    ],
)
def test_what_cannot_be_placed_is_answered_ae_and_kept_in_the_inbox(
    team: Team,
    factory: sessionmaker[Session],
    mrn: str,
    changes: dict[str, Any],
    reason: str,
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    ack = _receive(factory, _oru("M3", mrn=mrn, **changes))
    assert _msa(ack)[1] == "AE"
    assert reason in _msa(ack)[3]
    (stored,) = _stored(factory)
    assert (stored.outcome, stored.ack_code, stored.session_id) == ("inbox", "AE", None)
    assert reason in (stored.reason or "")
    assert len(_vitals(factory, sid)) == before  # nothing charted


def test_no_active_session_is_answered_ae(team: Team, factory: sessionmaker[Session]) -> None:
    with at(-30):
        team.schedule()
    ack = _receive(factory, _oru("M4"))
    assert _msa(ack)[1] == "AE"
    (stored,) = _stored(factory)
    assert stored.outcome == "inbox"
    assert stored.patient_id == team.patient_id


def test_a_malformed_message_is_answered_ar_and_kept(
    team: Team, factory: sessionmaker[Session]
) -> None:
    ack = _receive(factory, "this is not HL7")
    assert _msa(ack)[1] == "AR"
    ack_again = _receive(factory, "this is not HL7 either")
    assert _msa(ack_again)[1] == "AR"
    assert [m.outcome for m in _stored(factory)] == ["refused", "refused"]


def test_a_repeated_control_id_gets_the_same_ack_and_is_stored_once(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    message = _oru("M5")
    first = _receive(factory, message)
    second = _receive(factory, message, minutes=7)
    assert second == first
    assert len(_stored(factory)) == 1
    assert len(_vitals(factory, sid)) == before + 1


def test_charting_from_a_device_is_audited_by_the_device_account(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _infusing(team)
    _receive(factory, _oru("M6"))
    device = service.device_username(_clinic(factory))
    with factory() as session:
        who = session.scalars(
            select(AuditEvent.username).where(AuditEvent.action == "session.vitals")
        ).all()
        assert device in who
        by_device = session.scalar(
            select(func.count())
            .select_from(SessionEvent)
            .where(
                SessionEvent.session_id == sid, SessionEvent.data["source"].as_string() == "device"
            )
        )
    assert by_device == 1


def test_the_same_message_on_two_connections_at_once_is_charted_and_stored_once(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    message = _oru("M7")
    clinic_id = _clinic(factory)
    barrier = threading.Barrier(2)

    def deliver(_: int) -> str:
        with factory() as session:
            barrier.wait()
            return service.receive(session, message, clinic_id=clinic_id, zone=UTC, now=clock.now())

    with at(6), ThreadPoolExecutor(2) as pool:
        acks = list(pool.map(deliver, range(2)))
    assert acks[0] == acks[1]
    assert _msa(acks[0])[1] == "AA"
    assert len(_stored(factory)) == 1
    assert len(_vitals(factory, sid)) == before + 1


def _adt(control_id: str, event: Literal["A04", "A08"], mrn: str = MRN) -> str:
    with at(5):
        sent_at = clock.now()
    return sample_adt(
        control_id=control_id,
        event=event,
        mrn=mrn,
        family_name="Renamed-Case",
        given_name="Tess",
        birth_date=date(1980, 5, 18),
        sex="M",
        sent_at=sent_at,
    )


@pytest.mark.parametrize("event", ["A04", "A08"])
def test_adt_updates_a_known_patient_through_the_patients_service(
    team: Team, factory: sessionmaker[Session], event: Literal["A04", "A08"]
) -> None:
    ack = _receive(factory, _adt("A1", event))
    assert _msa(ack)[1:3] == ["AA", "A1"]
    with factory() as session:
        patient = session.get(Patient, team.patient_id)
        assert patient is not None
        assert (patient.family_name, patient.given_name) == ("Renamed-Case", "Tess")
        assert (patient.birth_date, patient.sex) == (date(1980, 5, 18), "male")
        updates = session.scalars(
            select(AuditEvent.username).where(
                AuditEvent.action == "patient.update", AuditEvent.patient_id == team.patient_id
            )
        ).all()
    assert updates == [service.device_username(_clinic(factory))]
    (stored,) = _stored(factory)
    assert (stored.outcome, stored.patient_id) == ("accepted", team.patient_id)


def test_an_adt_update_for_an_unknown_patient_registers_nobody_and_waits_in_the_inbox(
    team: Team, factory: sessionmaker[Session]
) -> None:
    ack = _receive(factory, _adt("A2", "A08", mrn="NEW-1"))
    assert _msa(ack)[1] == "AE"
    assert "an A04 registers one" in _msa(ack)[3]
    with factory() as session:
        assert session.scalar(select(Patient.id).where(Patient.mrn == "NEW-1")) is None
    (stored,) = _stored(factory)
    assert stored.outcome == "inbox"
