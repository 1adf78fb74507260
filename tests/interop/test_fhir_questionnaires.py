"""The instruments' Questionnaire resources (SQLite and PostgreSQL): each is valid R4, its items and
options come from the instrument definitions, every QuestionnaireResponse of a real chart answers
only items its Questionnaire has with answers among its options, and the server reads and
searches them for any staff reader."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.instruments.definitions import (
    INSTRUMENTS,
    AnswerOption,
    AnswerScale,
    Instrument,
    Item,
)
from ketaclinic.interop import fhir_checks, fhir_questionnaires, fhir_server
from ketaclinic.interop.fhir_base import Resource, validated
from tests.conftest import Person, token_for
from tests.interop.test_fhir_observations import ANSWERS, Chart, built, chart, rows

__all__ = ["chart"]  # the fixture, shared with the Observation tests

LOINC = "http://loinc.org"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
#: The canonical each QuestionnaireResponse names (fhir_scores, CODES.md §4.3).
CANONICAL = "urn:ketaclinic:fhir:questionnaire:"
FHIR = "application/fhir+json"


def _extension(item: Resource, url: str) -> Any:
    [value] = [e for e in item.get("extension", []) if e["url"] == url]
    return value["valueInteger"]


def _all_coded(instrument: Instrument, index: int) -> bool:
    scale = instrument.items[index].scale
    return {o.value for o in scale.options if o.loinc} == set(range(scale.low, scale.high + 1))


# --- the resources -----------------------------------------------------------------------------


def test_one_valid_active_questionnaire_per_instrument_at_the_canonical_the_responses_use() -> None:
    questionnaires = fhir_questionnaires.all_questionnaires()
    assert len(questionnaires) == len(INSTRUMENTS) == 5
    for key, resource in zip(INSTRUMENTS, questionnaires, strict=True):
        assert validated(resource) is resource
        assert fhir_checks.problems(resource) == []
        assert resource["url"] == CANONICAL + key
        assert resource["status"] == "active"
        assert resource["id"] == key.replace("_", "-")
        assert fhir_questionnaires.find(resource["id"]) == resource
    assert fhir_questionnaires.find("bpi_sf") is None  # not a FHIR id; bpi-sf is


def test_panel_codes_are_those_codes_md_gives() -> None:
    # CODES.md §1.1 (PEG 91148-7), §1.2 (PHQ-9 44249-1), §1.3 (GAD-7 69737-5); no panel code is
    # known for the NRS or the BPI short form (77564-3 is [U] there).
    panels = {
        q["id"]: [(c["system"], c["code"]) for c in q.get("code", [])]
        for q in fhir_questionnaires.all_questionnaires()
    }
    assert panels == {
        "nrs": [],
        "peg": [(LOINC, "91148-7")],
        "phq9": [(LOINC, "44249-1")],
        "gad7": [(LOINC, "69737-5")],
        "bpi-sf": [],
    }


@pytest.mark.parametrize("key", list(INSTRUMENTS))
def test_items_and_options_are_computed_from_the_definition(key: str) -> None:
    instrument = INSTRUMENTS[key]
    resource = fhir_questionnaires.questionnaire(instrument)
    assert len(resource["item"]) == len(instrument.items)
    for index, (item, written) in enumerate(zip(instrument.items, resource["item"], strict=True)):
        assert written["linkId"] == (f"/{item.loinc}" if item.loinc else item.id)
        assert written["text"] == item.text
        assert written["required"] is (not item.optional)
        assert written.get("code", []) == (
            [{"system": LOINC, "code": item.loinc}] if item.loinc else []
        )
        scale = item.scale
        if _all_coded(instrument, index):
            assert written["type"] == "choice"
            options = [o["valueCoding"] for o in written["answerOption"]]
            defined = sorted(scale.options, key=lambda o: o.value)
            assert [(o["code"], o["display"]) for o in options] == [
                (o.loinc, o.label) for o in defined
            ]
            ordinals = [o["extension"] for o in options]
            assert ordinals == [[{"url": ORDINAL, "valueDecimal": o.value}] for o in defined]
        else:
            assert written["type"] == "integer" and "answerOption" not in written
            assert _extension(written, MIN_VALUE) == scale.low
            assert _extension(written, MAX_VALUE) == scale.high


def test_a_changed_definition_changes_the_questionnaire() -> None:
    """Nothing is copied into the builder: a new item, label or bound in a definition shows."""
    phq9 = INSTRUMENTS["phq9"]
    relabelled = replace(
        phq9.items[0].scale,
        options=(replace(phq9.items[0].scale.options[0], label="Never"),)
        + phq9.items[0].scale.options[1:],
    )
    wider = AnswerScale(0, 7, (AnswerOption(0, "None"),))
    changed = replace(
        phq9,
        items=(
            replace(phq9.items[0], scale=relabelled),
            *phq9.items[1:],
            Item("extra", "A new question", None, wider, optional=True),
        ),
    )
    resource = fhir_questionnaires.questionnaire(changed)
    assert validated(resource) is resource
    assert resource["item"][0]["answerOption"][0]["valueCoding"]["display"] == "Never"
    extra = resource["item"][-1]
    assert (extra["linkId"], extra["type"], extra["required"]) == ("extra", "integer", False)
    assert (_extension(extra, MIN_VALUE), _extension(extra, MAX_VALUE)) == (0, 7)


def test_the_frequency_items_are_coded_and_the_pain_items_are_bounded_numbers() -> None:
    """The split the builder makes, counted: 16 PHQ-9/GAD-7 items coded, 15 0-10 items."""
    types = [i["type"] for q in fhir_questionnaires.all_questionnaires() for i in q["item"]]
    assert types.count("choice") == len(INSTRUMENTS["phq9"].items) + len(INSTRUMENTS["gad7"].items)
    expected_integer = sum(len(INSTRUMENTS[k].items) for k in ("nrs", "peg", "bpi_sf"))
    assert types.count("integer") == expected_integer
    assert len(types) == sum(len(i.items) for i in INSTRUMENTS.values())


# --- the responses of a real chart -------------------------------------------------------------


def test_every_response_answers_only_items_of_its_questionnaire_with_allowed_answers(
    chart: Chart,
) -> None:
    _, responses = built(chart)
    _, _, measurements = rows(chart)
    assert len(responses) == len(measurements) and {m.instrument for m in measurements} == set(
        ANSWERS
    )
    by_url = {q["url"]: q for q in fhir_questionnaires.all_questionnaires()}
    answered = 0
    for response in responses:
        questionnaire = by_url[response["questionnaire"]]
        assert fhir_checks.answers_problems(response, questionnaire) == [], response["id"]
        items = {i["linkId"]: i for i in questionnaire["item"]}
        for written in response["item"]:
            item = items[written["linkId"]]
            [answer] = written["answer"]
            if item["type"] == "choice":
                assert answer["valueCoding"] in [o["valueCoding"] for o in item["answerOption"]]
            else:
                low, high = _extension(item, MIN_VALUE), _extension(item, MAX_VALUE)
                assert low <= answer["valueInteger"] <= high
            answered += 1
    assert answered == sum(len([a for a in m.answers if a is not None]) for m in measurements)


def test_the_check_catches_an_unknown_link_id_an_answer_outside_and_a_wrong_canonical(
    chart: Chart,
) -> None:
    _, responses = built(chart)
    phq9 = next(r for r in responses if r["questionnaire"] == CANONICAL + "phq9")
    bpi = next(r for r in responses if r["questionnaire"] == CANONICAL + "bpi_sf")
    phq9_q = fhir_questionnaires.find("phq9")
    bpi_q = fhir_questionnaires.find("bpi-sf")
    assert phq9_q is not None and bpi_q is not None
    unknown = {**phq9, "item": [{**phq9["item"][0], "linkId": "/69725-0"}]}
    assert any("linkId" in p for p in fhir_checks.answers_problems(unknown, phq9_q))
    coding = {"system": LOINC, "code": "LA6572-7"}  # a 69722-7 answer, not a frequency one
    outside = {**phq9, "item": [{**phq9["item"][0], "answer": [{"valueCoding": coding}]}]}
    assert any("answerOption" in p for p in fhir_checks.answers_problems(outside, phq9_q))
    too_high = {**bpi, "item": [{**bpi["item"][0], "answer": [{"valueInteger": 11}]}]}
    assert any("outside 0..10" in p for p in fhir_checks.answers_problems(too_high, bpi_q))
    assert any("questionnaire" in p for p in fhir_checks.answers_problems(phq9, bpi_q))


# --- over HTTP ---------------------------------------------------------------------------------


def _get(client: TestClient, path: str, headers: dict[str, str], **params: str) -> Any:
    response = client.get(f"/fhir/r4/{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR)
    return response.json()


def _ids(bundle: dict[str, Any]) -> list[str]:
    assert bundle["total"] == len(bundle["entry"])
    return [e["resource"]["id"] for e in bundle["entry"]]


def test_read_and_search_over_http_for_every_staff_reader(
    client: TestClient, make_person: Any
) -> None:
    expected = fhir_questionnaires.all_questionnaires()
    every_id = [q["id"] for q in expected]
    readers = [Role.PHYSICIAN, Role.NURSE, Role.STAFF]
    for role in readers:
        headers = token_for(client, make_person(role))
        for resource in expected:
            assert _get(client, f"Questionnaire/{resource['id']}", headers) == resource
        assert _ids(_get(client, "Questionnaire", headers)) == every_id
    headers = token_for(client, make_person(Role.NURSE))
    assert _ids(_get(client, "Questionnaire", headers, _id="gad7,nrs")) == ["nrs", "gad7"]
    bpi = _get(client, "Questionnaire", headers, url=CANONICAL + "bpi_sf")
    assert _ids(bpi) == ["bpi-sf"]
    assert bpi["entry"][0]["fullUrl"].endswith("/fhir/r4/Questionnaire/bpi-sf")
    assert _ids(_get(client, "Questionnaire", headers, url=CANONICAL + "bpi")) == []
    paged = _get(client, "Questionnaire", headers, _count="2", _offset="4")
    assert [e["resource"]["id"] for e in paged["entry"]] == every_id[4:]
    assert paged["total"] == len(every_id)


def test_unknown_ids_parameters_and_roles_are_refused(client: TestClient, make_person: Any) -> None:
    nurse = token_for(client, make_person(Role.NURSE))
    for unknown in ("bpi_sf", "phq-9", "1", "PHQ9"):
        response = client.get(f"/fhir/r4/Questionnaire/{unknown}", headers=nurse)
        assert response.status_code == 404, (unknown, response.text)
        assert response.json()["issue"][0]["code"] == "not-found"
    refused = client.get("/fhir/r4/Questionnaire", params={"patient": "1"}, headers=nurse)
    assert refused.status_code == 400, refused.text
    assert refused.json()["issue"][0]["expression"] == ["query.patient"]
    admin: Person = make_person(Role.ADMIN)  # admins read no clinical or registration record
    forbidden = client.get("/fhir/r4/Questionnaire/phq9", headers=token_for(client, admin))
    assert forbidden.status_code == 403, forbidden.text
    assert client.get("/fhir/r4/Questionnaire/phq9").status_code == 401


def test_the_capability_statement_lists_questionnaire_with_url(client: TestClient) -> None:
    statement = _get(client, "metadata", {})
    [entry] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Questionnaire"]
    assert [(p["name"], p["type"]) for p in entry["searchParam"]] == [
        ("_id", "token"),
        ("url", "uri"),
    ]
    assert "Questionnaire" in fhir_server.OTHER_TYPES
    assert "Questionnaire" in fhir_server.REGISTRATION_TYPES
