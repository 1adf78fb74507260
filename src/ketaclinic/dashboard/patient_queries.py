"""The dashboard's per-patient SQL: each patient's indication, latest scores and whether their
questionnaires are overdue. One row per patient (window functions pick the latest), never the
whole history.

Reads only: the caller decides what to audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, case, func, or_, select
from sqlalchemy.orm import Session

from ketaclinic.courses.models import Course
from ketaclinic.dashboard import core
from ketaclinic.dashboard.report import OverduePatient
from ketaclinic.dashboard.sql import materialized
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from ketaclinic.screening.models import Screening


def _latest_first(*partition: Any, at: Any, tiebreak: Any) -> Any:
    return func.row_number().over(partition_by=partition, order_by=(at.desc(), tiebreak.desc()))


def indications(session: Session, clinic_id: int, end: datetime) -> dict[int, str]:
    """Each patient's indication on their latest screening signed before ``end``."""
    ranked = (
        select(
            Screening.patient_id,
            Screening.indication_id,
            Screening.matched_indications[(0, "indication_id")].as_string().label("first"),
            _latest_first(
                Screening.patient_id, at=Screening.signed_at, tiebreak=Screening.id
            ).label("rank"),
        )
        .join(Patient, Patient.id == Screening.patient_id)
        .where(Patient.clinic_id == clinic_id, Screening.signed_at < end)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.patient_id, ranked.c.indication_id, ranked.c.first).where(
            ranked.c.rank == 1
        )
    )
    return {pid: core.indication_of(chosen, first) for pid, chosen, first in rows}


def _latest_scores(
    session: Session, clinic_id: int, contexts: Sequence[str], since: datetime | None, end: datetime
) -> dict[tuple[int, str], core.Score]:
    """The latest pain NRS and PHQ-9 of each patient among ``contexts``, in [since, end)."""
    when = [Measurement.measured_at < end]
    if since is not None:
        when.append(Measurement.measured_at >= since)
    ranked = (
        select(
            Measurement.patient_id,
            Measurement.instrument,
            Measurement.scores["total"].as_string().label("total"),
            Measurement.measured_at,
            _latest_first(
                Measurement.patient_id,
                Measurement.instrument,
                at=Measurement.measured_at,
                tiebreak=Measurement.id,
            ).label("rank"),
        )
        .join(Patient, Patient.id == Measurement.patient_id)
        .where(
            Patient.clinic_id == clinic_id,
            Measurement.instrument.in_(core.OVERDUE_INSTRUMENTS),
            Measurement.context.in_(contexts),
            *when,
        )
        .subquery()
    )
    rows = session.execute(
        select(
            ranked.c.patient_id, ranked.c.instrument, ranked.c.total, ranked.c.measured_at
        ).where(ranked.c.rank == 1)
    )
    return {
        (pid, instrument): core.Score(value=_fraction(total), measured_at=at)
        for pid, instrument, total, at in rows
    }


@lru_cache(maxsize=1024)
def _fraction(text: str) -> Fraction:
    """Scores repeat (an NRS has 11 values), and parsing a Fraction from text is slow."""
    return Fraction(text)


def scores(
    session: Session, clinic_id: int, start: datetime, end: datetime
) -> dict[int, core.PatientScores]:
    """Per patient: the latest baseline before ``end`` and the latest later score taken in the
    window, of pain NRS and PHQ-9."""
    baselines = _latest_scores(session, clinic_id, ("baseline",), None, end)
    latest = _latest_scores(session, clinic_id, core.RESPONSE_CONTEXTS, start, end)
    found: dict[int, dict[str, core.Score]] = {}
    for kind, scored in (("baseline", baselines), ("latest", latest)):
        for (pid, instrument), score in scored.items():
            name = f"{'phq9' if instrument == 'phq9' else 'pain'}_{kind}"
            found.setdefault(pid, {})[name] = score
    return {pid: core.PatientScores(**named) for pid, named in found.items()}


def _latest_measured(instrument: str, as_of: datetime) -> ScalarSelect[Any]:
    """The patient's (the outer row's) latest ``instrument`` taken by ``as_of``: one probe of
    the index (patient_id, instrument, measured_at), however long the patient's history."""
    return (
        select(func.max(Measurement.measured_at))
        .where(
            Measurement.patient_id == Patient.id,
            Measurement.instrument == instrument,
            Measurement.measured_at <= as_of,
        )
        .scalar_subquery()
    )


def _latest_of(instants: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """The latest of ``instants``, ignoring NULLs (NULL when all are): SQLite's many-argument
    ``max`` and PostgreSQL's ``greatest`` disagree about NULLs, a CASE does not."""
    latest = instants[0]
    for instant in instants[1:]:
        latest = case(
            (latest.is_(None), instant),
            (instant.is_(None), latest),
            (instant > latest, instant),
            else_=latest,
        )
    return latest


def overdue(session: Session, clinic_id: int, as_of: datetime) -> list[OverduePatient]:
    """Patients in an open course at ``as_of`` with no PHQ-9 or pain NRS in ``OVERDUE_AFTER``,
    longest overdue first (never measured at all first)."""
    open_course = (
        select(Course.patient_id)
        .where(
            Course.clinic_id == clinic_id,
            Course.started_at <= as_of,
            or_(Course.ended_at.is_(None), Course.ended_at > as_of),
        )
        .distinct()
    )
    per_instrument = [
        _latest_measured(instrument, as_of).label(instrument)
        for instrument in core.OVERDUE_INSTRUMENTS
    ]
    patients = materialized(
        select(
            Patient.id, Patient.given_name, Patient.family_name, Patient.mrn, *per_instrument
        ).where(Patient.id.in_(open_course)),
        "open_course_patient",
    )
    last = _latest_of([patients.c[i] for i in core.OVERDUE_INSTRUMENTS]).label("last")
    query: Select[Any] = (
        select(patients.c.id, patients.c.given_name, patients.c.family_name, patients.c.mrn, last)
        .where(or_(last.is_(None), last <= as_of - core.OVERDUE_AFTER))
        .order_by(last.asc().nulls_first(), patients.c.family_name, patients.c.id)
    )
    return [
        OverduePatient(pid, f"{family}, {given}", mrn, at)
        for pid, given, family, mrn, at in session.execute(query)
    ]
