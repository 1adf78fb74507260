"""The Observation and QuestionnaireResponse kinds of the FHIR R4 server (issue #14): vital signs
from the flowsheet and recorded weights, questionnaire scores, and the answers they came from.

Every read stays inside the actor's clinic (and, for a portal user, their own record). The
builders do not audit: the server records one audit event per request for the patient read.
Building is in ``fhir_vitals`` and ``fhir_scores``; this module finds the rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import Select, select

from ketaclinic.accounts.models import User
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.interop.fhir_base import FhirContext, Resource, ResourceKind
from ketaclinic.interop.fhir_scores import (
    SCREENING_ASSESSMENT,
    questionnaire_response,
    score_observations,
)
from ketaclinic.interop.fhir_vitals import (
    VITAL_PROFILES,
    VITALS_SUFFIXES,
    measured_suffixes,
    vitals_observations,
    weight_observation,
)
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient, WeightMeasurement

VITALS_KIND = "vitals"  # SessionEvent.kind of a flowsheet row

# Row ids in resource ids; one beyond the integer columns' range names no row (and is never sent
# to PostgreSQL, which would refuse it).
_ROW = r"([1-9][0-9]{0,9})"
_LARGEST_ROW_ID = 2**31 - 1
_VITALS_ID = re.compile(rf"vitals-{_ROW}-([a-z0-9]+)")
_WEIGHT_ID = re.compile(rf"weight-{_ROW}")
_SCORE_ID = re.compile(rf"score-{_ROW}-([a-z0-9]+)")
_QR_ID = re.compile(rf"qr-{_ROW}")


def _visible(ctx: FhirContext, patient: Patient | None) -> Patient | None:
    """The patient if the actor may read them: same clinic, and a portal user's own record."""
    if patient is None or patient.clinic_id != ctx.actor.clinic_id:
        return None
    if ctx.actor.patient_id is not None and ctx.actor.patient_id != patient.id:
        return None
    return patient


# --- Observation -------------------------------------------------------------------------------


def observations_for(ctx: FhirContext, patient: Patient) -> list[Resource]:
    """All of a patient's Observations: vital signs, weights and scores, each group by time."""
    if _visible(ctx, patient) is None:
        return []
    built: list[Resource] = []
    for event in ctx.session.scalars(_vitals_rows(ctx, patient.id)):
        built += vitals_observations(event, patient.id)
    weights = select(WeightMeasurement).where(WeightMeasurement.patient_id == patient.id)
    for weight in ctx.session.scalars(
        weights.order_by(WeightMeasurement.measured_at, WeightMeasurement.id)
    ):
        built.append(weight_observation(weight))
    for measurement in ctx.session.scalars(_measurements(patient.id)):
        built += score_observations(measurement)
    return built


def observation_patient(ctx: FhirContext, resource_id: str) -> Patient | None:
    """The patient an Observation id belongs to, if it exists and the actor may read it."""
    if (match := _VITALS_ID.fullmatch(resource_id)) and _in_range(match):
        return _vitals_patient(ctx, int(match.group(1)), match.group(2))
    if (match := _WEIGHT_ID.fullmatch(resource_id)) and _in_range(match):
        weight = ctx.session.get(WeightMeasurement, int(match.group(1)))
        return _visible(ctx, weight.patient if weight else None)
    if (match := _SCORE_ID.fullmatch(resource_id)) and _in_range(match):
        name = match.group(2)
        return _measurement_patient(ctx, int(match.group(1)), lambda m: name in m.scores)
    return None


def _in_range(match: re.Match[str]) -> bool:
    return int(match.group(1)) <= _LARGEST_ROW_ID


def _vitals_rows(ctx: FhirContext, patient_id: int) -> Select[SessionEvent]:
    return (
        select(SessionEvent)
        .join(InfusionSession, InfusionSession.id == SessionEvent.session_id)
        .where(
            InfusionSession.patient_id == patient_id,
            InfusionSession.clinic_id == ctx.actor.clinic_id,
            SessionEvent.kind == VITALS_KIND,
        )
        .order_by(SessionEvent.at, SessionEvent.id)
    )


def _vitals_patient(ctx: FhirContext, event_id: int, suffix: str) -> Patient | None:
    if suffix not in VITALS_SUFFIXES:
        return None
    found = ctx.session.execute(
        select(SessionEvent, InfusionSession.patient_id)
        .join(InfusionSession, InfusionSession.id == SessionEvent.session_id)
        .where(
            SessionEvent.id == event_id,
            SessionEvent.kind == VITALS_KIND,
            InfusionSession.clinic_id == ctx.actor.clinic_id,
        )
    ).one_or_none()
    if found is None or suffix not in measured_suffixes(found[0].data):
        return None
    return _visible(ctx, ctx.session.get(Patient, found[1]))


# --- QuestionnaireResponse ---------------------------------------------------------------------


def _measurements(patient_id: int) -> Select[Measurement]:
    return (
        select(Measurement)
        .where(Measurement.patient_id == patient_id)
        .order_by(Measurement.measured_at, Measurement.id)
    )


def responses_for(ctx: FhirContext, patient: Patient) -> list[Resource]:
    """One QuestionnaireResponse per recorded questionnaire, by time."""
    if _visible(ctx, patient) is None:
        return []
    rows = list(ctx.session.scalars(_measurements(patient.id)))
    recorders = {m.recorded_by_user_id for m in rows if m.recorded_by_user_id is not None}
    found = ctx.session.execute(
        select(User.id, User.role).where(
            User.id.in_(recorders), User.clinic_id == ctx.actor.clinic_id
        )
    )
    roles: dict[int, str] = dict(list(found))
    return [questionnaire_response(m, roles.get(m.recorded_by_user_id or 0)) for m in rows]


def response_patient(ctx: FhirContext, resource_id: str) -> Patient | None:
    if (match := _QR_ID.fullmatch(resource_id)) and _in_range(match):
        return _measurement_patient(ctx, int(match.group(1)), lambda _: True)
    return None


def _measurement_patient(
    ctx: FhirContext, measurement_id: int, has: Callable[[Measurement], bool]
) -> Patient | None:
    measurement = ctx.session.get(Measurement, measurement_id)
    if measurement is None or not has(measurement):
        return None
    return _visible(ctx, ctx.session.get(Patient, measurement.patient_id))


OBSERVATION = ResourceKind(
    name="Observation",
    for_patient=observations_for,
    patient_of=observation_patient,
    profiles=(*VITAL_PROFILES, SCREENING_ASSESSMENT),
)
QUESTIONNAIRE_RESPONSE = ResourceKind(
    name="QuestionnaireResponse",
    for_patient=responses_for,
    patient_of=response_patient,
)

__all__ = ["OBSERVATION", "QUESTIONNAIRE_RESPONSE"]
