"""A clinic with a patient, a physician and a nurse, and ways to put sessions in a course."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from tests.conftest import Person, patient_body, token_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SERIES = "depression-murrough-2013"  # a series of several sessions, spaced
SINGLE = "chronic-pain-low-dose"


class Clinic:
    def __init__(
        self,
        client: TestClient,
        make_person: Callable[..., Person],
        factory: sessionmaker[Session],
    ) -> None:
        self.client, self.factory = client, factory
        self.physician_person = make_person(Role.PHYSICIAN)
        self.physician = token_for(client, self.physician_person)
        self.nurse_person = make_person(Role.NURSE)
        self.nurse = token_for(client, self.nurse_person)
        self.patient_id = self.new_patient("MRN-1")
        rows = client.get("/api/v1/protocols", headers=self.nurse).json()
        self.protocol_ids: dict[str, int] = {r["key"]: r["id"] for r in rows}

    def new_patient(self, mrn: str) -> int:
        response = self.client.post(
            "/api/v1/patients", json=patient_body(mrn=mrn), headers=self.nurse
        )
        assert response.status_code == 201, response.text
        value: int = response.json()["id"]
        return value

    def definition(self, key: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/protocols/{self.protocol_ids[key]}", headers=self.nurse
        )
        result: dict[str, Any] = response.json()["definition"]
        return result

    def spacing(self, key: str = SERIES) -> timedelta:
        return timedelta(days=self.definition(key)["series_spacing_days"])

    def start_course(self, key: str = SERIES, patient_id: int | None = None) -> dict[str, Any]:
        body = {"patient_id": patient_id or self.patient_id, "protocol_id": self.protocol_ids[key]}
        response = self.client.post("/api/v1/courses", json=body, headers=self.physician)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def read(self, course_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/courses/{course_id}", headers=self.nurse)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def session_in(self, course: dict[str, Any], at: datetime) -> int:
        """A session booked through the API, put in the course on its row."""
        body = {
            "patient_id": course["patient_id"],
            "protocol_id": course["protocol_id"],
            "scheduled_at": at.isoformat(),
        }  # no chair: the first free one (issue 13)
        with clock.frozen_at(min(clock.now(), at)):  # booked before it happens, as the API asks
            response = self.client.post("/api/v1/sessions", json=body, headers=self.nurse)
        assert response.status_code == 201, response.text
        session_id: int = response.json()["id"]
        with transaction(self.factory) as session:
            row = session.get(InfusionSession, session_id)
            assert row is not None
            row.course_id = course["id"]
        return session_id

    def discharged(self, course: dict[str, Any], at: datetime) -> int:
        """A session that ran and was discharged at ``at`` (stored as the discharge move does)."""
        session_id = self.session_in(course, at - timedelta(hours=3))
        with transaction(self.factory) as session:
            row = session.get(InfusionSession, session_id)
            assert row is not None
            row.state = "discharged"
            row.events.append(
                SessionEvent(
                    kind="discharge",
                    at=at,
                    by_user_id=self.physician_person.user_id,
                    data={"from": "observing", "to": "discharged"},
                )
            )
        return session_id

    def aborted(self, course: dict[str, Any], at: datetime, reason: str) -> int:
        session_id = self.session_in(course, at)
        response = self.client.post(
            f"/api/v1/sessions/{session_id}/abort", json={"reason": reason}, headers=self.nurse
        )
        assert response.status_code == 200, response.text
        return session_id
