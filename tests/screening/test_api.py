"""Screening over the API and the page, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for

VITALS = {
    "systolic_mmhg": 128,
    "diastolic_mmhg": 82,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
}


@pytest.fixture
def physician(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.PHYSICIAN)


@pytest.fixture
def patient_id(client: TestClient, physician: Person) -> int:
    headers = token_for(client, physician)
    body = patient_body(diagnoses=[{"code": "G90.511", "is_primary": True}])
    response = client.post("/api/v1/patients", json=body, headers=headers)
    assert response.status_code == 201
    value: int = response.json()["id"]
    return value


def test_a_physician_signs_a_clean_screening_and_sees_the_evidence(
    client: TestClient, physician: Person, patient_id: int
) -> None:
    headers = token_for(client, physician)
    body = {**VITALS, "indication_id": "crps", "treatments_failed": ["gabapentin", "physio"]}
    response = client.post(f"/api/v1/patients/{patient_id}/screenings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["outcome"] == "eligible"
    assert result["matched_indications"][0]["indication_id"] == "crps"
    assert result["matched_indications"][0]["evidence"] == "moderate"
    assert result["signed_by_user_id"] == physician.user_id
    history = client.get(f"/api/v1/patients/{patient_id}/screenings", headers=headers).json()
    assert [s["id"] for s in history] == [result["id"]]


def test_a_relative_contraindication_without_a_reason_is_refused_and_nothing_is_written(
    client: TestClient, physician: Person, patient_id: int
) -> None:
    headers = token_for(client, physician)
    url = f"/api/v1/patients/{patient_id}/screenings"
    body = {**VITALS, "contraindications_present": ["pregnancy"]}
    refused = client.post(url, json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "overrides", "pregnancy"]
    assert client.get(url, headers=headers).json() == []
    body["overrides"] = {"pregnancy": "Not pregnant: negative test today; field ticked in error"}
    signed = client.post(url, json=body, headers=headers)
    assert signed.status_code == 201
    assert signed.json()["outcome"] == "eligible_with_precautions"
    assert signed.json()["findings"][0]["override_reason"].startswith("Not pregnant")


def test_high_baseline_blood_pressure_is_found_from_the_reading(
    client: TestClient, physician: Person, patient_id: int
) -> None:
    headers = token_for(client, physician)
    body = {**VITALS, "systolic_mmhg": 165, "overrides": {"uncontrolled_hypertension": "recheck"}}
    response = client.post(f"/api/v1/patients/{patient_id}/screenings", json=body, headers=headers)
    assert response.status_code == 201
    assert [f["id"] for f in response.json()["findings"]] == ["uncontrolled_hypertension"]


@pytest.mark.parametrize(
    ("field", "value"), [("spo2_percent", 140), ("heart_rate_per_min", -5), ("systolic_mmhg", 20)]
)
def test_impossible_vitals_are_refused_naming_the_field(
    client: TestClient, physician: Person, patient_id: int, field: str, value: int
) -> None:
    headers = token_for(client, physician)
    body = {**VITALS, field: value}
    response = client.post(f"/api/v1/patients/{patient_id}/screenings", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_an_allergy_makes_the_patient_ineligible(
    client: TestClient, physician: Person, patient_id: int
) -> None:
    headers = token_for(client, physician)
    body = {**VITALS, "contraindications_present": ["ketamine_allergy"]}
    response = client.post(f"/api/v1/patients/{patient_id}/screenings", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json()["outcome"] == "ineligible"


def test_the_page_keeps_the_form_and_asks_for_the_missing_reason(
    client: TestClient, physician: Person, patient_id: int
) -> None:
    log_in(client, physician)
    form_page = client.get(f"/patients/{patient_id}/screenings/new")
    assert "moderate" in form_page.text and "Cohen 2018" in form_page.text
    data = {
        **{k: str(v) for k, v in VITALS.items()},
        "present": ["psychosis", "moderate_hepatic_disease"],
        "csrf_token": csrf_from(form_page.text),
    }
    refused = client.post(f"/patients/{patient_id}/screenings/new", data=data)
    assert refused.status_code == 422
    assert "needs your reason" in refused.text
    assert 'value="psychosis" checked' in refused.text
    data["override_psychosis"] = "Single episode in 2005 on steroids; none since"
    data["baseline_nrs"] = "12"
    bad_pain = client.post(f"/patients/{patient_id}/screenings/new", data=data)
    assert bad_pain.status_code == 422
    assert "Baseline questionnaire:" in bad_pain.text
    data["baseline_nrs"] = "7"
    signed = client.post(f"/patients/{patient_id}/screenings/new", data=data)
    assert signed.status_code == 200
    assert "Screening signed: eligible with precautions." in signed.text
    assert "Single episode in 2005" in signed.text
    assert "1 baseline questionnaire(s) recorded" in signed.text


def test_baseline_questionnaires_are_scored_and_stored_with_the_screening(
    client: TestClient, physician: Person, patient_id: int
) -> None:
    headers = token_for(client, physician)
    body = {
        **VITALS,
        "baseline_questionnaires": [
            {"instrument": "nrs", "answers": [7]},
            {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 0, 0, 0, 0]},
        ],
    }
    response = client.post(f"/api/v1/patients/{patient_id}/screenings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert len(response.json()["baseline_measurement_ids"]) == 2
    stored = client.get(f"/api/v1/patients/{patient_id}/measurements", headers=headers).json()
    assert {(m["instrument"], m["context"], m["band"]) for m in stored} == {
        ("nrs", "baseline", None),
        ("phq9", "baseline", "mild"),
    }


def test_a_bad_baseline_answer_refuses_the_whole_screening(
    client: TestClient, physician: Person, patient_id: int
) -> None:
    headers = token_for(client, physician)
    body = {**VITALS, "baseline_questionnaires": [{"instrument": "nrs", "answers": [11]}]}
    url = f"/api/v1/patients/{patient_id}/screenings"
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "baseline_questionnaires",
        0,
        "answers",
        0,
    ]
    assert client.get(url, headers=headers).json() == []
    assert client.get(f"/api/v1/patients/{patient_id}/measurements", headers=headers).json() == []
