"""FHIR import of referrals: a transaction Bundle registers or updates a patient; any problem
refuses the whole bundle, names its place, and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit.models import AuditEvent
from ketaclinic.db import transaction
from ketaclinic.interop import fhir_import, fhir_server
from ketaclinic.interop.fhir_base import ICD10CM, FhirInvalid, mrn_system
from ketaclinic.interop.fhir_referral import ACCEPTED_SYSTEMS, BundleUnreadable
from ketaclinic.interop.fhir_referral_items import PRIMARY_DIAGNOSIS_EXTENSION
from ketaclinic.patients import service as patients
from ketaclinic.patients.models import Diagnosis, Patient, WeightMeasurement
from ketaclinic.patients.schemas import PatientCreate
from tests.conftest import Person, token_for
from tests.interop.fhir_bundles import changed, index_of, referral, urn

TODAY = date(2026, 12, 1)
Resource = dict[str, Any]


def actor_of(factory: sessionmaker[Session], person: Person) -> Actor:
    with transaction(factory) as session:
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.code == person.clinic))
    return Actor(person.user_id, person.username, person.role, clinic_id, client_address="test")


@pytest.fixture
def nurse(factory: sessionmaker[Session], make_person: Callable[..., Person]) -> Actor:
    return actor_of(factory, make_person(Role.NURSE))


def run_import(factory: sessionmaker[Session], actor: Actor, bundle: object) -> Resource:
    with transaction(factory) as session:
        referral_ = fhir_import.read(session, actor=actor, bundle=bundle, today=TODAY)
        _, response = fhir_import.import_referral(
            session, actor=actor, referral=referral_, today=TODAY
        )
    return response


def the_patient(factory: sessionmaker[Session], mrn: str) -> Patient:
    with transaction(factory) as session:
        found = session.scalars(select(Patient).where(Patient.mrn == mrn)).one()
        found.diagnoses, found.weights  # noqa: B018  (loaded before the session ends)
        session.expunge(found)
    return found


def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(factory) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Patient, Diagnosis, WeightMeasurement, AuditEvent)
        }


def statuses(response: Resource) -> list[str]:
    return [entry["response"]["status"] for entry in response["entry"]]


# --- registering and updating -----------------------------------------------------------------


def test_a_valid_bundle_registers_the_patient(factory: sessionmaker[Session], nurse: Actor) -> None:
    bundle = referral()
    response = run_import(factory, nurse, bundle)
    patient = the_patient(factory, "REF-1001")
    assert (patient.given_name, patient.family_name) == ("Test Ann", "Synthetic-Referral")
    assert (patient.birth_date, patient.sex) == (date(1979, 3, 14), "female")
    assert (patient.address_city, patient.address_state, patient.address_zip) == (
        "Portland",
        "OR",
        "97201",
    )
    assert [(d.code, d.is_primary) for d in patient.diagnoses] == [
        ("M79.7", True),
        ("F33.1", False),
    ]
    assert patient.allergies == ["Penicillin"]
    assert patient.medications == ["Sertraline 50 mg tablet"]
    assert [w.weight_kg for w in patient.weights] == [Decimal("72.50")]
    assert response["type"] == "transaction-response"
    assert statuses(response) == ["201 Created"] * len(bundle["entry"])
    assert response["entry"][0]["response"]["location"] == f"Patient/{patient.id}"


def test_the_same_bundle_again_updates_the_patient_and_duplicates_nothing(
    factory: sessionmaker[Session], nurse: Actor
) -> None:
    bundle = referral()
    run_import(factory, nurse, bundle)
    before = row_counts(factory)
    again = run_import(factory, nurse, bundle)
    after = row_counts(factory)
    assert statuses(again) == ["200 OK"] * len(bundle["entry"])
    assert {k: v for k, v in after.items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }
    patient = the_patient(factory, "REF-1001")
    assert patient.allergies == ["Penicillin"]
    with transaction(factory) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.patient_id == patient.id)
        ).all()
    assert actions.count("patient.import") == 2


def _registered(factory: sessionmaker[Session], nurse: Actor, mrn: str) -> None:
    data = PatientCreate.model_validate(
        {
            "mrn": mrn,
            "given_name": "Test",
            "family_name": "Synthetic-Case",
            "birth_date": "1980-05-17",
            "sex": "female",
            "weight_kg": "70",
            "allergies": ["Latex"],
            "diagnoses": [{"code": "G89.4", "is_primary": True}],
        }
    )
    with transaction(factory) as session:
        patients.create(session, actor=nurse, data=data, today=TODAY)


def test_an_update_keeps_the_record_and_adds_what_is_new(
    factory: sessionmaker[Session], nurse: Actor
) -> None:
    _registered(factory, nurse, "REF-2")
    response = run_import(factory, nurse, referral(mrn="REF-2", codes=("G89.4", "M79.7")))
    patient = the_patient(factory, "REF-2")
    assert patient.family_name == "Synthetic-Referral"
    assert [(d.code, d.is_primary) for d in patient.diagnoses] == [
        ("G89.4", True),
        ("M79.7", False),
    ]
    assert patient.allergies == ["Latex", "Penicillin"]
    assert len(patient.weights) == 2
    assert statuses(response)[:3] == ["200 OK", "200 OK", "201 Created"]


def test_a_condition_marked_primary_becomes_the_primary_diagnosis(
    factory: sessionmaker[Session], nurse: Actor
) -> None:
    _registered(factory, nurse, "REF-3")
    bundle = referral(mrn="REF-3", codes=("M79.7",))
    marked = [{"url": PRIMARY_DIAGNOSIS_EXTENSION, "valueBoolean": True}]
    run_import(factory, nurse, changed(bundle, "Condition", extension=marked))
    patient = the_patient(factory, "REF-3")
    assert [(d.code, d.is_primary) for d in patient.diagnoses] == [
        ("M79.7", True),
        ("G89.4", False),
    ]


def test_the_clinics_own_mrn_system_identifies_the_patient(
    factory: sessionmaker[Session], nurse: Actor
) -> None:
    identifier = [{"system": mrn_system("NORTH"), "value": "OWN-7"}]
    run_import(factory, nurse, changed(referral(), "Patient", identifier=identifier))
    assert the_patient(factory, "OWN-7").family_name == "Synthetic-Referral"


# --- refusals -----------------------------------------------------------------------------------


def _condition_code(code: str) -> Callable[[Resource], Resource]:
    return lambda b: changed(b, "Condition", code={"coding": [{"system": ICD10CM, "code": code}]})


def _unknown_system(bundle: Resource) -> Resource:
    codings = [
        {"system": ICD10CM, "code": "M79.7"},
        {"system": "http://example.org/our-codes", "code": "FM"},
    ]
    return changed(bundle, "Condition", code={"coding": codings})


def _dangling(bundle: Resource) -> Resource:
    return changed(bundle, "AllergyIntolerance", patient={"reference": urn()})


def _at(kind: str, path: str) -> Callable[[Resource], str]:
    return lambda b: f"Bundle.entry[{index_of(b, kind)}].resource{path}"


REFUSALS: dict[str, tuple[Callable[[Resource], Resource], Callable[[Resource], str], str]] = {
    "non-billable code": (
        _condition_code("M54.5"),
        _at("Condition", ".code.coding[0].code"),
        "not a billable code",
    ),
    "not an ICD-10-CM code": (
        _condition_code("XYZ"),
        _at("Condition", ".code.coding[0].code"),
        "is not an ICD-10-CM code",
    ),
    "unknown coding system": (
        _unknown_system,
        _at("Condition", ".code.coding[1].system"),
        "not a code system the clinic reads",
    ),
    "missing MRN": (
        lambda b: changed(b, "Patient", identifier=None),
        _at("Patient", ".identifier"),
        "no medical record number",
    ),
    "invalid resource": (
        lambda b: changed(b, "Patient", birthDate="1979-13-40"),
        _at("Patient", ".birthDate"),
        "",
    ),
    "unknown element": (
        lambda b: changed(b, "Condition", colour="blue"),
        _at("Condition", ".colour"),
        "",
    ),
    "dangling reference": (
        _dangling,
        _at("AllergyIntolerance", ".patient.reference"),
        "is not an entry of this bundle",
    ),
    "missing gender": (
        lambda b: changed(b, "Patient", gender=None),
        _at("Patient", ".gender"),
        "is needed",
    ),
    "a minor": (
        lambda b: changed(b, "Patient", birthDate="2015-01-01"),
        _at("Patient", ".birthDate"),
        "adults only",
    ),
    "weight in pounds": (
        lambda b: changed(
            b,
            "Observation",
            valueQuantity={"value": 160, "unit": "lb", "system": ACCEPT_UCUM, "code": "[lb_av]"},
        ),
        _at("Observation", ".valueQuantity"),
        "kilograms",
    ),
}
ACCEPT_UCUM = "http://unitsofmeasure.org"


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_each_refusal_names_its_place_and_writes_nothing(
    factory: sessionmaker[Session], nurse: Actor, kind: str
) -> None:
    spoil, where, words = REFUSALS[kind]
    bundle = spoil(referral())
    before = row_counts(factory)
    with pytest.raises(FhirInvalid) as refused:
        run_import(factory, nurse, bundle)
    assert row_counts(factory) == before
    matching = [msg for loc, msg in refused.value.problems if loc == where(bundle)]
    assert matching, refused.value.problems
    assert any(words in msg for msg in matching)


def test_a_refused_update_leaves_the_record_as_it_was(
    factory: sessionmaker[Session], nurse: Actor
) -> None:
    run_import(factory, nurse, referral())
    before = row_counts(factory)
    spoiled = _condition_code("M54.5")(referral(family="Changed-Name", codes=("G89.4", "M54.5")))
    with pytest.raises(FhirInvalid):
        run_import(factory, nurse, spoiled)
    assert row_counts(factory) == before
    assert the_patient(factory, "REF-1001").family_name == "Synthetic-Referral"


def test_every_problem_of_a_bundle_is_named_at_once(
    factory: sessionmaker[Session], nurse: Actor
) -> None:
    bundle = _dangling(_condition_code("M54.5")(changed(referral(), "Patient", identifier=None)))
    with pytest.raises(FhirInvalid) as refused:
        run_import(factory, nurse, bundle)
    places = {loc for loc, _ in refused.value.problems}
    for kind in ("non-billable code", "missing MRN", "dangling reference"):
        assert REFUSALS[kind][1](bundle) in places


def test_a_new_patient_needs_a_weight(factory: sessionmaker[Session], nurse: Actor) -> None:
    before = row_counts(factory)
    with pytest.raises(FhirInvalid) as refused:
        run_import(factory, nurse, referral(weight_kg=None))
    assert "body weight" in refused.value.problems[0][1]
    assert row_counts(factory) == before


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "batch", "entry": []},
        [1, 2],
    ],
)
def test_what_is_not_a_transaction_bundle_is_unreadable(
    factory: sessionmaker[Session], nurse: Actor, body: object
) -> None:
    with pytest.raises(BundleUnreadable):
        run_import(factory, nurse, body)


def test_a_request_that_deletes_or_names_another_type_is_refused(
    factory: sessionmaker[Session], nurse: Actor
) -> None:
    bundle = referral()
    bundle["entry"][1]["request"] = {"method": "DELETE", "url": "Patient/1"}
    with pytest.raises(FhirInvalid) as refused:
        run_import(factory, nurse, bundle)
    places = {loc for loc, _ in refused.value.problems}
    assert {"Bundle.entry[1].request.method", "Bundle.entry[1].request.url"} <= places


def test_the_accepted_systems_include_the_ones_the_clinic_writes() -> None:
    from ketaclinic.interop import fhir_base

    written = [fhir_base.ICD10CM, fhir_base.SNOMED, fhir_base.RXNORM, fhir_base.LOINC]
    assert [s for s in written if s not in ACCEPTED_SYSTEMS] == []


# --- the route ----------------------------------------------------------------------------------


@pytest.fixture
def fhir_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def post(fhir_client: TestClient, make_person: Callable[..., Person]) -> Callable[..., Any]:
    tokens: dict[Role, dict[str, str]] = {}

    def send(body: object, role: Role = Role.NURSE, media: str = "application/fhir+json") -> Any:
        if role not in tokens:
            tokens[role] = token_for(fhir_client, make_person(role))
        content = body if isinstance(body, (str, bytes)) else json.dumps(body)
        headers = {**tokens[role], "content-type": media}
        return fhir_client.post("/fhir/r4", content=content, headers=headers)

    return send


def _issues(response: Any) -> list[tuple[str, str]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return [(i.get("expression", [""])[0], i["diagnostics"]) for i in body["issue"]]


def test_the_route_answers_a_transaction_response_bundle(post: Callable[..., Any]) -> None:
    response = post(referral())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["type"] == "transaction-response"
    assert post(referral(), media="application/json").status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ({"resourceType": "Patient"}, 400),
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, 400),
        (_condition_code("M54.5")(referral()), 422),
        ({"resourceType": "Bundle", "type": "transaction", "entry": [{"x": "\x00"}]}, 422),
    ],
)
def test_the_route_refuses_with_an_operation_outcome(
    post: Callable[..., Any], factory: sessionmaker[Session], body: object, status: int
) -> None:
    post(referral(mrn="OTHER-1"))  # a record the refusal must leave alone
    before = row_counts(factory)
    response = post(body)
    assert row_counts(factory) == before
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert _issues(response)


def test_the_route_names_the_place_of_each_problem(post: Callable[..., Any]) -> None:
    bundle = _condition_code("M54.5")(referral())
    response = post(bundle)
    assert REFUSALS["non-billable code"][1](bundle) in {loc for loc, _ in _issues(response)}


def test_each_location_the_route_answers_can_be_read(
    post: Callable[..., Any], fhir_client: TestClient, make_person: Callable[..., Person]
) -> None:
    """Every written entry's location is an id the FHIR server reads (all of them checked)."""
    bundle = referral(allergies=("Penicillin", "Latex"))
    response = post(bundle)
    locations = [e["response"].get("location") for e in response.json()["entry"]]
    assert None not in locations and len(locations) == len(bundle["entry"])
    reader = token_for(fhir_client, make_person(Role.PHYSICIAN))
    served = fhir_server.supported_types()
    for location, entry in zip(locations, bundle["entry"], strict=True):
        if location.split("/")[0] not in served:
            # Weights are served once the lead lists fhir_observations in fhir_server.KINDS.
            assert location.startswith("Observation/weight-")
            continue
        read = fhir_client.get(f"/fhir/r4/{location}", headers=reader)
        assert read.status_code == 200, (location, read.text)
        assert read.json()["resourceType"] == entry["resource"]["resourceType"]


def test_the_route_takes_only_json(post: Callable[..., Any]) -> None:
    assert post(json.dumps(referral()), media="text/plain").status_code == 415


def test_the_front_desk_imports_a_referral_without_diagnoses_only(
    post: Callable[..., Any],
) -> None:
    assert post(referral(), role=Role.STAFF).status_code == 403
    assert post(referral(codes=()), role=Role.STAFF).status_code == 200


def test_the_route_wants_a_token_and_a_role_that_may_write(
    fhir_client: TestClient, post: Callable[..., Any]
) -> None:
    anonymous = fhir_client.post(
        "/fhir/r4",
        content=json.dumps(referral()),
        headers={"content-type": "application/fhir+json"},
    )
    assert anonymous.status_code == 401
    assert _issues(anonymous)
    assert post(referral(), role=Role.ADMIN).status_code == 403


@pytest.mark.parametrize("kind", ["Encounter", "NoSuchResource"])
def test_a_resource_type_a_referral_does_not_carry_is_named(
    factory: sessionmaker[Session], nurse: Actor, kind: str
) -> None:
    bundle = referral()
    at = index_of(bundle, "AllergyIntolerance")
    bundle["entry"][at]["resource"] = {"resourceType": kind, "status": "planned"}
    bundle["entry"][at]["request"]["url"] = kind
    with pytest.raises(FhirInvalid) as refused:
        run_import(factory, nurse, bundle)
    assert [loc for loc, _ in refused.value.problems] == [
        f"Bundle.entry[{at}].resource.resourceType"
    ]


def test_the_readmes_example_referral_imports_and_its_faults_are_named(
    post: Callable[..., Any],
) -> None:
    """examples/fhir/referral.json is the file the README posts with curl."""
    example = Path(__file__).resolve().parents[2] / "examples" / "fhir" / "referral.json"
    bundle = json.loads(example.read_text(encoding="utf-8"))
    response = post(bundle)
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created"] * 5
    faulty = json.loads(example.read_text(encoding="utf-8").replace("G90.512", "M54.5"))
    refused = post(faulty)
    assert refused.status_code == 422
    assert [where for where, _ in _issues(refused)] == [
        "Bundle.entry[1].resource.code.coding[0].code"
    ]
