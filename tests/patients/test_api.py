"""The patient API on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.patients.models import Patient
from tests.conftest import Person, patient_body, token_for

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def nurse(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.NURSE)


@pytest.fixture
def auth(client: TestClient, nurse: Person) -> dict[str, str]:
    return token_for(client, nurse)


def _counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        patients = session.scalar(select(func.count()).select_from(Patient)) or 0
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    return patients, events


def test_it_registers_a_patient_with_a_diagnosis_and_its_official_title(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post("/api/v1/patients", json=patient_body(), headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mrn"] == "MRN-1"
    assert body["weight_kg"] == "72.50"
    assert body["diagnoses"] == [
        {**body["diagnoses"][0], "code": "M79.7", "title": "Fibromyalgia", "is_primary": True}
    ]
    fetched = client.get(f"/api/v1/patients/{body['id']}", headers=auth).json()
    assert fetched["primary_diagnosis"]["code"] == "M79.7"


def test_a_duplicate_mrn_in_the_same_clinic_answers_409(
    client: TestClient, auth: dict[str, str]
) -> None:
    assert client.post("/api/v1/patients", json=patient_body(), headers=auth).status_code == 201
    response = client.post("/api/v1/patients", json=patient_body(), headers=auth)
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["body", "mrn"]


def test_the_same_mrn_may_exist_in_another_clinic(
    client: TestClient, auth: dict[str, str], make_person: Callable[..., Person]
) -> None:
    other = token_for(client, make_person(Role.NURSE, clinic="SOUTH"))
    assert client.post("/api/v1/patients", json=patient_body(), headers=auth).status_code == 201
    assert client.post("/api/v1/patients", json=patient_body(), headers=other).status_code == 201


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"birth_date": "2027-01-01"}, "birth_date"),
        ({"birth_date": "2010-01-01"}, "birth_date"),
        ({"weight_kg": "29.99"}, "weight_kg"),
        ({"weight_kg": "300.01"}, "weight_kg"),
        ({"weight_kg": "70.123"}, "weight_kg"),
        ({"weight_kg": "heavy"}, "weight_kg"),
        ({"sex": "alien"}, "sex"),
        ({"diagnoses": [{"code": "ZZZ.9"}]}, "diagnoses"),
        ({"diagnoses": [{"code": "M54.5"}]}, "diagnoses"),
        ({"mrn": ""}, "mrn"),
        ({"height_cm": "20"}, "height_cm"),
        ({"height_cm": "170.25"}, "height_cm"),
        ({"nickname": "x"}, "nickname"),
    ],
)
def test_bad_input_answers_422_naming_the_field_and_writes_nothing(
    client: TestClient,
    auth: dict[str, str],
    factory: sessionmaker[Session],
    override: dict[str, object],
    field: str,
) -> None:
    before = _counts(factory)
    with clock.frozen_at(NOW):
        response = client.post("/api/v1/patients", json=patient_body(**override), headers=auth)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    assert _counts(factory) == before


@pytest.mark.parametrize("weight", ["30", "300", "30.00", "299.99"])
def test_weights_on_the_limits_are_accepted(
    client: TestClient, auth: dict[str, str], weight: str
) -> None:
    response = client.post("/api/v1/patients", json=patient_body(weight_kg=weight), headers=auth)
    assert response.status_code == 201, response.text


def test_an_eighteenth_birthday_today_is_old_enough(
    client: TestClient, auth: dict[str, str]
) -> None:
    with clock.frozen_at(NOW):
        ok = client.post(
            "/api/v1/patients", json=patient_body(birth_date="2008-11-24"), headers=auth
        )
        young = client.post(
            "/api/v1/patients",
            json=patient_body(mrn="MRN-2", birth_date="2008-11-25"),
            headers=auth,
        )
    assert ok.status_code == 201
    assert young.status_code == 422


def test_a_new_weight_is_added_to_the_history(client: TestClient, auth: dict[str, str]) -> None:
    created = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
    response = client.patch(
        f"/api/v1/patients/{created['id']}", json={"weight_kg": "70.1"}, headers=auth
    )
    assert response.status_code == 200
    assert [w["weight_kg"] for w in response.json()["weights"]] == ["70.10", "72.50"]
    assert response.json()["weight_kg"] == "70.10"


def test_a_stale_version_answers_409_and_changes_nothing(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
    url = f"/api/v1/patients/{created['id']}"
    first = client.patch(url, json={"given_name": "First", "version": 1}, headers=auth)
    second = client.patch(url, json={"given_name": "Second", "version": 1}, headers=auth)
    assert first.status_code == 200
    assert second.status_code == 409
    assert client.get(url, headers=auth).json()["given_name"] == "First"


def test_an_invalid_patch_writes_nothing(
    client: TestClient, auth: dict[str, str], factory: sessionmaker[Session]
) -> None:
    created = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
    before = _counts(factory)
    response = client.patch(
        f"/api/v1/patients/{created['id']}", json={"birth_date": "2015-01-01"}, headers=auth
    )
    assert response.status_code == 422
    assert _counts(factory) == before


def test_search_finds_by_name_or_mrn_and_pages(client: TestClient, auth: dict[str, str]) -> None:
    for i in range(5):
        body = patient_body(mrn=f"AB-{i}", family_name=f"Synthetic-Oak{i}", diagnoses=[])
        assert client.post("/api/v1/patients", json=body, headers=auth).status_code == 201
    client.post(
        "/api/v1/patients", json=patient_body(mrn="ZZ-9", family_name="Synthetic-Elm"), headers=auth
    )
    page = client.get(
        "/api/v1/patients", params={"q": "oak", "limit": 2, "offset": 2}, headers=auth
    ).json()
    assert page["total"] == 5
    assert [p["mrn"] for p in page["items"]] == ["AB-2", "AB-3"]
    by_mrn = client.get("/api/v1/patients", params={"q": "zz-9"}, headers=auth).json()
    assert [p["family_name"] for p in by_mrn["items"]] == ["Synthetic-Elm"]
    percent = client.get("/api/v1/patients", params={"q": "%"}, headers=auth).json()
    assert percent["total"] == 0


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}])
def test_bad_paging_answers_422(
    client: TestClient, auth: dict[str, str], params: dict[str, object]
) -> None:
    assert client.get("/api/v1/patients", params=params, headers=auth).status_code == 422


def test_a_new_primary_diagnosis_replaces_the_old_primary(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
    url = f"/api/v1/patients/{created['id']}/diagnoses"
    response = client.post(url, json={"code": "F33.1", "is_primary": True}, headers=auth)
    assert response.status_code == 201
    assert response.json()["title"].startswith("Major depressive disorder, recurrent")
    record = client.get(f"/api/v1/patients/{created['id']}", headers=auth).json()
    assert [(d["code"], d["is_primary"]) for d in record["diagnoses"]] == [
        ("F33.1", True),
        ("M79.7", False),
    ]
    duplicate = client.post(url, json={"code": "F33.1"}, headers=auth)
    assert duplicate.status_code == 409


def test_another_clinic_cannot_see_or_change_the_patient(
    client: TestClient, auth: dict[str, str], make_person: Callable[..., Person]
) -> None:
    created = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
    other = token_for(client, make_person(Role.PHYSICIAN, clinic="SOUTH"))
    url = f"/api/v1/patients/{created['id']}"
    assert client.get(url, headers=other).status_code == 404
    assert client.patch(url, json={"given_name": "X"}, headers=other).status_code == 404
    assert client.post(f"{url}/diagnoses", json={"code": "M79.7"}, headers=other).status_code == 404
    assert client.get("/api/v1/patients", headers=other).json()["total"] == 0


def test_every_read_and_write_is_audited_with_who_and_which_patient(
    client: TestClient, auth: dict[str, str], nurse: Person, factory: sessionmaker[Session]
) -> None:
    created = client.post("/api/v1/patients", json=patient_body(), headers=auth).json()
    client.get(f"/api/v1/patients/{created['id']}", headers=auth)
    client.patch(f"/api/v1/patients/{created['id']}", json={"given_name": "B"}, headers=auth)
    client.get("/api/v1/patients", headers=auth)
    with factory() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("patient.%")).order_by(AuditEvent.id)
        ).all()
    assert [e.action for e in events] == [
        "patient.create",
        "patient.read",
        "patient.read",
        "patient.update",
        "patient.search",
    ]
    assert {e.username for e in events} == {nurse.username}
    assert {e.patient_id for e in events[:4]} == {created["id"]}
    assert all(e.role == "nurse" and e.client_address for e in events)
