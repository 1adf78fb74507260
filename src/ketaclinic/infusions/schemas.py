"""Infusion-session requests and responses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ketaclinic.infusions.pump import PumpReading
from ketaclinic.patients.schemas import HeightCm, WeightKg
from ketaclinic.protocols.schemas import Dose, DurationMin, LimitName, PumpResolution
from ketaclinic.vitals.core import problem as vital_problem
from ketaclinic.web.fields import ClinicInstant, Exact
from ketaclinic.web.params import MAX_ID

ChairName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
VersionField = Field(
    default=None,
    ge=1,
    le=MAX_ID,
    description="The session version you last saw; a stale one answers 409",
)


#: Clinic policy: 10 µg, below the smallest dose of any adjunct in ``monitoring.adjuncts``
#: (clonidine 0.1 mg PO); each drug's own maxima are checked there.
ADJUNCT_DOSE_MIN_MG = Decimal("0.01")
#: Clinic policy: 0.1 mg is 0.05–0.1 mL at the library's dilutions (1–2 mg/mL), which a 1 mL
#: syringe (0.01 mL marks) measures; less is a typing slip, not a push.
BOLUS_MIN_MG = Decimal("0.1")
#: A 1200 mL/h pump at 1 mg/mL (``pk.TciLimits``); every protocol's hard limit is far below.
RATE_MAX_MG_PER_H = Decimal(1200)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: int = Field(ge=1, le=MAX_ID)
    protocol_id: int = Field(
        ge=1, le=MAX_ID, description="The protocol version the session will use"
    )
    scheduled_at: ClinicInstant = Field(
        description="With its UTC offset; at most an hour in the past (a late entry)"
    )
    chair_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="The chair (GET /api/v1/scheduling/chairs); none: the first free active chair",
    )
    chair: ChairName | None = Field(
        default=None, description="An active chair of the clinic by its name, instead of chair_id"
    )
    course_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="The course the session belongs to, if any"
    )


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = VersionField


class ObservationIn(BaseModel):
    """Something charted beside the session; it never conflicts with what others charted."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="Accepted for older clients and not checked: an observation is recorded "
        "whatever else was charted since",
    )
    observed_at: ClinicInstant | None = Field(
        default=None,
        description="A late entry: when it was observed, with its UTC offset; at most "
        "KETACLINIC_LATE_ENTRY_MAX_MIN (default 60) minutes back, never in the future, never "
        "before the check-in. Omitted: now",
    )


def _plausible(name: str) -> AfterValidator:
    def check(value: int) -> int:
        reason = vital_problem(name, value)
        if reason:
            raise ValueError(reason)
        return value

    return AfterValidator(check)


class VitalsIn(ObservationIn):
    """A bedside check during the infusion or the observation."""

    systolic_mmhg: Annotated[int, _plausible("systolic_mmhg")]
    diastolic_mmhg: Annotated[int, _plausible("diastolic_mmhg")]
    heart_rate_per_min: Annotated[int, _plausible("heart_rate_per_min")]
    spo2_percent: Annotated[int, _plausible("spo2_percent")]
    resp_rate_per_min: Annotated[int, _plausible("resp_rate_per_min")]
    confirm_implausible: bool = Field(
        default=False,
        description="The nurse re-checked a value beyond its plausibility band (e.g. systolic "
        "> 250) and confirms it; without it such a reading answers 422 naming the value",
    )


class SideEffectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effect: str = Field(description="e.g. dissociation, sedation, nausea_vomiting")
    grade: int | str = Field(description="Severity name (none…severe), or MOAA/S 0–5 for sedation")


class SideEffectsIn(ObservationIn):
    assessments: list[SideEffectIn] = Field(min_length=1, max_length=12)


class AdjunctIn(ObservationIn):
    drug: str = Field(description="ondansetron, midazolam, clonidine or labetalol")
    dose: Annotated[
        Decimal,
        Exact("mg", ADJUNCT_DOSE_MIN_MG, Decimal(1000), places=3, minimum_source="clinic policy"),
    ] = Field(description="In the drug's unit (mg)")
    unit: str = "mg"
    route: str = Field(description="IV or PO, as the drug allows")
    reason: Reason


class AlertOut(BaseModel):
    id: int
    rule_id: str
    message: str
    severity: str
    suggested_action: str
    source: str
    raised_at: datetime
    acknowledged_by_user_id: int | None
    acknowledged_at: datetime | None
    event_id: int | None = Field(description="The reading that raised it")
    observed_at: datetime | None = Field(description="When that reading was observed")
    withdrawn_at: datetime | None = Field(
        description="Set when its reading was marked entered in error; a withdrawn alert is "
        "not open"
    )


class MoodIn(BaseModel):
    """The session's mood questionnaire, scored exactly by ``ketaclinic.instruments``."""

    model_config = ConfigDict(extra="forbid")

    instrument: Literal["phq9", "gad7"] = "phq9"
    answers: list[int | None] = Field(max_length=20, description="One per item, in order")


PregnancyStatus = Literal["not_pregnant", "pregnant", "unknown", "not_applicable"]
PainNrs = Annotated[int, Field(ge=0, le=10, description="Pain right now, 0–10 (NRS)")]


class CheckInIn(ActionIn):
    """Everything the nurse checks before the infusion. A blood pressure above the clinic's
    threshold, a possible pregnancy or a new contraindication blocks the start until a physician
    records a decision (``/clearance``): the software flags, the physician decides."""

    systolic_mmhg: Annotated[int, _plausible("systolic_mmhg")]
    diastolic_mmhg: Annotated[int, _plausible("diastolic_mmhg")]
    heart_rate_per_min: Annotated[int, _plausible("heart_rate_per_min")]
    spo2_percent: Annotated[int, _plausible("spo2_percent")]
    resp_rate_per_min: Annotated[int, _plausible("resp_rate_per_min")]
    weight_kg: WeightKg | None = Field(
        default=None, description="Today's weight when it changed; added to the weight history"
    )
    pain_nrs: PainNrs
    mood: MoodIn
    pregnancy_status: PregnancyStatus | None = Field(
        default=None,
        description="Required for a female patient of 12–55 years (clinic policy); "
        "pregnant or unknown blocks the start",
    )
    contraindications_changed: bool = Field(
        description="Has anything in the screening's contraindication list changed since it was "
        "signed? Yes blocks the start until a physician decides"
    )
    contraindication_note: Reason | None = Field(
        default=None, description="What changed; required when contraindications_changed"
    )
    escort_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    confirm_implausible: bool = Field(
        default=False,
        description="The nurse re-checked a vital beyond its plausibility band and confirms it",
    )


class ReasonIn(ActionIn):
    reason: Reason = Field(description="Why; required for pause and abort")


#: A rate's mL/h as a pump shows it: up to a 1200 mL/h pump (``pk.TciLimits``), 3 decimals at most
#: (the finest pump step in use is 0.01 mL/h); whole steps of the order's pump are checked after.
RateMlPerH = Annotated[Decimal, Exact("mL/h", Decimal(0), Decimal(1200), places=3)]
RateMgPerH = Annotated[Decimal, Exact("mg/h", Decimal(0), RATE_MAX_MG_PER_H, places=6)]


class RateIn(ActionIn):
    """A new pump rate in exactly one unit; the other follows through the order's concentration.
    0 is refused (use pause); a value the pump cannot be set to is refused, never rounded."""

    rate_ml_per_h: RateMlPerH | None = Field(
        default=None, description="The new pump rate as the pump shows it, mL/h"
    )
    rate_mg_per_h: RateMgPerH | None = Field(
        default=None,
        description="The new rate in mg/h; it must come to a whole number of the pump's steps",
    )
    reason: Reason | None = Field(default=None, description="Required above a soft limit")


class VerifyIn(ActionIn):
    """The second nurse's blind check: what the pump and the bag show, typed without seeing the
    order. Each value is compared exactly with the signed order."""

    drug: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    concentration_mg_per_ml: Annotated[
        Decimal, Exact("mg/mL", Decimal("0.001"), Decimal(1000), places=3)
    ] = Field(description="The concentration on the bag's label")
    rate_ml_per_h: RateMlPerH = Field(description="The rate the pump is set to")
    volume_to_be_infused_ml: Annotated[
        Decimal, Exact("mL", Decimal("0.1"), Decimal(10000), places=2)
    ] = Field(description="The volume to be infused (VTBI) the pump is set to")

    def reading(self) -> PumpReading:
        return PumpReading(
            drug=self.drug,
            concentration_mg_per_ml=self.concentration_mg_per_ml,
            rate_ml_per_h=self.rate_ml_per_h,
            volume_to_be_infused_ml=self.volume_to_be_infused_ml,
        )


StopCategory = Literal["side_effects", "patient_request", "equipment", "other"]


class StopIn(ActionIn):
    """Stop the pump. Before the planned end with the ordered dose not all given, a reason
    category is required (and text for ``other``); at or after it none is needed."""

    reason_category: StopCategory | None = Field(
        default=None, description="Why the infusion stops before the ordered dose is given"
    )
    reason: Reason | None = Field(default=None, description="Optional words; needed for other")


class OrderIn(ActionIn):
    weight_kg: WeightKg | None = Field(
        default=None, description="Actual body weight, kg; defaults to the last one recorded"
    )
    height_cm: HeightCm | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    weight_basis: Literal["actual", "ideal", "adjusted"] = "actual"
    dose: Dose | None = Field(default=None, description="In the protocol's dose unit")
    duration_min: DurationMin | None = None
    override_reasons: dict[LimitName, Reason] = Field(
        default={},
        max_length=20,
        description="A reason per soft limit to go above it, by limit name",
    )
    pump_resolution_ml_per_h: PumpResolution = Decimal("0.1")


class BolusIn(ActionIn):
    """A bolus push, judged against the protocol's bolus limit for the order's weight."""

    dose_mg: Annotated[
        Decimal, Exact("mg", BOLUS_MIN_MG, Decimal(1000), places=3, minimum_source="clinic policy")
    ] = Field(description="mg; more than 3 decimals refused")
    reason: Reason
    override_reason: Reason | None = Field(
        default=None, description="Required above the protocol's soft bolus limit"
    )


class AldreteIn(BaseModel):
    """Modified Aldrete items, each 0–2 (Aldrete 1995)."""

    model_config = ConfigDict(extra="forbid")

    activity: int = Field(ge=0, le=2)
    respiration: int = Field(ge=0, le=2)
    circulation: int = Field(ge=0, le=2)
    consciousness: int = Field(ge=0, le=2)
    spo2: int = Field(ge=0, le=2)


class DischargeIn(ActionIn):
    """The discharge assessment. Refused, with every unmet criterion listed, before the
    observation time is over or while any criterion is unmet; the signer is the one who sends it."""

    aldrete: AldreteIn
    pain_nrs: PainNrs
    mood: MoodIn
    escort_confirmed: bool
    escort_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    no_driving_advice_given: bool


class EventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    by_user_id: int
    rate_mg_per_h: Decimal | None
    reason: str | None
    data: dict[str, Any]
    recorded_at: datetime | None = Field(
        description="When it was typed in; later than ``at`` for a late entry"
    )
    entered_in_error_at: datetime | None = None
    entered_in_error_by_user_id: int | None = None
    entered_in_error_reason: str | None = None


class EnteredInErrorIn(BaseModel):
    """Why a charted entry is wrong; it stays on the record, struck through."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ] = Field(description="Why the entry is wrong, e.g. 'charted on the wrong patient'")


class OrderOut(BaseModel):
    signed_by_user_id: int
    signed_at: datetime
    rate_mg_per_h: Decimal
    pump_rate_ml_per_h: Decimal
    plan: dict[str, Any]
    verified_by_user_id: int | None
    verified_at: datetime | None


class DeliveredOut(BaseModel):
    running: bool
    infused_mg: Decimal
    bolus_mg: Decimal
    total_mg: Decimal
    total_ml: Decimal
    infusing_min: Decimal
    paused_min: Decimal


class PumpNowOut(BaseModel):
    """The rate the pump is set to now (kept through a pause), in both units, exactly."""

    rate_ml_per_h: Decimal
    rate_mg_per_h: Decimal


class SessionOut(BaseModel):
    id: int
    version: int
    patient_id: int
    protocol_id: int
    state: str
    allowed_moves: list[str]
    scheduled_at: datetime
    chair_id: int
    chair: str = Field(description="The chair's name")
    chair_held_until: datetime = Field(
        description="When the chair is free again: visit (infusion + observation) + turnover"
    )
    created_at: datetime
    order: OrderOut | None
    events: list[EventOut]
    delivered: DeliveredOut | None
    alerts: list[AlertOut] = []
    course_id: int | None = None
    open_blocks: list[str] = []
    vitals_due_at: datetime | None = None
    earliest_discharge_at: datetime | None = None
    pump_now: PumpNowOut | None = Field(
        default=None, description="The current pump rate beside the order's; None when not running"
    )
    stopped_early: str | None = Field(
        default=None, description="'stopped early: 1.3 of 20.5 mg given (reason)' when it was"
    )
