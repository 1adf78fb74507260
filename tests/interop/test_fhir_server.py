"""The FHIR R4 server at /fhir/r4: metadata, read, search with paging, $everything, refusals as
OperationOutcome, permissions and auditing (issue #14, item 1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.audit.models import AuditEvent
from ketaclinic.interop import fhir_server
from ketaclinic.interop.fhir_base import PRIMARY_DIAGNOSIS_EXTENSION, validated
from ketaclinic.interop.fhir_search import params_of
from tests.conftest import patient_body, token_for

FHIR = "application/fhir+json"


@pytest.fixture
def nurse(client: TestClient, make_person: Any) -> dict[str, str]:
    return token_for(client, make_person(Role.NURSE))


def _register(client: TestClient, headers: dict[str, str], **overrides: object) -> dict[str, Any]:
    body = patient_body(
        allergies=["penicillin (rash)"],
        medications=["duloxetine 60 mg daily", "gabapentin 300 mg three times daily"],
        diagnoses=[
            {"code": "M79.7", "is_primary": True},
            {"code": "G43.709", "is_primary": False},
        ],
    )
    body.update(overrides)
    response = client.post("/api/v1/patients", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _fhir(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(f"/fhir/r4/{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR)
    return response.json()


def _of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _outcome(response: Any, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR)
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    validated(body)
    return list(body["issue"])


def test_metadata_lists_exactly_the_types_served_and_is_open(client: TestClient) -> None:
    statement = _fhir(client, "metadata", {})
    validated(statement)
    rest = statement["rest"][0]
    served = [r["type"] for r in rest["resource"]]
    assert served == fhir_server.supported_types()
    assert len(served) == len(fhir_server.KINDS) + len(fhir_server.OTHER_TYPES)
    assert statement["fhirVersion"] == "4.0.1" and statement["format"] == ["json"]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert patient["operation"][0]["name"] == "everything"
    assert [i["code"] for i in rest["interaction"]] == ["transaction"]  # POST /fhir/r4


def test_every_listed_search_parameter_is_accepted_and_others_refused(
    client: TestClient, nurse: dict[str, str]
) -> None:
    patient = _register(client, nurse)
    samples = {
        "_id": "1",
        "identifier": "MRN-1",
        "family": "Syn",
        "birthdate": "1980",
        "patient": f"Patient/{patient['id']}",
        "date": "ge2000-01-01",
        "code": "M79.7",
        "category": "problem-list-item",
        "url": "urn:ketaclinic:fhir:questionnaire:phq9",
    }
    checked = 0
    for name in fhir_server.supported_types():
        listed = params_of(name, in_compartment=name in fhir_server.KINDS)
        needs_patient = {"patient": f"Patient/{patient['id']}"} if name in fhir_server.KINDS else {}
        if name == "Patient":
            needs_patient = {}
        for param in listed:
            query = {**needs_patient, param.name: samples[param.name]}
            response = client.get(f"/fhir/r4/{name}", params=query, headers=nurse)
            assert response.status_code == 200, (name, param.name, response.text)
            checked += 1
        refused = client.get(f"/fhir/r4/{name}", params={"subjekt": "1"}, headers=nurse)
        (issue,) = _outcome(refused, 400)
        assert issue["expression"] == ["query.subjekt"]
    assert checked >= 3 * len(fhir_server.supported_types())


def test_read_every_registration_resource_and_another_clinic_sees_none(
    client: TestClient, nurse: dict[str, str], make_person: Any
) -> None:
    patient = _register(client, nurse)
    bundle = _fhir(client, f"Patient/{patient['id']}/$everything", nurse)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Condition", "AllergyIntolerance", "MedicationStatement"} <= kinds
    outsider = token_for(client, make_person(Role.NURSE, clinic="SOUTH"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        path = f"{resource['resourceType']}/{resource['id']}"
        assert _fhir(client, path, nurse) == resource
        assert entry["fullUrl"].endswith(f"/fhir/r4/{path}")
        (issue,) = _outcome(client.get(f"/fhir/r4/{path}", headers=outsider), 404)
        assert issue["code"] == "not-found"
    found = _fhir(client, f"Patient/{patient['id']}", nurse)
    assert found["identifier"][0]["value"] == "MRN-1"
    assert found["birthDate"] == "1980-05-17" and found["gender"] == "female"
    conditions = _of_type(bundle, "Condition")
    assert [c["code"]["coding"][0]["code"] for c in conditions] == ["M79.7", "G43.709"]
    primary = [
        PRIMARY_DIAGNOSIS_EXTENSION in json.dumps(c.get("extension", [])) for c in conditions
    ]
    assert primary == [True, False]
    statements = _of_type(bundle, "MedicationStatement")
    assert [s["medicationCodeableConcept"]["text"] for s in statements] == patient["medications"]


def test_search_patients_by_identifier_family_birthdate(
    client: TestClient, nurse: dict[str, str]
) -> None:
    _register(client, nurse)
    _register(client, nurse, mrn="MRN-2", family_name="Other-Case", birth_date="1992-02-29")

    def mrns(**params: Any) -> list[str]:
        bundle = _fhir(client, "Patient", nurse, **params)
        assert bundle["total"] == len(bundle["entry"])
        return sorted(e["resource"]["identifier"][0]["value"] for e in bundle["entry"])

    assert mrns() == ["MRN-1", "MRN-2"]
    assert mrns(identifier="MRN-2") == ["MRN-2"]
    assert mrns(identifier="urn:other:mrn|MRN-2") == []
    assert mrns(family="syn") == ["MRN-1"]
    assert mrns(birthdate="1992-02") == ["MRN-2"]
    assert mrns(birthdate="lt1990") == ["MRN-1"]
    assert mrns(birthdate="ge1980-05-17") == ["MRN-1", "MRN-2"]
    assert mrns(birthdate="gt1980-05-17") == ["MRN-2"]
    bad_month = client.get("/fhir/r4/Patient", params={"birthdate": "1980-13"}, headers=nurse)
    (issue,) = _outcome(bad_month, 400)
    assert issue["expression"] == ["query.birthdate"]


def test_paging_walks_every_match_once(client: TestClient, nurse: dict[str, str]) -> None:
    for n in range(5):
        _register(client, nurse, mrn=f"PAGE-{n}", diagnoses=[{"code": "M79.7", "is_primary": True}])
    seen: list[str] = []
    bundle = _fhir(client, "Patient", nurse, _count=2)
    pages = 1
    while True:
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        assert bundle["total"] == 5 and len(bundle["entry"]) <= 2
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        bundle = client.get(following[0].removeprefix("http://testserver"), headers=nurse).json()
        pages += 1
        assert any(link["relation"] == "previous" for link in bundle["link"])
    assert pages == 3 and len(seen) == len(set(seen)) == 5


def test_condition_search_by_code_category_and_patient(
    client: TestClient, nurse: dict[str, str]
) -> None:
    patient = _register(client, nurse)
    who = f"Patient/{patient['id']}"

    def codes(**params: Any) -> list[str]:
        bundle = _fhir(client, "Condition", nurse, patient=who, **params)
        return [e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"]]

    assert sorted(codes()) == ["G43.709", "M79.7"]
    assert codes(code="http://hl7.org/fhir/sid/icd-10-cm|G43.709") == ["G43.709"]
    assert codes(code="http://snomed.info/sct|G43.709") == []
    assert sorted(codes(code="M79.7,G43.709")) == ["G43.709", "M79.7"]
    assert codes(category="encounter-diagnosis") == []
    assert codes(date="lt2000") == []
    (issue,) = _outcome(client.get("/fhir/r4/Condition", headers=nurse), 400)
    assert issue["expression"] == ["query.patient"]


def test_refusals_are_operation_outcomes(
    client: TestClient, nurse: dict[str, str], make_person: Any
) -> None:
    (issue,) = _outcome(client.get("/fhir/r4/Patient"), 401)
    assert issue["code"] == "login"
    (issue,) = _outcome(client.get("/fhir/r4/Specimen", headers=nurse), 404)
    assert "Specimen" in issue["diagnostics"]
    desk = token_for(client, make_person(Role.STAFF))
    patient = _register(client, nurse)
    everything = client.get(f"/fhir/r4/Patient/{patient['id']}/$everything", headers=desk)
    (issue,) = _outcome(everything, 403)
    assert issue["code"] == "forbidden"
    assert _fhir(client, f"Patient/{patient['id']}", desk)["id"] == str(patient["id"])
    admin = token_for(client, make_person(Role.ADMIN))
    _outcome(client.get(f"/fhir/r4/Patient/{patient['id']}", headers=admin), 403)
    _outcome(client.get("/fhir/r4/Patient/not-a-number", headers=nurse), 404)


def test_reads_are_audited(
    client: TestClient, nurse: dict[str, str], factory: sessionmaker[Session]
) -> None:
    patient = _register(client, nurse)

    def fhir_reads() -> list[str]:
        with factory() as session:
            query = select(AuditEvent.detail).where(
                AuditEvent.action == "fhir.read", AuditEvent.patient_id == patient["id"]
            )
            return [str(d) for d in session.scalars(query)]

    _fhir(client, f"Patient/{patient['id']}", nurse)
    _fhir(client, "Condition", nurse, patient=patient["id"])
    _fhir(client, f"Patient/{patient['id']}/$everything", nurse)
    assert fhir_reads() == ["Patient read", "Condition search", "Patient $everything"]
