"""Ketamine as ordered (MedicationRequest) and as given (MedicationAdministration), per infusion
session, for the FHIR R4 server (issue #14; CODES.md §2 and §4.3).

Medication code: RxNorm ingredient 6130 ketamine (CODES.md §2 [S]), not a clinical drug (SCD):
the bag the pump runs is a dilution the clinic prepares (e.g. 1 mg/mL, ``order_plan``), which no
marketed-product SCD describes, and the SCDs by vial strength are [U] in CODES.md. The vial
actually used is named by its NDC and lot on a contained Medication (see
``MedicationAdministration``). US Core's MedicationRequest binding is extensible, so the
ingredient is allowed where no clinical-drug code fits.

Numbers are ``Decimal`` exactly as the order and the timeline hold them (``exact``), never floats:
a dose cut at 28 digits by ``infusions.timeline`` stays those digits. The serializer of the
server must write a Decimal as a JSON number with all its digits (README for the lead).
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from ketaclinic.dosing.checks import DOSE_CONTEXT
from ketaclinic.infusions.core import State
from ketaclinic.infusions.pump import show
from ketaclinic.infusions.timeline import Push, Segment
from ketaclinic.interop.fhir_base import (
    KETAMINE_RXNORM,
    NDC,
    RXNORM,
    FhirContext,
    Resource,
    concept,
    instant,
    reference,
)
from ketaclinic.interop.fhir_care_checks import PROFILES
from ketaclinic.interop.fhir_care_visits import Visit, exact, iv_route, practitioner, reasons

MEDICATION_REQUEST_PROFILE = PROFILES["MedicationRequest"]
#: Dose and rate as the physician ordered them, and as the plan turned them into a pump rate.
DOSE_RATE_TYPE = "http://terminology.hl7.org/CodeSystem/dose-rate-type"
#: The contained Medication's local id.
VIAL = "vial"

#: The order's status by session state; a session that ended early makes it ``stopped``.
_REQUEST_STATUS = {
    State.SCHEDULED: "active",
    State.CHECKED_IN: "active",
    State.INFUSING: "active",
    State.PAUSED: "active",
    State.OBSERVING: "completed",
    State.DISCHARGED: "completed",
    State.ABORTED: "cancelled",
    State.CANCELLED: "cancelled",
    State.NO_SHOW: "cancelled",
}


def ketamine() -> Resource:
    return concept(RXNORM, KETAMINE_RXNORM, "ketamine")


# --- MedicationRequest ----------------------------------------------------------------------------


def medication_request(ctx: FhirContext, visit: Visit) -> Resource | None:
    """The signed order of the session (its id is the session's), or None before it is signed.

    Status: ``active`` until the infusion ends, ``completed`` when it ran as ordered, ``stopped``
    when it ended early (an early stop or an abort after the start), ``cancelled`` when the
    session ended without the infusion (aborted before the start, cancelled, no-show)."""
    row = visit.row
    plan = row.order_plan
    if row.order_signed_by_user_id is None or row.order_signed_at is None or plan is None:
        return None
    status = "stopped" if visit.ended_early else _REQUEST_STATUS[visit.state]
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": visit.sid,
        "meta": {"profile": [MEDICATION_REQUEST_PROFILE]},
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": ketamine(),
        "subject": reference("Patient", row.patient_id),
        "encounter": reference("Encounter", visit.sid),
        "authoredOn": instant(row.order_signed_at),
        "requester": practitioner(row.order_signed_by_user_id),
        **reasons(visit),
        "instantiatesUri": [_protocol_uri(ctx, visit)],
        "dosageInstruction": _ordered_dosage(plan),
    }
    why = visit.stopped_early or visit.end_reason()
    if status in ("stopped", "cancelled") and why:
        resource["statusReason"] = {"text": why}
    if row.verified_by_user_id is not None and row.verified_at is not None:
        resource["note"] = [
            {
                "authorReference": practitioner(row.verified_by_user_id),
                "time": instant(row.verified_at),
                "text": "Pump setting checked against the order by a second nurse.",
            }
        ]
    return resource


def _protocol_uri(ctx: FhirContext, visit: Visit) -> str:
    """The protocol version the order was calculated against (kept by the session)."""
    p = visit.protocol
    return f"urn:ketaclinic:{ctx.clinic_code.lower()}:protocol:{p.key}:v{p.version}"


def _number(plan: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(plan[key]))


def _ordered_dosage(plan: dict[str, Any]) -> list[Resource]:
    """The infusion as ordered (per kg or per hour, ``ordered``) and as the pump runs it (mg/h
    and the total, ``calculated``); a planned bolus as a second instruction."""
    dose, unit = _number(plan, "dose"), str(plan["dose_unit"])
    minutes = int(plan["duration_min"])
    ordered: Resource = {"type": concept(DOSE_RATE_TYPE, "ordered", "Ordered")}
    if unit == "mg/kg":  # mg/kg over N min: a dose spread over the timing's duration
        ordered["doseQuantity"] = exact(dose, "mg/kg", "mg/kg")
    else:  # mg/kg/h or mg/h: a rate (UCUM reads mg/kg/h left to right, (mg/kg)/h: §2.2)
        ordered["rateQuantity"] = exact(dose, unit, unit)
    calculated = {
        "type": concept(DOSE_RATE_TYPE, "calculated", "Calculated"),
        "doseQuantity": exact(_number(plan, "infusion_mg"), "mg", "mg"),
        "rateQuantity": exact(_number(plan, "rate_mg_per_h"), "mg/h", "mg/h"),
    }
    infusion: Resource = {
        "text": _order_text(plan),
        "timing": {"repeat": {"count": 1, "duration": minutes, "durationUnit": "min"}},
        "route": iv_route(),
        "doseAndRate": [ordered, calculated],
    }
    instructions = [infusion]
    bolus_mg = _number(plan, "bolus_mg")
    if bolus_mg > 0:
        instructions.append(
            {
                "text": f"bolus {show(bolus_mg)} mg ({show(_number(plan, 'bolus_ml'))} mL)",
                "route": iv_route(),
                "doseAndRate": [
                    {
                        "type": concept(DOSE_RATE_TYPE, "calculated", "Calculated"),
                        "doseQuantity": exact(bolus_mg, "mg", "mg"),
                    }
                ],
            }
        )
    return instructions


def _order_text(plan: dict[str, Any]) -> str:
    n = {k: show(_number(plan, k)) for k in _SHOWN}
    return (
        f"{n['dose']} {plan['dose_unit']} ({plan['weight_basis']} weight "
        f"{n['weight_basis_kg']} kg) "
        f"over {plan['duration_min']} min: pump {n['pump_rate_ml_per_h']} mL/h = "
        f"{n['rate_mg_per_h']} mg/h at {n['concentration_mg_per_ml']} mg/mL, "
        f"{n['infusion_mg']} mg infused"
    )


_SHOWN = (
    "dose",
    "weight_basis_kg",
    "pump_rate_ml_per_h",
    "rate_mg_per_h",
    "concentration_mg_per_ml",
    "infusion_mg",
)


# --- MedicationAdministration ---------------------------------------------------------------------


def medication_administrations(visit: Visit) -> list[Resource]:
    """Ketamine as given: one MedicationAdministration per rate segment of the timeline, one per
    bolus, or one ``not-done`` when the signed order was never started.

    Why per segment: a rate is one number per administration in R4 (``dosage.rate[x]``), and a
    session's rate changes and pauses are the clinical record; one resource per session would
    keep only a note of them. Each segment's ``dosage.dose`` is ``timeline.Segment.mg`` and each
    bolus's is ``timeline.Push.mg``: the session's total is their sum, which is
    ``Delivered.total_mg`` (the timeline divides the sum once; a sum of per-segment quotients can
    differ from it only beyond the 28th digit, when a quotient does not terminate). ``partOf``
    ties them to the session's Procedure. Ids: ``{session}-{n}`` (n-th segment, from 1),
    ``{session}-bolus-{n}``, ``{session}-not-given``; a timeline only grows, so ids never move.

    Status: ``completed``; ``in-progress`` for the segment the pump is running now (no end and
    no dose yet: the dose is known when the segment ends); ``on-hold`` for the last segment
    while the session is paused; ``stopped`` for the last one of an infusion that ended early.

    The lot: R4 has no lot on MedicationAdministration, so the vial's product is a contained
    Medication (RxNorm 6130, the NDC, ``batch.lotNumber`` and expiry) when inventory recorded one
    ketamine lot for the session. With several lots the contained Medication has no batch (R4
    allows one) and a note lists them; with none, ``medicationCodeableConcept`` alone.
    """
    row = visit.row
    if visit.given is None:
        if row.order_signed_by_user_id is not None and visit.state in _NEVER_GIVEN:
            return [_not_given(visit)]
        return []
    segments = visit.given.segments
    found = [_segment(visit, n, s, n == len(segments)) for n, s in enumerate(segments, 1)]
    found += [_bolus(visit, n, push) for n, push in enumerate(visit.given.boluses, 1)]
    return found


_NEVER_GIVEN = frozenset({State.ABORTED, State.CANCELLED, State.NO_SHOW})


def _common(visit: Visit, resource_id: str, status: str) -> Resource:
    resource: Resource = {
        "resourceType": "MedicationAdministration",
        "id": resource_id,
        "status": status,
        **_medication(visit),
        "subject": reference("Patient", visit.row.patient_id),
        "context": reference("Encounter", visit.sid),
        "partOf": [reference("Procedure", visit.sid)],
    }
    if visit.row.order_signed_by_user_id is not None:
        resource["request"] = reference("MedicationRequest", visit.sid)
    if len(visit.lots) > 1:
        lots = ", ".join(f"{lot.lot_number} (NDC {lot.ndc})" for lot in visit.lots)
        resource["note"] = [{"text": f"Ketamine drawn from lots {lots}."}]
    return resource


def _medication(visit: Visit) -> Resource:
    if not visit.lots:
        return {"medicationCodeableConcept": ketamine()}
    codes = ketamine()
    for ndc in dict.fromkeys(lot.ndc for lot in visit.lots):
        codes["coding"].append({"system": NDC, "code": ndc})
    medication: Resource = {"resourceType": "Medication", "id": VIAL, "code": codes}
    if len(visit.lots) == 1:
        lot = visit.lots[0]
        medication["manufacturer"] = {"display": lot.manufacturer}
        medication["batch"] = {"lotNumber": lot.lot_number, "expirationDate": lot.expiry_date}
    return {"contained": [medication], "medicationReference": {"reference": f"#{VIAL}"}}


def _segment(visit: Visit, n: int, segment: Segment, last: bool) -> Resource:
    given = visit.given
    assert given is not None
    running = last and given.running and visit.state is State.INFUSING
    status = "in-progress" if running else "completed"
    if last and visit.state is State.PAUSED:
        status = "on-hold"
    elif last and visit.ended_early:
        status = "stopped"
    resource = _common(visit, f"{visit.sid}-{n}", status)
    period = {"start": instant(visit.at(segment.start_s))}
    if not running:
        period["end"] = instant(visit.at(segment.end_s))
    resource["effectivePeriod"] = period
    opened_by = visit.opening_event(segment.start_s)
    if opened_by is not None:
        resource["performer"] = [{"actor": practitioner(opened_by.by_user_id)}]
    concentration = given.concentration_mg_per_ml
    with localcontext(DOSE_CONTEXT):
        ml_per_h = segment.mg_per_h / concentration
    dosage: Resource = {
        "text": f"{show(segment.mg_per_h)} mg/h: {show(ml_per_h)} mL/h of "
        f"{show(concentration)} mg/mL",
        "route": iv_route(),
    }
    if not running:
        dosage["dose"] = exact(segment.mg, "mg", "mg")
    dosage["rateQuantity"] = exact(segment.mg_per_h, "mg/h", "mg/h")
    resource["dosage"] = dosage
    if status == "stopped" and (why := visit.stopped_early or visit.end_reason()):
        resource["statusReason"] = [{"text": why}]
    return resource


def _bolus(visit: Visit, n: int, push: Push) -> Resource:
    resource = _common(visit, f"{visit.sid}-bolus-{n}", "completed")
    at = visit.at(push.at_s)
    resource["effectiveDateTime"] = instant(at)
    pushes = [e for e in visit.events if e.kind == "bolus"]
    if len(pushes) >= n:  # the n-th bolus event is the n-th push (readings.delivered)
        event = pushes[n - 1]
        resource["performer"] = [{"actor": practitioner(event.by_user_id)}]
        if event.reason:
            resource["reasonCode"] = [{"text": event.reason}]
    resource["dosage"] = {
        "text": "bolus push",
        "route": iv_route(),
        "dose": exact(push.mg, "mg", "mg"),
    }
    return resource


def _not_given(visit: Visit) -> Resource:
    resource = _common(visit, f"{visit.sid}-not-given", "not-done")
    resource["statusReason"] = [{"text": visit.end_reason() or visit.row.state}]
    ending = visit.last("abort", "cancel", "mark_no_show")
    resource["effectiveDateTime"] = instant(ending.at if ending else visit.row.updated_at)
    resource["dosage"] = {"route": iv_route()}
    return resource
