"""``POST /fhir/r4``: a referral's transaction Bundle registers or updates a patient (issue #14
item 2). Bearer tokens only, like the JSON API; the same permissions (``patient.write``, and
``diagnosis.write`` when the bundle carries Conditions). Every answer is FHIR JSON: the
transaction-response Bundle, or an OperationOutcome with a 4xx naming each problem's place."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require
from ketaclinic.db import is_contention
from ketaclinic.errors import Forbidden, KetaclinicError
from ketaclinic.interop import fhir_import
from ketaclinic.interop.fhir_base import FHIR_PATH, FhirInvalid, Resource, operation_outcome
from ketaclinic.interop.fhir_referral import BundleUnreadable, parse_body

FHIR_JSON = "application/fhir+json"
ACCEPTED_TYPES = (FHIR_JSON, "application/json")
#: A referral is one patient's record; 5 MB is far beyond one and keeps a runaway upload out.
MAX_BODY_BYTES = 5_000_000

SAVED_MEANWHILE = "the patient was saved by someone else at the same moment; nothing was imported"

#: IssueType (http://hl7.org/fhir/issue-type) for each refusal status.
ISSUE_TYPES = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    503: "transient",
}


def fhir_response(resource: Resource, status_code: int = 200) -> JSONResponse:
    return JSONResponse(resource, status_code=status_code, media_type=FHIR_JSON)


def outcome_response(
    status_code: int, problems: list[tuple[str, str]], headers: dict[str, str] | None = None
) -> JSONResponse:
    outcome = operation_outcome(problems, ISSUE_TYPES.get(status_code, "processing"))
    response = fhir_response(outcome, status_code)
    response.headers.update(headers or {})
    return response


class FhirRoute(APIRoute):
    """Answers every refusal of the route and its dependencies as an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except BundleUnreadable as error:
                return outcome_response(400, error.problems)
            except FhirInvalid as error:
                return outcome_response(422, error.problems)
            except KetaclinicError as error:
                return _refusal(error)
            except RequestValidationError as error:
                return outcome_response(422, _validation_problems(error))
            except (StaleDataError, IntegrityError):
                return outcome_response(409, [("", SAVED_MEANWHILE)])
            except (OperationalError, PoolTimeout) as error:
                if isinstance(error, OperationalError) and not is_contention(error):
                    raise
                return outcome_response(503, [("", "the database is busy; nothing was imported")])

        return answer


def _refusal(error: KetaclinicError) -> JSONResponse:
    headers = dict(error.headers)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    where = ".".join(str(part) for part in error.loc)
    return outcome_response(error.status_code, [(where, error.msg)], headers)


def _validation_problems(error: RequestValidationError) -> list[tuple[str, str]]:
    found = []
    for item in error.errors():
        loc = [part for part in item["loc"] if part != "body"]
        where = "Bundle" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        found.append((where, str(item["msg"]).removeprefix("Value error, ")))
    return found


router = APIRouter(prefix=FHIR_PATH, tags=["fhir"], route_class=FhirRoute)

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
    response_class=JSONResponse,
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
        return outcome_response(415, [("", f"send the Bundle as {FHIR_JSON}")])
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return outcome_response(413, [("", f"the body is over {MAX_BODY_BYTES} bytes")])
    bundle = parse_body(raw)
    today = clock.today(settings.timezone)
    response = await run_in_threadpool(_import, session, actor, bundle, today)
    return fhir_response(response)


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
