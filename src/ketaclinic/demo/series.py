"""The demo's open stabilisation series, booked the way the front desk books one: the appointment
book proposes a free chair for each remaining session and the whole series is confirmed at once."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.courses.models import Course
from ketaclinic.scheduling import series_service

#: The time of day the demo's patients asked for (a morning chair, as most series patients do).
PREFERRED = time(9, 0)


def book_open_series(session: Session, *, actor: Actor, zone: ZoneInfo) -> int:
    """Book, from tomorrow, the rest of every open course still in its series with nothing
    booked; returns how many sessions were booked. A session the book found no place for is
    left unbooked for a person to place, as on the series page."""
    assert actor.clinic_id is not None
    tomorrow = clock.today(zone) + timedelta(days=1)
    open_courses = session.scalars(
        select(Course)
        .where(Course.clinic_id == actor.clinic_id, Course.ended_at.is_(None))
        .order_by(Course.id)
    )
    booked = 0
    for course in open_courses:
        plan = series_service.plan(
            session,
            actor=actor,
            course_id=course.id,
            preferred=PREFERRED,
            from_day=tomorrow,
            zone=zone,
        )
        slots = [p.slot for p in plan.proposal if p.slot is not None]
        if plan.remaining == 0 or plan.open_booked or not slots:
            continue
        series_service.confirm(session, actor=actor, course_id=course.id, slots=slots, zone=zone)
        booked += len(slots)
    return booked
