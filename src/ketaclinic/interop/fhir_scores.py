"""Scored questionnaires as FHIR R4: one QuestionnaireResponse per Measurement (the answers), and
one Observation per score it has (category survey), derived from that response (CODES.md §0
item 5, §4.3).

Ids: ``qr-<measurement id>`` and ``score-<measurement id>-<score name>`` (``total``, or the BPI's
``severity`` and ``interference``).

Exactness (Measurement.scores keeps "19/3"): a whole score is ``valueInteger``. Any other is a
``valueQuantity`` in UCUM ``{score}`` whose value is the exact decimal when the fraction has one
(9/4 -> 2.25) and otherwise the decimal to ``SCORE_PLACES`` places, half away from zero; either
way the exact fraction goes with it, for machines in the ``EXACT_SCORE`` extension on the
quantity and for people in a note that says whether the decimal was rounded. Nothing is rounded
without saying so.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from ketaclinic.accounts.core import Role
from ketaclinic.instruments.core import rounded
from ketaclinic.instruments.definitions import INSTRUMENTS, Instrument, Item, ScoreRule
from ketaclinic.interop.fhir_base import (
    LOINC,
    OBSERVATION_CATEGORY,
    US_CORE,
    Resource,
    coding,
    instant,
    quantity,
    reference,
)
from ketaclinic.outcomes.models import Measurement

SURVEY_CATEGORY: Resource = {
    "coding": [coding(OBSERVATION_CATEGORY, "survey", "Survey")],
    "text": "Survey",
}
SCREENING_ASSESSMENT = US_CORE + "us-core-observation-screening-assessment"

#: Places of a score that has no finite decimal (19/3 -> 6.333333). Six places is far below any
#: clinically meaningful difference on a 0-10 scale; the exact fraction travels with it.
SCORE_PLACES = 6
SCORE_UNIT = "{score}"  # CODES.md §1.1: valueQuantity with unit {score}

# Local code systems, for what CODES.md gives no code for. They are this clinic's own (urn, no
# pretend web address) and every coding carries text.
#: Scores without a LOINC code: the BPI severity mean has none in CODES.md §1.1 ([U] there).
LOCAL_SCORE_SYSTEM = "urn:ketaclinic:fhir:score"
#: The exact fraction of a score whose decimal is given (valueString "19/3").
EXACT_SCORE = "urn:ketaclinic:fhir:extension:exact-score"
#: The canonical of the clinic's Questionnaire for an instrument (``...:phq9``); the
#: Questionnaires ``fhir_questionnaires`` builds and the server serves carry it as their url.
QUESTIONNAIRE_BASE = "urn:ketaclinic:fhir:questionnaire:"
#: The ordinal (score) value of a coded answer, as US Core does (CODES.md §1.2).
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
PATIENT_ROLE = Role.PATIENT.value

_SCORE_NAME = re.compile(r"[a-z0-9]+")
# Score names become part of resource ids; an instrument definition that broke that would
# produce invalid ids, so it is refused when the module loads.
for _instrument in INSTRUMENTS.values():
    for _rule in _instrument.scores:
        if not _SCORE_NAME.fullmatch(_rule.name):
            raise RuntimeError(f"score name {_rule.name!r} cannot be part of a FHIR id")


def qr_id(measurement_id: int) -> str:
    return f"qr-{measurement_id}"


def score_id(measurement_id: int, name: str) -> str:
    return f"score-{measurement_id}-{name}"


def questionnaire_url(instrument_id: str) -> str:
    return QUESTIONNAIRE_BASE + instrument_id


def _context(measurement: Measurement) -> Resource:
    found: Resource = {"subject": reference("Patient", measurement.patient_id)}
    if measurement.session_id is not None:
        found["encounter"] = reference("Encounter", measurement.session_id)
    return found


# --- QuestionnaireResponse ---------------------------------------------------------------------


def questionnaire_response(measurement: Measurement, recorder_role: str | None) -> Resource:
    """The answers as given, unanswered items left out (only BPI interference may be). The
    patient answered (``source``); ``author`` is who recorded it: the patient in the portal, or
    a member of staff (``recorder_role`` is the recording account's role, None if unknown)."""
    instrument = INSTRUMENTS.get(measurement.instrument)
    items = [
        _item(instrument, index, answer)
        for index, answer in enumerate(measurement.answers)
        if answer is not None
    ]
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": qr_id(measurement.id),
        "questionnaire": questionnaire_url(measurement.instrument),
        "status": "completed",
        **_context(measurement),
        "authored": instant(measurement.measured_at),
        "source": reference("Patient", measurement.patient_id),
    }
    author = _author(measurement, recorder_role)
    if author is not None:
        resource["author"] = author
    if items:
        resource["item"] = items
    return resource


def _author(measurement: Measurement, recorder_role: str | None) -> Resource | None:
    if measurement.recorded_by_user_id is None or recorder_role is None:
        return None
    if recorder_role == PATIENT_ROLE:  # a portal account is the patient's own
        return reference("Patient", measurement.patient_id)
    return reference("Practitioner", measurement.recorded_by_user_id)


def link_id(item: Item) -> str:
    """``/<item LOINC>`` (the LHC-Forms/US Core convention, CODES.md §4.3), else the local id."""
    return f"/{item.loinc}" if item.loinc else item.id


def _item(instrument: Instrument | None, index: int, answer: int) -> Resource:
    if instrument is None or index >= len(instrument.items):  # a definition since removed
        return {"linkId": f"item-{index + 1}", "answer": [{"valueInteger": answer}]}
    item = instrument.items[index]
    return {"linkId": link_id(item), "text": item.text, "answer": [_answer(item, answer)]}


def _answer(item: Item, answer: int) -> Resource:
    """A LOINC answer code when the scale codes every value (PHQ-9, GAD-7), else the number."""
    scale = item.scale
    coded = {option.value: (option.loinc, option.label) for option in scale.options if option.loinc}
    if len(coded) != scale.high - scale.low + 1 or answer not in coded:
        return {"valueInteger": answer}
    code, label = coded[answer]
    ordinal = [{"url": ORDINAL_VALUE, "valueDecimal": answer}]
    return {"valueCoding": {"extension": ordinal, **coding(LOINC, code, label)}}


# --- score Observations ------------------------------------------------------------------------


def score_observations(measurement: Measurement) -> list[Resource]:
    """One Observation per score, in the instrument's order of scores."""
    instrument = INSTRUMENTS.get(measurement.instrument)
    rules = {rule.name: rule for rule in instrument.scores} if instrument else {}
    names = [name for name in rules if name in measurement.scores]
    # A score no definition names any more is still written, if its name can be part of an id.
    names += sorted(n for n in measurement.scores if n not in rules and _SCORE_NAME.fullmatch(n))
    return [_score_observation(measurement, instrument, rules.get(name), name) for name in names]


def _score_observation(
    measurement: Measurement, instrument: Instrument | None, rule: ScoreRule | None, name: str
) -> Resource:
    label = f"{instrument.name if instrument else measurement.instrument} {name} score"
    resource: Resource = {
        "resourceType": "Observation",
        "id": score_id(measurement.id, name),
        "meta": {"profile": [SCREENING_ASSESSMENT]},
        "status": "final",
        "category": [SURVEY_CATEGORY],
        "code": score_code(measurement.instrument, rule, name, label),
        **_context(measurement),
        "effectiveDateTime": instant(measurement.measured_at),
        **score_value(Fraction(measurement.scores[name])),
        "derivedFrom": [reference("QuestionnaireResponse", qr_id(measurement.id))],
    }
    if rule is not None and rule.bands and measurement.band:
        resource["interpretation"] = [{"text": f"{measurement.band} ({rule.bands_source})"}]
    return resource


def score_code(instrument_id: str, rule: ScoreRule | None, name: str, label: str) -> Resource:
    """The score's LOINC code from the instrument definition (taken from CODES.md §1), else a
    local code: CODES.md knows no code for the BPI severity mean."""
    if rule is not None and rule.loinc:
        return {"coding": [coding(LOINC, rule.loinc)], "text": label}
    local = coding(LOCAL_SCORE_SYSTEM, f"{instrument_id}-{name}", label)
    return {"coding": [local], "text": label}


def score_value(value: Fraction) -> Resource:
    """``valueInteger`` for a whole score, else a ``{score}`` quantity with the exact fraction
    (see the module docstring); never a silently rounded number."""
    if value.denominator == 1:
        return {"valueInteger": int(value)}
    decimal, exact = _decimal(value)
    value_quantity = quantity(decimal, SCORE_UNIT)
    value_quantity["extension"] = [{"url": EXACT_SCORE, "valueString": str(value)}]
    how = "exact" if exact else f"rounded to {SCORE_PLACES} places, half away from zero"
    note = f"Exact score {value}; the value {decimal} is {how}."
    return {"valueQuantity": value_quantity, "note": [{"text": note}]}


def _decimal(value: Fraction) -> tuple[Decimal, bool]:
    """The finite decimal of ``value`` if it has one (denominator of 2s and 5s), else rounded."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact, True
    return rounded(value, SCORE_PLACES), False
