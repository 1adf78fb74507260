"""The demo clinic's history, seeded by `ketaclinic demo`: every expectation is computed from
``demo.history_data``, the plan the seeding plays, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ketaclinic import clock
from ketaclinic.audit import sealing
from ketaclinic.cli import app
from ketaclinic.config import Settings
from ketaclinic.courses import service as courses
from ketaclinic.courses.models import Course
from ketaclinic.db import begin_read_only, engine_scope, make_session_factory
from ketaclinic.demo.history import history_patients
from ketaclinic.demo.history_data import (
    ABORT_REASON,
    DEPRESSION,
    FLOOR_POSITIONS,
    MIGRAINE,
    STORIES,
    Event,
    Story,
)
from ketaclinic.demo.series import PREFERRED
from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.indications import fit, indications_for_code
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes.boosters import booster_work_list
from ketaclinic.outcomes.models import Measurement, PatientGoal
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.protocols.suggestion import suggest
from ketaclinic.screening.models import Screening
from tests.conftest import cli_env, own_database, refuse_writes

runner = CliRunner()
ZONE = "Pacific/Auckland"  # far from UTC, with daylight saving: local days must still hold


def _env(settings: Settings) -> dict[str, str]:
    return {
        **cli_env(settings),
        "KETACLINIC_CLINIC_TIMEZONE": ZONE,
    }


@pytest.fixture
def demo(settings: Settings) -> Iterator[Session]:
    """A database of its own, seeded by one demo run, for the test that runs the demo again."""
    result = runner.invoke(app, ["demo"], env=_env(settings))
    assert result.exit_code == 0, result.output
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        yield session


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def seeded_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Engine]:
    """One demo run per engine, shared by the tests that only read its history (a run takes 3 s
    on SQLite and up to 20 s on PostgreSQL here); their connections cannot write."""
    directory = tmp_path_factory.mktemp("demo")
    with own_database(request.param, directory, sqlite_template) as settings:
        result = runner.invoke(app, ["demo"], env=_env(settings))
        assert result.exit_code == 0, result.output
        with engine_scope(settings) as engine:
            refuse_writes(engine)
            yield engine


@pytest.fixture
def seeded(seeded_engine: Engine) -> Iterator[Session]:
    """A session on the shared demo database; it only reads."""
    with make_session_factory(seeded_engine)() as session:
        begin_read_only(session)  # SQLite: a deferred BEGIN, which a read-only connection allows
        yield session


def _clinic_id(session: Session) -> int:
    clinic_id = session.scalar(select(Patient.clinic_id).limit(1))
    assert clinic_id is not None
    return clinic_id


def _stories(session: Session) -> list[tuple[Story, Patient]]:
    return list(zip(STORIES, history_patients(session, clinic_id=_clinic_id(session)), strict=True))


def _course(session: Session, patient: Patient) -> Course:
    rows = session.scalars(select(Course).where(Course.patient_id == patient.id)).all()
    assert len(rows) == 1, patient.id
    return rows[0]


def test_the_history_leaves_todays_floor_patients_alone() -> None:
    positions = [s.position for s in STORIES]
    assert 0 in positions  # the portal patient has a history to see
    assert len(set(positions)) == len(positions)
    assert not FLOOR_POSITIONS & set(positions)


# One demo run per engine shared by the tests below that read it: each checks one side of the
# history in full. The last test seeds a database of its own, since it runs the demo again.


def test_each_patient_is_screened_then_has_one_course_in_the_phase_its_sessions_make(
    seeded: Session,
) -> None:
    zone = ZoneInfo(ZONE)
    for story, patient in _stories(seeded):
        course = _course(seeded, patient)
        protocol = seeded.get(ProtocolVersion, course.protocol_version_id)
        assert protocol is not None and protocol.key == story.protocol
        primary = patient.primary_diagnosis
        assert primary is not None
        assert primary.code.startswith(("F32", "F33")) == (story.protocol == DEPRESSION)
        assert primary.code.startswith("G43") == (story.protocol == MIGRAINE)
        screenings = seeded.scalars(select(Screening).where(Screening.patient_id == patient.id))
        assert [_aware(s.signed_at) < _aware(course.started_at) for s in screenings] == [True]
        assert course.end_reason == (story.end[1] if story.end else None)
        out = courses.to_out(seeded, course, zone=zone)
        completed = sum(1 for v in story.visits if v.completed)
        series = PROTOCOLS[story.protocol].series_sessions
        if story.end:
            assert out.phase == "ended"
        else:
            assert out.phase == ("maintenance" if completed >= series else "stabilisation")
        assert out.series_completed == min(completed, series)
        assert out.aborted == sum(1 for v in story.visits if v.event is Event.ABORT)


def test_every_demo_patient_is_treated_with_a_protocol_that_fits_their_diagnosis(
    seeded: Session,
) -> None:
    current = protocols.list_current(seeded, clinic_id=_clinic_id(seeded))
    by_id = {row.id: row for row in current}
    treated = seeded.scalars(select(InfusionSession)).all()
    assert {s.patient_id for s in treated if s.course_id is None}  # today's floor too
    for row in treated:
        patient = seeded.get(Patient, row.patient_id)
        assert patient is not None and patient.primary_diagnosis is not None
        found = indications_for_code(patient.primary_diagnosis.code)
        named = by_id[row.protocol_version_id].definition["indications"]
        assert any(fit(named, i.id) is not None for i in found), (patient.id, named)
        # and it is the protocol the forms offer this patient first
        offered = suggest(seeded, patient, current)
        assert offered is not None and offered.protocol_id == row.protocol_version_id


def test_sessions_follow_the_plan_with_scores_before_and_after_and_the_abort_reason(
    seeded: Session,
) -> None:
    expected_states = {Event.ABORT: "aborted", Event.NO_SHOW: "no_show"}
    now = clock.now()
    for story, patient in _stories(seeded):
        course = _course(seeded, patient)
        rows = [r for r in courses.sessions_of(seeded, course) if r.scheduled_at < now]
        assert [r.state for r in rows] == [
            expected_states.get(v.event, "discharged") for v in story.visits
        ]
        for row, visit in zip(rows, story.visits, strict=True):
            tied = seeded.scalars(select(Measurement).where(Measurement.session_id == row.id)).all()
            assert all(m.patient_id == patient.id for m in tied)
            scores = {(m.context, m.instrument): int(m.scores["total"]) for m in tied}
            if visit.event is Event.NO_SHOW:
                assert scores == {}
                continue
            expected = {("pre", "nrs"): visit.pain[0], ("pre", "phq9"): visit.phq9[0]}
            if visit.completed:
                expected |= {("post", "nrs"): visit.pain[1], ("post", "phq9"): visit.phq9[1]}
            assert scores == expected
            reasons = [e.reason for e in row.events if e.kind == "abort"]
            assert reasons == ([ABORT_REASON] if visit.event is Event.ABORT else [])
    assert any(v.event is Event.ABORT for s in STORIES for v in s.visits)
    assert any(v.event is Event.NO_SHOW for s in STORIES for v in s.visits)


def test_the_rest_of_each_open_series_is_booked_through_the_book_from_tomorrow(
    seeded: Session,
) -> None:
    """The demo books a series as the front desk would (``demo.series``): each open course still
    in its series gets its remaining sessions from tomorrow at the preferred time, on chairs of
    the book, spaced as its protocol says, never more than the series needs."""
    zone = ZoneInfo(ZONE)
    tomorrow = clock.today(zone) + timedelta(days=1)
    ahead: dict[int, list[InfusionSession]] = {}
    for row in seeded.scalars(
        select(InfusionSession)
        .where(InfusionSession.state == "scheduled", InfusionSession.course_id.is_not(None))
        .order_by(InfusionSession.scheduled_at)
    ):
        if row.scheduled_at.astimezone(zone).date() >= tomorrow:
            ahead.setdefault(row.course_id or 0, []).append(row)
    assert ahead, "the demo booked no series"
    for course_id, rows in ahead.items():
        course = seeded.get(Course, course_id)
        assert course is not None and course.ended_at is None
        version = seeded.get(ProtocolVersion, course.protocol_version_id)
        assert version is not None
        rule = protocols.definition(version)
        done = [s for s in courses.sessions_of(seeded, course) if s.state == "discharged"]
        assert len(done) + len(rows) <= rule.series_sessions
        local = [r.scheduled_at.astimezone(zone) for r in rows]
        assert all(t.time() == PREFERRED for t in local)
        days = [t.date() for t in local]
        assert all(
            (later - earlier).days >= rule.series_spacing_days for earlier, later in pairwise(days)
        )
        assert all(r.chair_id is not None for r in rows)


def test_the_booster_rule_suggests_a_booster_exactly_for_the_patients_who_relapsed(
    seeded: Session,
) -> None:
    items = booster_work_list(
        seeded, clinic_id=_clinic_id(seeded), now=clock.now(), zone=ZoneInfo(ZONE)
    )
    relapsed = {p.id for s, p in _stories(seeded) if s.relapse}
    assert relapsed  # the plan has a relapse for the work list to show
    assert {item.patient.id for item in items} == relapsed


def test_baselines_diaries_and_goals_are_stored_as_planned_in_the_past(seeded: Session) -> None:
    now = clock.now()
    for story, patient in _stories(seeded):
        rows = seeded.scalars(select(Measurement).where(Measurement.patient_id == patient.id)).all()
        baseline = {m.instrument: int(m.scores["total"]) for m in rows if m.context == "baseline"}
        assert baseline == {"nrs": story.baseline[0], "phq9": story.baseline[1]}
        stored = sorted(
            (m.measured_at, m.instrument, int(m.scores["total"]))
            for m in rows
            if m.context == story.diary_context
        )
        planned = sorted(story.diaries, key=lambda d: (-d.day[0], d.day[1]))  # oldest first
        assert [(i, v) for _, i, v in stored] == [(d.instrument, d.score) for d in planned]
        assert all(_aware(m.measured_at) < now for m in rows)
        assert all(not m.flags for m in rows)  # no demo suicide-risk flag on the urgent list
        goals = seeded.scalars(
            select(PatientGoal).where(PatientGoal.patient_id == patient.id)
        ).all()
        assert [(g.text, g.target_pain_nrs) for g in goals] == ([story.goal] if story.goal else [])


def test_the_history_is_synthetic_before_today_audited_and_seeded_once(
    settings: Settings, demo: Session
) -> None:
    """Slow because it runs the demo twice on a database of its own (the second run must add
    nothing), each run thousands of audited writes."""
    zone = ZoneInfo(ZONE)
    start_of_today = datetime.combine(clock.today(zone), time(), tzinfo=zone)
    in_courses = InfusionSession.course_id.is_not(None)
    rows = demo.execute(
        select(InfusionSession.scheduled_at, InfusionSession.state).where(in_courses)
    ).all()
    played = [_aware(at) for at, state in rows if state != "scheduled"]
    assert len(played) == sum(len(s.visits) for s in STORIES)
    assert max(played) < start_of_today
    tomorrow = datetime.combine(clock.today(zone) + timedelta(days=1), time(), tzinfo=zone)
    ahead = [_aware(at) for at, state in rows if state == "scheduled"]
    assert ahead and min(ahead) >= tomorrow  # the open series, booked from tomorrow
    floor = select(func.count()).select_from(InfusionSession).where(~in_courses)
    assert demo.scalar(floor) == 6  # today's floor was still seeded after the history
    names = demo.scalars(select(Patient.family_name)).all()
    assert names and all(name.startswith("Synthetic-") for name in names)
    assert sealing.verify(demo).intact

    tables = (InfusionSession, Measurement, Course, Screening, PatientGoal)

    def counts() -> list[int]:
        return [demo.scalar(select(func.count()).select_from(t)) or 0 for t in tables]

    before = counts()
    assert all(before)
    demo.rollback()  # end the read transaction before the second run writes
    again = runner.invoke(app, ["demo"], env=_env(settings))
    assert again.exit_code == 0, again.output
    assert counts() == before


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive UTC times; PostgreSQL aware ones."""
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))
