"""Questionnaires recorded through the API; a suicide-risk answer reaches the physician at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import Person, csrf_from, log_in, patient_body, token_for


@pytest.fixture
def nurse(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.NURSE)


@pytest.fixture
def patient_id(client: TestClient, nurse: Person) -> int:
    response = client.post(
        "/api/v1/patients", json=patient_body(), headers=token_for(client, nurse)
    )
    value: int = response.json()["id"]
    return value


def test_a_phq9_is_stored_with_its_answers_exact_score_and_band(
    client: TestClient, nurse: Person, patient_id: int
) -> None:
    headers = token_for(client, nurse)
    answers = [1, 1, 2, 1, 1, 1, 1, 1, 1]  # 10: the first "moderate" score (Kroenke 2001)
    body = {"instrument": "phq9", "answers": answers, "context": "baseline"}
    response = client.post(
        f"/api/v1/patients/{patient_id}/measurements", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["scores"] == [{"name": "total", "exact": "10", "rounded": "10.00"}]
    assert result["band"] == "moderate"
    assert result["flags"] == ["suicide_risk"]
    assert result["answers"] == answers


def test_a_peg_mean_is_kept_exact(client: TestClient, nurse: Person, patient_id: int) -> None:
    headers = token_for(client, nurse)
    body = {"instrument": "peg", "answers": [6, 6, 7], "context": "pre"}
    result = client.post(
        f"/api/v1/patients/{patient_id}/measurements", json=body, headers=headers
    ).json()
    assert result["scores"] == [{"name": "total", "exact": "19/3", "rounded": "6.33"}]


@pytest.mark.parametrize(
    ("answers", "loc"),
    [([0] * 8, ["body", "answers"]), ([0, 0, 4, 0, 0, 0, 0, 0, 0], ["body", "answers", 2])],
)
def test_bad_answers_are_refused_naming_the_item_and_nothing_is_stored(
    client: TestClient, nurse: Person, patient_id: int, answers: list[int], loc: list[object]
) -> None:
    headers = token_for(client, nurse)
    url = f"/api/v1/patients/{patient_id}/measurements"
    body = {"instrument": "phq9", "answers": answers, "context": "pre"}
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert client.get(url, headers=headers).json() == []


def test_an_unknown_instrument_or_context_is_refused(
    client: TestClient, nurse: Person, patient_id: int
) -> None:
    headers = token_for(client, nurse)
    url = f"/api/v1/patients/{patient_id}/measurements"
    for body in (
        {"instrument": "madrs", "answers": [1], "context": "pre"},
        {"instrument": "nrs", "answers": [4], "context": "sometime"},
    ):
        assert client.post(url, json=body, headers=headers).status_code == 422


def test_the_history_filters_by_instrument_in_time_order(
    client: TestClient, nurse: Person, patient_id: int
) -> None:
    headers = token_for(client, nurse)
    url = f"/api/v1/patients/{patient_id}/measurements"
    for when, pain in (("2026-01-02T10:00:00Z", 7), ("2026-01-01T10:00:00Z", 8)):
        body = {"instrument": "nrs", "answers": [pain], "context": "pre", "measured_at": when}
        assert client.post(url, json=body, headers=headers).status_code == 201
    client.post(
        url, json={"instrument": "gad7", "answers": [0] * 7, "context": "pre"}, headers=headers
    )
    history = client.get(url, params={"instrument": "nrs"}, headers=headers).json()
    assert [h["scores"][0]["exact"] for h in history] == ["8", "7"]


def test_a_suicide_risk_answer_is_on_the_physicians_work_list_until_acknowledged(
    client: TestClient, nurse: Person, patient_id: int, make_person: Callable[..., Person]
) -> None:
    headers = token_for(client, nurse)
    body = {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1], "context": "portal"}
    client.post(f"/api/v1/patients/{patient_id}/measurements", json=body, headers=headers)
    log_in(client, make_person(Role.PHYSICIAN))
    worklist = client.get("/worklist")
    assert "suicide risk" in worklist.text
    assert "Synthetic-Case" in worklist.text
    measurement_id = worklist.text.split('action="/worklist/')[1].split("/")[0]
    done = client.post(
        f"/worklist/{measurement_id}/acknowledge", data={"csrf_token": csrf_from(worklist.text)}
    )
    assert done.status_code == 200
    assert "Nothing urgent." in done.text


def test_a_physician_of_another_clinic_does_not_see_the_flag(
    client: TestClient, nurse: Person, patient_id: int, make_person: Callable[..., Person]
) -> None:
    headers = token_for(client, nurse)
    body = {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 3], "context": "pre"}
    client.post(f"/api/v1/patients/{patient_id}/measurements", json=body, headers=headers)
    log_in(client, make_person(Role.PHYSICIAN, clinic="SOUTH"))
    assert "Nothing urgent." in client.get("/worklist").text
