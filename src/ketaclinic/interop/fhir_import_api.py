"""``POST /fhir/r4``: a referral's transaction Bundle registers or updates a patient (issue #14
item 2). Bearer tokens only, like the JSON API; the same permissions (``patient.write``, and
``diagnosis.write`` when the bundle carries Conditions). Every answer is FHIR JSON: the
transaction-response Bundle, or an OperationOutcome with a 4xx naming each problem's place (the
app answers every refusal under ``/fhir/`` so: a FhirInvalid is 422, an unreadable bundle 400)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.errors import Forbidden
from ketaclinic.interop import fhir_import
from ketaclinic.interop.fhir_api import FHIR_JSON, FhirResponse, outcome_response
from ketaclinic.interop.fhir_base import FHIR_PATH, Resource
from ketaclinic.interop.fhir_referral import parse_body

ACCEPTED_TYPES = (FHIR_JSON, "application/json")
#: A referral is one patient's record; 5 MB is far beyond one and keeps a runaway upload out.
MAX_BODY_BYTES = 5_000_000


router = APIRouter(prefix=FHIR_PATH, tags=["fhir"])

Writer = Annotated[Actor, Depends(require(Permission.PATIENT_WRITE))]

_REQUEST_BODY = {
    "required": True,
    "content": {
        media: {
            "schema": {
                "type": "object",
                "description": "A FHIR R4 transaction Bundle: one Patient with its MRN "
                "identifier, and Conditions (ICD-10-CM), AllergyIntolerances, "
                "MedicationStatements and body weight Observations referring to it.",
            }
        }
        for media in ACCEPTED_TYPES
    },
}


@router.post(
    "",
    response_class=FhirResponse,
    responses={200: {"content": {FHIR_JSON: {}}}},
    openapi_extra={"requestBody": _REQUEST_BODY},
    summary="Import a referral (FHIR transaction Bundle)",
)
async def import_referral(
    request: Request, actor: Writer, session: SessionDep, settings: SettingsDep
) -> Response:
    """Register or update the patient of a transaction Bundle in one transaction; nothing is
    written when any part of it is refused."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ACCEPTED_TYPES:
        return outcome_response(415, [("", f"send the Bundle as {FHIR_JSON}")], "not-supported")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return outcome_response(
            413, [("", f"the body is over {MAX_BODY_BYTES} bytes")], "too-costly"
        )
    bundle = parse_body(raw)
    today = clock.today(settings.timezone)
    response = await run_in_threadpool(_import, session, actor, bundle, today)
    return FhirResponse(response)


def _import(session: Session, actor: Actor, bundle: object, today: date) -> Resource:
    with session.begin():
        referral = fhir_import.read(session, actor=actor, bundle=bundle, today=today)
        if referral.conditions and not (
            actor.role is not None and may(actor.role, Permission.DIAGNOSIS_WRITE)
        ):
            first = referral.conditions[0].entry
            raise Forbidden(
                f"your role may not record diagnoses ({Permission.DIAGNOSIS_WRITE.value})",
                loc=(f"Bundle.entry[{first}]",),
            )
        _patient, response = fhir_import.import_referral(
            session, actor=actor, referral=referral, today=today
        )
    return response
