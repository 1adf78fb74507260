"""Admins edit a protocol, which adds a version; clinicians read every version."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from ketaclinic.labels import label
from tests.conftest import Person, csrf_from, log_in, token_for

KEY = "crps-schwartzman-2009"


def _crps_id(client: TestClient, person: Person) -> int:
    rows = client.get("/api/v1/protocols", headers=token_for(client, person)).json()
    return next(r["id"] for r in rows if r["key"] == KEY)


def _edit_form(client: TestClient, protocol_id: int) -> dict[str, str]:
    """The edit form's current values, as a browser would post them back."""
    page = client.get(f"/protocols/{protocol_id}/edit").text
    values = dict(re.findall(r'name="([^"]+)" type="text" value="([^"]*)"', page))
    values.update(
        re.findall(r'<textarea id="f-[^"]+" name="([^"]+)" rows="3">([^<]*)</textarea>', page)
    )
    values["csrf_token"] = csrf_from(page)
    return values


def test_an_admin_edit_makes_a_new_version_and_keeps_the_old(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    admin = make_person(Role.ADMIN)
    old_id = _crps_id(client, admin)
    log_in(client, admin)
    values = _edit_form(client, old_id)
    values["rate_limit_mg_per_h.soft_max"] = "20"
    saved = client.post(f"/protocols/{old_id}/edit", data=values)
    assert saved.status_code == 200
    assert "Saved as version 2." in saved.text
    assert "soft 20 / hard" in saved.text
    old = client.get(f"/api/v1/protocols/{old_id}", headers=token_for(client, admin)).json()
    assert old["version"] == 1
    assert old["definition"]["rate_limit_mg_per_h"]["soft_max"] != "20"
    current = client.get("/api/v1/protocols", headers=token_for(client, admin)).json()
    assert next(r for r in current if r["key"] == KEY)["version"] == 2


def test_an_observation_below_60_minutes_is_refused(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    admin = make_person(Role.ADMIN)
    protocol_id = _crps_id(client, admin)
    log_in(client, admin)
    values = _edit_form(client, protocol_id)
    values["observation_min"] = "45"
    refused = client.post(f"/protocols/{protocol_id}/edit", data=values)
    assert refused.status_code == 422
    assert "observation_min" in refused.text
    current = client.get("/api/v1/protocols", headers=token_for(client, admin)).json()
    assert next(r for r in current if r["key"] == KEY)["version"] == 1


def test_a_physician_reads_the_protocol_but_cannot_edit(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    physician = make_person(Role.PHYSICIAN)
    protocol_id = _crps_id(client, physician)
    log_in(client, physician)
    page = client.get(f"/protocols/{protocol_id}")
    assert "Schwartzman" in page.text
    assert "Edit (makes a new version)" not in page.text
    assert client.get(f"/protocols/{protocol_id}/edit").status_code == 403


def test_the_library_names_each_protocols_indications_in_the_clinics_words(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    physician = make_person(Role.PHYSICIAN)
    protocol_id = _crps_id(client, physician)
    log_in(client, physician)
    library = client.get("/protocols").text
    row = next(r for r in library.split("<tr>") if f'href="/protocols/{protocol_id}"' in r)
    assert f"<td>{label('crps')}</td>" in row
    assert "<td>crps</td>" not in row


def test_the_booster_rule_is_edited_with_the_protocol_and_a_blank_trigger_is_off(
    client: TestClient, make_person: Callable[..., Person]
) -> None:
    admin = make_person(Role.ADMIN)
    old_id = _crps_id(client, admin)
    log_in(client, admin)
    values = _edit_form(client, old_id)
    assert values["booster_pain_return_percent"] == "70"  # the clinic-policy default
    values.update(booster_pain_return_percent="", booster_phq9_rise="7", vitals_interval_min="10")
    saved = client.post(f"/protocols/{old_id}/edit", data=values)
    assert saved.status_code == 200, saved.text
    assert "back to" not in saved.text and "7 points above its best" in saved.text
    current = client.get("/api/v1/protocols", headers=token_for(client, admin)).json()
    new_id = next(r["id"] for r in current if r["key"] == KEY)
    new = client.get(f"/api/v1/protocols/{new_id}", headers=token_for(client, admin)).json()
    assert new["definition"]["booster_pain_return_percent"] is None
    assert new["definition"]["booster_phq9_rise"] == 7
    assert new["definition"]["vitals_interval_min"] == 10
