"""A patient's contact details and reminder consent, on both engines: numbers stored in E.164,
bad input refused naming the field with nothing written, consent recorded with when and by whom,
every read and change audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.patients.contact_models import PatientContact
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for


@pytest.fixture
def nurse(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.NURSE)


@pytest.fixture
def patient_id(client: TestClient, nurse: Person) -> int:
    response = client.post(
        "/api/v1/patients", json=patient_body(), headers=token_for(client, nurse)
    )
    assert response.status_code == 201, response.text
    value: int = response.json()["id"]
    return value


def _put(client: TestClient, person: Person, patient_id: int, **body: object) -> object:
    return client.put(
        f"/api/v1/patients/{patient_id}/contact", json=body, headers=token_for(client, person)
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("(201) 555-0123", "+12015550123"),
        ("201.555.0123", "+12015550123"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_are_stored_in_e164(
    client: TestClient, nurse: Person, patient_id: int, typed: str, stored: str
) -> None:
    response = _put(client, nurse, patient_id, phone=typed, consent_sms=True)
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert response.json()["phone"] == stored  # type: ignore[attr-defined]
    read = client.get(f"/api/v1/patients/{patient_id}/contact", headers=token_for(client, nurse))
    assert (read.json()["phone"], read.json()["consent_sms"]) == (stored, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "+1 555"}, "phone"),
        ({"phone": "call me maybe"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"consent_email": True}, "consent_email"),
        ({"phone": "(201) 555-0123", "consent_email": True}, "consent_email"),
        ({"email": "x@example.org", "consent_sms": True}, "consent_sms"),
    ],
)
def test_bad_contact_details_are_refused_naming_the_field_and_nothing_is_written(
    client: TestClient,
    factory: sessionmaker[Session],
    nurse: Person,
    patient_id: int,
    body: dict[str, object],
    field: str,
) -> None:
    response = _put(client, nurse, patient_id, **body)
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    assert [d["loc"] for d in detail] == [["body", field]]
    with factory() as session:
        assert session.get(PatientContact, patient_id) is None


def test_consent_records_when_and_who_and_every_access_is_audited(
    client: TestClient, factory: sessionmaker[Session], nurse: Person, patient_id: int
) -> None:
    first = _put(client, nurse, patient_id, email=" Synthetic@Example.ORG ", consent_email=True)
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    out = first.json()  # type: ignore[attr-defined]
    assert out["email"] == "Synthetic@example.org"
    assert out["consent_recorded_by_user_id"] == nurse.user_id
    assert out["consent_changed_at"] is not None
    stale = _put(client, nurse, patient_id, email="x@example.org", version=out["version"] + 5)
    assert stale.status_code == 409  # type: ignore[attr-defined]
    withdrawn = _put(client, nurse, patient_id, email="x@example.org", version=out["version"])
    assert withdrawn.json()["consent_email"] is False  # type: ignore[attr-defined]
    client.get(f"/api/v1/patients/{patient_id}/contact", headers=token_for(client, nurse))
    with factory() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.patient_id == patient_id, AuditEvent.action.like("patient.contact%"))
            .order_by(AuditEvent.id)
        ).all()
        details = session.scalars(select(AuditEvent.detail)).all()
    assert actions == ["patient.contact.update", "patient.contact.update", "patient.contact.read"]
    assert not any("example.org" in (d or "").lower() for d in details)


def test_the_front_desk_records_contact_details_on_the_page(
    client: TestClient, make_person: Callable[..., Person], patient_id: int
) -> None:
    desk = make_person(Role.STAFF)
    log_in(client, desk)
    page = client.get(f"/patients/{patient_id}/contact")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_from(page.text),
        "phone": "201 555 0123",
        "email": "synthetic@example.org",
        "consent_email": "on",
        "version": "",
    }
    saved = client.post(f"/patients/{patient_id}/contact", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    shown = client.get(f"/patients/{patient_id}/contact").text
    assert 'value="+12015550123"' in shown and "checked" in shown
    assert "recorded by" in shown
    bad = client.post(
        f"/patients/{patient_id}/contact",
        data={**form, "phone": "555", "csrf_token": csrf_from(shown)},
    )
    assert bad.status_code == 422
    assert "not a valid phone number" in bad.text or "not a phone number" in bad.text
    assert f"/patients/{patient_id}/contact" in client.get(f"/patients/{patient_id}").text
