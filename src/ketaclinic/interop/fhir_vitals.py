"""Vital signs as FHIR R4 Observations (category vital-signs, core profiles; CODES.md §1.4): one
Observation per value a flowsheet row measured (a blood pressure is one Observation with two
components), and one per recorded body weight.

Resource ids say where the value lives, so ``patient_of`` can find it without building anything:
``vitals-<event id>-<bp|hr|rr|spo2|temp>`` and ``weight-<weight id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ketaclinic.infusions.models import SessionEvent
from ketaclinic.interop.device_codes import (
    DIASTOLIC,
    HEART_RATE,
    RESP_RATE,
    SPO2,
    SYSTOLIC,
    TEMPERATURE,
)
from ketaclinic.interop.fhir_base import (
    CORE_PROFILE,
    DATA_ABSENT_REASON,
    LOINC,
    OBSERVATION_CATEGORY,
    Resource,
    coding,
    concept,
    instant,
    quantity,
    reference,
)
from ketaclinic.patients.models import WeightMeasurement

VITAL_SIGNS_CATEGORY: Resource = {
    "coding": [coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")],
    "text": "Vital Signs",
}


@dataclass(frozen=True)
class VitalSign:
    """How one flowsheet field is written: its LOINC code(s), UCUM unit and core profile."""

    suffix: str  # the end of the resource id
    field: str  # the key in SessionEvent.data
    loinc: tuple[tuple[str, str], ...]  # (code, display); the first is the profile's own
    unit: str  # for people
    ucum: str  # case-sensitive UCUM code (CODES.md §1.4)
    profile: str


# Codes, UCUM units and profiles: CODES.md §1.4 [V]. The SpO2 second coding 59408-5 is the one US
# Core Pulse Oximetry requires next to the core profile's 2708-6 (CODES.md §1.4).
SINGLE_VALUES: tuple[VitalSign, ...] = (
    VitalSign("hr", HEART_RATE, (("8867-4", "Heart rate"),), "beats/minute", "/min", "heartrate"),
    VitalSign(
        "rr", RESP_RATE, (("9279-1", "Respiratory rate"),), "breaths/minute", "/min", "resprate"
    ),
    VitalSign(
        "spo2",
        SPO2,
        (
            ("2708-6", "Oxygen saturation in Arterial blood"),
            ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
        ),
        "%",
        "%",
        "oxygensat",
    ),
    # The flowsheet does not record a temperature today (device_codes.TEMPERATURE is a proposed
    # field); when a row has one, it is written in Cel as stored, never converted.
    VitalSign("temp", TEMPERATURE, (("8310-5", "Body temperature"),), "°C", "Cel", "bodytemp"),
)
BLOOD_PRESSURE_SUFFIX = "bp"
BLOOD_PRESSURE = ("85354-9", "Blood pressure panel with all children optional")
BP_PARTS = (
    (SYSTOLIC, "8480-6", "Systolic blood pressure"),
    (DIASTOLIC, "8462-4", "Diastolic blood pressure"),
)
MMHG_UNIT, MMHG_UCUM = "mmHg", "mm[Hg]"
BODY_WEIGHT = ("29463-7", "Body weight")

VITALS_SUFFIXES = frozenset({BLOOD_PRESSURE_SUFFIX, *(v.suffix for v in SINGLE_VALUES)})
VITAL_PROFILES: tuple[str, ...] = (
    CORE_PROFILE + "bp",
    *(CORE_PROFILE + v.profile for v in SINGLE_VALUES),
    CORE_PROFILE + "bodyweight",
)


def vitals_id(event_id: int, suffix: str) -> str:
    return f"vitals-{event_id}-{suffix}"


def weight_id(weight_id_: int) -> str:
    return f"weight-{weight_id_}"


def measured_suffixes(data: dict[str, Any]) -> list[str]:
    """The resource-id suffixes of the values one flowsheet row holds, in a fixed order."""
    found = []
    if any(data.get(field) is not None for field, _, _ in BP_PARTS):
        found.append(BLOOD_PRESSURE_SUFFIX)
    found += [v.suffix for v in SINGLE_VALUES if data.get(v.field) is not None]
    return found


def vitals_observations(event: SessionEvent, patient_id: int) -> list[Resource]:
    """One Observation per value measured in a ``vitals`` event, in ``measured_suffixes`` order."""
    built = []
    for suffix in measured_suffixes(event.data):
        if suffix == BLOOD_PRESSURE_SUFFIX:
            built.append(_blood_pressure(event, patient_id))
        else:
            sign = next(v for v in SINGLE_VALUES if v.suffix == suffix)
            built.append(_single_value(event, patient_id, sign))
    return built


def weight_observation(weight: WeightMeasurement) -> Resource:
    """A recorded body weight in kg, as stored (two decimals, never rounded further)."""
    resource: Resource = {
        "resourceType": "Observation",
        "id": weight_id(weight.id),
        "meta": {"profile": [CORE_PROFILE + "bodyweight"]},
        "status": "final",
        "category": [VITAL_SIGNS_CATEGORY],
        "code": concept(LOINC, *BODY_WEIGHT, text="Body weight"),
        "subject": reference("Patient", weight.patient_id),
        "effectiveDateTime": instant(weight.measured_at),
        "valueQuantity": quantity(weight.weight_kg, "kg"),
    }
    if weight.recorded_by_user_id is not None:  # staff record weights (patients.service)
        resource["performer"] = [reference("Practitioner", weight.recorded_by_user_id)]
    return resource


# --- one flowsheet row -------------------------------------------------------------------------


def _number(value: object) -> Decimal:
    """A stored value as an exact Decimal (JSON ints, or strings such as "36.8")."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValueError(f"a vital sign is stored as a number, not {type(value).__name__}")
    return Decimal(str(value))


def _common(
    event: SessionEvent, patient_id: int, suffix: str, profile: str, code: Resource
) -> Resource:
    """What every Observation of one row shares: status, category, times, subject, encounter,
    where the values came from, and why the row no longer counts if it was entered in error."""
    resource: Resource = {
        "resourceType": "Observation",
        "id": vitals_id(event.id, suffix),
        "meta": {"profile": [CORE_PROFILE + profile]},
        "status": "entered-in-error" if event.entered_in_error_at is not None else "final",
        "category": [VITAL_SIGNS_CATEGORY],
        "code": code,
        "subject": reference("Patient", patient_id),
        "encounter": reference("Encounter", event.session_id),
        "effectiveDateTime": instant(event.at),
    }
    if event.recorded_at is not None:
        resource["issued"] = instant(event.recorded_at)  # when it was charted (late entries)
    device = _device(event.data)
    if device is not None:
        resource["device"] = device
    if device is None or event.data.get("matched"):
        # Who charted it: a nurse, or the one who matched a monitor's message by hand (charting
        # is for staff, and Practitioner ids are user ids: fhir_record). A monitor's own reading
        # names the monitor instead.
        resource["performer"] = [reference("Practitioner", event.by_user_id)]
    notes = _notes(event)
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    return resource


def _device(data: dict[str, Any]) -> Resource | None:
    """A monitor's reading names the monitor (EUI-64 from HL7 OBX-18, CODES.md §4.3). There is no
    Device resource yet, so the reference is by identifier and display only."""
    if data.get("source") != "device":
        return None
    eui64 = str(data.get("device") or "")
    if not eui64:
        return {"display": "bedside monitor (HL7 v2; no device id sent)"}
    return {"identifier": {"value": eui64}, "display": f"bedside monitor (HL7 v2) {eui64}"}


def _notes(event: SessionEvent) -> list[str]:
    data = event.data
    notes = []
    if data.get("source") == "device":
        how = (
            "matched to this session by a nurse"
            if data.get("matched")
            else "placed on the active session automatically"
        )
        notes.append(f"Sent by a bedside monitor over HL7 v2 (ORU^R01), {how}; not typed.")
    if data.get("confirmed_implausible"):
        notes.append("A value beyond its plausibility band, re-checked and confirmed by the nurse.")
    if event.entered_in_error_at is not None:
        reason = event.entered_in_error_reason or "no reason given"
        notes.append(f"Entered in error at {instant(event.entered_in_error_at)}: {reason}")
    return notes


def _blood_pressure(event: SessionEvent, patient_id: int) -> Resource:
    code = concept(LOINC, *BLOOD_PRESSURE, text="Blood pressure")
    resource = _common(event, patient_id, BLOOD_PRESSURE_SUFFIX, "bp", code)
    resource["component"] = [_bp_component(event.data, *part) for part in BP_PARTS]
    return resource


def _bp_component(data: dict[str, Any], field: str, code: str, display: str) -> Resource:
    """A systolic or diastolic value in mm[Hg]; the profile needs both, so a missing one says
    why it is absent rather than being left out."""
    component: Resource = {"code": concept(LOINC, code, display)}
    value = data.get(field)
    if value is None:
        component["dataAbsentReason"] = concept(DATA_ABSENT_REASON, "unknown", "Unknown")
    else:
        component["valueQuantity"] = quantity(_number(value), MMHG_UNIT, MMHG_UCUM)
    return component


def _single_value(event: SessionEvent, patient_id: int, sign: VitalSign) -> Resource:
    codings = [coding(LOINC, code, display) for code, display in sign.loinc]
    code = {"coding": codings, "text": sign.loinc[0][1]}
    resource = _common(event, patient_id, sign.suffix, sign.profile, code)
    resource["valueQuantity"] = quantity(_number(event.data[sign.field]), sign.unit, sign.ucum)
    return resource
