"""The dashboard's chair time and overdue list (looked up per window session and per patient
through indexes, migration 0026) against the plain computation over every row, on a seeded random
history that has what the definitions turn on: sessions in every state, aborted ones with and
without a start, check-ins without a discharge, repeated check-ins, courses open and ended,
patients never measured and measured after ``as_of``."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.courses.models import Course
from ketaclinic.dashboard import core, patient_queries, queries
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from tests.conftest import Person
from tests.dashboard.helpers import MOOD, PAIN, Builder

WINDOW = core.Window(datetime(2026, 3, 2).date(), datetime(2026, 3, 29).date(), 0)
START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 30, tzinfo=UTC)
AS_OF = datetime(2026, 3, 20, 12, tzinfo=UTC)
STATES = ("scheduled", "checked_in", "infusing", "observing", "discharged", "aborted",
          "cancelled", "no_show")  # fmt: skip
CHAIRS = ("Chair 1", "Chair 2", "Chair 3")


def _seed(build: Builder, factory: sessionmaker[Session], rng: random.Random) -> None:
    """Twenty patients, each with courses, questionnaires and sessions around the window."""
    for index in range(20):
        pid = build.patient(f"Synthetic-Window-{rng.randrange(5)}")  # shared names: ties
        for _ in range(rng.randrange(3)):
            started = START + timedelta(days=rng.randrange(-60, 40))
            ended = started + timedelta(days=rng.randrange(1, 50)) if rng.random() < 0.4 else None
            build.course(pid, rng.choice((PAIN, MOOD)), started, ended)
        for _ in range(0 if index % 5 == 0 else rng.randrange(1, 6)):
            at = AS_OF - timedelta(days=rng.uniform(-10, 40))
            build.measure(pid, rng.choice(("nrs", "phq9", "gad7")), rng.randrange(10),
                          rng.choice(("baseline", "pre", "post", "portal")), at)  # fmt: skip
        for _ in range(rng.randrange(1, 6)):
            _session(build, factory, pid, rng)


def _session(build: Builder, factory: sessionmaker[Session], pid: int, rng: random.Random) -> None:
    at = START + timedelta(days=rng.uniform(-5, 33), minutes=rng.randrange(600))
    state = rng.choice(STATES)
    minutes = rng.randrange(30, 240)
    sid = build.session(pid, PAIN, at, state=state, chair=rng.choice(CHAIRS),
                        minutes_in_chair=minutes)  # fmt: skip
    kinds: list[tuple[str, float]] = []
    if state in ("checked_in", "infusing", "observing"):
        kinds = [("check_in", 0)] + ([("start", 10)] if state != "checked_in" else [])
    if state == "aborted" and rng.random() < 0.5:  # aborted before the pump ran: no start
        with transaction(factory) as session:
            start = session.scalars(
                select(SessionEvent).where(
                    SessionEvent.session_id == sid, SessionEvent.kind == "start"
                )
            ).one()
            session.delete(start)
    if state == "discharged" and rng.random() < 0.3:
        kinds = [("check_in", rng.uniform(-20, 5))]  # a second check-in: the first one counts
    with transaction(factory) as session:
        for kind, offset in kinds:
            session.add(SessionEvent(session_id=sid, kind=kind, by_user_id=build.user_id,
                                     at=at + timedelta(minutes=offset), data={}))  # fmt: skip


@pytest.fixture
def seeded(factory: sessionmaker[Session], make_person: Callable[..., Person]) -> Builder:
    build = Builder(factory, make_person(Role.PHYSICIAN).user_id)
    _seed(build, factory, random.Random(15))
    return build


def _expected_chairs(
    session: Session, clinic_id: int
) -> dict[str, tuple[int, int, int, float, float]]:
    """Per chair name: (booked, infused, timed, used minutes, booked minutes), row by row."""
    rows = session.scalars(
        select(InfusionSession).where(
            InfusionSession.clinic_id == clinic_id,
            InfusionSession.scheduled_at >= START,
            InfusionSession.scheduled_at < END,
        )
    ).all()
    found: dict[str, list[float]] = {}
    for row in rows:
        kinds = {event.kind for event in row.events}
        infused = row.state in queries.STARTED_STATES or (
            row.state == "aborted" and "start" in kinds
        )
        arrived = [e.at for e in row.events if e.kind == "check_in"]
        left = [e.at for e in row.events if e.kind in ("discharge", "abort")]
        timed = infused and bool(arrived) and bool(left)
        tally = found.setdefault(row.chair.name, [0, 0, 0, 0.0, 0.0])
        tally[0] += 1
        tally[1] += infused
        tally[2] += timed
        tally[3] += (max(left) - min(arrived)).total_seconds() / 60 if timed else 0.0
        if row.state not in queries.NOT_HELD:
            tally[4] += (row.chair_held_until - row.scheduled_at).total_seconds() / 60
    return {name: (int(t[0]), int(t[1]), int(t[2]), t[3], t[4]) for name, t in found.items()}


def test_chair_time_is_the_plain_sum_over_the_windows_sessions(
    seeded: Builder, factory: sessionmaker[Session]
) -> None:
    window = core.Window(WINDOW.first_day, WINDOW.last_day, seeded.clinic_id)
    with factory() as session:
        lines = queries.chairs(session, window, UTC)
        expected = _expected_chairs(session, seeded.clinic_id)
    got = {
        line.chair: (line.booked, line.infused, line.timed, line.occupied_minutes,
                     line.booked_minutes)
        for line in lines
    }  # fmt: skip
    assert set(expected) == set(CHAIRS)  # every chair had bookings in the window
    assert sum(t[2] for t in expected.values()) > 0  # and some sessions were timed
    idle = {chair: counts for chair, counts in got.items() if chair not in expected}
    assert all(counts == (0, 0, 0, 0.0, 0.0) for counts in idle.values()), idle  # active, unused
    assert got.keys() == expected.keys() | idle.keys()
    for chair, (booked, infused, timed, used, held) in expected.items():
        assert got[chair][:3] == (booked, infused, timed), chair
        # SQLite's julianday() keeps milliseconds: a few sessions may differ by 1/60,000 minute.
        assert got[chair][3] == pytest.approx(used, abs=1e-3), chair
        assert got[chair][4] == pytest.approx(held, abs=1e-3), chair


def _expected_overdue(session: Session, clinic_id: int) -> list[tuple[int, datetime | None]]:
    """(patient, last NRS or PHQ-9 by ``AS_OF``) of patients in an open course, overdue first."""
    open_course = {
        course.patient_id
        for course in session.scalars(select(Course).where(Course.clinic_id == clinic_id))
        if course.started_at <= AS_OF and (course.ended_at is None or course.ended_at > AS_OF)
    }
    last: dict[int, datetime] = {}
    for m in session.scalars(select(Measurement)):
        if m.instrument in core.OVERDUE_INSTRUMENTS and m.measured_at <= AS_OF:
            last[m.patient_id] = max(last.get(m.patient_id, m.measured_at), m.measured_at)
    names = {p.id: p.family_name for p in session.scalars(select(Patient))}
    recent = {pid for pid in open_course if pid in last and last[pid] > AS_OF - core.OVERDUE_AFTER}
    assert recent, "some patients in a course answered recently: the list leaves them out"
    late = [(pid, last.get(pid)) for pid in open_course - recent]
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(late, key=lambda p: (p[1] is not None, p[1] or never, names[p[0]], p[0]))


def test_the_overdue_list_is_the_plain_computation_over_every_questionnaire(
    seeded: Builder, factory: sessionmaker[Session]
) -> None:
    with factory() as session:
        got = patient_queries.overdue(session, seeded.clinic_id, AS_OF)
        expected = _expected_overdue(session, seeded.clinic_id)
    assert any(at is None for _, at in expected)  # never measured
    assert any(at is not None for _, at in expected)  # measured, but too long ago
    assert [(p.patient_id, p.last_measured_at) for p in got] == expected
