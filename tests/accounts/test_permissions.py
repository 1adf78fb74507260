"""Walk every route as every role, and as a physician of another clinic.

The walk must see every route however the framework nests routers: since FastAPI keeps an
included router as one entry of ``app.routes``, reading that list alone found 2 public routes and
checked nothing. So the routes are unfolded with FastAPI's own walk, the result is checked
against what the app answers (its OpenAPI operations, and an anonymous request to every listed
route), and tests show that the checks report a missing entry and a wrong role.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount

from ketaclinic.accounts.core import Role
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for

PUBLIC = "public"
EVERYONE = frozenset(Role)
READERS = frozenset({Role.PHYSICIAN, Role.NURSE, Role.STAFF})
CLINICIANS = frozenset({Role.PHYSICIAN, Role.NURSE})
INVENTORY_READERS = frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE})
REGISTRANTS = frozenset({Role.ADMIN, Role.PHYSICIAN})
STAFF_ALL = frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE, Role.STAFF})
ADMIN = frozenset({Role.ADMIN})

# (method, path) -> who may; every route of the app must be listed here.
EXPECTED: dict[tuple[str, str], frozenset[Role] | str] = {
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("POST", "/api/v1/auth/revoke"): PUBLIC,  # holding the token is the authority to end it
    ("GET", "/api/v1/me"): EVERYONE,
    ("GET", "/api/v1/patients"): READERS,
    ("POST", "/api/v1/patients"): READERS,
    ("GET", "/api/v1/patients/{patient_id}"): READERS,
    ("PATCH", "/api/v1/patients/{patient_id}"): READERS,
    ("POST", "/api/v1/patients/{patient_id}/diagnoses"): CLINICIANS,
    ("GET", "/api/v1/indications"): READERS,
    ("GET", "/api/v1/contraindications"): READERS,
    ("POST", "/api/v1/patients/{patient_id}/screenings"): frozenset({Role.PHYSICIAN}),
    ("GET", "/api/v1/patients/{patient_id}/screenings"): CLINICIANS,
    ("GET", "/patients/{patient_id}/screenings"): CLINICIANS,
    ("GET", "/patients/{patient_id}/screenings/new"): frozenset({Role.PHYSICIAN}),
    ("POST", "/patients/{patient_id}/screenings/new"): frozenset({Role.PHYSICIAN}),
    ("POST", "/api/v1/patients/{patient_id}/measurements"): CLINICIANS,
    ("GET", "/api/v1/patients/{patient_id}/measurements"): CLINICIANS,
    ("GET", "/worklist"): frozenset({Role.PHYSICIAN}),
    ("POST", "/worklist/{measurement_id}/acknowledge"): frozenset({Role.PHYSICIAN}),
    ("GET", "/api/v1/protocols"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("GET", "/api/v1/protocols/{protocol_id}"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("POST", "/api/v1/dose-calculations"): CLINICIANS,
    ("GET", "/patients/{patient_id}/dose-plan"): CLINICIANS,
    ("POST", "/patients/{patient_id}/dose-plan"): frozenset({Role.PHYSICIAN}),
    ("GET", "/protocols"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("GET", "/protocols/{protocol_id}"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("GET", "/protocols/{protocol_id}/edit"): frozenset({Role.ADMIN}),
    ("POST", "/protocols/{protocol_id}/edit"): frozenset({Role.ADMIN}),
    ("POST", "/api/v1/sessions"): CLINICIANS,
    ("GET", "/api/v1/sessions/{session_id}"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/check-in"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/order"): frozenset({Role.PHYSICIAN}),
    ("POST", "/api/v1/sessions/{session_id}/clearance"): frozenset({Role.PHYSICIAN}),
    ("POST", "/api/v1/sessions/{session_id}/vitals"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/side-effects"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/adjunct-medications"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/alerts/{alert_id}/acknowledge"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/entries/{event_id}/entered-in-error"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/verify"): frozenset({Role.NURSE}),
    ("POST", "/api/v1/sessions/{session_id}/start"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/rate"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/pause"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/resume"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/stop"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/abort"): CLINICIANS,
    ("POST", "/api/v1/courses"): frozenset({Role.PHYSICIAN}),
    ("GET", "/api/v1/courses"): CLINICIANS,
    ("GET", "/api/v1/courses/{course_id}"): CLINICIANS,
    ("POST", "/api/v1/courses/{course_id}/end"): frozenset({Role.PHYSICIAN}),
    ("GET", "/patients/{patient_id}/courses"): CLINICIANS,
    ("POST", "/patients/{patient_id}/courses"): frozenset({Role.PHYSICIAN}),
    ("POST", "/courses/{course_id}/end"): frozenset({Role.PHYSICIAN}),
    ("POST", "/courses/{course_id}/questionnaires"): frozenset({Role.PHYSICIAN}),
    ("POST", "/api/v1/courses/{course_id}/questionnaires"): frozenset({Role.PHYSICIAN}),
    ("POST", "/api/v1/sessions/{session_id}/bolus"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/discharge"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/cancel"): CLINICIANS,
    ("POST", "/api/v1/sessions/{session_id}/no-show"): CLINICIANS,
    ("GET", "/board"): CLINICIANS,
    ("GET", "/board/data"): CLINICIANS,
    ("GET", "/sessions/{session_id}"): CLINICIANS,
    ("POST", "/sessions/{session_id}/check-in"): CLINICIANS,
    ("POST", "/sessions/{session_id}/clearance"): frozenset({Role.PHYSICIAN}),
    ("POST", "/sessions/{session_id}/order"): frozenset({Role.PHYSICIAN}),
    ("POST", "/sessions/{session_id}/verify"): frozenset({Role.NURSE}),
    ("POST", "/sessions/{session_id}/start"): CLINICIANS,
    ("POST", "/sessions/{session_id}/rate"): CLINICIANS,
    ("POST", "/sessions/{session_id}/pause"): CLINICIANS,
    ("POST", "/sessions/{session_id}/resume"): CLINICIANS,
    ("POST", "/sessions/{session_id}/stop"): CLINICIANS,
    ("POST", "/sessions/{session_id}/abort"): CLINICIANS,
    ("POST", "/sessions/{session_id}/cancel"): CLINICIANS,
    ("POST", "/sessions/{session_id}/no-show"): CLINICIANS,
    ("POST", "/sessions/{session_id}/vitals"): CLINICIANS,
    ("POST", "/sessions/{session_id}/side-effects"): CLINICIANS,
    ("POST", "/sessions/{session_id}/adjunct"): CLINICIANS,
    ("POST", "/sessions/{session_id}/bolus"): CLINICIANS,
    ("POST", "/sessions/{session_id}/draw"): CLINICIANS,
    ("POST", "/sessions/{session_id}/waste"): CLINICIANS,
    ("POST", "/sessions/{session_id}/return"): CLINICIANS,
    ("POST", "/sessions/{session_id}/discharge"): CLINICIANS,
    ("POST", "/sessions/{session_id}/alerts/{alert_id}/acknowledge"): CLINICIANS,
    ("POST", "/sessions/{session_id}/entries/{event_id}/entered-in-error"): CLINICIANS,
    ("GET", "/patients/{patient_id}/sessions/new"): READERS,
    ("POST", "/patients/{patient_id}/goals"): CLINICIANS,
    ("POST", "/patients/{patient_id}/sessions/new"): READERS,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/account/password"): EVERYONE,
    ("POST", "/account/password"): EVERYONE,
    ("GET", "/"): EVERYONE,
    ("GET", "/patients"): READERS,
    ("GET", "/patients/new"): READERS,
    ("POST", "/patients/new"): READERS,
    ("GET", "/patients/{patient_id}"): READERS,
    ("GET", "/patients/{patient_id}/edit"): READERS,
    ("POST", "/patients/{patient_id}/edit"): READERS,
    ("POST", "/patients/{patient_id}/diagnoses"): CLINICIANS,
    ("GET", "/patients/{patient_id}/report.pdf"): CLINICIANS,
    ("GET", "/audit"): frozenset({Role.ADMIN}),
    ("GET", "/audit/export.csv"): frozenset({Role.ADMIN}),
    ("GET", "/admin/users"): frozenset({Role.ADMIN}),
    ("GET", "/admin/users/new"): frozenset({Role.ADMIN}),
    ("POST", "/admin/users/new"): frozenset({Role.ADMIN}),
    ("GET", "/admin/users/{user_id}"): frozenset({Role.ADMIN}),
    ("POST", "/admin/users/{user_id}/password"): frozenset({Role.ADMIN}),
    ("POST", "/admin/users/{user_id}/unlock"): frozenset({Role.ADMIN}),
    ("POST", "/admin/users/{user_id}/deactivate"): frozenset({Role.ADMIN}),
    ("POST", "/admin/users/{user_id}/reactivate"): frozenset({Role.ADMIN}),
    ("POST", "/admin/users/{user_id}/sessions/end"): frozenset({Role.ADMIN}),
    ("GET", "/dashboard"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("GET", "/dashboard.csv"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("GET", "/portal"): frozenset({Role.PATIENT}),
    ("GET", "/portal/questionnaires/{instrument}"): frozenset({Role.PATIENT}),
    ("POST", "/portal/questionnaires/{instrument}"): frozenset({Role.PATIENT}),
    ("GET", "/portal/information"): frozenset({Role.PATIENT}),
    ("GET", "/pk"): CLINICIANS,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/static/vendor/plotly.min.js"): PUBLIC,
    ("MOUNT", "/static"): PUBLIC,
    ("MOUNT", "/docs/assets"): PUBLIC,
    # Controlled substances: admins read, licensed clinicians handle, registrants set up.
    ("GET", "/api/v1/inventory/registrations"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/registrations"): REGISTRANTS,
    ("GET", "/api/v1/inventory/products"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/products"): REGISTRANTS,
    ("GET", "/api/v1/inventory/locations"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/locations"): REGISTRANTS,
    ("POST", "/api/v1/inventory/receipts"): CLINICIANS,
    ("GET", "/api/v1/inventory/receipts/{receipt_id}"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/receipts/{receipt_id}/confirm"): CLINICIANS,
    ("POST", "/api/v1/inventory/receipts/{receipt_id}/reverse"): CLINICIANS,
    ("POST", "/api/v1/inventory/transfers"): CLINICIANS,
    ("GET", "/api/v1/inventory/balance"): INVENTORY_READERS,
    ("GET", "/api/v1/inventory/ledger"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/sessions/{session_id}/draws"): CLINICIANS,
    ("POST", "/api/v1/inventory/sessions/{session_id}/waste"): CLINICIANS,
    ("POST", "/api/v1/inventory/sessions/{session_id}/returns"): CLINICIANS,
    ("GET", "/api/v1/inventory/sessions/{session_id}/chain"): INVENTORY_READERS,
    ("GET", "/api/v1/inventory/unrecorded-waste"): INVENTORY_READERS,
    ("GET", "/inventory"): INVENTORY_READERS,
    ("GET", "/inventory/receipts/new"): CLINICIANS,
    ("POST", "/inventory/receipts/new"): CLINICIANS,
    ("POST", "/inventory/receipts/{receipt_id}/confirm"): CLINICIANS,
    ("GET", "/inventory/transfers/new"): CLINICIANS,
    ("POST", "/inventory/transfers/new"): CLINICIANS,
    ("POST", "/api/v1/inventory/counts"): CLINICIANS,
    ("GET", "/api/v1/inventory/counts"): INVENTORY_READERS,
    ("GET", "/api/v1/inventory/counts/{count_id}"): INVENTORY_READERS,
    ("GET", "/api/v1/inventory/discrepancies"): INVENTORY_READERS,
    ("GET", "/api/v1/inventory/discrepancies/{discrepancy_id}"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/discrepancies/{discrepancy_id}/resolve"): REGISTRANTS,
    ("GET", "/api/v1/inventory/discrepancies/{discrepancy_id}/form-106"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/discrepancies/{discrepancy_id}/dea-notification"): REGISTRANTS,
    ("GET", "/api/v1/inventory/awaiting-disposal"): INVENTORY_READERS,
    ("POST", "/api/v1/inventory/disposals"): CLINICIANS,
    ("GET", "/api/v1/inventory/disposals/{disposal_id}"): INVENTORY_READERS,
    ("GET", "/api/v1/inventory/disposals/{disposal_id}/form-41"): INVENTORY_READERS,
    ("GET", "/inventory/counts/new"): CLINICIANS,
    ("POST", "/inventory/counts/new"): CLINICIANS,
    ("GET", "/inventory/counts/{count_id}"): INVENTORY_READERS,
    ("GET", "/inventory/discrepancies/{discrepancy_id}"): INVENTORY_READERS,
    ("POST", "/inventory/discrepancies/{discrepancy_id}/resolve"): REGISTRANTS,
    ("GET", "/inventory/discrepancies/{discrepancy_id}/form-106"): INVENTORY_READERS,
    ("POST", "/inventory/discrepancies/{discrepancy_id}/dea-notification"): REGISTRANTS,
    ("GET", "/inventory/disposals/new"): CLINICIANS,
    ("POST", "/inventory/disposals/new"): CLINICIANS,
    ("GET", "/inventory/disposals/{disposal_id}"): INVENTORY_READERS,
    ("GET", "/inventory/reports"): INVENTORY_READERS,
    ("GET", "/inventory/reports/administrations"): INVENTORY_READERS,
    ("GET", "/inventory/reports/biennial"): INVENTORY_READERS,
    ("GET", "/inventory/reports/receipts"): INVENTORY_READERS,
    ("GET", "/inventory/reports/reconciliation"): INVENTORY_READERS,
    ("GET", "/inventory/reports/lots/{lot_id}"): INVENTORY_READERS,
    # Reminders and contact details (issue 13, item 6)
    ("GET", "/api/v1/patients/{patient_id}/contact"): READERS,
    ("PUT", "/api/v1/patients/{patient_id}/contact"): READERS,
    ("GET", "/patients/{patient_id}/contact"): READERS,
    ("POST", "/patients/{patient_id}/contact"): READERS,
    ("GET", "/scheduling/reminders"): READERS,
    ("POST", "/scheduling/reminders/{reminder_id}/retry"): READERS,
    ("POST", "/scheduling/reschedule-requests/{request_id}/handled"): READERS,
    ("GET", "/portal/sessions/{session_id}/reschedule"): frozenset({Role.PATIENT}),
    ("POST", "/portal/sessions/{session_id}/reschedule"): frozenset({Role.PATIENT}),
    # The appointment book (issue 13): all staff read the clinic data, an admin keeps it, the
    # front desk books, moves and cancels with the clinicians.
    ("GET", "/api/v1/scheduling/chairs"): STAFF_ALL,
    ("POST", "/api/v1/scheduling/chairs"): ADMIN,
    ("PUT", "/api/v1/scheduling/chairs/{chair_id}"): ADMIN,
    ("GET", "/api/v1/scheduling/hours"): STAFF_ALL,
    ("PUT", "/api/v1/scheduling/hours"): ADMIN,
    ("GET", "/api/v1/scheduling/closures"): STAFF_ALL,
    ("POST", "/api/v1/scheduling/closures"): ADMIN,
    ("DELETE", "/api/v1/scheduling/closures/{closure_id}"): ADMIN,
    ("GET", "/api/v1/scheduling/policy"): STAFF_ALL,
    ("PUT", "/api/v1/scheduling/policy"): ADMIN,
    ("GET", "/api/v1/scheduling/free-starts"): READERS,
    ("POST", "/api/v1/scheduling/bookings"): READERS,
    ("GET", "/api/v1/scheduling/bookings/{session_id}"): READERS,
    ("POST", "/api/v1/scheduling/bookings/{session_id}/reschedule"): READERS,
    ("POST", "/api/v1/scheduling/bookings/{session_id}/cancel"): READERS,
    ("GET", "/scheduling/chairs"): STAFF_ALL,
    ("POST", "/scheduling/chairs"): ADMIN,
    ("POST", "/scheduling/chairs/{chair_id}"): ADMIN,
    ("GET", "/scheduling/hours"): STAFF_ALL,
    ("POST", "/scheduling/hours"): ADMIN,
    ("POST", "/scheduling/policy"): ADMIN,
    ("POST", "/scheduling/closures"): ADMIN,
    ("POST", "/scheduling/closures/{closure_id}/delete"): ADMIN,
    ("GET", "/scheduling/bookings/{session_id}"): READERS,
    ("POST", "/scheduling/bookings/{session_id}/reschedule"): READERS,
    ("POST", "/scheduling/bookings/{session_id}/cancel"): READERS,
    # The day and week views (all staff; names only to patient readers), series booking and
    # attendance (those who book).
    ("GET", "/api/v1/scheduling/day"): STAFF_ALL,
    ("GET", "/api/v1/scheduling/week"): STAFF_ALL,
    ("GET", "/scheduling/day"): STAFF_ALL,
    ("GET", "/scheduling/week"): STAFF_ALL,
    ("GET", "/api/v1/scheduling/series/plan"): READERS,
    ("POST", "/api/v1/scheduling/series/confirm"): READERS,
    ("GET", "/api/v1/scheduling/patients/{patient_id}/attendance"): READERS,
    ("GET", "/scheduling/series"): READERS,
    ("POST", "/scheduling/series"): READERS,
    # HL7 v2 inbox (issue 14, item 3): who charts at the chair decides about monitor messages.
    ("GET", "/interop/inbox"): CLINICIANS,
    ("POST", "/interop/inbox/{message_id}/dismiss"): CLINICIANS,
    ("POST", "/interop/inbox/{message_id}/match"): CLINICIANS,
    # FHIR R4 (issue 14, item 1): the registration record (walked as Patient) to every reader;
    # observations, orders, administrations and $everything to clinicians.
    ("GET", "/fhir/r4/metadata"): PUBLIC,
    ("GET", "/fhir/r4/{resource_type}"): READERS,
    ("GET", "/fhir/r4/{resource_type}/{resource_id}"): READERS,
    ("GET", "/fhir/r4/Patient/{patient_id}/$everything"): CLINICIANS,
    # Referral import (issue 14, item 2): patient.write; a bundle with Conditions also needs
    # diagnosis.write (tests/interop/test_fhir_import.py).
    ("POST", "/fhir/r4"): READERS,
}
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
#: Valid bodies where an empty one would be refused (422) before the patient is looked up, so
#: that another clinic's physician meets the 404 this test looks for.
BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/api/v1/patients/{patient_id}/diagnoses"): {"code": "G43.909"},
    ("POST", "/api/v1/patients/{patient_id}/screenings"): {
        "systolic_mmhg": 120,
        "diastolic_mmhg": 80,
        "heart_rate_per_min": 70,
        "spo2_percent": 98,
        "resp_rate_per_min": 14,
    },
    ("POST", "/api/v1/patients/{patient_id}/measurements"): {
        "instrument": "nrs",
        "answers": [5],
        "context": "pre",
    },
}
Table = Mapping[tuple[str, str], frozenset[Role] | str]
RouteKey = tuple[str, str]

try:
    from fastapi.routing import iter_route_contexts as _unfold
except ImportError:  # FastAPI before it kept included routers nested: app.routes was flat

    def _unfold(routes: Iterable[Any]) -> Iterator[Any]:
        return iter(routes)


def route_table(app: FastAPI) -> list[RouteKey]:
    """(method, path) of every route the app serves, included routers and mounts unfolded;
    a mount without routes of its own (static files) is ("MOUNT", path)."""
    return sorted(set(_walk(app.routes, "")))


def _walk(routes: Iterable[BaseRoute], prefix: str) -> Iterator[RouteKey]:
    for route in _unfold(routes):
        original = getattr(route, "original_route", route)
        path = prefix + (route.path or "")
        if isinstance(original, Mount):
            inner = original.routes
            yield from _walk(inner, path) if inner else [("MOUNT", path)]
        elif route.methods is None:
            yield (type(original).__name__, path)  # a websocket or something new: list it
        elif path not in FRAMEWORK:
            yield from ((method, path) for method in sorted(route.methods - {"HEAD"}))


def table_problems(found: Iterable[RouteKey], table: Table) -> list[str]:
    """Routes the table does not list, and entries for routes the app does not serve."""
    found = set(found)
    return [f"unlisted {key}" for key in sorted(found - set(table))] + [
        f"stale {key}" for key in sorted(set(table) - found)
    ]


def _openapi_operations(app: FastAPI) -> set[RouteKey]:
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    paths: dict[str, dict[str, object]] = app.openapi()["paths"]
    return {(m.upper(), path) for path, item in paths.items() for m in item if m in methods}


def _answered(app: FastAPI, keys: Iterable[RouteKey]) -> set[RouteKey]:
    """The routes an anonymous request reaches: anything but 404 or 405 means the app routed it
    (logging in, the CSRF check or validation answered instead)."""
    anonymous = TestClient(app)
    reached = set()
    for method, path in keys:
        if method == "MOUNT":
            continue
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        status = anonymous.request(method, concrete, follow_redirects=False).status_code
        if status not in (404, 405):
            reached.add((method, path))
    return reached


def test_the_route_walk_finds_every_route_the_app_serves(app: FastAPI) -> None:
    found = set(route_table(app))
    in_schema = _openapi_operations(app)
    answered = _answered(app, EXPECTED)
    assert sorted(in_schema - found) == [], "in the OpenAPI schema but not found by the walk"
    assert sorted(answered - found) == [], "answered by the app but not found by the walk"
    assert len(answered - in_schema) > 0, "the pages (outside the schema) were not probed"


def test_every_route_has_a_permission_expectation_and_every_expectation_a_route(
    app: FastAPI,
) -> None:
    problems = table_problems(route_table(app), EXPECTED)
    assert problems == [], "add unlisted routes to EXPECTED with the roles that may use them"


@pytest.mark.parametrize(
    "left_out",
    [
        ("GET", "/audit"),
        ("POST", "/api/v1/sessions/{session_id}/vitals"),
        ("GET", "/patients/{patient_id}/screenings"),
        ("MOUNT", "/static"),
    ],
)
def test_a_route_left_out_of_the_table_is_reported(app: FastAPI, left_out: RouteKey) -> None:
    table = {key: who for key, who in EXPECTED.items() if key != left_out}
    assert table_problems(route_table(app), table) == [f"unlisted {left_out}"]


@dataclass(frozen=True)
class Cast:
    """One person per role of this clinic, a physician of another clinic, and a patient of
    this clinic whose record the ``{patient_id}`` routes are called with."""

    people: dict[str, Person]
    patient_id: int


@pytest.fixture
def cast(client: TestClient, make_person: Callable[..., Person]) -> Cast:
    people = {role.value: make_person(role) for role in Role if role is not Role.PATIENT}
    people["outsider"] = make_person(Role.PHYSICIAN, clinic="SOUTH")
    nurse_auth = token_for(client, people["nurse"])
    created = client.post("/api/v1/patients", json=patient_body(), headers=nurse_auth)
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]
    people["patient"] = make_person(Role.PATIENT, patient_id=patient_id)
    return Cast(people, patient_id)


def access_failures(
    app: FastAPI, cast: Cast, table: Table, only: Callable[[RouteKey], bool] = lambda _: True
) -> list[str]:
    """Every route the walk finds (and ``only`` keeps), called as every person: a role the table
    does not name gets 403, a role it names gets in, and another clinic's physician gets 404 on
    this clinic's patient."""
    found = [key for key in route_table(app) if only(key)]
    assert found, "the walk found no route to check"
    assert [key for key in found if key not in table] == [], "routes missing from the table"
    routes = [key for key in found if table[key] != PUBLIC]
    failures = []
    for name, person in cast.people.items():
        caller = _Caller(app, person)
        for method, path in routes:
            expected = table[(method, path)]
            concrete = path.replace("{patient_id}", str(cast.patient_id))
            # FHIR reads name the patient's record by its type and id.
            concrete = concrete.replace("{resource_type}", "Patient")
            concrete = concrete.replace("{resource_id}", str(cast.patient_id))
            status = caller.call(method, concrete, BODIES.get((method, path), {}))
            if person.role not in expected:
                if status != 403:
                    failures.append(f"{name} {method} {path}: {status}, expected 403")
            elif name == "outsider" and ("{patient_id}" in path or "{resource_id}" in path):
                if status != 404:
                    failures.append(f"{name} {method} {path}: {status}, expected 404")
            elif status in (401, 403, 404):
                failures.append(f"{name} {method} {path}: {status}, expected access")
    return failures


def test_each_role_reaches_exactly_the_routes_it_may(app: FastAPI, cast: Cast) -> None:
    """Slow because it calls every route as every role and as another clinic's physician
    (about 12 s of CPU)."""
    assert access_failures(app, cast, EXPECTED) == []


def test_a_role_reaching_a_route_it_should_not_is_reported(app: FastAPI, cast: Cast) -> None:
    table = {**EXPECTED, ("GET", "/audit"): frozenset({Role.NURSE})}
    failures = access_failures(app, cast, table, only=lambda key: key == ("GET", "/audit"))
    assert "admin GET /audit: 200, expected 403" in failures
    assert "nurse GET /audit: 403, expected access" in failures


class _Caller:
    """One logged-in browser and one API token per person; logging out uses a throwaway one."""

    def __init__(self, app: FastAPI, person: Person) -> None:
        self.app, self.person = app, person
        self.web = TestClient(app)
        log_in(self.web, person)
        self.csrf = csrf_from(self.web.get("/login").text)
        self.api = token_for(self.web, person)

    def call(self, method: str, path: str, body: dict[str, object]) -> int:
        if path.startswith(("/api/", "/fhir/")):
            return self.web.request(method, path, headers=self.api, json=body).status_code
        if method == "GET":
            return self.web.get(path, follow_redirects=False).status_code
        client = self.web
        if path == "/logout":
            client = TestClient(self.app)
            log_in(client, self.person)
        token = self.csrf if client is self.web else csrf_from(client.get("/login").text)
        response = client.request(method, path, data={"csrf_token": token}, follow_redirects=False)
        return response.status_code
