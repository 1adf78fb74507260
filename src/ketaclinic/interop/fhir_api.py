"""FHIR R4 over HTTP at ``/fhir/r4``: JSON only, the API's accounts and permissions, errors as
OperationOutcome with a 4xx (the app turns every refusal under ``/fhir/`` into one)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import CurrentUser, SessionDep, SettingsDep
from ketaclinic.errors import Forbidden, KetaclinicError, NotFound
from ketaclinic.interop import fhir_server
from ketaclinic.interop.fhir_base import FHIR_PATH, operation_outcome, to_json
from ketaclinic.interop.fhir_record import patient_in_clinic
from ketaclinic.interop.fhir_search import SearchError

router = APIRouter(prefix=FHIR_PATH, tags=["fhir"])
FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    """``application/fhir+json``, doses written with every digit (``fhir_base.to_json``)."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return to_json(content).encode("utf-8")


class FhirBadSearch(KetaclinicError):
    status_code = 400


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + FHIR_PATH


def outcome_response(
    status: int, problems: list[tuple[str, str]], code: str, headers: dict[str, str] | None = None
) -> FhirResponse:
    return FhirResponse(operation_outcome(problems, code), status_code=status, headers=headers)


def _may_read(actor: Actor, resource_type: str) -> None:
    needed = (
        Permission.PATIENT_READ
        if resource_type in fhir_server.REGISTRATION_TYPES
        else Permission.CLINICAL_READ
    )
    if actor.role is None or not may(actor.role, needed):
        raise Forbidden(f"your role may not read {resource_type} ({needed.value})")


def _known(resource_type: str) -> None:
    if resource_type not in fhir_server.supported_types():
        raise NotFound(
            f"this server has no {resource_type} resources; "
            f"it serves {', '.join(fhir_server.supported_types())}",
            loc=("path", "type"),
        )


@router.get("/metadata", response_class=FhirResponse)
def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement; open to anyone, like every FHIR server's (it holds no records)."""
    return FhirResponse(fhir_server.capability_statement(base_url(request)))


@router.get("/Patient/{patient_id}/$everything", response_class=FhirResponse)
def everything(
    patient_id: str, request: Request, actor: CurrentUser, session: SessionDep
) -> FhirResponse:
    _may_read(actor, "Observation")
    with session.begin():
        ctx = fhir_server.context(session, actor)
        number = int(patient_id) if patient_id.isdigit() and len(patient_id) <= 18 else -1
        patient = patient_in_clinic(ctx, number)
        if patient is None:
            raise NotFound(f"no Patient/{patient_id} in your clinic", loc=("path", "id"))
        bundle = fhir_server.everything_bundle(ctx, patient, base_url(request))
    return FhirResponse(bundle)


@router.get("/{resource_type}", response_class=FhirResponse)
def search(
    resource_type: str,
    request: Request,
    actor: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> FhirResponse:
    _known(resource_type)
    _may_read(actor, resource_type)
    query = list(request.query_params.multi_items())
    with session.begin():
        ctx = fhir_server.context(session, actor)
        try:
            bundle = fhir_server.search(
                ctx, resource_type, query, settings.timezone, base_url(request)
            )
        except SearchError as error:
            raise FhirBadSearch(error.message, loc=("query", error.param)) from None
    return FhirResponse(bundle)


@router.get("/{resource_type}/{resource_id}", response_class=FhirResponse)
def read(
    resource_type: str, resource_id: str, actor: CurrentUser, session: SessionDep
) -> FhirResponse:
    _known(resource_type)
    _may_read(actor, resource_type)
    with session.begin():
        ctx = fhir_server.context(session, actor)
        try:
            found: dict[str, Any] = fhir_server.read(ctx, resource_type, resource_id)
        except fhir_server.FhirNotFound as error:
            raise NotFound(str(error), loc=("path", "id")) from None
    return FhirResponse(found)
