"""ADT^A04/A08 over real sockets against a real database (SQLite and PostgreSQL): an A04 for an
MRN the clinic does not have registers the patient (checked like the API's create); bad data is
refused AR with the PID field to fix, kept in the inbox, and nothing is written; an A08 for an
unknown MRN waits in the inbox (AE)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from typing import Literal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.audit.models import AuditEvent
from ketaclinic.config import Settings
from ketaclinic.interop import service
from ketaclinic.interop.hl7_core import PostalAddress, sample_adt
from ketaclinic.interop.models import Hl7Message
from ketaclinic.patients.models import Patient, WeightMeasurement
from tests.conftest import Person
from tests.infusions.test_api import Team, at
from tests.interop.test_listener import _clinic, _exchange
from tests.interop.test_service import _msa

ADDRESS = PostalAddress("12 Synthetic Way", "Unit 3", "Portland", "OR", "97201")


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _adt(
    control_id: str,
    *,
    mrn: str,
    event: Literal["A04", "A08"] = "A04",
    birth_date: date = date(1975, 4, 9),
    sex: str = "F",
    address: PostalAddress | None = ADDRESS,
) -> bytes:
    return sample_adt(
        control_id=control_id,
        event=event,
        mrn=mrn,
        family_name="Synthetic-Referral",
        given_name="Rowan",
        birth_date=birth_date,
        sex=sex,
        sent_at=clock.now(),
        address=address,
    ).encode()


def _patients(factory: sessionmaker[Session]) -> list[Patient]:
    with factory() as session:
        return list(session.scalars(select(Patient).order_by(Patient.id)))


def _stored(factory: sessionmaker[Session]) -> list[tuple[str | None, str, str]]:
    with factory() as session:
        rows = session.scalars(select(Hl7Message).order_by(Hl7Message.id))
        return [(m.control_id, m.outcome, m.ack_code) for m in rows]


def test_an_a04_for_a_new_mrn_registers_the_patient_from_pid(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    known = len(_patients(factory))
    with at(0):
        messages = [_adt("R1", mrn="REF-1"), _adt("R2", mrn="REF-2", address=None, sex="U")]
        acks = asyncio.run(_exchange(factory, settings, messages))
    assert [_msa(ack)[1:3] for ack in acks] == [["AA", "R1"], ["AA", "R2"]]
    patients = _patients(factory)
    assert len(patients) == known + 2
    first, second = (next(p for p in patients if p.mrn == mrn) for mrn in ("REF-1", "REF-2"))
    assert (first.family_name, first.given_name, first.birth_date, first.sex) == (
        "Synthetic-Referral",
        "Rowan",
        date(1975, 4, 9),
        "female",
    )
    assert (
        first.address_line1,
        first.address_line2,
        first.address_city,
        first.address_state,
        first.address_zip,
    ) == ("12 Synthetic Way", "Unit 3", "Portland", "OR", "97201")
    with factory() as session:
        # PID carries no weight: it is recorded before the first order, which needs one.
        assert (
            session.scalar(
                select(func.count())
                .select_from(WeightMeasurement)
                .where(WeightMeasurement.patient_id == first.id)
            )
            == 0
        )
    assert (second.sex, second.address_line1) == ("unknown", None)
    with factory() as session:
        creators = session.scalars(
            select(AuditEvent.username).where(
                AuditEvent.action == "patient.create",
                AuditEvent.patient_id.in_([first.id, second.id]),
            )
        ).all()
    assert creators == [service.device_username(_clinic(factory))] * 2
    assert _stored(factory) == [("R1", "accepted", "AA"), ("R2", "accepted", "AA")]


def test_a_repeated_a04_registers_once(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    known = len(_patients(factory))
    with at(0):
        message = _adt("D1", mrn="REF-9")
        acks = asyncio.run(_exchange(factory, settings, [message, message]))
    assert acks[0] == acks[1]
    assert len(_patients(factory)) == known + 1
    assert _stored(factory) == [("D1", "accepted", "AA")]


def test_an_a04_for_a_known_mrn_updates_that_patient(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    known = len(_patients(factory))
    with at(0):
        messages = [_adt("K1", mrn="MRN-1"), _adt("K2", mrn="MRN-1", event="A08")]
        acks = asyncio.run(_exchange(factory, settings, messages))
    assert [_msa(ack)[1] for ack in acks] == ["AA", "AA"]
    patients = _patients(factory)
    assert len(patients) == known
    updated = next(p for p in patients if p.id == team.patient_id)
    assert (updated.family_name, updated.address_city) == ("Synthetic-Referral", "Portland")


def test_an_a08_for_an_unknown_mrn_waits_in_the_inbox_and_registers_nobody(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    known = len(_patients(factory))
    with at(0):
        messages = [_adt("U1", mrn="REF-3", event="A08"), _adt("U2", mrn="REF-4", event="A08")]
        acks = asyncio.run(_exchange(factory, settings, messages))
    assert [_msa(ack)[1] for ack in acks] == ["AE", "AE"]
    assert "an A04 registers one" in _msa(acks[0])[3]
    assert len(_patients(factory)) == known
    assert _stored(factory) == [("U1", "inbox", "AE"), ("U2", "inbox", "AE")]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"mrn": "REF 5"}, "PID-3: String should match pattern"),
        ({"address": PostalAddress("1 Way", "", "Portland", "ZZ", "97201")}, "PID-11.4"),
        ({"address": PostalAddress("1 Way", "", "Portland", "OR", "9720")}, "PID-11.5"),
        ({"address": PostalAddress("", "", "Portland", "OR", "97201")}, "PID-11.1"),
        ({"sex": "A"}, "PID-8 sex is 'A'; registering needs F, M, O or U"),
        ({"birth_date": "tomorrow"}, "PID-7: the birth date is in the future"),
    ],
)
def test_an_a04_with_bad_data_is_refused_ar_kept_in_the_inbox_and_writes_nothing(
    team: Team,
    factory: sessionmaker[Session],
    settings: Settings,
    changes: dict[str, object],
    reason: str,
) -> None:
    if changes.get("birth_date") == "tomorrow":
        changes = {"birth_date": clock.now().date() + timedelta(days=1)}
    known = len(_patients(factory))
    with factory() as session:
        audits = session.scalar(select(func.count()).select_from(AuditEvent))
    fields = {"mrn": "REF-5", **changes}
    with at(0):
        bad = _adt("B1", **fields)  # type: ignore[arg-type]
        acks = asyncio.run(_exchange(factory, settings, [bad, bad]))
    msa = _msa(acks[0])
    assert msa[1] == "AR"
    assert reason in msa[3]
    assert acks[1] == acks[0]
    assert len(_patients(factory)) == known
    assert _stored(factory) == [("B1", "refused", "AR")]
    with factory() as session:
        creates = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "patient.create")
        )
        total = session.scalar(select(func.count()).select_from(AuditEvent))
    assert creates == 1  # the team's own patient, made through the API
    assert total is not None and audits is not None and total >= audits
