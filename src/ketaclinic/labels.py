"""The clinic's words for the identifiers the code uses: one table for pages, PDF reports, CSV
exports and alert texts alike, so a nurse never reads ``dose_mg_per_kg`` or "Input should be a
valid boolean".

Pure data and one lookup: no imports from the web or the database, so pure modules (the alert
rules) may use it too. API error bodies keep their field paths; these words are for people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from ketaclinic import indications

#: Form and request fields, limits and their units, as a person reads them.
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        # vitals
        "systolic_mmhg": "systolic BP",
        "diastolic_mmhg": "diastolic BP",
        "heart_rate_per_min": "heart rate",
        "spo2_percent": "SpO2",
        "resp_rate_per_min": "respiratory rate",
        "moaa_s": "sedation (MOAA/S)",
        "side_effect_severity": "side-effect grade",
        # the check-in and the discharge
        "weight_kg": "weight (kg)",
        "height_cm": "height (cm)",
        "sex": "sex",
        "pain_nrs": "pain (0–10)",
        "mood": "mood questionnaire",
        "instrument": "questionnaire",
        "answers": "answers",
        "pregnancy_status": "pregnancy status",
        "contraindications_changed": "anything changed since the screening",
        "contraindication_note": "what changed",
        "escort_name": "escort",
        "escort_confirmed": "escort confirmed",
        "no_driving_advice_given": "no-driving advice",
        "aldrete": "modified Aldrete score",
        "activity": "activity",
        "respiration": "respiration",
        "circulation": "circulation",
        "consciousness": "consciousness",
        "confirm_implausible": "re-checked an implausible value",
        "observed_at": "observed at",
        "spo2": "SpO2",
        # the order, the pump and the dose plan
        "protocol_id": "protocol",
        "weight_basis": "weight basis",
        "dose": "dose",
        "dose_mg": "dose (mg)",
        "dose_mg_per_kg": "dose (mg/kg)",
        "dose_mg_per_kg_per_h": "dose (mg/kg/h)",
        "duration_min": "duration (min)",
        "rate_mg_per_h": "rate (mg/h)",
        "rate_ml_per_h": "rate (mL/h)",
        "volume_to_be_infused_ml": "volume to be infused (mL)",
        "reason_category": "why it stopped early",
        "pump_rate_ml_per_h": "pump rate (mL/h)",
        "pump_resolution_ml_per_h": "pump resolution (mL/h)",
        "total_mg": "total dose (mg)",
        "total_ml": "total volume (mL)",
        "weight_basis_kg": "dosing weight (kg)",
        "bolus_mg_per_kg": "bolus (mg/kg)",
        "cap_mg_per_h": "rate cap (mg/h)",
        "override_reason": "reason to go above the soft limit",
        "override_reasons": "reasons to go above the soft limits",
        # a protocol version (the edit form's fields, dotted as ``dose_limit.soft_max``)
        "name": "name",
        "default_dose": "default dose",
        "dose_limit": "dose limit",
        "rate_limit_mg_per_h": "rate limit (mg/h)",
        "total_limit_mg": "total dose limit (mg)",
        "soft_max": "soft maximum",
        "hard_max": "hard maximum",
        "default_duration_min": "default duration (min)",
        "min_duration_min": "shortest duration (min)",
        "max_duration_min": "longest duration (min)",
        "concentration_mg_per_ml": "concentration (mg/mL)",
        "bag_volume_ml": "bag volume (mL)",
        "series_sessions": "sessions in the series",
        "series_spacing_days": "days between series sessions",
        "observation_min": "observation (min)",
        "vitals_interval_min": "vitals every (min)",
        "booster_pain_return_percent": "booster: pain back to (% of baseline)",
        "booster_phq9_rise": "booster: PHQ-9 rise (points)",
        "maintenance_rule": "maintenance rule",
        "source": "source",
        # charting
        "drug": "drug",
        "unit": "unit",
        "route": "route",
        "reason": "reason",
        "assessments": "side effects",
        "effect": "side effect",
        "grade": "grade",
        # booking
        "patient_id": "patient",
        "scheduled_at": "date and time",
        "chair": "chair",
        "chair_id": "chair",
        "course_id": "course",
        "version": "page version",
    }
)

#: How an ordered dose becomes a rate (``dosing.protocol.DoseMode``).
DOSE_MODES: Mapping[str, str] = MappingProxyType(
    {
        "mg_per_kg_per_h": "mg/kg/h",
        "mg_per_kg_over_min": "mg/kg over N min",
        "mg_per_h": "fixed mg/h",
    }
)


def _in_a_sentence(name: str) -> str:
    """A name as it reads mid-sentence: "Chronic pain" → "chronic pain"; "CRPS" stays."""
    return name if name[1:2].isupper() else name[:1].lower() + name[1:]


#: Conditions, from the one vocabulary of indications (``ketaclinic.indications``, pure).
INDICATIONS: Mapping[str, str] = MappingProxyType(
    {indication.id: _in_a_sentence(indication.label) for indication in indications.INDICATIONS}
)

#: A session's states and moves (``infusions.core``), and what blocks a start.
STATES: Mapping[str, str] = MappingProxyType(
    {
        "scheduled": "scheduled",
        "checked_in": "checked in",
        "infusing": "infusing",
        "paused": "paused",
        "observing": "observing",
        "discharged": "discharged",
        "aborted": "aborted",
        "cancelled": "cancelled",
        "no_show": "no-show",
    }
)
MOVES: Mapping[str, str] = MappingProxyType(
    {
        "check_in": "check in",
        "start": "start",
        "pause": "pause",
        "resume": "resume",
        "stop": "stop",
        "discharge": "discharge",
        "abort": "abort",
        "cancel": "cancel",
        "mark_no_show": "mark as no-show",
    }
)
BLOCKS: Mapping[str, str] = MappingProxyType(
    {
        "blood_pressure": "high blood pressure",
        "pregnancy": "possible pregnancy",
        "new_contraindication": "new contraindication",
    }
)

#: Screening's contraindication ids and outcomes, and questionnaire contexts.
CONTRAINDICATIONS: Mapping[str, str] = MappingProxyType(
    {
        "ketamine_allergy": "ketamine allergy",
        "uncontrolled_hypertension": "uncontrolled hypertension",
        "unstable_cardiovascular_disease": "unstable cardiovascular disease",
        "pregnancy": "pregnancy",
        "psychosis": "psychosis",
        "severe_hepatic_disease": "severe liver disease",
        "moderate_hepatic_disease": "moderate liver disease",
        "raised_intracranial_pressure": "raised intracranial pressure",
        "raised_intraocular_pressure": "raised intraocular pressure",
        "active_substance_use_disorder": "active substance use disorder",
    }
)
OTHER: Mapping[str, str] = MappingProxyType(
    {
        "moderate": "moderate",
        "weak": "weak",
        "baseline": "baseline",
        "pre": "before",
        "post": "after",
        "portal": "patient portal",
        "stabilisation": "stabilisation series",
        "maintenance": "maintenance",
        "ended": "ended",
        "eligible": "eligible",
        "eligible_with_precautions": "eligible with precautions",
        "ineligible": "ineligible",
        "weak_or_none": "weak or none",
        "not_graded": "not graded",
        "follow_up": "follow-up",
        "not_pregnant": "not pregnant",
        "not_applicable": "not applicable",
        "suicide_risk": "suicide risk",
        "nausea_vomiting": "nausea / vomiting",
        "anxiety_agitation": "anxiety / agitation",
        "floating_tingling": "floating or tingling",
        "actual": "actual",
        "ideal": "ideal (Devine)",
        "adjusted": "adjusted",
        "soft": "soft limit",
        "hard": "hard limit",
        "cap": "protocol cap",
    }
)

#: Every table above, most specific first (a field name wins over a state of the same spelling).
TABLES: tuple[Mapping[str, str], ...] = (
    FIELDS,
    DOSE_MODES,
    INDICATIONS,
    STATES,
    MOVES,
    BLOCKS,
    CONTRAINDICATIONS,
    OTHER,
)

#: Pydantic's messages, in words a nurse can act on (the first pattern that matches wins).
MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Input should be a valid boolean"), "choose yes or no"),
    (re.compile(r"^Field required$"), "fill this in"),
    (re.compile(r"^Input should be a valid integer"), "enter a whole number"),
    (re.compile(r"^Input should be a valid (decimal|number)"), "enter a number"),
    (re.compile(r"^Input should be a valid datetime"), "enter a date and time"),
    (re.compile(r"^Input should be a valid date"), "enter a date"),
    (re.compile(r"^Input should be greater than or equal to (\S+)"), r"enter \1 or more"),
    (re.compile(r"^Input should be less than or equal to (\S+)"), r"enter \1 or less"),
    (re.compile(r"^Input should be greater than (\S+)"), r"enter more than \1"),
    (re.compile(r"^Input should be less than (\S+)"), r"enter less than \1"),
    (re.compile(r"^Input should be (('[^']*'(, | or )?)+)$"), r"choose one of \1"),
    (re.compile(r"^String should have at most (\d+) characters?"), r"at most \1 characters"),
    (re.compile(r"^String should have at least 1 character"), "fill this in"),
    (re.compile(r"^Extra inputs are not permitted"), "not a field of this form"),
)


def label(value: object) -> str:
    """The clinic's word for an identifier; an unknown one with its underscores as spaces, so a
    new id reads as words rather than code until it gets its label."""
    key = str(getattr(value, "value", value))
    for table in TABLES:
        if key in table:
            return table[key]
    if "." in key:  # a nested field: ``dose_limit.soft_max`` → "dose limit: soft maximum"
        return ": ".join(label(part) for part in key.split("."))
    return key.replace("_", " ")


def has_label(value: object) -> bool:
    key = str(getattr(value, "value", value))
    return any(key in table for table in TABLES)


def message(text: str) -> str:
    """A validator's message in plain words; a message of our own passes unchanged."""
    text = text.removeprefix("Value error, ")
    for pattern, words in MESSAGES:
        if pattern.search(text):
            return pattern.sub(words, text, count=1) if "\\" in words else words
    return text


def labelled(names: object, separator: str = ", ") -> str:
    """Several identifiers (a list of blocks, say) as one phrase."""
    if isinstance(names, str):
        return label(names)
    if not isinstance(names, list | tuple | set | frozenset):
        return label(names)
    return separator.join(label(n) for n in names)


def sentence(text: str) -> str:
    """Upper-case the first letter only ("PHQ-9" stays "PHQ-9", unlike Jinja's ``capitalize``)."""
    return text[:1].upper() + text[1:]
