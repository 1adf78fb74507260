"""The day and week views in a clinic whose clocks change (Europe/Berlin), on both databases:
opening hours follow the wall clock and every booking sits at its real instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.config import Settings
from tests.conftest import patient_body, token_for

FRIDAY = datetime(2026, 3, 27, 7, 0, tzinfo=UTC)
EVERY_DAY = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(7)]
PROTOCOL = "migraine-lauritsen-2016"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"clinic_timezone": "Europe/Berlin"})


@pytest.fixture
def berlin(client: TestClient, make_person) -> Iterator[dict[str, object]]:  # type: ignore[no-untyped-def]
    with clock.frozen_at(FRIDAY):
        admin = token_for(client, make_person(Role.ADMIN))
        nurse: dict[str, str] = token_for(client, make_person(Role.NURSE))
        response = client.put(
            "/api/v1/scheduling/hours", json={"intervals": EVERY_DAY}, headers=admin
        )
        assert response.status_code == 200, response.text
        patient = client.post("/api/v1/patients", json=patient_body(), headers=nurse).json()
        protocols = client.get("/api/v1/protocols", headers=nurse).json()
        yield {
            "nurse": nurse,
            "patient": patient["id"],
            "protocol": next(p["id"] for p in protocols if p["key"] == PROTOCOL),
        }


def test_on_the_spring_forward_sunday_the_hours_and_the_booking_are_at_their_real_instants(
    client: TestClient, berlin: dict[str, object]
) -> None:
    nurse = berlin["nurse"]
    assert isinstance(nurse, dict)
    at = "2026-03-29T10:00:00+02:00"  # summer time began at 02:00 that night
    booked = client.post(
        "/api/v1/scheduling/bookings",
        json={"patient_id": berlin["patient"], "protocol_id": berlin["protocol"],
              "scheduled_at": at},
        headers=nurse,
    )  # fmt: skip
    assert booked.status_code == 201, booked.text
    day = client.get("/api/v1/scheduling/day", params={"date": "2026-03-29"}, headers=nurse).json()
    assert day["timezone"] == "Europe/Berlin"
    assert [[datetime.fromisoformat(a), datetime.fromisoformat(b)] for a, b in day["opening"]] == [
        [datetime(2026, 3, 29, 6, 0, tzinfo=UTC), datetime(2026, 3, 29, 16, 0, tzinfo=UTC)]
    ]
    blocks = [b for c in day["chairs"] for b in c["bookings"]]
    assert [datetime.fromisoformat(b["start"]) for b in blocks] == [
        datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    ]
    week = client.get(
        "/api/v1/scheduling/week", params={"start": "2026-03-26"}, headers=nurse
    ).json()
    assert [d["date"] for d in week] == [f"2026-03-{n}" for n in range(23, 30)]
    assert {d["open_minutes"] for d in week} == {600}, "ten open hours every day, DST or not"
    assert [b["session_id"] for c in week[-1]["chairs"] for b in c["bookings"]] == [
        booked.json()["id"]
    ]
    assert all(b["patient"] is None for d in week for c in d["chairs"] for b in c["bookings"])


def test_on_the_fall_back_sunday_the_clinic_opens_an_hour_later_in_utc(
    client: TestClient, berlin: dict[str, object]
) -> None:
    nurse = berlin["nurse"]
    assert isinstance(nurse, dict)
    day = client.get("/api/v1/scheduling/day", params={"date": "2026-10-25"}, headers=nurse).json()
    assert [[datetime.fromisoformat(a), datetime.fromisoformat(b)] for a, b in day["opening"]] == [
        [datetime(2026, 10, 25, 7, 0, tzinfo=UTC), datetime(2026, 10, 25, 17, 0, tzinfo=UTC)]
    ]
