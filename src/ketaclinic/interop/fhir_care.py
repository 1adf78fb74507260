"""The care side of an infusion session for the FHIR R4 server (issue #14): the signed order
(MedicationRequest), ketamine as given (MedicationAdministration), the visit (Encounter) and the
infusion itself (Procedure). One Encounter and one Procedure per session, both with the session's
id; the medication resources are built in ``fhir_medication``, the checks in ``fhir_care_checks``.

Every builder reads inside ``ctx.actor``'s clinic only and writes nothing; the server audits the
read (one audit event per request, as for every patient record read).
"""

from __future__ import annotations

from ketaclinic.infusions.core import State
from ketaclinic.interop.fhir_base import (
    ACT_CODE,
    SNOMED,
    FhirContext,
    Resource,
    ResourceKind,
    coding,
    concept,
    instant,
    reference,
)
from ketaclinic.interop.fhir_care_checks import PROFILES, problems
from ketaclinic.interop.fhir_care_visits import (
    Visit,
    patient_of_session,
    practitioner,
    reasons,
    session_id_of,
    visits_of,
)
from ketaclinic.interop.fhir_medication import (
    MEDICATION_REQUEST_PROFILE,
    medication_administrations,
    medication_request,
)
from ketaclinic.patients.models import Patient

ENCOUNTER_PROFILE = PROFILES["Encounter"]
PROCEDURE_PROFILE = PROFILES["Procedure"]
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

#: SNOMED CT 14152002 "Intravenous infusion (procedure)". NOT in CODES.md: found in one public
#: value set only [U] — needs confirmation in a SNOMED CT browser before it is relied on. CPT
#: 96365/96366 would be the US billing codes but are AMA-licensed (CODES.md §4.3, §7).
IV_INFUSION_SNOMED = "14152002"

_ENCOUNTER_STATUS = {
    State.SCHEDULED: "planned",
    State.CHECKED_IN: "arrived",
    State.INFUSING: "in-progress",
    State.PAUSED: "in-progress",
    State.OBSERVING: "in-progress",
    State.DISCHARGED: "finished",
    State.CANCELLED: "cancelled",
    State.NO_SHOW: "cancelled",
    # State.ABORTED: "finished" once the patient had arrived, else "cancelled" (below).
}

_PROCEDURE_STATUS = {
    State.SCHEDULED: "preparation",
    State.CHECKED_IN: "preparation",
    State.INFUSING: "in-progress",
    State.PAUSED: "on-hold",
    State.OBSERVING: "completed",
    State.DISCHARGED: "completed",
    State.ABORTED: "not-done",
    State.CANCELLED: "not-done",
    State.NO_SHOW: "not-done",
}


# --- Encounter ------------------------------------------------------------------------------------


def encounter(ctx: FhirContext, visit: Visit) -> Resource:
    """The chair visit: class AMB, planned → arrived (check-in) → in-progress (infusion and
    observation) → finished (discharge, or an abort after arrival); cancelled when the patient
    never arrived (cancellation, no-show, an abort from the booking)."""
    arrived = visit.last("check_in")
    if visit.state is State.ABORTED:
        status = "finished" if arrived is not None else "cancelled"
    else:
        status = _ENCOUNTER_STATUS[visit.state]
    resource: Resource = {
        "resourceType": "Encounter",
        "id": visit.sid,
        "meta": {"profile": [ENCOUNTER_PROFILE]},
        "identifier": [
            {
                "system": f"urn:ketaclinic:{ctx.clinic_code.lower()}:infusion-session",
                "value": visit.sid,
            }
        ],
        "status": status,
        "class": coding(ACT_CODE, "AMB", "ambulatory"),
        # US Core asks for a type; no code in CODES.md fits a ketamine infusion visit, and the
        # binding is extensible, so it is text only.
        "type": [{"text": f"Ketamine infusion visit ({visit.protocol.name})"}],
        "subject": reference("Patient", visit.row.patient_id),
        **reasons(visit),
    }
    if arrived is not None:
        period = {"start": instant(arrived.at)}
        left = visit.last("discharge", "abort") if status == "finished" else None
        if left is not None:
            period["end"] = instant(left.at)
        resource["period"] = period
    if participants := _participants(visit):
        resource["participant"] = participants
    return resource


def _participants(visit: Visit) -> list[Resource]:
    """The ordering physician (attender), then everyone who charted the visit, in order."""
    signer = visit.row.order_signed_by_user_id
    people = [signer] if signer is not None else []
    people += [e.by_user_id for e in visit.events]
    return [
        {
            "type": [concept(PARTICIPATION_TYPE, *(_ATTENDER if who == signer else _PART))],
            "individual": practitioner(who),
        }
        for who in dict.fromkeys(people)
    ]


_ATTENDER = ("ATND", "attender")
_PART = ("PART", "Participation")


# --- Procedure ------------------------------------------------------------------------------------


def procedure(visit: Visit) -> Resource:
    """The infusion: preparation until the pump starts, in-progress while it runs, on-hold while
    paused, completed, or stopped when it ended early; not-done when it never started.
    ``performedPeriod`` is the pump's running time from start to stop (pauses inside it)."""
    status = "stopped" if visit.ended_early else _PROCEDURE_STATUS[visit.state]
    resource: Resource = {
        "resourceType": "Procedure",
        "id": visit.sid,
        "meta": {"profile": [PROCEDURE_PROFILE]},
        "status": status,
        "code": concept(SNOMED, IV_INFUSION_SNOMED, "Intravenous infusion", "Ketamine infusion"),
        "subject": reference("Patient", visit.row.patient_id),
        "encounter": reference("Encounter", visit.sid),
        **reasons(visit),
    }
    given = visit.given
    if given is not None:
        period = {"start": instant(given.started_at)}
        if not given.running:
            period["end"] = instant(given.ended_at)
        resource["performedPeriod"] = period
        starter = visit.last("start")
        if starter is not None:
            resource["performer"] = [{"actor": practitioner(starter.by_user_id)}]
    why = visit.stopped_early or visit.end_reason()
    if status in ("stopped", "not-done") and why:
        resource["statusReason"] = {"text": why}
    return resource


# --- the kinds the server serves ------------------------------------------------------------------


def _medication_requests(ctx: FhirContext, patient: Patient) -> list[Resource]:
    return [r for v in visits_of(ctx, patient) if (r := medication_request(ctx, v)) is not None]


def _medication_administrations(ctx: FhirContext, patient: Patient) -> list[Resource]:
    return [r for v in visits_of(ctx, patient) for r in medication_administrations(v)]


def _encounters(ctx: FhirContext, patient: Patient) -> list[Resource]:
    return [encounter(ctx, v) for v in visits_of(ctx, patient)]


def _procedures(ctx: FhirContext, patient: Patient) -> list[Resource]:
    return [procedure(v) for v in visits_of(ctx, patient)]


def _session_patient(ctx: FhirContext, resource_id: str) -> Patient | None:
    return patient_of_session(ctx, session_id_of(resource_id))


def _administration_patient(ctx: FhirContext, resource_id: str) -> Patient | None:
    return patient_of_session(
        ctx, session_id_of(resource_id, r"[1-9][0-9]{0,5}|bolus-[1-9][0-9]{0,5}|not-given")
    )


MEDICATION_REQUEST = ResourceKind(
    "MedicationRequest", _medication_requests, _session_patient, (MEDICATION_REQUEST_PROFILE,)
)
#: US Core has no MedicationAdministration profile.
MEDICATION_ADMINISTRATION = ResourceKind(
    "MedicationAdministration", _medication_administrations, _administration_patient
)
ENCOUNTER = ResourceKind("Encounter", _encounters, _session_patient, (ENCOUNTER_PROFILE,))
PROCEDURE = ResourceKind("Procedure", _procedures, _session_patient, (PROCEDURE_PROFILE,))

KINDS = (MEDICATION_REQUEST, MEDICATION_ADMINISTRATION, ENCOUNTER, PROCEDURE)

__all__ = [
    "ENCOUNTER",
    "KINDS",
    "MEDICATION_ADMINISTRATION",
    "MEDICATION_REQUEST",
    "PROCEDURE",
    "encounter",
    "problems",
    "procedure",
]
