"""A clinic for the appointment book's views and series tests: opening hours Monday to Friday
08:00-18:00 (UTC, the test settings' zone), the four starter chairs, a patient with a course of a
series protocol, and a nurse, a front-desk clerk and an admin to act."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from tests.conftest import Person, token_for
from tests.courses.helpers import SERIES, Clinic

#: A Monday morning before opening.
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
WEEKDAYS_8_TO_18 = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(5)]


class Book(Clinic):
    def __init__(
        self,
        client: TestClient,
        make_person: Callable[..., Person],
        factory: sessionmaker[Session],
    ) -> None:
        super().__init__(client, make_person, factory)
        self.admin = token_for(client, make_person(Role.ADMIN))
        self.staff_person = make_person(Role.STAFF)
        self.staff = token_for(client, self.staff_person)
        response = client.put(
            "/api/v1/scheduling/hours", json={"intervals": WEEKDAYS_8_TO_18}, headers=self.admin
        )
        assert response.status_code == 200, response.text
        chairs = client.get("/api/v1/scheduling/chairs", headers=self.staff).json()
        self.chair_ids: list[int] = [c["id"] for c in chairs if c["active"]]
        self.course = self.start_course(SERIES)

    def book(self, patient_id: int, at: datetime, chair_id: int, key: str = SERIES) -> Any:
        body = {
            "patient_id": patient_id,
            "protocol_id": self.protocol_ids[key],
            "scheduled_at": at.isoformat(),
            "chair_id": chair_id,
        }
        return self.client.post("/api/v1/scheduling/bookings", json=body, headers=self.staff)

    def plan(self, **query: object) -> dict[str, Any]:
        params = {"course_id": self.course["id"], **query}
        response = self.client.get(
            "/api/v1/scheduling/series/plan", params=params, headers=self.staff
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def confirm(self, slots: list[dict[str, Any]]) -> Any:
        body = {
            "course_id": self.course["id"],
            "sessions": [{"chair_id": s["chair_id"], "start": s["start"]} for s in slots],
        }
        return self.client.post("/api/v1/scheduling/series/confirm", json=body, headers=self.staff)
