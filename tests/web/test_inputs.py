"""Unusual input is refused with a 422 naming the field, on SQLite and PostgreSQL, and never
reaches the database: control characters in any text, numbers more precise than a field allows,
dates outside the clinic's calendar, unbounded ids, doses below their minimum, and a booking in
the past. Each case of issue 10 has its test here."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, params
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.models import Patient
from ketaclinic.web.inputs import ExactJsonRoute
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for
from tests.web.fuzzing import every_route

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JSON = {"content-type": "application/json"}


@pytest.fixture
def physician(client: TestClient, make_person: Callable[..., Person]) -> Person:
    return make_person(Role.PHYSICIAN)


@pytest.fixture
def api(client: TestClient, physician: Person) -> dict[str, str]:
    return token_for(client, physician)


def _count(factory: sessionmaker[Session], model: type[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _detail(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail


def _only(response: Any, loc: list[str | int]) -> str:
    """The message of the one error, which must be about ``loc``."""
    (error,) = _detail(response)
    assert error["loc"] == loc
    message: str = error["msg"]
    return message


def _raw_post(client: TestClient, url: str, body: str, headers: dict[str, str]) -> Any:
    """A body typed by hand, for JSON numbers that Python's json module would round."""
    return client.post(url, content=body.encode(), headers={**headers, **JSON})


# --- text ---------------------------------------------------------------------------------------


def test_it_refuses_a_nul_byte_in_a_json_field_naming_it_and_stores_nothing(
    client: TestClient, api: dict[str, str], factory: sessionmaker[Session]
) -> None:
    response = client.post("/api/v1/patients", json=patient_body(given_name="Ad\x00a"), headers=api)
    message = _only(response, ["body", "given_name"])
    assert "control character (U+0000) at position 3" in message
    nested = patient_body(diagnoses=[{"code": "M79.7\x00", "is_primary": True}])
    _only(
        client.post("/api/v1/patients", json=nested, headers=api), ["body", "diagnoses", 0, "code"]
    )
    assert _count(factory, Patient) == 0


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("\x1b[31m", "control character (U+001B)"),
        ("\x7f\x08", "control character (U+0008)"),
        ("\ud800", "unpaired UTF-16 surrogate (U+D800)"),
    ],
)
def test_it_refuses_other_control_characters_and_lone_surrogates(
    client: TestClient, api: dict[str, str], text: str, what: str
) -> None:
    body = json.dumps(patient_body(family_name=text))  # ASCII: a lone surrogate as its \u escape
    response = _raw_post(client, "/api/v1/patients", body, api)
    assert what in _only(response, ["body", "family_name"])


def test_tabs_and_line_breaks_are_ordinary_text(client: TestClient, api: dict[str, str]) -> None:
    body = patient_body(allergies=["latex\tsevere", "penicillin\r\nrash"])
    assert client.post("/api/v1/patients", json=body, headers=api).status_code == 201


def test_it_refuses_a_control_character_in_a_json_key_naming_it(
    client: TestClient, api: dict[str, str]
) -> None:
    body = {"protocol_id": 1, "weight_kg": 70, "override_reasons": {"dose\x00": "why"}}
    response = client.post("/api/v1/dose-calculations", json=body, headers=api)
    assert "the name contains a control character" in _only(
        response, ["body", "override_reasons", "dose\x00"]
    )


@pytest.mark.parametrize("depth", [900, 5000])
def test_a_json_body_nested_as_deep_as_anyone_likes_is_no_server_error(
    client: TestClient, api: dict[str, str], depth: int
) -> None:
    """On a route that takes no body, the text check is the only reader of it."""
    nested = "[" * depth + '"\\u0000"' + "]" * depth
    response = _raw_post(client, "/api/v1/sessions/1/alerts/1/acknowledge", nested, api)
    assert response.status_code in {404, 422}, response.text


def test_it_refuses_a_nul_byte_in_the_search_box_of_the_api_and_of_the_page(
    client: TestClient, api: dict[str, str], physician: Person
) -> None:
    client.post("/api/v1/patients", json=patient_body(), headers=api)
    _only(client.get("/api/v1/patients", params={"q": "Syn\x00"}, headers=api), ["query", "q"])
    log_in(client, physician)
    page = client.get("/patients", params={"q": "Syn\x00"})
    assert page.status_code == 422
    assert "query.q: contains a control character (U+0000)" in page.text


def test_it_refuses_a_nul_byte_in_a_form_field_and_the_page_says_which(
    client: TestClient, physician: Person, factory: sessionmaker[Session]
) -> None:
    log_in(client, physician)
    form = {
        "csrf_token": csrf_from(client.get("/patients/new").text),
        "mrn": "W-1",
        "given_name": "Wren\x00",
        "family_name": "Synthetic-Ash",
        "birth_date": "1975-03-02",
        "sex": "male",
        "weight_kg": "81.4",
    }
    response = client.post("/patients/new", data=form)
    assert response.status_code == 422
    assert "body.given_name: contains a control character (U+0000) at position 5" in response.text
    assert _count(factory, Patient) == 0


def test_it_refuses_a_nul_byte_in_a_path_parameter_naming_it(
    client: TestClient, api: dict[str, str]
) -> None:
    _only(client.get("/api/v1/patients/1%00", headers=api), ["path", "patient_id"])


def test_every_route_refuses_a_control_character_in_its_query(
    app: FastAPI, client: TestClient
) -> None:
    routes = every_route(app)
    schema_operations = sum(len(item) for item in app.openapi()["paths"].values())
    assert len([r for r in routes if r[2].include_in_schema]) == schema_operations
    assert len(routes) > schema_operations  # the pages too
    for method, path, _ in routes:
        url = path.replace("{", "").replace("}", "")  # any value: the check comes first
        response = client.request(method, url, params={"probe": "x\x01"})
        assert response.status_code == 422, f"{method} {path}: {response.status_code}"
        assert "query" in response.text and "probe" in response.text, f"{method} {path}"


def test_every_route_with_a_json_body_reads_its_numbers_exactly(app: FastAPI) -> None:
    json_routes = [
        (method, path)
        for method, path, route in every_route(app)
        if route.body_field is not None and not isinstance(route.body_field.field_info, params.Form)
    ]
    assert len(json_routes) >= 27  # as many as the API had when this test was written
    inexact = [
        (method, path)
        for method, path, route in every_route(app)
        if (method, path) in json_routes and not isinstance(route, ExactJsonRoute)
    ]
    assert inexact == []


# --- numbers ------------------------------------------------------------------------------------

PATIENT_JSON = (
    '{"mrn": "X-1", "given_name": "Ada", "family_name": "Synthetic-Case", '
    '"birth_date": "1980-05-17", "sex": "female", "weight_kg": %s}'
)


def test_it_refuses_a_weight_with_more_than_two_decimals_even_as_a_20_digit_json_number(
    client: TestClient, api: dict[str, str], factory: sessionmaker[Session]
) -> None:
    response = _raw_post(
        client, "/api/v1/patients", PATIENT_JSON % "80.0000000000000000000001", api
    )
    message = _only(response, ["body", "weight_kg"])
    assert "at most 2 decimal places (kg)" in message
    assert _count(factory, Patient) == 0
    stored = _raw_post(client, "/api/v1/patients", PATIENT_JSON % "80.250", api)
    assert stored.status_code == 201, stored.text  # a trailing zero carries nothing
    assert stored.json()["weight_kg"] == "80.25"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("NaN", "NaN is not a number"),
        ("-Infinity", "-Infinity is not a number"),
        ("1" + "0" * 200, "more than 100 digits"),
    ],
)
def test_it_refuses_json_tokens_that_are_no_clinical_number_naming_the_field(
    client: TestClient, api: dict[str, str], number: str, expected: str
) -> None:
    response = _raw_post(client, "/api/v1/patients", PATIENT_JSON % number, api)
    assert expected in _only(response, ["body", "weight_kg"])


def test_it_refuses_an_adjunct_dose_below_its_minimum_naming_it_and_its_unit(
    client: TestClient, api: dict[str, str]
) -> None:
    patient = client.post("/api/v1/patients", json=patient_body(), headers=api).json()["id"]
    protocol = client.get("/api/v1/protocols", headers=api).json()[0]["id"]
    booking = {"patient_id": patient, "protocol_id": protocol, "chair": "Chair 1"}
    booking["scheduled_at"] = clock.now().isoformat()
    session_id = client.post("/api/v1/sessions", json=booking, headers=api).json()["id"]
    url = f"/api/v1/sessions/{session_id}/adjunct-medications"
    body = '{"drug": "ondansetron", "dose": 1e-30, "route": "IV", "reason": "nausea"}'
    message = _only(_raw_post(client, url, body, api), ["body", "dose"])
    assert "must be at least 0.01 mg (clinic policy)" in message


@pytest.mark.parametrize(
    ("protocol_id", "loc"),
    [(10**30, "protocol_id"), (0, "protocol_id"), (2**31, "protocol_id")],
)
def test_it_refuses_a_protocol_id_no_record_can_have(
    client: TestClient, api: dict[str, str], protocol_id: int, loc: str
) -> None:
    body = {"protocol_id": protocol_id, "weight_kg": 70}
    _only(client.post("/api/v1/dose-calculations", json=body, headers=api), ["body", loc])


class FloatDose(BaseModel):
    mg_per_h: float


def test_a_float_field_still_takes_a_json_number_read_exactly() -> None:
    """``float`` fields (the PK engine's) accept what ``ExactJsonRoute`` reads as a Decimal."""
    router = APIRouter(route_class=ExactJsonRoute)

    @router.post("/echo")
    def echo(dose: FloatDose) -> dict[str, float]:
        return {"mg_per_h": dose.mg_per_h, "twice": dose.mg_per_h * 2}

    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as test_client:
        response = _raw_post(test_client, "/echo", '{"mg_per_h": 35.5}', {})
    assert response.json() == {"mg_per_h": 35.5, "twice": 71.0}


# --- dates and instants -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [{"from": "9999-12-31"}, {"to": "9999-12-31"}, {"from": "0001-01-01", "to": "0001-01-31"}],
)
@pytest.mark.parametrize("path", ["/dashboard", "/dashboard.csv"])
def test_the_dashboard_refuses_a_date_outside_the_calendar_with_422(
    client: TestClient, physician: Person, path: str, query: dict[str, str]
) -> None:
    log_in(client, physician)
    page = client.get(path, params=query)
    assert page.status_code == 422
    assert "between 1900-01-01 and 2199-12-31" in page.text
    assert f"query.{next(iter(query))}:" in page.text


def test_an_emptied_dashboard_date_means_the_default_window(
    client: TestClient, physician: Person
) -> None:
    log_in(client, physician)
    with clock.frozen_at(NOW):
        page = client.get("/dashboard", params={"from": "", "to": " "})
    assert page.status_code == 200
    assert 'name="to" value="2026-03-02"' in page.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0001-01-01T00:00:00+14:00", "between 1900-01-01 and 2199-12-31"),
        ("9999-12-31T23:59:59-14:00", "between 1900-01-01 and 2199-12-31"),
        ("2026-03-01T08:00:00", "give the UTC offset"),
        ("2026-03-01", "give the UTC offset"),
        (1772352000, "give a date and time with its UTC offset"),
    ],
)
def test_it_refuses_an_instant_without_an_offset_or_outside_the_calendar(
    client: TestClient, api: dict[str, str], value: object, expected: str
) -> None:
    body = patient_body(weight_measured_at=value)
    assert expected in _only(
        client.post("/api/v1/patients", json=body, headers=api), ["body", "weight_measured_at"]
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1980-01-01T00:00:00", "without a time"),
        ("1899-12-31", "between 1900-01-01 and 2199-12-31"),
        ("1980-02-30", "1980-02-30 is not a day of the calendar"),
        (315532800, "give a date (without a time)"),
    ],
)
def test_it_refuses_a_birth_date_that_is_not_a_plain_calendar_date(
    client: TestClient, api: dict[str, str], value: object, expected: str
) -> None:
    body = patient_body(birth_date=value)
    assert expected in _only(
        client.post("/api/v1/patients", json=body, headers=api), ["body", "birth_date"]
    )


def test_an_instant_keeps_its_moment_whatever_its_offset(
    client: TestClient, api: dict[str, str]
) -> None:
    body = patient_body(weight_measured_at="2026-03-01T23:30:00+14:00")
    created = client.post("/api/v1/patients", json=body, headers=api)
    assert created.status_code == 201, created.text
    stored = datetime.fromisoformat(created.json()["weight_measured_at"].replace("Z", "+00:00"))
    assert stored == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


# --- scheduling ---------------------------------------------------------------------------------


def test_the_api_refuses_a_booking_more_than_an_hour_back_as_the_page_does(
    client: TestClient, api: dict[str, str], factory: sessionmaker[Session]
) -> None:
    patient = client.post("/api/v1/patients", json=patient_body(), headers=api).json()["id"]
    protocol = client.get("/api/v1/protocols", headers=api).json()[0]["id"]
    booking = {"patient_id": patient, "protocol_id": protocol, "chair": "Chair 1"}
    with clock.frozen_at(NOW):
        for back in (timedelta(days=365), timedelta(minutes=61)):
            late = {**booking, "scheduled_at": (NOW - back).isoformat()}
            message = _only(
                client.post("/api/v1/sessions", json=late, headers=api), ["body", "scheduled_at"]
            )
            assert "more than 1 hour in the past" in message
        assert _count(factory, InfusionSession) == 0
        just_in = {**booking, "scheduled_at": (NOW - timedelta(minutes=59)).isoformat()}
        assert client.post("/api/v1/sessions", json=just_in, headers=api).status_code == 201
