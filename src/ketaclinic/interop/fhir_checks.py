"""The rules the R4B models let through (CODES.md §0 item 2, §4.1): required bindings, the
vital-signs profile, UCUM units, survey categories and reference shapes. Pure: a resource dict in,
a list of problems out (empty when none), each naming the element it is about.

The tables here are copied from CODES.md §1.4 on purpose rather than imported from the builders:
a check that reads the builder's own table could never catch a wrong entry in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

Resource = Mapping[str, Any]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CORE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"

# Required bindings (hl7.org/fhir/R4/valueset-observation-status.html and
# valueset-questionnaire-answers-status.html).
OBSERVATION_STATUSES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
QUESTIONNAIRE_RESPONSE_STATUSES = frozenset(
    {"in-progress", "completed", "amended", "entered-in-error", "stopped"}
)

#: Vital-sign LOINC code -> the case-sensitive UCUM codes allowed for its value (CODES.md §1.4).
#: Panels (85353-1, 85354-9) carry no value of their own.
VITAL_SIGN_UNITS: Mapping[str, frozenset[str]] = {
    "8480-6": frozenset({"mm[Hg]"}),
    "8462-4": frozenset({"mm[Hg]"}),
    "8867-4": frozenset({"/min"}),
    "9279-1": frozenset({"/min"}),
    "2708-6": frozenset({"%"}),
    "59408-5": frozenset({"%"}),
    "29463-7": frozenset({"kg", "g", "[lb_av]"}),
    "8302-2": frozenset({"cm", "[in_i]"}),
    "39156-5": frozenset({"kg/m2"}),
    "8310-5": frozenset({"Cel", "[degF]"}),
    "3151-8": frozenset({"L/min"}),
}
VITAL_SIGN_PANELS = frozenset({"85353-1", "85354-9"})

#: Core vital-signs profile -> the LOINC code it fixes (CODES.md §1.4; "vitalsigns" fixes none).
VITAL_SIGN_PROFILES: Mapping[str, str | None] = {
    CORE_PROFILE + "vitalsigns": None,
    CORE_PROFILE + "vitalspanel": "85353-1",
    CORE_PROFILE + "bp": "85354-9",
    CORE_PROFILE + "heartrate": "8867-4",
    CORE_PROFILE + "resprate": "9279-1",
    CORE_PROFILE + "oxygensat": "2708-6",
    CORE_PROFILE + "bodyweight": "29463-7",
    CORE_PROFILE + "bodyheight": "8302-2",
    CORE_PROFILE + "bmi": "39156-5",
    CORE_PROFILE + "bodytemp": "8310-5",
}
BP_COMPONENTS = ("8480-6", "8462-4")

#: Score codes that need category ``survey`` (CODES.md §1.1–§1.3, §1.4 last rule), and the UCUM
#: code of a score given as a quantity (CODES.md §1.1: unit ``{score}``).
SCORE_CODES = frozenset({"72514-3", "91147-9", "77565-0", "44261-6", "70274-6"})
SCORE_UCUM = "{score}"

#: PHQ-9 and GAD-7 item codes, whose answers are the shared LOINC answer list (CODES.md §1.2–§1.3).
FREQUENCY_ITEMS = frozenset(
    {
        *("44250-9", "44255-8", "44259-0", "44254-1", "44251-7"),
        *("44258-2", "44252-5", "44253-3", "44260-8"),
        *("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
    }
)
FREQUENCY_ANSWERS = frozenset({"LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"})

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_RELATIVE_REFERENCE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")
_EXPECTED_TARGET = {"subject": "Patient", "encounter": "Encounter"}


def problems(resource: Resource) -> list[str]:
    """Every rule of this module the resource breaks, as ``"Observation.status: ..."`` lines."""
    kind = str(resource.get("resourceType", "?"))
    found = _id_problems(resource, kind) + _reference_problems(resource, kind)
    if kind == "Observation":
        found += _observation_problems(resource)
    elif kind == "QuestionnaireResponse":
        found += _questionnaire_response_problems(resource)
    return found


# --- shared ------------------------------------------------------------------------------------


def _id_problems(resource: Resource, kind: str) -> list[str]:
    value = resource.get("id")
    if value is None or (isinstance(value, str) and _ID.fullmatch(value)):
        return []
    return [f"{kind}.id: {value!r} is not a FHIR id ([A-Za-z0-9-.], 1-64 characters)"]


def _references(node: object, path: str) -> Iterator[tuple[str, str, object]]:
    """(path of the Reference, the element name holding it, its ``reference`` value)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}"
            if isinstance(value, Mapping) and "reference" in value:
                yield child, str(key), value["reference"]
            if isinstance(value, list):
                for index, item in enumerate(value):
                    indexed = f"{child}[{index}]"
                    if isinstance(item, Mapping) and "reference" in item:
                        yield indexed, str(key), item["reference"]
                    yield from _references(item, indexed)
            else:
                yield from _references(value, child)


def _reference_problems(resource: Resource, kind: str) -> list[str]:
    found = []
    for where, element, value in _references(resource, kind):
        match = _RELATIVE_REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            found.append(f"{where}.reference: {value!r} is not shaped Type/id")
            continue
        expected = _EXPECTED_TARGET.get(element)
        if expected and match.group(1) != expected:
            found.append(f"{where}.reference: {value!r} must point to {expected}/<id>")
    return found


def _map(value: object) -> Mapping[str, Any]:
    """``value`` if it is an object, else an empty one: the checks must not fail on bad input."""
    return value if isinstance(value, Mapping) else {}


def _maps(value: object) -> list[Mapping[str, Any]]:
    """The objects in ``value`` if it is an array, else none."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _indexed(value: object) -> list[tuple[int, Mapping[str, Any]]]:
    """The objects in ``value`` with their places in it, if it is an array."""
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, Mapping)]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _codings(concept: object) -> list[Mapping[str, Any]]:
    return _maps(_map(concept).get("coding"))


def _codes(concept: object, system: str) -> list[str]:
    return [str(c.get("code")) for c in _codings(concept) if c.get("system") == system]


def _categories(resource: Resource) -> set[str]:
    return {
        code
        for category in _maps(resource.get("category"))
        for code in _codes(category, OBSERVATION_CATEGORY)
    }


# --- Observation -------------------------------------------------------------------------------


def _observation_problems(resource: Resource) -> list[str]:
    found = []
    status = resource.get("status")
    if _text(status) not in OBSERVATION_STATUSES:
        found.append(f"Observation.status: {status!r} is not an observation-status code")
    loinc_codes = _codes(resource.get("code"), LOINC)
    profile_list = _map(resource.get("meta")).get("profile")
    profiles = (
        [p for p in profile_list if isinstance(p, str)] if isinstance(profile_list, list) else []
    )
    vital_profiles = [p for p in profiles if p in VITAL_SIGN_PROFILES]
    is_vital = bool(vital_profiles) or "vital-signs" in _categories(resource)
    if is_vital:
        found += _vital_sign_problems(resource, loinc_codes, vital_profiles)
    found += _unit_problems(resource, loinc_codes)
    if SCORE_CODES.intersection(loinc_codes):
        found += _score_problems(resource)
    return found


def _vital_sign_problems(
    resource: Resource, loinc_codes: list[str], vital_profiles: list[str]
) -> list[str]:
    """The R4 vital-signs profile (CODES.md §1.4; hl7.org/fhir/R4/observation-vitalsigns.html)."""
    found = []
    if "vital-signs" not in _categories(resource):
        found.append("Observation.category: a vital sign needs the vital-signs category")
    known = VITAL_SIGN_UNITS.keys() | VITAL_SIGN_PANELS
    if not known.intersection(loinc_codes):
        found.append("Observation.code: a vital sign needs a LOINC coding from CODES.md §1.4")
    for profile in vital_profiles:
        fixed = VITAL_SIGN_PROFILES[profile]
        if fixed is not None and fixed not in loinc_codes:
            found.append(f"Observation.code: the profile {profile} needs LOINC {fixed}")
    if not str(_map(resource.get("subject")).get("reference", "")).startswith("Patient/"):
        found.append("Observation.subject: a vital sign needs a Patient subject")
    if "effectiveDateTime" not in resource and "effectivePeriod" not in resource:
        found.append("Observation.effective[x]: a vital sign needs effectiveDateTime or Period")
    has_value = any(key.startswith("value") for key in resource)
    if not (
        has_value
        or resource.get("component")
        or resource.get("hasMember")
        or resource.get("dataAbsentReason")
    ):
        found.append("Observation: no value, component or hasMember needs dataAbsentReason (vs-2)")
    if "85354-9" in loinc_codes:
        found += _blood_pressure_problems(resource)
    return found


def _blood_pressure_problems(resource: Resource) -> list[str]:
    components = _maps(resource.get("component"))
    found = []
    for code in BP_COMPONENTS:
        matching = [c for c in components if code in _codes(c.get("code"), LOINC)]
        if len(matching) != 1:
            found.append(f"Observation.component: a blood pressure needs one {code} component")
        elif "valueQuantity" not in matching[0] and "dataAbsentReason" not in matching[0]:
            found.append(f"Observation.component: {code} has neither a value nor a reason")
    return found


def _unit_problems(resource: Resource, loinc_codes: list[str]) -> list[str]:
    """UCUM system and an allowed, case-sensitive code for every coded vital-sign value."""
    found = _quantity_problems("Observation", loinc_codes, resource.get("valueQuantity"))
    for index, component in _indexed(resource.get("component")):
        where = f"Observation.component[{index}]"
        codes = _codes(component.get("code"), LOINC)
        found += _quantity_problems(where, codes, component.get("valueQuantity"))
    return found


def _quantity_problems(where: str, loinc_codes: list[str], quantity: object) -> list[str]:
    allowed = [VITAL_SIGN_UNITS[code] for code in loinc_codes if code in VITAL_SIGN_UNITS]
    if not allowed or not isinstance(quantity, Mapping):
        return []
    found = []
    if quantity.get("system") != UCUM:
        found.append(f"{where}.valueQuantity.system: must be {UCUM}")
    code = _text(quantity.get("code"))
    for codes in allowed:
        if code not in codes:
            expected = ", ".join(sorted(codes))
            found.append(f"{where}.valueQuantity.code: {code!r} is not one of {expected}")
    return found


def _score_problems(resource: Resource) -> list[str]:
    found = []
    if "survey" not in _categories(resource):
        found.append("Observation.category: a questionnaire score needs the survey category")
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, Mapping) and (
        quantity.get("system") != UCUM or quantity.get("code") != SCORE_UCUM
    ):
        found.append(f"Observation.valueQuantity: a score is in UCUM {SCORE_UCUM}")
    return found


# --- QuestionnaireResponse ---------------------------------------------------------------------


def _questionnaire_response_problems(resource: Resource) -> list[str]:
    found = []
    status = resource.get("status")
    if _text(status) not in QUESTIONNAIRE_RESPONSE_STATUSES:
        found.append(
            f"QuestionnaireResponse.status: {status!r} is not a questionnaire-answers-status code"
        )
    seen: set[str] = set()
    for index, item in _indexed(resource.get("item")):
        where = f"QuestionnaireResponse.item[{index}]"
        link_id = str(item.get("linkId", ""))
        if link_id in seen:
            found.append(f"{where}.linkId: {link_id!r} is used twice")
        seen.add(link_id)
        if link_id.removeprefix("/") in FREQUENCY_ITEMS:
            found += _frequency_answer_problems(where, item)
    return found


def _frequency_answer_problems(where: str, item: Mapping[str, Any]) -> list[str]:
    """A PHQ-9/GAD-7 item is answered with one of the four LOINC answer codes."""
    found = []
    for index, answer in _indexed(item.get("answer")):
        coding = answer.get("valueCoding")
        if (
            not isinstance(coding, Mapping)
            or coding.get("system") != LOINC
            or _text(coding.get("code")) not in FREQUENCY_ANSWERS
        ):
            found.append(f"{where}.answer[{index}]: needs a valueCoding LA6568-5..LA6571-9")
    return found


# --- a QuestionnaireResponse against its Questionnaire ------------------------------------------

MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"


def answers_problems(response: Resource, questionnaire: Resource) -> list[str]:
    """A response against the Questionnaire it names (R4 QuestionnaireResponse rules): the same
    canonical, every ``linkId`` one the Questionnaire has (nested items included), every coded
    answer one of the item's ``answerOption`` codings, every whole-number answer an integer item
    within its ``minValue``/``maxValue``."""
    found = []
    url = questionnaire.get("url")
    if response.get("questionnaire") != url:
        found.append(
            f"QuestionnaireResponse.questionnaire: {response.get('questionnaire')!r} "
            f"is not the Questionnaire's url {url!r}"
        )
    items = dict(_questionnaire_items(questionnaire))
    for index, answered in _indexed(response.get("item")):
        where = f"QuestionnaireResponse.item[{index}]"
        link_id = _text(answered.get("linkId"))
        item = items.get(link_id) if link_id is not None else None
        if item is None:
            found.append(f"{where}.linkId: {link_id!r} is not an item of {url!r}")
            continue
        for number, answer in _indexed(answered.get("answer")):
            found += _answer_problems(f"{where}.answer[{number}]", item, answer)
    return found


def _questionnaire_items(node: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for item in _maps(node.get("item")):
        link_id = _text(item.get("linkId"))
        if link_id is not None:
            yield link_id, item
        yield from _questionnaire_items(item)


def _answer_problems(where: str, item: Mapping[str, Any], answer: Mapping[str, Any]) -> list[str]:
    if "valueCoding" in answer:
        return _coded_answer_problems(where, item, _map(answer.get("valueCoding")))
    if "valueInteger" in answer:
        return _integer_answer_problems(where, item, answer.get("valueInteger"))
    return [f"{where}: an answer this check does not know (only valueCoding, valueInteger)"]


def _coded_answer_problems(
    where: str, item: Mapping[str, Any], coding: Mapping[str, Any]
) -> list[str]:
    options = [_map(o.get("valueCoding")) for o in _maps(item.get("answerOption"))]
    key = (coding.get("system"), coding.get("code"))
    if item.get("type") != "choice" or key not in {
        (o.get("system"), o.get("code")) for o in options
    }:
        return [f"{where}.valueCoding: {key[1]!r} is not an answerOption of the item"]
    return []


def _integer_answer_problems(where: str, item: Mapping[str, Any], value: object) -> list[str]:
    if item.get("type") != "integer" or not isinstance(value, int) or isinstance(value, bool):
        return [f"{where}.valueInteger: needs a whole number and an integer item"]
    bounds = {e.get("url"): e.get("valueInteger") for e in _maps(item.get("extension"))}
    low, high = bounds.get(MIN_VALUE), bounds.get(MAX_VALUE)
    if (isinstance(low, int) and value < low) or (isinstance(high, int) and value > high):
        return [f"{where}.valueInteger: {value} is outside {low}..{high}"]
    allowed = [o["valueInteger"] for o in _maps(item.get("answerOption")) if "valueInteger" in o]
    if allowed and value not in allowed:
        return [f"{where}.valueInteger: {value} is not an answerOption of the item"]
    return []
