"""The patient's postal address, on SQLite and PostgreSQL: all of line 1, city, state and ZIP
code or none of it, through the API and the pages; an edit replaces or removes it; migration
0021 runs both ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from ketaclinic.accounts.core import Role
from ketaclinic.schema import alembic_config, current_revision, upgrade
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for

ADDRESS = {"line1": "12 Synthetic Lane", "line2": "Apt 3", "city": "Demo City", "state": "or",
           "zip": "00000-0001"}  # fmt: skip
PATIENTS = "/api/v1/patients"


@pytest.fixture
def auth(client: TestClient, make_person: Callable[..., Person]) -> dict[str, str]:
    return token_for(client, make_person(Role.NURSE))


def _create(client: TestClient, auth: dict[str, str], **body: Any) -> Any:
    return client.post(PATIENTS, json=patient_body(**body), headers=auth)


def test_the_api_keeps_a_whole_address_and_an_edit_replaces_or_removes_it(
    client: TestClient, auth: dict[str, str]
) -> None:
    created = _create(client, auth, address=ADDRESS)
    assert created.status_code == 201, created.text
    assert created.json()["address"] == {**ADDRESS, "state": "OR"}
    url = f"{PATIENTS}/{created.json()['id']}"
    moved = {"line1": "3 Example Road", "city": "Springfield", "state": "IL", "zip": "00000"}
    changed = client.patch(url, json={"address": moved}, headers=auth)
    assert changed.status_code == 200, changed.text
    assert changed.json()["address"] == {**moved, "line2": None}
    untouched = client.patch(url, json={"height_cm": "170"}, headers=auth)
    assert untouched.json()["address"] == {**moved, "line2": None}  # not sent: not changed
    removed = client.patch(url, json={"address": None}, headers=auth)
    assert removed.json()["address"] is None
    assert client.get(url, headers=auth).json()["address"] is None
    assert _create(client, auth, mrn="MRN-2").json()["address"] is None  # optional


@pytest.mark.parametrize(
    ("address", "field", "words"),
    [
        ({k: v for k, v in ADDRESS.items() if k != "zip"}, "zip", "required"),
        ({**ADDRESS, "zip": "1234"}, "zip", "pattern"),
        ({**ADDRESS, "state": "XX"}, "state", "not a US state or territory code"),
        ({**ADDRESS, "city": " "}, "city", "at least 1 character"),
        ({**ADDRESS, "line1": "x" * 201}, "line1", "at most 200 characters"),
    ],
)
def test_a_partial_or_malformed_address_is_refused_naming_the_field_and_nothing_is_written(
    client: TestClient, auth: dict[str, str], address: dict[str, str], field: str, words: str
) -> None:
    refused = _create(client, auth, address=address)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "address", field]
    assert words in detail["msg"]
    assert client.get(PATIENTS, headers=auth).json()["total"] == 0


def _form(**overrides: str) -> dict[str, str]:
    form = {
        "mrn": "W-1",
        "given_name": "Wren",
        "family_name": "Synthetic-Ash",
        "birth_date": "1975-03-02",
        "sex": "male",
        "weight_kg": "81.4",
        "address_line1": "12 Synthetic Lane",
        "address_line2": "",
        "address_city": "Demo City",
        "address_state": "OR",
        "address_zip": "00000",
    }
    form.update(overrides)
    return form


def test_the_pages_register_show_edit_and_refuse_a_partial_address(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    log_in(client, make_person(Role.NURSE))
    token = csrf_from(client.get("/patients/new").text)
    partial = client.post("/patients/new", data={**_form(address_zip=""), "csrf_token": token})
    assert partial.status_code == 422
    assert 'id="e-address_zip"' in partial.text
    assert 'value="12 Synthetic Lane"' in partial.text  # what was typed is kept
    registered = client.post("/patients/new", data={**_form(), "csrf_token": token})
    assert registered.status_code == 200, registered.text
    assert "12 Synthetic Lane, Demo City, OR 00000" in registered.text
    patient_url = str(registered.url)
    edit = client.get(f"{patient_url}/edit")
    assert 'value="Demo City"' in edit.text
    version = edit.text.split('name="version" value="')[1].split('"')[0]
    blank = dict.fromkeys(
        ("address_line1", "address_line2", "address_city", "address_state", "address_zip"), ""
    )
    form = {**_form(**blank), "version": version, "csrf_token": csrf_from(edit.text)}
    cleared = client.post(f"{patient_url}/edit", data=form)
    assert cleared.status_code == 200, cleared.text
    assert "none on file" in cleared.text


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _address_columns(engine: Engine) -> list[str]:
    return sorted(
        c["name"] for c in inspect(engine).get_columns("patient") if "address" in c["name"]
    )


def test_the_0021_migration_runs_both_ways_keeping_the_patients(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    patient_id = _create(client, auth, address=ADDRESS).json()["id"]
    try:
        _downgrade(engine, "0020")
        assert current_revision(engine) == "0020"
        assert _address_columns(engine) == []
    finally:
        upgrade(engine)
    assert _address_columns(engine) == [
        "address_city", "address_line1", "address_line2", "address_state", "address_zip",
    ]  # fmt: skip
    kept = client.get(f"{PATIENTS}/{patient_id}", headers=auth)
    assert kept.status_code == 200
    assert kept.json()["address"] is None  # the downgrade dropped it; the patient stays
