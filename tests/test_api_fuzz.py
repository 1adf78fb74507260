"""Generated requests against every operation of the OpenAPI schema never get a 5xx, on SQLite and
PostgreSQL, in a clinic seeded with patients, courses, sessions in every state and controlled
substances on its shelves (``tests/web/seeded_clinic.py``).

Each operation starts from a valid request (seeded ids, a body it accepts). A sweep then gives
each place of that request (a path or query parameter, a body field named by the schema or by the
valid body, nested ones included) each extreme of its kind, one at a time: text with NUL or a lone
surrogate, integers past 64 bits, a 22-decimal number, 1e-30, 1E+400, NaN, instants in year 1
at +14:00 and year 9999 at -14:00, a datetime for a date. Hypothesis then changes up to three
places at once with generated values of every kind (``tests/web/fuzzing.py``), and Schemathesis
adds requests generated from the schema alone with seeded ids in the path. The test fails on any
5xx, and unless every operation answered at least one of these requests with a 2xx, so that it
cannot silently become a test of refusals only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet

from ketaclinic import clock
from ketaclinic.infusions.core import State
from tests.conftest import PASSWORD, Person, patient_body, token_for
from tests.interop.fhir_bundles import referral
from tests.web.fuzzing import (
    MISSING,
    Call,
    Raw,
    every_route,
    mutations,
    places,
    send,
    sweep,
    to_json,
)
from tests.web.seeded_clinic import (
    CHECK_IN,
    DISCHARGE,
    EXPIRED,
    IN_DATE,
    KETAMINE,
    LOSS,
    NOW,
    REGISTRATION,
    SUPPLIER,
    VITALS,
    SeededClinic,
    seed,
)

EXAMPLES_PER_OPERATION = 15
#: Operations that cannot answer a 2xx to any request, with the reason. None today.
NO_2XX: dict[tuple[str, str], str] = {}

S = "/api/v1/sessions/{session_id}"
I = "/api/v1/inventory"  # noqa: E741


_serial = count(1)


def _new_mrn(call: Call) -> Call:
    """A new MRN for each request that kept the valid one, so that each can be stored."""
    if isinstance(call.body, dict) and call.body.get("mrn") == "FZ-NEW":
        return replace(call, body={**call.body, "mrn": f"FZ-NEW-{next(_serial)}"})
    return call


def _new(field: str, template: str, new: Callable[[int], str]) -> Callable[[Call], Call]:
    """A new value of a unique body field for each request that kept the valid one."""

    def renew(call: Call) -> Call:
        if isinstance(call.body, dict) and call.body.get(field) == template:
            return replace(call, body={**call.body, field: new(next(_serial))})
        return call

    return renew


def _fresh(name: str, supply: Callable[[], int]) -> Callable[[], dict[str, Any]]:
    """Path id ``name`` of a new record in the state the operation changes (a receipt to
    confirm, a discrepancy to resolve), and another for each request that kept it."""

    def make() -> dict[str, Any]:
        template = supply()

        def renew(call: Call) -> Call:
            if call.path_params.get(name) == template:
                return replace(call, path_params={**call.path_params, name: supply()})
            return call

        return {name: template, "renew": renew}

    return make


def _signatures(body: Any) -> list[dict[str, Any]]:
    """The witness signatures of a request body (``witness``, or each of ``witnesses``)."""
    if not isinstance(body, dict):
        return []
    found = [body.get("witness")]
    if isinstance(body.get("witnesses"), list):
        found += body["witnesses"]
    return [w for w in found if isinstance(w, dict)]


def _unlocking(call: Call, renew: Callable[[Call], Call] | None) -> Callable[[Call], Call] | None:
    """A request that kept a witness's name but not their password signs as a name nobody
    holds: the failure counts toward lockout either way, and must not lock the operation's
    witness out of the requests that follow (3 failures lock a name in the tests)."""
    names = {w.get("username") for w in _signatures(call.body)}
    if not names:
        return renew

    def resigned(signature: Any) -> Any:
        if not isinstance(signature, dict) or signature.get("password") == PASSWORD:
            return signature
        if not isinstance(signature.get("username"), str) or signature["username"] not in names:
            return signature
        return {**signature, "username": f"nobody-{next(_serial)}"}

    def unlocked(sent: Call) -> Call:
        sent = renew(sent) if renew is not None else sent
        if not isinstance(sent.body, dict):
            return sent
        body = dict(sent.body)
        if "witness" in body:
            body["witness"] = resigned(body["witness"])
        if isinstance(body.get("witnesses"), list):
            body["witnesses"] = [resigned(w) for w in body["witnesses"]]
        return replace(sent, body=body)

    return unlocked


def _pool(ids: list[int]) -> Callable[[], int]:
    """The next of ``ids`` made ahead at once (cheaper than one by one); the last once used up."""
    return lambda: ids.pop(0) if len(ids) > 1 else ids[0]


def fhir_calls(clinic: SeededClinic) -> list[tuple[Call, Callable[[], dict[str, Any]]]]:
    """The FHIR R4 reads (issue 14): a seeded patient's record and its search."""
    patient = clinic.patients[0]
    weighed = (NOW - timedelta(days=1)).isoformat()
    return [
        (Call("GET", "/fhir/r4/metadata", role="none"), dict),
        (
            Call("GET", "/fhir/r4/{resource_type}", query={"patient": patient}),
            lambda: {"resource_type": "Condition"},
        ),
        (
            Call("GET", "/fhir/r4/{resource_type}/{resource_id}"),
            lambda: {"resource_type": "Patient", "resource_id": patient},
        ),
        (Call("GET", "/fhir/r4/Patient/{patient_id}/$everything"), lambda: {"patient_id": patient}),
        (Call("POST", "/fhir/r4", body=referral(mrn="FZ-REFERRAL", weighed_at=weighed)), dict),
    ]


def inventory_calls(clinic: SeededClinic) -> list[tuple[Call, Callable[[], dict[str, Any]]]]:
    """The controlled-substance operations: each write on a new shelf, signed by a new witness."""
    stock = clinic.stock

    def entered() -> int:
        receipt = clinic.receipt(stock["safe"], IN_DATE, containers=1, confirm=False)
        receipt_id: int = receipt["id"]
        return receipt_id

    def confirmed() -> int:
        receipt_id: int = clinic.receipt(stock["safe"], IN_DATE, containers=1)["id"]
        return receipt_id

    def reversal() -> dict[str, Any]:
        body = {"reason": "entered twice", "witness": clinic.witness()}
        return {**_fresh("receipt_id", confirmed)(), "body": body}

    def transfer() -> dict[str, Any]:
        lot_id, location_id = clinic.stocked()
        return {"body": {
            "lot_id": lot_id, "from_location_id": location_id, "to_location_id": stock["cabinet"],
            "containers": 1, "witness": clinic.witness()}}  # fmt: skip

    def draw() -> dict[str, Any]:
        lot_id, location_id = clinic.stocked()
        body = {"lot_id": lot_id, "location_id": location_id, "volume_ml": 1.5}
        return {"session_id": clinic.in_state(State.SCHEDULED), "body": body}

    def returned() -> dict[str, Any]:
        """A scheduled session with two vials drawn whole: one goes back unopened."""
        lot_id, location_id = clinic.stocked(containers=2)
        session_id = clinic.in_state(State.SCHEDULED)
        source = {"lot_id": lot_id, "location_id": location_id}
        clinic.inventory(f"/sessions/{session_id}/draws", clinic.nurse, **source, containers=2)
        body = {**source, "containers": 1, "witness": clinic.witness()}
        return {"session_id": session_id, "body": body}

    def waste() -> dict[str, Any]:
        body = {"manner": "sharps bin, rendered unrecoverable", "witness": clinic.witness()}
        return {"session_id": clinic.drawn(), "body": body}

    def count() -> dict[str, Any]:
        lot_id, location_id = clinic.stocked(containers=2)
        line = {"lot_id": lot_id, "location_id": location_id, "sealed_containers": 1,
                "opened_ml": 9.5, "opened_estimated": True}  # fmt: skip
        return {"body": {"kind": "daily", "timing": "opening", "lines": [line],
                         "witness": clinic.witness(), "note": "after the delivery"}}  # fmt: skip

    def disposal() -> dict[str, Any]:
        lot_id, location_id = clinic.stocked(expiry=EXPIRED)
        return {"body": {
            "method": "destroyed_on_site",
            "lines": [{"lot_id": lot_id, "location_id": location_id, "containers": 1}],
            "destruction_method": "chemical digestion, non-retrievable",
            "witnesses": [clinic.witness(), clinic.witness()], "note": "expired"}}  # fmt: skip

    def resolve() -> dict[str, Any]:
        return _fresh("discrepancy_id", _pool(clinic.open_discrepancies(50)))()

    def notification() -> dict[str, Any]:
        return _fresh("discrepancy_id", _pool(clinic.losses(20)))()

    def one(name: str, key: str) -> Callable[[], dict[str, Any]]:
        return lambda: {name: stock[key]}

    receipt = {**SUPPLIER, "location_id": stock["safe"], "lots": [{
        "product_id": stock["product"], "lot_number": "FZ-R1", "expiry_date": IN_DATE,
        "containers": 2}]}  # fmt: skip
    ndc = "99999-0000-01"
    return [
        (Call("GET", f"{I}/registrations"), dict),
        # a renewal: the seeded number with a later expiry (the same expiry again answers 409)
        (Call("POST", f"{I}/registrations", body={**REGISTRATION, "expires_date": "2029-01-31"}),
         dict),
        (Call("GET", f"{I}/products"), dict),
        (Call("POST", f"{I}/products", body={**KETAMINE, "ndc": ndc},
              renew=_new("ndc", ndc, lambda n: f"99999-{n:04d}-02")), dict),
        (Call("GET", f"{I}/locations"), dict),
        (Call("POST", f"{I}/locations", body={"name": "FZ-NEW"},
              renew=_new("name", "FZ-NEW", lambda n: f"FZ-NEW-{n}")), dict),
        (Call("POST", f"{I}/receipts", role="nurse", body=receipt), dict),
        (Call("GET", f"{I}/receipts/{{receipt_id}}"), one("receipt_id", "receipt")),
        (Call("POST", f"{I}/receipts/{{receipt_id}}/confirm"), _fresh("receipt_id", entered)),
        (Call("POST", f"{I}/receipts/{{receipt_id}}/reverse"), reversal),
        (Call("POST", f"{I}/transfers", role="nurse"), transfer),
        (Call("GET", f"{I}/balance"), dict),
        (Call("GET", f"{I}/ledger", query={"lot_id": stock["lot"], "limit": 50}), dict),
        (Call("POST", f"{I}/sessions/{{session_id}}/draws", role="nurse"), draw),
        (Call("POST", f"{I}/sessions/{{session_id}}/returns", role="nurse"), returned),
        (Call("POST", f"{I}/sessions/{{session_id}}/waste", role="nurse"), waste),
        (Call("GET", f"{I}/sessions/{{session_id}}/chain"), one("session_id", "drawn_session")),
        (Call("GET", f"{I}/unrecorded-waste"), dict),
        (Call("GET", f"{I}/counts"), dict),
        (Call("POST", f"{I}/counts", role="nurse"), count),
        (Call("GET", f"{I}/counts/{{count_id}}"), one("count_id", "count")),
        (Call("GET", f"{I}/discrepancies", query={"open_only": True}), dict),
        (Call("GET", f"{I}/discrepancies/{{discrepancy_id}}"),
         one("discrepancy_id", "discrepancy")),
        (Call("POST", f"{I}/discrepancies/{{discrepancy_id}}/resolve", body=LOSS), resolve),
        (Call("GET", f"{I}/discrepancies/{{discrepancy_id}}/form-106"),
         one("discrepancy_id", "loss")),
        (Call("POST", f"{I}/discrepancies/{{discrepancy_id}}/dea-notification",
              body={"note": "faxed the Field Division, ref 42"}), notification),
        (Call("GET", f"{I}/awaiting-disposal"), dict),
        (Call("POST", f"{I}/disposals", role="nurse"), disposal),
        (Call("GET", f"{I}/disposals/{{disposal_id}}"), one("disposal_id", "disposal")),
        (Call("GET", f"{I}/disposals/{{disposal_id}}/form-41"), one("disposal_id", "disposal")),
    ]  # fmt: skip


def scheduling_calls(
    clinic: SeededClinic, protocol: int
) -> list[tuple[Call, Callable[[], dict[str, Any]]]]:
    """The appointment book's routes (issue 13): an admin keeps the clinic data; bookings are
    made, moved and cancelled on fresh sessions of their own chair."""
    B = "/api/v1/scheduling"  # noqa: N806
    later = (NOW + timedelta(days=2)).isoformat()
    # Open around the clock: the calls after it book at any hour, as without hours set.
    EVERY_HOUR = [{"weekday": d, "opens": "00:00", "closes": "24:00"} for d in range(7)]  # noqa: N806

    def chair() -> dict[str, Any]:
        return {"chair_id": clinic.new_chair()}

    def closure() -> dict[str, Any]:
        body = {"first_date": "2031-01-01", "reason": "fuzz"}
        return {"closure_id": clinic.post(f"{B}/closures", clinic.admin, **body)["id"]}

    def booking() -> dict[str, Any]:
        body = {"patient_id": clinic.patients[0], "protocol_id": protocol, "scheduled_at": later}
        return {"body": {**body, "chair_id": clinic.new_chair()}}

    def booked() -> dict[str, Any]:
        return {"session_id": clinic.book(timedelta(days=1))}

    return [
        (Call("GET", f"{B}/chairs", role="admin"), dict),
        (Call("POST", f"{B}/chairs", role="admin", body={"name": "Fuzz chair", "room": "A"},
              renew=_new("name", "Fuzz chair", lambda n: f"Fuzz chair {n}")), dict),
        (Call("PUT", f"{B}/chairs/{{chair_id}}", role="admin",
              body={"name": "Renamed chair", "active": True, "display_order": 3},
              renew=_new("name", "Renamed chair", lambda n: f"Renamed chair {n}")), chair),
        (Call("GET", f"{B}/hours", role="admin"), dict),
        (Call("PUT", f"{B}/hours", role="admin", body={"intervals": EVERY_HOUR}), dict),
        (Call("GET", f"{B}/closures", role="admin"), dict),
        (Call("POST", f"{B}/closures", role="admin",
              body={"first_date": "2030-12-24", "last_date": "2030-12-26", "reason": "holiday"}),
         dict),
        (Call("DELETE", f"{B}/closures/{{closure_id}}", role="admin"), closure),
        (Call("GET", f"{B}/policy", role="admin"), dict),
        (Call("PUT", f"{B}/policy", role="admin", body={"turnover_min": 15}), dict),
        (Call("GET", f"{B}/free-starts", role="nurse", query={"protocol_id": protocol}), dict),
        (Call("POST", f"{B}/bookings", role="nurse"), booking),
        (Call("GET", f"{B}/bookings/{{session_id}}", role="nurse"), booked),
        (Call("POST", f"{B}/bookings/{{session_id}}/reschedule", role="nurse",
              body={"scheduled_at": later}), booked),
        (Call("POST", f"{B}/bookings/{{session_id}}/cancel", role="nurse",
              body={"reason": "the patient called"}), booked),
    ]  # fmt: skip


def book_view_calls(
    clinic: SeededClinic, protocol: int
) -> list[tuple[Call, Callable[[], dict[str, Any]]]]:
    """The appointment book's day and week views, series booking and attendance (issue 13)."""
    B = "/api/v1/scheduling"  # noqa: N806

    def series() -> dict[str, Any]:
        course = clinic.fresh_course()
        plan = clinic.client.get(
            f"{B}/series/plan", params={"course_id": course}, headers=clinic.nurse
        ).json()
        slot = plan["proposal"][0]["slot"]
        sessions = [{"chair_id": slot["chair_id"], "start": slot["start"]}]
        return {"body": {"course_id": course, "sessions": sessions}}

    return [
        (Call("GET", f"{B}/day", role="nurse", query={"date": NOW.date().isoformat()}), dict),
        (Call("GET", f"{B}/week", role="nurse", query={"start": NOW.date().isoformat()}), dict),
        (Call("GET", f"{B}/series/plan", role="nurse",
              query={"course_id": clinic.fresh_course(), "preferred": "10:00"}), dict),
        (Call("POST", f"{B}/series/confirm", role="nurse"), series),
        (Call("GET", f"{B}/patients/{{patient_id}}/attendance", role="nurse"),
         lambda: {"patient_id": clinic.patients[0]}),
    ]  # fmt: skip


def valid_calls(clinic: SeededClinic) -> dict[tuple[str, str], Callable[[], Call]]:
    """For each operation, a request the seeded clinic accepts, made just before it is fuzzed
    (with a fresh record in the state it needs where it changes one)."""
    protocol = clinic.protocols["migraine-lauritsen-2016"]
    reason = {"reason": "as discussed with the patient"}

    def patient() -> dict[str, int]:
        return {"patient_id": clinic.patients[0]}

    def course() -> dict[str, int]:
        return {"course_id": clinic.fresh_course()}

    def own_token() -> dict[str, Any]:
        """A token of the login user's, for that user to end (revoking is its holder's right)."""
        token = token_for(clinic.client, clinic.login)["Authorization"].removeprefix("Bearer ")
        return {"body": {"token": token, "token_type_hint": "access_token"}}

    def course_body() -> dict[str, Any]:
        template_patient = clinic.new_patient()

        def renew(call: Call) -> Call:
            """A patient without a course for each request that kept the valid one."""
            if isinstance(call.body, dict) and call.body.get("patient_id") == template_patient:
                return replace(call, body={**call.body, "patient_id": clinic.new_patient()})
            return call

        body = {"patient_id": template_patient, "protocol_id": protocol}
        return {"body": body, "renew": renew}

    calls: list[tuple[Call, Callable[[], dict[str, Any]]]] = [
        (Call("POST", "/api/v1/auth/token", role="none", form=True, body={
            "username": clinic.login.username, "password": clinic.login.password}), dict),
        (Call("POST", "/api/v1/auth/revoke", role="none", form=True), own_token),
        (Call("GET", "/api/v1/me"), dict),
        (Call("GET", "/api/v1/patients", query={"q": "Fuzz", "limit": 5, "offset": 0}), dict),
        (Call("POST", "/api/v1/patients", body=patient_body(mrn="FZ-NEW"), renew=_new_mrn), dict),
        (Call("GET", "/api/v1/patients/{patient_id}"), patient),
        (Call("PATCH", "/api/v1/patients/{patient_id}", body={"weight_kg": "71.5"}), patient),
        (Call("POST", "/api/v1/patients/{patient_id}/diagnoses",
              body={"code": "G43.909", "is_primary": False}), patient),
        (Call("GET", "/api/v1/patients/{patient_id}/contact"), patient),
        (Call("PUT", "/api/v1/patients/{patient_id}/contact", body={
            "phone": "(201) 555-0123", "email": "fuzz.case@example.org", "consent_email": True,
            "consent_sms": False}), patient),
        (Call("GET", "/api/v1/indications"), dict),
        (Call("GET", "/api/v1/contraindications"), dict),
        (Call("POST", "/api/v1/patients/{patient_id}/screenings",
              body={**VITALS, "indication_id": "migraine", "notes": "line one\nline two"}), patient),
        (Call("GET", "/api/v1/patients/{patient_id}/screenings"), patient),
        (Call("POST", "/api/v1/patients/{patient_id}/measurements", body={
            "instrument": "nrs", "answers": [4], "context": "follow_up",
            "measured_at": (NOW - timedelta(days=1)).isoformat()}), patient),
        (Call("GET", "/api/v1/patients/{patient_id}/measurements", query={"instrument": "nrs"}),
         patient),
        (Call("GET", "/api/v1/protocols"), dict),
        (Call("GET", "/api/v1/protocols/{protocol_id}"), lambda: {"protocol_id": protocol}),
        (Call("POST", "/api/v1/dose-calculations",
              body={"protocol_id": protocol, "weight_kg": 72.5, "dose": 0.15, "duration_min": 60}),
         dict),
        (Call("POST", "/api/v1/sessions", role="nurse", body={
            "patient_id": clinic.patients[0], "protocol_id": protocol, "chair": "Chair 4",
            "scheduled_at": (NOW + timedelta(days=1)).isoformat()}), dict),
        (Call("GET", S), lambda: {"session_id": clinic.bystanders[State.INFUSING]}),
        (Call("POST", f"{S}/check-in", role="nurse", body=CHECK_IN), dict),
        (Call("POST", f"{S}/vitals", role="nurse", body=VITALS), dict),
        (Call("POST", f"{S}/side-effects", role="nurse", body={"assessments": [
            {"effect": "nausea_vomiting", "grade": "mild"}, {"effect": "sedation", "grade": 4}]}),
         dict),
        (Call("POST", f"{S}/adjunct-medications", role="nurse", body={
            "drug": "ondansetron", "dose": 4, "unit": "mg", "route": "IV", "reason": "nausea"}),
         dict),
        (Call("POST", f"{S}/alerts/{{alert_id}}/acknowledge", role="nurse"), dict),
        (Call("POST", f"{S}/entries/{{event_id}}/entered-in-error", role="nurse",
              body={"reason": "charted on the wrong patient"}), dict),
        (Call("POST", f"{S}/clearance", body=reason), dict),
        (Call("POST", f"{S}/order", body={}), dict),
        (Call("POST", f"{S}/verify", role="second_nurse", body=clinic.pump_reading()), dict),
        (Call("POST", f"{S}/start", role="nurse", body={}), dict),
        (Call("POST", f"{S}/rate", role="nurse", body={"rate_ml_per_h": 8.2}), dict),
        (Call("POST", f"{S}/pause", role="nurse", body=reason), dict),
        (Call("POST", f"{S}/resume", role="nurse", body=reason), dict),
        (Call("POST", f"{S}/stop", role="nurse", body={"reason_category": "side_effects"}),
         dict),
        (Call("POST", f"{S}/abort", role="nurse", body=reason), dict),
        (Call("POST", f"{S}/bolus", role="nurse", body={"dose_mg": 2.5, "reason": "pain"}), dict),
        (Call("POST", f"{S}/discharge", role="nurse", body=DISCHARGE), dict),
        (Call("POST", f"{S}/cancel", role="nurse", body=reason), dict),
        (Call("POST", f"{S}/no-show", role="nurse", body={}), dict),
        (Call("POST", "/api/v1/courses"), course_body),
        (Call("GET", "/api/v1/courses", query={"patient_id": clinic.patients[0]}), dict),
        (Call("GET", "/api/v1/courses/{course_id}"),
         lambda: {"course_id": clinic.courses["bystander"]}),
        (Call("POST", "/api/v1/courses/{course_id}/end", body=reason), course),
        (Call("POST", "/api/v1/courses/{course_id}/questionnaires",
              body={"every_days": {"nrs": 1}}), course),
    ]  # fmt: skip
    calls += scheduling_calls(clinic, protocol)
    calls += book_view_calls(clinic, protocol)
    calls += inventory_calls(clinic)
    calls += fhir_calls(clinic)
    return {(call.method, call.path): _made(clinic, call, make) for call, make in calls}


def _made(
    clinic: SeededClinic, call: Call, make: Callable[[], dict[str, Any]]
) -> Callable[[], Call]:
    """``call`` completed when asked: its path ids (a fresh target session for an action on a
    session), its body, and how to renew it for each request."""

    def complete() -> Call:
        ids = dict(make())
        body, renew = ids.pop("body", call.body), ids.pop("renew", call.renew)
        call_ = replace(call, body=body)
        call_ = replace(call_, renew=_unlocking(call_, renew))
        if call.path.startswith(S + "/"):
            action = call.path.removeprefix(S + "/").split("/")[0]
            ids["session_id"] = clinic.target("acknowledge" if action == "alerts" else action)
            if action == "alerts":
                ids["alert_id"] = clinic.alert_id
            if action == "entries":
                ids["event_id"] = clinic.event_id
        return replace(call_, path_params=ids)

    return complete


# --- schemathesis ------------------------------------------------------------------------------


def schema_calls(app: FastAPI, ids: dict[str, list[int]]) -> dict[tuple[str, str], Any]:
    """Schemathesis' requests from the schema alone, with seeded ids in the path."""
    strategies = {}
    for result in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)

        def to_call(
            case: schemathesis.Case, path_ids: dict[str, int], key: tuple[str, str] = key
        ) -> Call:
            body = None if isinstance(case.body, NotSet) else case.body
            query = case.query if isinstance(case.query, dict) else {}
            form = (case.media_type or "").endswith("x-www-form-urlencoded")
            return Call(key[0], key[1], path_params=path_ids, query=query, body=body, form=form)

        names = re.findall(r"\{(\w+)\}", operation.path)
        path_ids = st.fixed_dictionaries({n: st.sampled_from(ids.get(n, [1])) for n in names})
        strategies[key] = st.builds(to_call, operation.as_strategy(), path_ids)
    return strategies


# --- the test -----------------------------------------------------------------------------------


def _ids(clinic: SeededClinic) -> dict[str, list[int]]:
    """Ids of existing records for generated requests: a session in every state, and the
    inventory's records (``lot_id`` and the like feed generated body fields)."""
    stock = clinic.stock
    return {
        "patient_id": clinic.patients,
        "session_id": sorted([*clinic.bystanders.values(), stock["drawn_session"]]),
        "course_id": [clinic.courses["bystander"]],
        "protocol_id": sorted(clinic.protocols.values()),
        "alert_id": [clinic.alert_id],
        "event_id": [clinic.event_id],
        "receipt_id": [stock["receipt"]],
        "count_id": [stock["count"]],
        "discrepancy_id": [stock["discrepancy"], stock["loss"]],
        "disposal_id": [stock["disposal"]],
        "product_id": [stock["product"]],
        "lot_id": [stock["lot"], stock["expired_lot"]],
        "location_id": [stock["safe"], stock["cabinet"]],
    }


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    answered_2xx: bool = False

    def record(self, request: Call, response: Any) -> None:
        if response.status_code >= 500:
            self.failures.append(f"{request}: {response.status_code} {response.text[:200]}")
        elif response.status_code < 300:
            self.answered_2xx = True


def _fuzz(
    client: TestClient,
    requests: st.SearchStrategy[Call],
    tokens: dict[str, dict[str, str]],
    outcome: Outcome,
) -> None:
    """Send the generated requests of one operation; no deadline, reproducible examples."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests)
    def check(request: Call) -> None:
        outcome.record(request, send(client, request, tokens))

    check()


def test_no_generated_request_gets_a_server_error(
    app: FastAPI, client: TestClient, make_person: Callable[..., Person]
) -> None:
    """Slow because it sends about 2,000 requests per database, every operation's extremes and
    generated requests (about 40 s of CPU); one test, since every operation must be fed."""
    with clock.frozen_at(NOW):
        clinic = seed(client, make_person)
        calls = valid_calls(clinic)
        ids = _ids(clinic)
        every_id = sorted({i for group in ids.values() for i in group})
        tokens = {"physician": clinic.physician, "nurse": clinic.nurse}
        tokens["second_nurse"] = clinic.second_nurse
        tokens["admin"] = clinic.admin
        schema = app.openapi()
        operations = {(m.upper(), p) for p, items in schema["paths"].items() for m in items}
        in_schema = [(m, p) for m, p, route in every_route(app) if route.include_in_schema]
        assert len(operations) == len(in_schema)  # counted from the routes, not the schema
        assert set(calls) == operations, "give each operation of the schema a valid request"
        generated = schema_calls(app, ids)
        assert set(generated) == operations
        outcomes: dict[tuple[str, str], Outcome] = {}
        for operation in sorted(operations):
            call = calls[operation]()
            spots = places(schema, call)
            outcome = outcomes[operation] = Outcome()
            for extreme in sweep(call, spots):
                outcome.record(extreme, send(client, extreme, tokens))
            _fuzz(client, mutations(call, spots, every_id) | generated[operation], tokens, outcome)
    assert [f for o in outcomes.values() for f in o.failures] == []
    assert len(outcomes) == len(operations)  # every operation was fed
    unreached = sorted(op for op, o in outcomes.items() if not o.answered_2xx and op not in NO_2XX)
    assert unreached == [], "these operations never answered 2xx: the fuzzing did not reach them"


@pytest.mark.parametrize("text", ["\x00", "\ud800"])
def test_the_generator_sends_what_a_client_library_would_refuse(text: str) -> None:
    """Lone surrogates and NUL reach the server as JSON escapes, not as an encoding error, and
    a raw number keeps every digit."""
    body = {"name": text, "n": Raw("1e-30"), "gone": MISSING}
    assert to_json(body) == '{"name": ' + json.dumps(text) + ', "n": 1e-30}'
    sent = json.loads(to_json([Raw("80.0000000000000000000001")]), parse_float=Decimal)
    assert sent == [Decimal("80.0000000000000000000001")]
