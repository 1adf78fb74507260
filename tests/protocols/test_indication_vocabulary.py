"""One vocabulary of indications for screening and protocols, and the forms that preselect the
protocol fitting the patient's screened indication (else their diagnoses)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ketaclinic import indications
from ketaclinic.accounts.core import Role
from ketaclinic.dosing.library import PROTOCOLS
from ketaclinic.dosing.protocol import KNOWN_INDICATIONS
from ketaclinic.indications import BY_ID, INDICATIONS, RENAMED, best_protocol, fit
from ketaclinic.screening import indications as screening_indications
from tests.conftest import Person, log_in, patient_body, token_for
from tests.protocols.test_migration_0016 import OLD_LIST

MIGRATION = (
    Path(indications.__file__).parent / "migrations/versions/0016_one_indication_vocabulary.py"
)
CHRONIC = "chronic-pain-low-dose"
DEPRESSION = "depression-murrough-2013"
VITALS = {
    "systolic_mmhg": 128,
    "diastolic_mmhg": 82,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
}


def _migration_maps() -> tuple[dict[str, str], dict[str, str]]:
    spec = importlib.util.spec_from_file_location("migration_0016", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.UP, module.DOWN


def test_screening_and_protocols_share_one_table_of_indications() -> None:
    assert screening_indications.INDICATIONS is INDICATIONS
    assert frozenset(BY_ID) == KNOWN_INDICATIONS
    for protocol in PROTOCOLS.values():
        assert set(protocol.indications) <= KNOWN_INDICATIONS, protocol.key
    for indication in INDICATIONS:
        assert indication.label and indication.source and indication.benefit
        assert indication.broader is None or indication.broader in BY_ID


def test_every_old_protocol_indication_has_a_place_in_the_table_and_the_migration_uses_it() -> None:
    up, down = _migration_maps()
    assert up == RENAMED
    for old in OLD_LIST:
        assert RENAMED.get(old, old) in BY_ID, old
    # downgrading gives every id of the table a name the old list knew
    assert all(down.get(i, i) in OLD_LIST for i in BY_ID)


def test_a_protocol_naming_the_indication_fits_better_than_one_naming_chronic_pain() -> None:
    assert fit(("back_pain",), "back_pain") == 0
    assert fit(("chronic_pain", "neuropathic_pain"), "back_pain") == 1
    assert fit(("chronic_pain",), "depression") is None
    protocols = [("low-dose", ("chronic_pain",)), ("spine", ("back_pain",))]
    assert best_protocol(["back_pain"], protocols) == ("spine", "back_pain")
    # the screened indication (first) wins over a diagnosis with an exact protocol
    both = [("low-dose", ("chronic_pain",)), ("mood", ("depression",))]
    assert best_protocol(["arthritis", "depression"], both) == ("low-dose", "arthritis")
    assert best_protocol(["bipolar_depression"], both) is None
    assert best_protocol([], both) is None


def _selected(page: str) -> str | None:
    select = re.search(r'<select id="f-protocol_id".*?</select>', page, re.S)
    assert select is not None, "the page has no protocol select"
    chosen = re.findall(r'<option value="(\d+)"\s+selected', select.group(0))
    assert len(chosen) <= 1
    return chosen[0] if chosen else None


def _forms(client: TestClient, patient_id: int) -> dict[str, str]:
    pages = {
        "dose plan": f"/patients/{patient_id}/dose-plan",
        "course": f"/patients/{patient_id}/courses",
        "schedule": f"/patients/{patient_id}/sessions/new",
    }
    out = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.text)
        out[name] = response.text
    return out


@pytest.fixture
def physician(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.PHYSICIAN)


def _patient(client: TestClient, headers: dict[str, str], mrn: str, *codes: str) -> int:
    diagnoses = [{"code": c, "is_primary": i == 0} for i, c in enumerate(codes)]
    body = patient_body(mrn=mrn, diagnoses=diagnoses)
    response = client.post("/api/v1/patients", json=body, headers=headers)
    assert response.status_code == 201, response.text
    value: int = response.json()["id"]
    return value


def test_the_forms_preselect_a_protocol_fitting_the_diagnosis_when_there_is_no_screening(
    client: TestClient, physician: Person
) -> None:
    headers = token_for(client, physician)
    protocol_ids = {
        p["key"]: p["id"] for p in client.get("/api/v1/protocols", headers=headers).json()
    }
    # low back pain: no protocol names back_pain; the low-dose one names chronic pain
    assert BY_ID["back_pain"].broader in PROTOCOLS[CHRONIC].indications
    patient_id = _patient(client, headers, "MRN-BACK", "M54.50")
    log_in(client, physician)
    for name, page in _forms(client, patient_id).items():
        assert _selected(page) == str(protocol_ids[CHRONIC]), name
        assert "diagnosis: Back pain" in page, name
        assert "you decide" in page, name


def test_the_forms_preselect_the_protocol_of_the_screened_indication_over_the_diagnosis(
    client: TestClient, physician: Person
) -> None:
    headers = token_for(client, physician)
    protocol_ids = {
        p["key"]: p["id"] for p in client.get("/api/v1/protocols", headers=headers).json()
    }
    # CRPS is the primary diagnosis, but the physician screened for the depression
    patient_id = _patient(client, headers, "MRN-MOOD", "G90.511", "F33.1")
    body = {**VITALS, "indication_id": "depression"}
    signed = client.post(f"/api/v1/patients/{patient_id}/screenings", json=body, headers=headers)
    assert signed.status_code == 201, signed.text
    log_in(client, physician)
    for name, page in _forms(client, patient_id).items():
        assert _selected(page) == str(protocol_ids[DEPRESSION]), name
        assert "screened indication: Depression" in page, name


def test_no_protocol_is_preselected_when_none_fits(client: TestClient, physician: Person) -> None:
    headers = token_for(client, physician)
    patient_id = _patient(client, headers, "MRN-BIPOLAR", "F31.4")  # no bipolar protocol
    log_in(client, physician)
    for name, page in _forms(client, patient_id).items():
        assert _selected(page) is None, name
        assert "Preselected" not in page, name
