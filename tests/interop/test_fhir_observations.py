"""Observations and QuestionnaireResponses built from a real chart (SQLite and PostgreSQL): typed,
device and entered-in-error vitals, weights and every instrument's questionnaire. Every resource
is accepted by the R4B models and by the project's own checks, and says what its record says."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import Clinic
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.instruments.definitions import INSTRUMENTS
from ketaclinic.interop import fhir_checks
from ketaclinic.interop.fhir_base import FhirContext, Resource, validated
from ketaclinic.interop.fhir_observations import OBSERVATION, QUESTIONNAIRE_RESPONSE
from ketaclinic.interop.fhir_scores import EXACT_SCORE, ORDINAL_VALUE, SCORE_PLACES, score_value
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient, WeightMeasurement
from ketaclinic.portal import service as portal_service
from tests.conftest import Person, patient_body, token_for
from tests.infusions.test_api import CALM_VITALS, CHECK_IN, Team, at
from tests.interop.test_service import _oru, _receive

#: Each instrument once; the PEG mean 19/3 and the BPI interference 32/6 = 16/3 have no finite
#: decimal, the BPI severity 18/4 = 9/2 has one. One interference item is left unanswered.
ANSWERS: dict[str, list[int | None]] = {
    "nrs": [6],
    "peg": [6, 6, 7],
    "phq9": [0, 1, 2, 3, 1, 0, 2, 1, 1],
    "gad7": [3, 2, 1, 0, 1, 2, 3],
    "bpi_sf": [7, 3, 4, 4, 6, 5, 4, 5, 6, None, 6],
}
EUI64 = "0012A1FFFE00ABCD"
# The R4 core vital-signs profiles (hl7.org/fhir/R4/observation-vitalsigns.html), read back.
CORE = "http://hl7.org/fhir/StructureDefinition/"


@dataclass
class Chart:
    factory: sessionmaker[Session]
    patient_id: int
    session_id: int
    nurse: Person
    other_clinic_nurse: Person
    other_patient_id: int
    portal_user: Person


@pytest.fixture
def chart(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Chart:
    team = Team(client, make_person)
    with at(-30):
        sid = team.schedule()
        team.act(sid, "check-in", team.nurse, **CHECK_IN, weight_kg="73.15")
        team.act(sid, "order", team.physician)
        team.act(sid, "verify", team.second_nurse)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(10):
        team.act(sid, "vitals", team.nurse, **{**CALM_VITALS, "heart_rate_per_min": 81})
    with at(12):
        charted = team.act(sid, "vitals", team.nurse, **{**CALM_VITALS, "systolic_mmhg": 131})
    wrong = [e for e in charted["events"] if e["kind"] == "vitals"][-1]["id"]
    with at(13):
        url = f"/api/v1/sessions/{sid}/entries/{wrong}/entered-in-error"
        marked = client.post(url, json={"reason": "wrong chair"}, headers=team.nurse)
        assert marked.status_code == 200, marked.text
    device_message = _oru("FHIR1", minutes=15, resp_rate_per_min=17).replace(
        "0012A1FFFE000001", EUI64
    )
    assert "|AA|" in _receive(factory, device_message, minutes=16)
    for instrument, answers in ANSWERS.items():
        body = {"instrument": instrument, "answers": answers, "context": "follow_up"}
        url = f"/api/v1/patients/{team.patient_id}/measurements"
        with at(20):
            made = client.post(url, json=body, headers=team.nurse)
        assert made.status_code == 201, made.text
    portal = make_person(Role.PATIENT, patient_id=team.patient_id)
    with transaction(factory) as session:
        patient = session.get(Patient, team.patient_id)
        assert patient is not None
        actor = Actor(portal.user_id, portal.username, Role.PATIENT, patient.clinic_id)
        portal_service.complete(
            session,
            actor=replace(actor, patient_id=patient.id),
            patient=patient,
            instrument="nrs",
            answers=[3],
        )
    south = make_person(Role.NURSE, clinic="SOUTH")
    other = client.post("/api/v1/patients", json=patient_body(), headers=token_for(client, south))
    assert other.status_code == 201, other.text
    nurse = make_person(Role.NURSE)
    return Chart(factory, team.patient_id, sid, nurse, south, other.json()["id"], portal)


@contextmanager
def context(chart: Chart, person: Person | None = None) -> Iterator[FhirContext]:
    who = person or chart.nurse
    with chart.factory() as session:
        clinic = session.scalars(select(Clinic).where(Clinic.code == who.clinic)).one()
        actor = Actor(who.user_id, who.username, who.role, clinic.id)
        yield FhirContext(session, actor, clinic.code)


def built(chart: Chart) -> tuple[list[Resource], list[Resource]]:
    with context(chart) as ctx:
        patient = ctx.session.get(Patient, chart.patient_id)
        assert patient is not None
        return OBSERVATION.for_patient(ctx, patient), QUESTIONNAIRE_RESPONSE.for_patient(
            ctx, patient
        )


def by_id(resources: list[Resource]) -> dict[str, Resource]:
    found = {r["id"]: r for r in resources}
    assert len(found) == len(resources), "resource ids must be unique"
    return found


def rows(chart: Chart) -> tuple[list[SessionEvent], list[WeightMeasurement], list[Measurement]]:
    with chart.factory() as session:
        events = session.scalars(
            select(SessionEvent)
            .join(InfusionSession)
            .where(InfusionSession.patient_id == chart.patient_id, SessionEvent.kind == "vitals")
        ).all()
        weights = session.scalars(
            select(WeightMeasurement).where(WeightMeasurement.patient_id == chart.patient_id)
        ).all()
        measurements = session.scalars(
            select(Measurement).where(Measurement.patient_id == chart.patient_id)
        ).all()
        return list(events), list(weights), list(measurements)


def quantity_value(quantity: Resource) -> Decimal:
    return Decimal(str(quantity["value"]))


def instant_of(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds(moment: datetime) -> datetime:
    """fhir_base.instant writes whole seconds."""
    return moment.replace(microsecond=0)


# --- every resource ----------------------------------------------------------------------------


def test_every_resource_passes_the_r4b_models_and_the_projects_checks(chart: Chart) -> None:
    observations, responses = built(chart)
    events, weights, measurements = rows(chart)
    # vitals: BP, HR, RR, SpO2 per row (no temperature charted); a score per named score
    expected = 4 * len(events) + len(weights) + sum(len(m.scores) for m in measurements)
    assert len(observations) == expected
    assert len(responses) == len(measurements)
    assert {m.instrument for m in measurements} == set(ANSWERS)  # and check-in's NRS and PHQ-9
    assert len(measurements) == len(ANSWERS) + 3  # and one from the portal
    for resource in observations + responses:
        assert validated(resource) is resource
        assert fhir_checks.problems(resource) == [], resource["id"]
        assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource["id"])
    by_id(observations)
    by_id(responses)


def test_the_chart_holds_typed_device_and_entered_in_error_vitals_and_two_weights(
    chart: Chart,
) -> None:
    events, weights, _ = rows(chart)
    assert {e.data.get("context") for e in events} >= {"pre", "during"}
    assert [e.data.get("device") for e in events if e.data.get("source") == "device"] == [EUI64]
    assert len([e for e in events if e.in_error]) == 1
    assert sorted(w.weight_kg for w in weights) == [Decimal("72.5"), Decimal("73.15")]


# --- vital signs -------------------------------------------------------------------------------

#: suffix -> (field, LOINC codes, UCUM code, profile), read from CODES.md §1.4.
SINGLE = {
    "hr": ("heart_rate_per_min", ["8867-4"], "/min", "heartrate"),
    "rr": ("resp_rate_per_min", ["9279-1"], "/min", "resprate"),
    "spo2": ("spo2_percent", ["2708-6", "59408-5"], "%", "oxygensat"),
}


def _codes(resource: Resource) -> list[str]:
    return [c["code"] for c in resource["code"]["coding"]]


def test_each_vitals_row_gives_one_observation_per_value_with_its_unit_and_source(
    chart: Chart,
) -> None:
    observations = by_id(built(chart)[0])
    events, _, _ = rows(chart)
    for event in events:
        status = "entered-in-error" if event.in_error else "final"
        bp = observations[f"vitals-{event.id}-bp"]
        assert _codes(bp) == ["85354-9"]
        assert bp["meta"]["profile"] == [CORE + "bp"]
        parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in bp["component"]}
        assert quantity_value(parts["8480-6"]) == event.data["systolic_mmhg"]
        assert quantity_value(parts["8462-4"]) == event.data["diastolic_mmhg"]
        assert {q["code"] for q in parts.values()} == {"mm[Hg]"}
        group = [bp]
        for suffix, (field, codes, ucum, profile) in SINGLE.items():
            observation = observations[f"vitals-{event.id}-{suffix}"]
            assert _codes(observation) == codes
            assert quantity_value(observation["valueQuantity"]) == event.data[field]
            assert observation["valueQuantity"]["code"] == ucum
            assert observation["meta"]["profile"] == [CORE + profile]
            group.append(observation)
        assert f"vitals-{event.id}-temp" not in observations
        for observation in group:
            assert observation["status"] == status
            assert observation["subject"] == {"reference": f"Patient/{chart.patient_id}"}
            assert observation["encounter"] == {"reference": f"Encounter/{event.session_id}"}
            assert instant_of(observation["effectiveDateTime"]) == seconds(event.at)
            device = observation.get("device")
            charted_by = [{"reference": f"Practitioner/{event.by_user_id}"}]
            if event.data.get("source") == "device":
                assert device["identifier"]["value"] == EUI64
                assert "monitor" in device["display"]
                assert "performer" not in observation  # the monitor charted it, not a person
            else:
                assert device is None
                assert observation["performer"] == charted_by
            notes = " ".join(n["text"] for n in observation.get("note", []))
            assert ("wrong chair" in notes) == event.in_error


def test_each_weight_is_an_observation_in_kg(chart: Chart) -> None:
    observations = by_id(built(chart)[0])
    _, weights, _ = rows(chart)
    for weight in weights:
        observation = observations[f"weight-{weight.id}"]
        assert _codes(observation) == ["29463-7"]
        assert observation["meta"]["profile"] == [CORE + "bodyweight"]
        assert observation["valueQuantity"]["code"] == "kg"
        assert quantity_value(observation["valueQuantity"]) == weight.weight_kg
        assert observation["performer"] == [
            {"reference": f"Practitioner/{weight.recorded_by_user_id}"}
        ]
        assert instant_of(observation["effectiveDateTime"]) == seconds(weight.measured_at)


# --- scores and answers ------------------------------------------------------------------------


def _exact(observation: Resource) -> Fraction:
    """The score an Observation states exactly, checking its decimal is within half a place."""
    if "valueInteger" in observation:
        assert "valueQuantity" not in observation
        return Fraction(observation["valueInteger"])
    quantity = observation["valueQuantity"]
    assert (quantity["system"], quantity["code"]) == ("http://unitsofmeasure.org", "{score}")
    [extension] = quantity["extension"]
    assert extension["url"] == EXACT_SCORE
    exact = Fraction(extension["valueString"])
    assert abs(Fraction(quantity_value(quantity)) - exact) <= Fraction(1, 2 * 10**SCORE_PLACES)
    note = observation["note"][0]["text"]
    assert extension["valueString"] in note
    assert ("is exact" in note) == (Fraction(quantity_value(quantity)) == exact)
    assert ("rounded" in note) != (Fraction(quantity_value(quantity)) == exact)
    return exact


@given(st.fractions(min_value=0, max_value=27, max_denominator=12))
def test_a_score_value_is_an_integer_or_a_decimal_with_its_exact_fraction(
    value: Fraction,
) -> None:
    written = {"note": [], **score_value(value)}
    assert _exact(written) == value
    if value.denominator != 1:
        decimal = quantity_value(written["valueQuantity"])
        finite = all(p in (2, 5) for p in _prime_factors(value.denominator))
        assert (Fraction(decimal) == value) == finite


def _prime_factors(number: int) -> set[int]:
    found, factor = set(), 2
    while number > 1:
        while number % factor == 0:
            found.add(factor)
            number //= factor
        factor += 1
    return found


def test_each_score_is_a_survey_observation_with_its_code_and_exact_value(chart: Chart) -> None:
    observations = by_id(built(chart)[0])
    _, _, measurements = rows(chart)
    assert {m.instrument for m in measurements} == set(ANSWERS)
    fractional: list[Fraction] = []
    for measurement in measurements:
        instrument = INSTRUMENTS[measurement.instrument]
        for rule in instrument.scores:
            observation = observations[f"score-{measurement.id}-{rule.name}"]
            assert observation["category"][0]["coding"][0]["code"] == "survey"
            coding = observation["code"]["coding"][0]
            if rule.loinc:
                assert (coding["system"], coding["code"]) == ("http://loinc.org", rule.loinc)
            else:  # BPI severity: no LOINC code is known (CODES.md §1.1)
                assert coding["system"].startswith("urn:ketaclinic:")
                assert observation["code"]["text"]
            assert _exact(observation) == Fraction(measurement.scores[rule.name])
            if Fraction(measurement.scores[rule.name]).denominator != 1:
                fractional.append(Fraction(measurement.scores[rule.name]))
            assert observation["derivedFrom"] == [
                {"reference": f"QuestionnaireResponse/qr-{measurement.id}"}
            ]
            assert instant_of(observation["effectiveDateTime"]) == seconds(measurement.measured_at)
            assert observation.get("encounter") == (
                None
                if measurement.session_id is None
                else {"reference": f"Encounter/{measurement.session_id}"}
            )
    assert {m.session_id for m in measurements} == {None, chart.session_id}
    # PEG 19/3 and BPI interference 16/3 (rounded decimals), BPI severity 9/2 (exact decimal)
    assert sorted(fractional) == sorted(
        Fraction(
            sum(a for a in answers if a is not None), len([a for a in answers if a is not None])
        )
        for answers in (ANSWERS["peg"], ANSWERS["bpi_sf"][:4], ANSWERS["bpi_sf"][4:])
    )


def test_each_questionnaire_response_gives_the_answers_as_recorded(chart: Chart) -> None:
    responses = by_id(built(chart)[1])
    _, _, measurements = rows(chart)
    authors: set[str] = set()
    for measurement in measurements:
        response = responses[f"qr-{measurement.id}"]
        assert response["status"] == "completed"
        assert response["source"] == {"reference": f"Patient/{chart.patient_id}"}
        by_patient = measurement.recorded_by_user_id == chart.portal_user.user_id
        assert response["author"] == {
            "reference": f"Patient/{chart.patient_id}"
            if by_patient
            else f"Practitioner/{measurement.recorded_by_user_id}"
        }
        authors.add(response["author"]["reference"].split("/")[0])
        assert response["questionnaire"].endswith(measurement.instrument)
        assert instant_of(response["authored"]) == seconds(measurement.measured_at)
        instrument = INSTRUMENTS[measurement.instrument]
        given = [
            (item, answer)
            for item, answer in zip(instrument.items, measurement.answers, strict=True)
            if answer is not None
        ]
        assert len(response["item"]) == len(given)
        for (item, answer), written in zip(given, response["item"], strict=True):
            assert written["linkId"] == (f"/{item.loinc}" if item.loinc else item.id)
            [value] = written["answer"]
            if measurement.instrument in ("phq9", "gad7"):
                coding = value["valueCoding"]
                option = next(o for o in item.scale.options if o.value == answer)
                assert coding["code"] == option.loinc
                assert coding["extension"] == [{"url": ORDINAL_VALUE, "valueDecimal": answer}]
            else:
                assert value == {"valueInteger": answer}
    assert authors == {"Patient", "Practitioner"}


# --- patient_of --------------------------------------------------------------------------------


def test_patient_of_finds_the_patient_of_every_resource_and_refuses_another_clinic(
    chart: Chart,
) -> None:
    observations, responses = built(chart)
    pairs = [(OBSERVATION, r["id"]) for r in observations] + [
        (QUESTIONNAIRE_RESPONSE, r["id"]) for r in responses
    ]
    with context(chart) as ctx:
        for kind, resource_id in pairs:
            found = kind.patient_of(ctx, resource_id)
            assert found is not None and found.id == chart.patient_id, resource_id
    with context(chart, chart.other_clinic_nurse) as ctx:
        for kind, resource_id in pairs:
            assert kind.patient_of(ctx, resource_id) is None, resource_id
        mine = ctx.session.get(Patient, chart.patient_id)
        assert mine is not None
        assert OBSERVATION.for_patient(ctx, mine) == []
        assert QUESTIONNAIRE_RESPONSE.for_patient(ctx, mine) == []


def test_patient_of_refuses_ids_that_name_nothing(chart: Chart) -> None:
    observations = built(chart)[0]
    vitals = next(r["id"] for r in observations if r["id"].startswith("vitals-"))
    score = next(r["id"] for r in observations if r["id"].startswith("score-"))
    event_id = vitals.split("-")[1]
    measurement_id = score.split("-")[1]
    missing = [
        f"vitals-{event_id}-temp",  # no temperature was charted
        f"vitals-{event_id}-xyz",
        f"score-{measurement_id}-bogus",
        f"qr-{measurement_id}",  # a QuestionnaireResponse id is not an Observation
        "weight-99999",
        "weight-99999999999999999999",  # beyond any integer column
        "vitals-1",
        "Observation",
        "",
    ]
    with context(chart) as ctx:
        for resource_id in missing:
            assert OBSERVATION.patient_of(ctx, resource_id) is None, resource_id
        assert QUESTIONNAIRE_RESPONSE.patient_of(ctx, "qr-2147483648") is None
        assert QUESTIONNAIRE_RESPONSE.patient_of(ctx, score) is None
        other = ctx.session.get(Patient, chart.other_patient_id)
        assert other is not None
        assert OBSERVATION.for_patient(ctx, other) == []


# --- the checks catch what the models let through ----------------------------------------------


def _one(chart: Chart, prefix: str, suffix: str = "") -> Resource:
    observations, responses = built(chart)
    resource = next(
        r
        for r in observations + responses
        if r["id"].startswith(prefix) and r["id"].endswith(suffix)
    )
    assert fhir_checks.problems(resource) == []
    return copy.deepcopy(resource)


def _caught(resource: Resource, fragment: str) -> None:
    """The models still accept it; the project's checks name the problem."""
    validated(resource)
    found = fhir_checks.problems(resource)
    assert any(fragment in problem for problem in found), found


def test_the_checks_catch_a_wrong_ucum_code(chart: Chart) -> None:
    heart_rate = _one(chart, "vitals-", "-hr")
    heart_rate["valueQuantity"]["code"] = "beats/min"
    _caught(heart_rate, "valueQuantity.code")
    bp = _one(chart, "vitals-", "-bp")
    bp["component"][0]["valueQuantity"]["code"] = "mmHg"  # the case-insensitive spelling
    _caught(bp, "component[0].valueQuantity.code")
    weight = _one(chart, "weight-")
    weight["valueQuantity"]["system"] = "http://example.org/units"
    _caught(weight, "valueQuantity.system")


def test_the_checks_catch_a_missing_vital_signs_category_and_code(chart: Chart) -> None:
    spo2 = _one(chart, "vitals-", "-spo2")
    del spo2["category"]
    _caught(spo2, "vital-signs category")
    spo2 = _one(chart, "vitals-", "-spo2")
    spo2["code"]["coding"] = [{"system": "http://snomed.info/sct", "code": "431314004"}]
    _caught(spo2, "needs LOINC 2708-6")


def test_the_checks_catch_a_bad_status(chart: Chart) -> None:
    observation = _one(chart, "vitals-", "-rr")
    observation["status"] = "done"
    _caught(observation, "Observation.status")
    response = _one(chart, "qr-")
    response["status"] = "final"
    _caught(response, "QuestionnaireResponse.status")


def test_the_checks_catch_a_score_outside_survey_and_a_bad_reference(chart: Chart) -> None:
    score = _one(chart, "score-")
    score["category"][0]["coding"][0]["code"] = "exam"
    _caught(score, "survey category")
    score = _one(chart, "score-")
    score["subject"] = {"reference": "https://elsewhere.example/Patient/1"}
    _caught(score, "Type/id")
    score = _one(chart, "score-")
    score["encounter"] = {"reference": "Patient/1"}
    _caught(score, "must point to Encounter/")


def test_the_checks_catch_a_phq9_answer_outside_its_answer_list(chart: Chart) -> None:
    _, _, measurements = rows(chart)
    phq9 = next(m for m in measurements if m.instrument == "phq9")
    response = _one(chart, f"qr-{phq9.id}")
    response["item"][2]["answer"] = [{"valueInteger": 2}]
    _caught(response, "item[2].answer[0]")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
KEYS = (
    "id",
    "status",
    "code",
    "category",
    "meta",
    "subject",
    "encounter",
    "component",
    "valueQuantity",
    "item",
    "derivedFrom",
    "effectiveDateTime",
)


@given(
    st.sampled_from(["Observation", "QuestionnaireResponse"]),
    st.dictionaries(st.sampled_from(KEYS), JSON),
)
def test_the_checks_answer_any_json_with_a_list_of_problems(
    kind: str, body: dict[str, object]
) -> None:
    found = fhir_checks.problems({"resourceType": kind, **body})
    assert all(isinstance(problem, str) for problem in found)


def test_a_portal_user_reads_only_their_own_record(chart: Chart) -> None:
    observations, responses = built(chart)
    with context(chart) as ctx:
        mine = ctx.session.get(Patient, chart.patient_id)
        assert mine is not None
        for patient_id, visible in ((chart.patient_id, True), (chart.patient_id + 10_000, False)):
            portal = FhirContext(
                ctx.session, replace(ctx.actor, role=Role.PATIENT, patient_id=patient_id), "NORTH"
            )
            assert (OBSERVATION.for_patient(portal, mine) == observations) == visible
            assert (QUESTIONNAIRE_RESPONSE.for_patient(portal, mine) == responses) == visible
            found = QUESTIONNAIRE_RESPONSE.patient_of(portal, responses[0]["id"])
            assert (found is not None) == visible
            if not visible:
                assert OBSERVATION.for_patient(portal, mine) == []


def test_a_row_with_a_temperature_and_no_diastolic_still_meets_the_profiles(chart: Chart) -> None:
    """The flowsheet records neither case today (a temperature field is proposed in device_codes);
    the row is changed in the database to stand for a future one."""
    events, _, _ = rows(chart)
    typed = next(e for e in events if e.data.get("context") == "during" and not e.in_error)
    with chart.factory() as session, session.begin():
        row = session.get(SessionEvent, typed.id)
        assert row is not None
        data = {k: v for k, v in row.data.items() if k != "diastolic_mmhg"}
        row.data = {**data, "temperature_celsius": "36.8"}
    observations = by_id(built(chart)[0])
    temperature = observations[f"vitals-{typed.id}-temp"]
    assert _codes(temperature) == ["8310-5"]
    assert temperature["meta"]["profile"] == [CORE + "bodytemp"]
    assert quantity_value(temperature["valueQuantity"]) == Decimal("36.8")
    assert temperature["valueQuantity"]["code"] == "Cel"
    bp = observations[f"vitals-{typed.id}-bp"]
    diastolic = next(c for c in bp["component"] if c["code"]["coding"][0]["code"] == "8462-4")
    assert "valueQuantity" not in diastolic
    assert diastolic["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    for resource in (temperature, bp):
        validated(resource)
        assert fhir_checks.problems(resource) == []
    with context(chart) as ctx:
        found = OBSERVATION.patient_of(ctx, f"vitals-{typed.id}-temp")
        assert found is not None and found.id == chart.patient_id
