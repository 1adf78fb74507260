"""Issue 11 items 4 and 7 on the session page, on SQLite and PostgreSQL: an irreversible click
asks a second time, naming what will happen; a refusal shows a banner at the top and points to
its message; discharge lists every unmet criterion at once, in the clinic's clock time."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.infusions.discharge import ALDRETE_NAMES
from tests.conftest import Person
from tests.infusions.test_api import CHECK_IN, Team, at
from tests.infusions.test_pages import Ward, csrf_from

NAME = "Test Synthetic-Case"  # patient_body() in tests/conftest.py


@pytest.fixture
def ward(app: FastAPI, client: TestClient, make_person: Callable[..., Person]) -> Ward:
    return Ward(app, Team(client, make_person), make_person)


def _confirm_form(html: str) -> dict[str, str]:
    """The hidden fields of the confirmation panel, as the browser would post them."""
    panel = re.search(r'<div class="confirm-panel".*?</form>', html, re.S)
    assert panel, "no confirmation panel"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', panel.group(0)))


def test_a_no_show_click_writes_nothing_and_asks_a_second_time_naming_what_happens(
    ward: Ward,
) -> None:
    sid = ward.team.schedule()
    first = ward.nurse.post(sid, "no-show")
    assert first.status_code == 200
    # T0 is 09:00 UTC, the test clinic's zone; the chair is Team.schedule's first new one.
    assert (
        f"Mark {NAME} as a no-show for 09:00 in Team chair 1: the session ends and cannot be "
        "restarted." in first.text
    )
    assert "Confirm no-show" in first.text and "Go back" in first.text
    assert ward.state(sid)["state"] == "scheduled"
    fields = _confirm_form(first.text)
    assert fields["confirm"] == "yes"
    second = ward.nurse.client.post(f"/sessions/{sid}/no-show", data=fields, follow_redirects=False)
    assert second.status_code == 303
    assert ward.state(sid)["state"] == "no_show"


def test_a_cancel_is_confirmed_with_its_reason_carried_to_the_second_step(ward: Ward) -> None:
    sid = ward.team.schedule()
    first = ward.nurse.post(sid, "cancel", reason="patient has flu")
    assert first.status_code == 200
    assert "(reason: patient has flu)" in first.text
    assert ward.state(sid)["state"] == "scheduled"
    fields = _confirm_form(first.text)
    assert fields["reason"] == "patient has flu"
    second = ward.nurse.client.post(f"/sessions/{sid}/cancel", data=fields, follow_redirects=False)
    assert second.status_code == 303
    record = ward.state(sid)
    assert record["state"] == "cancelled"
    assert record["events"][-1]["reason"] == "patient has flu"


def test_an_abort_without_a_reason_is_refused_before_any_confirmation(ward: Ward) -> None:
    sid = ward.team.schedule()
    refused = ward.nurse.post(sid, "abort", reason="")
    assert refused.status_code == 422
    assert "confirm-panel" not in refused.text
    assert ward.state(sid)["state"] == "scheduled"


def test_the_confirmation_of_a_stale_page_is_a_conflict_that_writes_nothing(ward: Ward) -> None:
    sid = ward.team.schedule()
    first = ward.nurse.post(sid, "abort", reason="chair out of service")
    fields = _confirm_form(first.text)
    ward.team.act(sid, "check-in", ward.team.nurse, **CHECK_IN)
    late = ward.nurse.client.post(f"/sessions/{sid}/abort", data=fields, follow_redirects=False)
    assert late.status_code == 409
    assert "Someone else changed this session" in late.text
    assert ward.state(sid)["state"] == "checked_in"


def test_the_session_head_offers_stop_and_no_show_as_first_steps_only(ward: Ward) -> None:
    scheduled = ward.team.schedule()
    html = ward.nurse.page(scheduled)
    assert "No-show…" in html and 'name="confirm"' not in html
    running = ward.team.schedule()
    ward.team.ready(running)
    ward.team.act(running, "start", ward.team.nurse)
    html = ward.nurse.page(running)
    assert '<a class="button big-button danger" href="#stop">Stop…</a>' in html
    assert f'action="/sessions/{running}/stop"><input' not in html


def test_a_refused_action_shows_a_banner_at_the_top_that_points_to_its_message(
    ward: Ward,
) -> None:
    sid = ward.team.schedule()
    ward.team.act(sid, "check-in", ward.team.nurse, **CHECK_IN)
    refused = ward.nurse.post(sid, "start")
    assert refused.status_code == 422
    banner = re.search(
        r'<div class="flash flash-error refusal"[^>]*>(.*?)</div>', refused.text, re.S
    )
    assert banner, "no refusal banner"
    assert 'data-target="#top"' in banner.group(0)
    assert "start needs a signed physician order" in banner.group(1)
    # The banner comes before the page's content, and the script that moves focus is loaded.
    assert refused.text.index('id="refusal"') < refused.text.index('id="top"')
    assert '<script src="/static/refusal.js"></script>' in refused.text


def test_a_validator_message_is_shown_in_the_clinics_words(ward: Ward) -> None:
    sid = ward.team.schedule()
    ward.team.ready(sid)
    with at(0):
        ward.team.act(sid, "start", ward.team.nurse)
        refused = ward.nurse.post(sid, "vitals", systolic_mmhg="high")
    assert refused.status_code == 422
    message = re.search(r'id="e-vitals-systolic_mmhg">([^<]+)<', refused.text)
    assert message and message.group(1) == "enter a whole number"
    # The box is marked invalid (its own attribute, so refusal.js can focus it).
    assert re.search(
        r'\saria-invalid="true" aria-describedby="e-vitals-systolic_mmhg"', refused.text
    )
    assert "Input should be" not in refused.text
    # The API keeps its field paths and pydantic's own words.
    api = ward.team.client.post(
        f"/api/v1/sessions/{sid}/vitals", json={"systolic_mmhg": "high"}, headers=ward.team.nurse
    )
    assert api.status_code == 422
    assert ["body", "systolic_mmhg"] in [d["loc"] for d in api.json()["detail"]]


def test_csrf_is_still_needed_for_the_second_step(ward: Ward) -> None:
    sid = ward.team.schedule()
    page = ward.nurse.page(sid)
    forged = ward.nurse.client.post(
        f"/sessions/{sid}/no-show",
        data={"confirm": "yes", "version": "1", "csrf_token": "x" + csrf_from(page)},
        follow_redirects=False,
    )
    assert forged.status_code in (400, 403)
    assert ward.state(sid)["state"] == "scheduled"


def test_a_discharge_form_lists_every_unmet_criterion_at_once_in_clock_time(ward: Ward) -> None:
    team = ward.team
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(40):
        team.act(sid, "stop", team.nurse)
    with at(70):
        before = ward.state(sid)
        refused = ward.nurse.post(
            sid,
            "discharge",
            **{f"aldrete_{n}": "2" for n in ALDRETE_NAMES if n != "activity"},
            pain_nrs="",
            mood_instrument="gad7",
            **{f"gad7_{n}": "0" for n in range(1, 8)},
        )
    assert refused.status_code == 422
    listed = re.search(r'id="e-discharge-all">(.*?)</div>', refused.text, re.S)
    assert listed
    items = re.findall(r"<li>([^<]+)</li>", listed.group(1))
    # Stopped at T0 + 40 min = 09:40 UTC (the test clinic's zone): discharge from 10:40.
    assert items == [
        "observation not complete: discharge allowed from 10:40 "
        "(60 min after the infusion ended at 09:40)",
        "modified Aldrete score not complete: Activity not scored",
        "post-infusion pain score (NRS) not recorded",
        "no responsible adult escort confirmed",
        "no-driving advice (24 h) not given",
    ]
    assert "Not discharged: 5 criteria unmet." in refused.text  # the banner at the top
    assert re.search(r'id="e-discharge-aldrete_activity">choose a score<', refused.text)
    assert "T09:40" not in refused.text.split('id="top"')[0]  # no ISO time in the banner
    after = ward.state(sid)
    assert after["state"] == "observing"
    assert len(after["events"]) == len(before["events"])
