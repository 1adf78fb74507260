"""Walk every route as every role, and as a physician of another clinic."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for

PUBLIC = "public"
EVERYONE = frozenset(Role)
READERS = frozenset({Role.PHYSICIAN, Role.NURSE, Role.STAFF})
CLINICIANS = frozenset({Role.PHYSICIAN, Role.NURSE})

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
    ("GET", "/api/v1/patients/{patient_id}/screenings"): READERS,
    ("GET", "/patients/{patient_id}/screenings"): READERS,
    ("GET", "/patients/{patient_id}/screenings/new"): frozenset({Role.PHYSICIAN}),
    ("POST", "/patients/{patient_id}/screenings/new"): frozenset({Role.PHYSICIAN}),
    ("POST", "/api/v1/patients/{patient_id}/measurements"): READERS,
    ("GET", "/api/v1/patients/{patient_id}/measurements"): READERS,
    ("GET", "/worklist"): frozenset({Role.PHYSICIAN}),
    ("POST", "/worklist/{measurement_id}/acknowledge"): frozenset({Role.PHYSICIAN}),
    ("GET", "/api/v1/protocols"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("GET", "/api/v1/protocols/{protocol_id}"): frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE}),
    ("POST", "/api/v1/dose-calculations"): CLINICIANS,
    ("GET", "/patients/{patient_id}/dose-plan"): CLINICIANS,
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
    ("POST", "/sessions/{session_id}/discharge"): CLINICIANS,
    ("POST", "/sessions/{session_id}/alerts/{alert_id}/acknowledge"): CLINICIANS,
    ("GET", "/patients/{patient_id}/sessions/new"): CLINICIANS,
    ("POST", "/patients/{patient_id}/goals"): CLINICIANS,
    ("POST", "/patients/{patient_id}/sessions/new"): CLINICIANS,
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
    ("POST", "/pk"): CLINICIANS,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/static/vendor/plotly.min.js"): PUBLIC,
}
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path not in FRAMEWORK:
            found += [(m, route.path) for m in sorted(route.methods - {"HEAD"})]
    return found


def test_every_route_has_a_permission_expectation(app: FastAPI) -> None:
    missing = [r for r in _routes(app) if r not in EXPECTED]
    assert missing == [], "add these routes to EXPECTED with the roles that may use them"


@pytest.fixture
def people(client: TestClient, make_person: Callable[..., Person]) -> dict[str, Person]:
    cast = {role.value: make_person(role) for role in Role if role is not Role.PATIENT}
    cast["outsider"] = make_person(Role.PHYSICIAN, clinic="SOUTH")
    return cast


def test_each_role_reaches_exactly_the_routes_it_may(
    app: FastAPI, client: TestClient, people: dict[str, Person], make_person: Callable[..., Person]
) -> None:
    nurse_auth = token_for(client, people["nurse"])
    patient_id = client.post("/api/v1/patients", json=patient_body(), headers=nurse_auth).json()[
        "id"
    ]
    people["patient"] = make_person(Role.PATIENT, patient_id=patient_id)
    failures = []
    for name, person in people.items():
        caller = _Caller(app, person)
        for method, path in _routes(app):
            expected = EXPECTED[(method, path)]
            if expected == PUBLIC:
                continue
            status = caller.call(method, path.replace("{patient_id}", str(patient_id)))
            if person.role not in expected:
                if status != 403:
                    failures.append(f"{name} {method} {path}: {status}, expected 403")
            elif name == "outsider" and "{patient_id}" in path:
                if status != 404:
                    failures.append(f"{name} {method} {path}: {status}, expected 404")
            elif status in (401, 403, 404):
                failures.append(f"{name} {method} {path}: {status}, expected access")
    assert failures == []


class _Caller:
    """One logged-in browser and one API token per person; logging out uses a throwaway one."""

    def __init__(self, app: FastAPI, person: Person) -> None:
        self.app, self.person = app, person
        self.web = TestClient(app)
        log_in(self.web, person)
        self.csrf = csrf_from(self.web.get("/login").text)
        self.api = token_for(self.web, person)

    def call(self, method: str, path: str) -> int:
        if path.startswith("/api/"):
            return self.web.request(method, path, headers=self.api, json={}).status_code
        if method == "GET":
            return self.web.get(path, follow_redirects=False).status_code
        client = self.web
        if path == "/logout":
            client = TestClient(self.app)
            log_in(client, self.person)
        token = self.csrf if client is self.web else csrf_from(client.get("/login").text)
        response = client.request(method, path, data={"csrf_token": token}, follow_redirects=False)
        return response.status_code
