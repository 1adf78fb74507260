"""The demo clinic's history: screenings, courses, sessions and scores over the past ten weeks,
so the outcome charts, the physician's work list, the dashboard and the reports have data.

Played through the clinic's own use-cases, like ``demo.floor``: every step is validated and
audited, and past times are reached with ``clock.frozen_at``. Who and what comes from
``demo.history_data``; a seeded ``random.Random`` only varies what no chart depends on (vitals,
minutes, which PHQ-9 items make up a total). Seeded once, when the demo clinic is created.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import User
from ketaclinic.courses import service as courses
from ketaclinic.courses.models import Course
from ketaclinic.courses.schemas import CourseCreate
from ketaclinic.demo.floor import FLOOR_STAFF, Team
from ketaclinic.demo.history_data import ABORT_REASON, STORIES, Diary, Event, Story, Visit
from ketaclinic.indications import indications_for_code
from ketaclinic.infusions import service as sessions
from ketaclinic.infusions.discharge import observation_minutes
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.schemas import (
    AdjunctIn,
    AldreteIn,
    CheckInIn,
    DischargeIn,
    MoodIn,
    OrderIn,
    ScheduleIn,
    SideEffectIn,
    SideEffectsIn,
    VitalsIn,
)
from ketaclinic.outcomes import service as outcomes
from ketaclinic.outcomes import trajectory
from ketaclinic.outcomes.schemas import Context, MeasurementIn
from ketaclinic.patients.models import Patient
from ketaclinic.portal import service as portal
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.screening import service as screening
from ketaclinic.screening.core import BpThreshold
from ketaclinic.screening.schemas import BaselineQuestionnaire, ScreeningIn

SEED = 11
PORTAL_USER = "demo.patient"
#: the check-in threshold demo.floor uses, so the two halves of the demo agree.
CHECK_IN_THRESHOLD = BpThreshold(140, 90)
CALM = {
    "systolic_mmhg": 124,
    "diastolic_mmhg": 78,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
}
HIGH_BP = {**CALM, "systolic_mmhg": 184, "diastolic_mmhg": 98, "heart_rate_per_min": 96}
ALL_WELL = AldreteIn(activity=2, respiration=2, circulation=2, consciousness=2, spo2=2)
FAILED = {
    "depression": ["sertraline", "venlafaxine", "cognitive behavioural therapy"],
    "pain": ["pregabalin", "duloxetine", "physiotherapy"],
}


@dataclass
class Plot:
    """What one story needs while it is played: the patient, the staff, the calendar."""

    session: Session
    team: Team
    patient: Patient
    protocol: ProtocolVersion
    monday: date  # this week's Monday, clinic time
    zone: ZoneInfo
    rng: random.Random

    def at(self, day: tuple[int, int], hour: int, minute: int = 0) -> datetime:
        weeks, weekday = day
        local = self.monday - timedelta(weeks=weeks) + timedelta(days=weekday)
        instant = datetime.combine(local, time(hour, minute), tzinfo=self.zone)
        assert instant < clock.now(), "the history must stay in the past"
        return instant


def seed_history(session: Session, *, clinic_id: int, zone: ZoneInfo) -> int:
    """Play every story of ``demo.history_data``; returns how many sessions were booked."""
    team = _team(session, clinic_id)
    patients = _by_id(session, clinic_id)
    if team is None or len(patients) <= max(s.position for s in STORIES):
        return 0
    by_key = {p.key: p for p in protocols.list_current(session, clinic_id=clinic_id)}
    today = clock.today(zone)
    rng = random.Random(SEED)  # noqa: S311  (synthetic data, not security)
    booked = 0
    for story in STORIES:
        plot = Plot(
            session=session,
            team=team,
            patient=patients[story.position],
            protocol=by_key[story.protocol],
            monday=today - timedelta(days=today.weekday()),
            zone=zone,
            rng=rng,
        )
        booked += _play(plot, story, _portal_actor(session, clinic_id, plot.patient))
    return booked


def front_desk(session: Session, clinic_id: int) -> Actor | None:
    """The demo nurse as the one who books (the floor's team), or None on a clinic without it."""
    team = _team(session, clinic_id)
    return None if team is None else team.nurse


def _team(session: Session, clinic_id: int) -> Team | None:
    users = {
        u.username: u
        for u in session.scalars(
            select(User).where(User.clinic_id == clinic_id, User.username.in_(FLOOR_STAFF))
        )
    }
    if set(users) != set(FLOOR_STAFF):
        return None
    actors = [
        Actor(u.id, u.username, Role(u.role), clinic_id, client_address="demo")
        for u in (users[name] for name in FLOOR_STAFF)
    ]
    return Team(*actors)


def _portal_actor(session: Session, clinic_id: int, patient: Patient) -> Actor | None:
    """The patient's own portal account, when they have one (only the portal patient does)."""
    user = session.scalar(
        select(User).where(User.username == PORTAL_USER, User.patient_id == patient.id)
    )
    if user is None:
        return None
    return Actor(user.id, user.username, Role.PATIENT, clinic_id, "demo", patient_id=patient.id)


def _play(plot: Plot, story: Story, portal_actor: Actor | None) -> int:
    screened_at = plot.at(story.screened, 10, plot.rng.randint(0, 40))
    with clock.frozen_at(screened_at):
        _screen(plot, story)
    with clock.frozen_at(screened_at + timedelta(minutes=20)):
        course = courses.create(
            plot.session,
            actor=plot.team.physician,
            data=CourseCreate(patient_id=plot.patient.id, protocol_id=plot.protocol.id),
        )
        if story.goal is not None:
            text, target = story.goal
            trajectory.set_goal(
                plot.session,
                actor=plot.team.physician,
                patient=plot.patient,
                text=text,
                target_pain_nrs=target,
            )
    booked_at = screened_at + timedelta(minutes=30)
    for visit in story.visits:
        booked_at = _visit(plot, story, course, visit, booked_at)
    for diary in story.diaries:
        _diary(plot, story, diary, portal_actor)
    if story.end is not None:
        day, reason = story.end
        with clock.frozen_at(plot.at(day, 11)):
            courses.end(plot.session, actor=plot.team.physician, row=course, reason=reason)
    return len(story.visits)


def _screen(plot: Plot, story: Story) -> None:
    """The physician's signed screening, with the baseline pain and PHQ-9 it stores."""
    pain, phq9 = story.baseline
    primary = plot.patient.primary_diagnosis
    assert primary is not None
    found = indications_for_code(primary.code)
    kind = "depression" if story.protocol.startswith("depression") else "pain"
    screening.sign(
        plot.session,
        actor=plot.team.physician,
        patient=plot.patient,
        data=ScreeningIn(
            indication_id=found[0].id if found else None,
            treatments_failed=FAILED[kind],
            **_vitals(plot.rng),
            baseline_questionnaires=[
                BaselineQuestionnaire(instrument="nrs", answers=[pain]),
                BaselineQuestionnaire(instrument="phq9", answers=_phq9(plot.rng, phq9)),
            ],
        ),
        threshold=CHECK_IN_THRESHOLD,
    )


def _visit(plot: Plot, story: Story, course: Course, visit: Visit, booked_at: datetime) -> datetime:
    """One booked visit played to its end; returns when the next one was booked."""
    depression = story.protocol.startswith("depression")
    slot = plot.at(visit.day, 13 if depression else 8, 30 if depression else 0)
    with clock.frozen_at(booked_at):
        row = sessions.schedule(
            plot.session,
            zone=plot.zone,
            actor=plot.team.nurse,
            data=ScheduleIn(
                patient_id=plot.patient.id,
                protocol_id=plot.protocol.id,
                scheduled_at=slot,
                course_id=course.id,
            ),
        )
    if visit.event is Event.NO_SHOW:
        with clock.frozen_at(slot + timedelta(minutes=45)):
            sessions.mark_no_show(plot.session, actor=plot.team.nurse, row=row)
        return slot + timedelta(minutes=45)
    return _treat(plot, row, visit, slot + timedelta(minutes=plot.rng.randint(-5, 10)))


def _treat(plot: Plot, row: InfusionSession, visit: Visit, arrived: datetime) -> datetime:
    team, db = plot.team, plot.session
    with clock.frozen_at(arrived):
        sessions.check_in(
            db,
            actor=team.nurse,
            row=row,
            data=CheckInIn(
                **_vitals(plot.rng),
                pain_nrs=visit.pain[0],
                mood=MoodIn(answers=_phq9(plot.rng, visit.phq9[0])),
                pregnancy_status=None if plot.patient.sex == "male" else "not_pregnant",
                contraindications_changed=False,
                escort_name="Escort (demo)",
            ),
            threshold=CHECK_IN_THRESHOLD,
        )
    with clock.frozen_at(arrived + timedelta(minutes=10)):
        sessions.sign_order(db, actor=team.physician, row=row, data=OrderIn())
    with clock.frozen_at(arrived + timedelta(minutes=15)):
        sessions.verify(
            db, actor=team.second_nurse, row=row, reading=sessions.reading_as_ordered(row)
        )
    started = arrived + timedelta(minutes=20)
    with clock.frozen_at(started):
        sessions.start(db, actor=team.nurse, row=row)
    definition = protocols.definition(plot.protocol)
    infusing = timedelta(minutes=definition.default_duration_min)
    if visit.event is Event.ABORT:
        _abort(plot, row, started)
        return started + timedelta(minutes=30)
    with clock.frozen_at(started + timedelta(minutes=15)):
        sessions.record_vitals(db, actor=team.nurse, row=row, data=VitalsIn(**_vitals(plot.rng)))
    extra = _incident(plot, row, visit.event, started + timedelta(minutes=20))
    stopped = started + infusing + extra
    with clock.frozen_at(stopped):
        sessions.stop(db, actor=team.nurse, row=row)
    with clock.frozen_at(stopped + timedelta(minutes=30)):
        sessions.record_vitals(db, actor=team.nurse, row=row, data=VitalsIn(**_vitals(plot.rng)))
    wait = observation_minutes(definition.observation_min) + plot.rng.randint(5, 20)
    left = stopped + timedelta(minutes=wait)
    with clock.frozen_at(left):
        sessions.discharge(
            db,
            actor=team.nurse,
            row=row,
            data=DischargeIn(
                aldrete=ALL_WELL,
                pain_nrs=visit.pain[1],
                mood=MoodIn(answers=_phq9(plot.rng, visit.phq9[1])),
                escort_confirmed=True,
                no_driving_advice_given=True,
            ),
        )
    return left


def _incident(plot: Plot, row: InfusionSession, event: Event, at: datetime) -> timedelta:
    """Chart the visit's incident from ``at``; returns how long the pump was paused."""
    team, db = plot.team, plot.session
    if event is Event.DISSOCIATION:
        with clock.frozen_at(at):
            effects = [SideEffectIn(effect="dissociation", grade="mild")]
            sessions.record_side_effects(
                db, actor=team.nurse, row=row, data=SideEffectsIn(assessments=effects)
            )
    elif event is Event.NAUSEA:
        with clock.frozen_at(at):
            effects = [SideEffectIn(effect="nausea_vomiting", grade="moderate")]
            sessions.record_side_effects(
                db, actor=team.nurse, row=row, data=SideEffectsIn(assessments=effects)
            )
        with clock.frozen_at(at + timedelta(minutes=5)):
            ondansetron = AdjunctIn(
                drug="ondansetron", dose=Decimal(4), route="IV", reason="nausea during infusion"
            )
            sessions.record_adjunct(db, actor=team.nurse, row=row, data=ondansetron)
            assert row.order_pump_rate_ml_per_h is not None
            lower = (row.order_pump_rate_ml_per_h * Decimal("0.8")).quantize(
                Decimal("0.1"), rounding=ROUND_FLOOR
            )  # in the pump's 0.1 mL/h steps
            sessions.change_rate(
                db, actor=team.nurse, row=row, rate_ml_per_h=lower, reason="nausea"
            )
    elif event is Event.ALERT:
        _high_pressure(plot, row, at, resume=True)
        return timedelta(minutes=15)
    return timedelta()


def _high_pressure(plot: Plot, row: InfusionSession, at: datetime, *, resume: bool) -> None:
    """A reading above 180/100 raises the alert; the nurse pauses, acknowledges and rechecks."""
    team, db = plot.team, plot.session
    with clock.frozen_at(at):
        sessions.record_vitals(db, actor=team.nurse, row=row, data=VitalsIn(**HIGH_BP))
        sessions.pause(db, actor=team.nurse, row=row, reason="blood pressure above 180/100")
        for alert in list(row.alerts):
            sessions.acknowledge_alert(db, actor=team.nurse, row=row, alert_id=alert.id)
    with clock.frozen_at(at + timedelta(minutes=15)):
        recheck = CALM if resume else {**HIGH_BP, "systolic_mmhg": 182}
        sessions.record_vitals(db, actor=team.nurse, row=row, data=VitalsIn(**recheck))
        if resume:
            sessions.resume(db, actor=team.nurse, row=row, reason="blood pressure back down")


def _abort(plot: Plot, row: InfusionSession, started: datetime) -> None:
    _high_pressure(plot, row, started + timedelta(minutes=10), resume=False)
    with clock.frozen_at(started + timedelta(minutes=27)):
        sessions.abort(plot.session, actor=plot.team.physician, row=row, reason=ABORT_REASON)


def _diary(plot: Plot, story: Story, diary: Diary, portal_actor: Actor | None) -> None:
    """A score between visits: in the portal by the patient (or, for a patient without a portal
    account, entered for them), or taken by the nurse on a follow-up call."""
    answers = [diary.score] if diary.instrument == "nrs" else _phq9(plot.rng, diary.score)
    with clock.frozen_at(plot.at(diary.day, 19 if story.diary_context == "portal" else 11)):
        if story.diary_context == "portal" and portal_actor is not None:
            portal.complete(
                plot.session,
                actor=portal_actor,
                patient=plot.patient,
                instrument=diary.instrument,
                answers=answers,
            )
            return
        actor = plot.team.nurse if story.diary_context == "follow_up" else _seed_actor(plot)
        outcomes.record(
            plot.session,
            actor=actor,
            patient=plot.patient,
            data=MeasurementIn(
                instrument=diary.instrument, answers=answers, context=Context(story.diary_context)
            ),
        )


def _seed_actor(plot: Plot) -> Actor:
    return Actor(None, "demo-seed", None, plot.team.nurse.clinic_id, client_address="demo")


def _vitals(rng: random.Random) -> dict[str, int]:
    """Calm vitals that differ a little from visit to visit, all below the check-in limits."""
    return {
        "systolic_mmhg": rng.randint(112, 136),
        "diastolic_mmhg": rng.randint(68, 86),
        "heart_rate_per_min": rng.randint(62, 88),
        "spo2_percent": rng.randint(96, 99),
        "resp_rate_per_min": rng.randint(12, 16),
    }


def _phq9(rng: random.Random, total: int) -> list[int]:
    """PHQ-9 answers adding up to ``total``, item 9 (self-harm) always 0: a demo must not put
    a suicide-risk flag on the physician's urgent list."""
    if not 0 <= total <= 24:
        raise ValueError(f"a demo PHQ-9 total must be 0–24 with item 9 at 0, got {total}")
    answers = [0] * 9
    for _ in range(total):
        item = rng.choice([i for i in range(8) if answers[i] < 3])
        answers[item] += 1
    return answers


def history_patients(session: Session, *, clinic_id: int) -> Sequence[Patient]:
    """The patients the history is about, in ``STORIES`` order (for tests and scripts)."""
    rows = _by_id(session, clinic_id)
    return [rows[s.position] for s in STORIES]


def _by_id(session: Session, clinic_id: int) -> list[Patient]:
    """The clinic's patients in creation order: a story's ``position`` indexes this list."""
    query = select(Patient).where(Patient.clinic_id == clinic_id).order_by(Patient.id)
    return list(session.scalars(query))
