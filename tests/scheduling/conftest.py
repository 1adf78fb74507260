"""The front desk of the appointment book, shared by its tests: a clinic with an admin, a
nurse, a staff member, a patient and a protocol, with the clock frozen at ``NOW``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from tests.conftest import Person, patient_body, token_for

B = "/api/v1/scheduling"
#: A Monday at 07:00 UTC, before every booking the tests make (the clinic's zone is UTC).
NOW = datetime.fromisoformat("2031-03-03T07:00:00+00:00")
MONDAY_9 = NOW + timedelta(hours=2)
PROTOCOL = "migraine-lauritsen-2016"


@dataclass
class Desk:
    client: TestClient
    admin: dict[str, str]
    nurse: dict[str, str]
    staff: dict[str, str]
    patient_id: int
    protocol_id: int
    visit_min: int

    def book(self, at: datetime, chair_id: int | None = None, who: str = "staff") -> Any:
        body: dict[str, Any] = {
            "patient_id": self.patient_id,
            "protocol_id": self.protocol_id,
            "scheduled_at": at.isoformat(),
        }
        if chair_id is not None:
            body["chair_id"] = chair_id
        return self.client.post(f"{B}/bookings", json=body, headers=getattr(self, who))

    def chairs(self) -> list[dict[str, Any]]:
        return list(self.client.get(f"{B}/chairs", headers=self.staff).json())


@pytest.fixture
def desk(client: TestClient, make_person: Callable[..., Person]) -> Iterator[Desk]:
    """The clinic's front desk, with the clock frozen at ``NOW`` for the whole test."""
    with clock.frozen_at(NOW):
        nurse = token_for(client, make_person(Role.NURSE))
        created = client.post("/api/v1/patients", json=patient_body(), headers=nurse)
        assert created.status_code == 201, created.text
        protocols = client.get("/api/v1/protocols", headers=nurse).json()
        protocol = next(p for p in protocols if p["key"] == PROTOCOL)
        detail = client.get(f"/api/v1/protocols/{protocol['id']}", headers=nurse).json()
        definition = detail.get("definition", detail)
        visit = definition["default_duration_min"] + max(60, definition.get("observation_min", 60))
        yield Desk(
            client,
            token_for(client, make_person(Role.ADMIN)),
            nurse,
            token_for(client, make_person(Role.STAFF)),
            created.json()["id"],
            protocol["id"],
            visit,
        )


# The reminder tests' fixtures (a real SMTP server, an SMS webhook, a clinic with bookings).
from tests.scheduling.reminder_fixtures import book, sms_webhook, smtp_server  # noqa: E402, F401
