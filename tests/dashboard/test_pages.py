"""The dashboard page and its CSV on both engines: counts from stored history, filters, refusals,
and the audit of every patient named."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.dashboard import core
from ketaclinic.labels import label
from ketaclinic.outcomes.core import depression_status, pain_response
from tests.conftest import Person, log_in
from tests.dashboard.helpers import MOOD, PAIN, Builder

FIRST, LAST = "2026-03-02", "2026-03-15"  # a Monday, two weeks
WINDOW = f"from={FIRST}&to={LAST}"
D = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # the window's first morning
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with clock.frozen_at(NOW):
        yield


class History:
    """Three patients: a pain responder, a depression non-responder who stopped after one
    session, and one in a course who never answered a questionnaire."""

    def __init__(self, build: Builder) -> None:
        self.pain_baseline, self.pain_latest = 8, 4
        self.mood_baseline, self.mood_latest = 20, 18
        self.a = build.patient("Synthetic-Responder")
        build.screening(self.a, "fibromyalgia", D - timedelta(days=10))
        course_a = build.course(self.a, PAIN, D - timedelta(days=1))
        build.measure(self.a, "nrs", self.pain_baseline, "baseline", D - timedelta(days=10))
        build.measure(self.a, "nrs", self.pain_latest, "pre", D + timedelta(days=7))
        build.measure(self.a, "nrs", 0, "post", D + timedelta(days=7, hours=2))  # acute, ignored
        severe = [{"effect": "nausea_vomiting", "grade": "severe"}]
        self.minutes = (120, 90)
        build.session(self.a, PAIN, D, course_id=course_a, alert=True, minutes_in_chair=120)
        build.session(self.a, PAIN, D + timedelta(days=3), course_id=course_a, chair="Chair 2",
                      side_effects=severe, minutes_in_chair=90)  # fmt: skip
        build.session(self.a, PAIN, D + timedelta(days=7), course_id=course_a, state="cancelled")
        build.session(self.a, PAIN, D - timedelta(days=10), course_id=course_a)  # before
        self.b = build.patient("Synthetic-Stopped")
        build.screening(self.b, None, D - timedelta(days=5), matched=("depression",))
        course_b = build.course(self.b, MOOD, D, ended_at=D + timedelta(days=2))
        build.measure(self.b, "phq9", self.mood_baseline, "baseline", D - timedelta(days=5))
        build.measure(self.b, "phq9", self.mood_latest, "pre", D + timedelta(days=1))
        build.session(self.b, MOOD, D + timedelta(days=1), course_id=course_b)
        self.c = build.patient("Synthetic-Overdue")
        build.course(self.c, PAIN, D - timedelta(days=1))


@pytest.fixture
def people(make_person: Callable[..., Person]) -> dict[str, Person]:
    return {role.value: make_person(role) for role in Role if role is not Role.PATIENT}


@pytest.fixture
def history(factory: sessionmaker[Session], people: dict[str, Person]) -> History:
    return History(Builder(factory, people["physician"].user_id))


def _browser(client: TestClient, person: Person) -> TestClient:
    browser = TestClient(client.app)
    log_in(browser, person)
    return browser


def _csv(browser: TestClient, query: str = WINDOW) -> dict[tuple[str, str, str], str]:
    response = browser.get(f"/dashboard.csv?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["table", "key", "metric", "value"]
    return {(t, k, m): v for t, k, m, v in rows[1:]}


def test_the_export_counts_what_happened_in_the_window(
    client: TestClient, people: dict[str, Person], history: History
) -> None:
    got = _csv(_browser(client, people["nurse"]))
    first_week, second_week = FIRST, "2026-03-09"
    assert got[("sessions_per_week", first_week, "booked")] == str(2 + 1)
    assert got[("sessions_per_week", first_week, "infused")] == str(2 + 1)
    assert got[("sessions_per_week", second_week, "booked")] == "1"
    assert got[("sessions_per_week", second_week, "cancelled_or_no_show")] == "1"
    assert got[("safety", PAIN, "infused")] == "2"
    assert got[("safety", PAIN, "with_alert")] == "1"
    assert got[("safety", PAIN, "with_adverse_event")] == "1"
    assert got[("safety", "all", "infused")] == str(2 + 1)
    assert got[("safety", "all", "alert_percent")] == core.percent(1, 3)
    pain = pain_response(Fraction(history.pain_baseline), Fraction(history.pain_latest))
    assert got[("responders", f"{label('fibromyalgia')} | {PAIN}", "pain_responders")] == str(
        int(pain in core.PAIN_RESPONDER)
    )
    mood = depression_status(Fraction(history.mood_baseline), Fraction(history.mood_latest))
    assert got[("responders", f"{label('depression')} | {MOOD}", "depression_evaluable")] == "1"
    assert got[("responders", f"{label('depression')} | {MOOD}", "depression_responders")] == str(
        int(mood.response)
    )
    assert got[("chairs", "Chair 1", "mean_minutes")] == str(history.minutes[0])
    assert got[("chairs", "Chair 2", "occupied_hours")] == f"{history.minutes[1] / 60:.1f}"
    assert got[("abandoned_courses", MOOD, "abandoned")] == "1"
    assert got[("abandoned_courses", "all", "courses")] == "1"  # course A began before
    assert got[("overdue_questionnaires", "", "patients")] == "1"


def test_moving_the_window_counts_other_sessions(
    client: TestClient, people: dict[str, Person], history: History
) -> None:
    before = (D - timedelta(days=10)).date().isoformat()
    got = _csv(_browser(client, people["physician"]), f"from={before}&to={before}")
    assert got[("sessions_per_week", before, "booked")] == "1"
    assert got[("safety", "all", "infused")] == "1"
    assert ("safety", MOOD, "infused") not in got


def test_an_empty_window_renders_with_zero_sessions(
    client: TestClient, people: dict[str, Person]
) -> None:
    browser = _browser(client, people["physician"])
    response = browser.get(f"/dashboard?{WINDOW}")
    assert response.status_code == 200
    assert "No infusions in this window." in response.text
    got = _csv(browser)
    assert got[("sessions_per_week", FIRST, "booked")] == "0"


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2026-02-30", "from"), ("to=15.03.2026", "to"), (f"from={LAST}&to={FIRST}", "from")],
)
@pytest.mark.parametrize("path", ["/dashboard", "/dashboard.csv"])
def test_a_bad_date_answers_422_naming_the_field(
    client: TestClient, people: dict[str, Person], path: str, query: str, field: str
) -> None:
    response = _browser(client, people["nurse"]).get(f"{path}?{query}")
    assert response.status_code == 422
    assert f"{field}:" in response.text


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard.csv"])
def test_front_desk_staff_may_not_see_the_dashboard(
    client: TestClient, people: dict[str, Person], path: str
) -> None:
    assert _browser(client, people["staff"]).get(path).status_code == 403


def test_another_clinic_cannot_be_asked_for(
    client: TestClient, people: dict[str, Person], make_person: Callable[..., Person]
) -> None:
    other = make_person(Role.PHYSICIAN, clinic="SOUTH")
    browser = _browser(client, people["physician"])
    south = _csv(_browser(client, other))[("window", "", "clinic_id")]
    assert browser.get(f"/dashboard?clinic={south}").status_code == 403
    own = _csv(browser)[("window", "", "clinic_id")]
    assert browser.get(f"/dashboard?clinic={own}&{WINDOW}").status_code == 200


def _audited(factory: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_clinicians_see_overdue_patients_by_name_and_each_read_is_audited(
    client: TestClient,
    people: dict[str, Person],
    history: History,
    factory: sessionmaker[Session],
) -> None:
    page = _browser(client, people["physician"]).get(f"/dashboard?{WINDOW}").text
    assert "Synthetic-Overdue" in page
    assert "Synthetic-Responder" not in page.split('id="overdue"')[1]
    events = _audited(factory, "dashboard.read")
    assert [e.patient_id for e in events] == [history.c]
    assert events[0].username == people["physician"].username


def test_admins_see_counts_without_names_and_no_record_is_read(
    client: TestClient,
    people: dict[str, Person],
    history: History,
    factory: sessionmaker[Session],
) -> None:
    page = _browser(client, people["admin"]).get(f"/dashboard?{WINDOW}").text
    assert 'id="overdue-count">1<' in page
    assert "Synthetic-Overdue" not in page
    assert _audited(factory, "dashboard.read") == []


def test_the_page_has_its_tables_and_charts(
    client: TestClient, people: dict[str, Person], history: History
) -> None:
    page = _browser(client, people["nurse"]).get(f"/dashboard?{WINDOW}").text
    for part in ("chart-weeks", "chart-responders", "/static/vendor/plotly.min.js", "Chair 2"):
        assert part in page
    assert "Fibromyalgia" in page


def test_the_export_is_audited_once_without_patient_identity(
    client: TestClient,
    people: dict[str, Person],
    history: History,
    factory: sessionmaker[Session],
) -> None:
    _csv(_browser(client, people["physician"]))
    events = _audited(factory, "dashboard.export")
    assert len(events) == 1
    assert events[0].patient_id is None
    assert _audited(factory, "dashboard.read") == []
