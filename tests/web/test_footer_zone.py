"""Every page's footer names the clinic's time zone, with its abbreviation and offset that day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.app import create_app
from ketaclinic.config import Settings


@pytest.mark.parametrize(
    ("zone", "at", "named"),
    [
        # Chicago is UTC-6 in winter (CST) and UTC-5 in summer (CDT)
        (
            "America/Chicago",
            datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
            "America/Chicago (CST, UTC-06:00)",
        ),
        (
            "America/Chicago",
            datetime(2026, 7, 1, 18, 0, tzinfo=UTC),
            "America/Chicago (CDT, UTC-05:00)",
        ),
        ("UTC", datetime(2026, 7, 1, 18, 0, tzinfo=UTC), "local time: UTC."),
    ],
)
def test_the_footer_names_the_clinics_time_zone(
    sqlite_settings: Settings, zone: str, at: datetime, named: str
) -> None:
    app = create_app(sqlite_settings.model_copy(update={"clinic_timezone": zone}))
    with clock.frozen_at(at), TestClient(app) as client:
        page = client.get("/login")
    app.state.engine.dispose()
    footer = page.text.split('<footer class="footer">')[1]
    assert named in " ".join(footer.split())
