"""The Questionnaire resources of the five instruments (CODES.md §4.3 "PHQ-9 definition"), built
from ``instruments.definitions`` so they cannot drift from the QuestionnaireResponses
``fhir_scores`` writes: the same canonical ``url``, the same ``linkId`` per item, and answer
options that are exactly the answers a response can carry.

Answers: a scale whose every value has a LOINC answer code (PHQ-9, GAD-7: CODES.md §1.2) is a
``choice`` item whose options are those codings with their score in the ``ordinalValue``
extension, as US Core's ``Questionnaire-phq-9-example`` does. Any other scale (the 0–10 pain
and interference scales) is an ``integer`` item bounded by the ``minValue``/``maxValue``
extensions, its labelled anchors ("0 = No pain") given in ``entryFormat`` for people.

Ids: the instrument key with ``_`` turned into ``-`` (``bpi_sf`` -> ``bpi-sf``), because a FHIR
id allows only ``[A-Za-z0-9-.]``. They hold no patient data, so nothing here is audited.
"""

from __future__ import annotations

import re

from ketaclinic import __version__
from ketaclinic.instruments.definitions import INSTRUMENTS, AnswerScale, Instrument, Item
from ketaclinic.interop.fhir_base import LOINC, Resource, coding
from ketaclinic.interop.fhir_scores import ORDINAL_VALUE, link_id, questionnaire_url

#: Core extensions for a number's bounds and a hint on how to enter it (hl7.org/fhir/R4
#: extension-minvalue.html, extension-maxvalue.html, extension-entryformat.html).
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"
PUBLISHER = "ketaclinic"

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: Questionnaire.name is a computable name (R4 constraint que-0: ``[A-Z]([A-Za-z0-9_]){0,254}``).
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_]")


def questionnaire_id(instrument_id: str) -> str:
    return instrument_id.replace("_", "-")


# An instrument key that cannot become a FHIR id, or two that become the same one, would serve
# invalid or ambiguous resources; refused when the module loads.
_IDS = {questionnaire_id(key): key for key in INSTRUMENTS}
if len(_IDS) != len(INSTRUMENTS) or not all(_FHIR_ID.fullmatch(i) for i in _IDS):
    raise RuntimeError(f"instrument keys {sorted(INSTRUMENTS)} do not give distinct FHIR ids")


def is_coded(scale: AnswerScale) -> bool:
    """Every value of the scale has a LOINC answer code: the response then answers with codings
    (``fhir_scores._answer`` decides the same way)."""
    coded = {option.value for option in scale.options if option.loinc}
    return coded == set(range(scale.low, scale.high + 1))


def questionnaire(instrument: Instrument) -> Resource:
    """The Questionnaire of one instrument; ``fhir_base.validated`` accepts it (tested)."""
    resource: Resource = {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(instrument.id),
        "url": questionnaire_url(instrument.id),
        "version": __version__,
        "name": _computable_name(instrument.name),
        "title": instrument.title,
        "status": "active",
        "experimental": False,
        "subjectType": ["Patient"],
        "publisher": PUBLISHER,
        "description": f"{instrument.stem} (Recall period: {instrument.recall_period}.) "
        f"Source: {instrument.source}.",
        "copyright": instrument.licence,
    }
    if instrument.panel_loinc:
        resource["code"] = [coding(LOINC, instrument.panel_loinc, instrument.name)]
    resource["item"] = [_item(item) for item in instrument.items]
    return resource


def _computable_name(name: str) -> str:
    cleaned = _NOT_IN_NAME.sub("", name)
    return cleaned[:1].upper() + cleaned[1:]


def _item(item: Item) -> Resource:
    found: Resource = {"linkId": link_id(item)}
    if item.loinc:
        found["code"] = [coding(LOINC, item.loinc)]
    found["text"] = item.text
    found["required"] = not item.optional
    scale = item.scale
    if is_coded(scale):
        found["type"] = "choice"
        found["answerOption"] = [_coded_option(item, value) for value in _values(scale)]
    else:
        found["type"] = "integer"
        found["extension"] = _bounds(scale)
    return found


def _values(scale: AnswerScale) -> range:
    return range(scale.low, scale.high + 1)


def _coded_option(item: Item, value: int) -> Resource:
    option = next(o for o in item.scale.options if o.value == value)
    assert option.loinc is not None  # is_coded checked every value
    ordinal = [{"url": ORDINAL_VALUE, "valueDecimal": value}]
    return {"valueCoding": {"extension": ordinal, **coding(LOINC, option.loinc, option.label)}}


def _bounds(scale: AnswerScale) -> list[Resource]:
    found: list[Resource] = [
        {"url": MIN_VALUE, "valueInteger": scale.low},
        {"url": MAX_VALUE, "valueInteger": scale.high},
    ]
    anchors = ", ".join(f"{o.value} = {o.label}" for o in scale.options)
    hint = f"A whole number from {scale.low} to {scale.high}" + (f" ({anchors})" if anchors else "")
    found.append({"url": ENTRY_FORMAT, "valueString": hint})
    return found


def all_questionnaires() -> list[Resource]:
    """One per instrument, in the order of ``INSTRUMENTS``."""
    return [questionnaire(instrument) for instrument in INSTRUMENTS.values()]


def find(resource_id: str) -> Resource | None:
    """The Questionnaire with this id, or None."""
    key = _IDS.get(resource_id)
    return questionnaire(INSTRUMENTS[key]) if key is not None else None
