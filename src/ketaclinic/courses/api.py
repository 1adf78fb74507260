"""Course JSON routes: start a course, list a patient's, read one, end one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.courses import service
from ketaclinic.courses.schemas import (
    CourseCreate,
    CourseEndIn,
    CourseOut,
    QuestionnaireScheduleIn,
)
from ketaclinic.errors import NotFound
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import MAX_ID, RecordId

router = APIRouter(prefix="/api/v1/courses", tags=["courses"], route_class=ExactJsonRoute)

# The clinicians who run sessions read courses; a physician starts and ends them.
Reader = Annotated[Actor, Depends(require(Permission.SESSION_RUN))]
Manager = Annotated[Actor, Depends(require(Permission.COURSE_MANAGE))]
PatientQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="Whose courses")]


@router.post("", response_model=CourseOut, status_code=201)
def start_course(
    data: CourseCreate, actor: Manager, session: SessionDep, settings: SettingsDep
) -> CourseOut:
    """Start a course; a second open course of the same protocol for the patient answers 409."""
    with session.begin():
        row = service.create(session, actor=actor, data=data)
        return service.to_out(session, row, zone=settings.timezone)


@router.get("", response_model=list[CourseOut])
def list_courses(
    patient_id: PatientQuery, actor: Reader, session: SessionDep, settings: SettingsDep
) -> list[CourseOut]:
    with session.begin():
        patient = service.require_patient(
            session, actor=actor, patient_id=patient_id, loc=("query", "patient_id")
        )
        rows = service.list_for_patient(session, actor=actor, patient=patient)
        return [service.to_out(session, row, zone=settings.timezone) for row in rows]


@router.get("/{course_id}", response_model=CourseOut)
def read_course(
    course_id: RecordId, actor: Reader, session: SessionDep, settings: SettingsDep
) -> CourseOut:
    """Phase, series progress, the next-session suggestion and every session (with the reason of
    an aborted or cancelled one)."""
    with session.begin():
        row = service.get(session, actor=actor, course_id=course_id)
        if row is None:
            raise NotFound(f"no course {course_id} in your clinic", loc=("path", "course_id"))
        return service.to_out(session, row, zone=settings.timezone)


@router.post("/{course_id}/end", response_model=CourseOut)
def end_course(
    course_id: RecordId,
    data: CourseEndIn,
    actor: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> CourseOut:
    with session.begin():
        row = service.get(session, actor=actor, course_id=course_id)
        if row is None:
            raise NotFound(f"no course {course_id} in your clinic", loc=("path", "course_id"))
        service.end(session, actor=actor, row=row, reason=data.reason, version=data.version)
        return service.to_out(session, row, zone=settings.timezone)


@router.post("/{course_id}/questionnaires", response_model=CourseOut)
def set_questionnaire_schedule(
    course_id: RecordId,
    data: QuestionnaireScheduleIn,
    actor: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> CourseOut:
    """Which portal questionnaires the patient is asked during the course, and how often."""
    with session.begin():
        row = service.get(session, actor=actor, course_id=course_id)
        if row is None:
            raise NotFound(f"no course {course_id} in your clinic", loc=("path", "course_id"))
        service.set_questionnaire_schedule(
            session, actor=actor, row=row, every_days=data.every_days, version=data.version
        )
        return service.to_out(session, row, zone=settings.timezone)
