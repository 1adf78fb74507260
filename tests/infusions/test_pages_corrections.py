"""Charting corrections on the session page, on SQLite and PostgreSQL: an entry marked entered
in error is struck through with who, when and why, and its alert is withdrawn; implausible vitals
come back with the values kept and a confirmation box; a late entry says so (issue 11, item 5)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.monitoring.core import PLAUSIBILITY_BANDS
from tests.conftest import Person
from tests.infusions.test_api import T0, Team, at
from tests.infusions.test_pages import VITALS_FORM, Ward

HIGH_BP_FORM = {**VITALS_FORM, "systolic_mmhg": "190"}  # above the ">180" rule


@pytest.fixture
def ward(app: FastAPI, client: TestClient, make_person: Callable[..., Person]) -> Ward:
    return Ward(app, Team(client, make_person), make_person)


def _running(ward: Ward) -> int:
    with at(-30):
        sid = ward.team.schedule()
        ward.team.ready(sid)
    with at(0):
        ward.team.act(sid, "start", ward.team.nurse)
    return sid


def _last(state: dict[str, Any], kind: str) -> dict[str, Any]:
    entry: dict[str, Any] = [e for e in state["events"] if e["kind"] == kind][-1]
    return entry


def _entry_html(page: str, event_id: int) -> str:
    match = re.search(rf'<li [^>]*id="entry-{event_id}">(.*?)</li>', page, re.S)
    assert match, f"entry {event_id} is not on the timeline"
    return match.group(1)


def test_the_author_marks_vitals_entered_in_error_and_sees_them_struck_through(
    ward: Ward,
) -> None:
    sid = _running(ward)
    with at(10):
        ward.nurse.do(sid, "vitals", **HIGH_BP_FORM)
        reading = _last(ward.state(sid), "vitals")
        page = ward.nurse.page(sid)
    assert "1 open" in page
    action = f"/sessions/{sid}/entries/{reading['id']}/entered-in-error"
    assert f'action="{action}"' in page
    with at(12):
        ward.nurse.do(sid, f"entries/{reading['id']}/entered-in-error", reason="wrong chair")
        page = ward.nurse.page(sid)
    entry = _entry_html(page, reading["id"])
    assert "<del>" in entry and "BP 190/78" in entry
    assert "entered in error" in entry and "09:12" in entry and "wrong chair" in entry
    assert f'action="{action}"' not in page  # once only
    assert "No open alerts." in page
    assert "withdrawn 09:12: the reading that raised it was entered in error" in page
    board = ward.nurse.client.get("/board/data")
    assert "open</strong>" not in board.text


def test_another_nurse_is_offered_no_correction_and_is_refused_with_a_message(
    ward: Ward,
) -> None:
    sid = _running(ward)
    ward.nurse.do(sid, "vitals", **VITALS_FORM)
    reading = _last(ward.state(sid), "vitals")
    page = ward.second_nurse.page(sid)
    assert f"/entries/{reading['id']}/entered-in-error" not in page
    refused = ward.second_nurse.post(
        sid, f"entries/{reading['id']}/entered-in-error", reason="looks wrong"
    )
    assert refused.status_code == 403
    assert "only the person who charted this vitals or a physician" in html.unescape(refused.text)
    assert _last(ward.state(sid), "vitals")["entered_in_error_at"] is None
    # A physician may, and is offered the form.
    assert f"/entries/{reading['id']}/entered-in-error" in ward.physician.page(sid)


def test_implausible_vitals_come_back_with_the_values_kept_and_a_confirmation_box(
    ward: Ward,
) -> None:
    sid = _running(ward)
    wild = {**VITALS_FORM, "systolic_mmhg": "260"}
    refused = ward.nurse.post(sid, "vitals", **wild)
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "Yes, I re-checked: systolic BP 260 mmHg is right" in text
    assert 'name="confirm_implausible"' in text
    band = PLAUSIBILITY_BANDS["systolic_mmhg"]
    assert f"outside the plausibility band {band.low}–{band.high} mmHg (clinic policy)" in text
    assert "tick the box below" in text
    assert 'id="f-vitals-systolic_mmhg" name="systolic_mmhg" value="260"' in text
    assert 'name="heart_rate_per_min" value="72"' in text
    assert not [
        e
        for e in ward.state(sid)["events"]
        if e["kind"] == "vitals" and e["data"].get("context") != "pre"
    ]
    ward.nurse.do(sid, "vitals", **wild, confirm_implausible="on")
    assert _last(ward.state(sid), "vitals")["data"]["systolic_mmhg"] == 260


def test_a_late_entry_from_the_page_keeps_its_observed_time_and_says_so(ward: Ward) -> None:
    sid = _running(ward)
    with at(40):
        page = ward.nurse.page(sid)
        day = re.search(r'name="clinic_day" value="([^"]+)"', page)
        offset = re.search(r'name="clinic_offset" value="([^"]+)"', page)
        assert day and offset
        ward.nurse.do(
            sid,
            "vitals",
            **VITALS_FORM,
            observed_at="09:25",
            clinic_day=day.group(1),
            clinic_offset=offset.group(1),
        )
        page = ward.nurse.page(sid)
    reading = _last(ward.state(sid), "vitals")
    # The test clinic's clock is UTC, so 09:25 on the page is T0 + 25 min.
    assert reading["at"].startswith((T0 + timedelta(minutes=25)).isoformat()[:16])
    assert "late entry (recorded 09:40)" in _entry_html(page, reading["id"])


def test_a_late_entry_beyond_the_window_comes_back_naming_the_limit(ward: Ward) -> None:
    sid = _running(ward)
    with at(100):
        page = ward.nurse.page(sid)
        day = re.search(r'name="clinic_day" value="([^"]+)"', page)
        offset = re.search(r'name="clinic_offset" value="([^"]+)"', page)
        assert day and offset
        refused = ward.nurse.post(
            sid,
            "adjunct",
            drug="ondansetron",
            dose="4",
            route="IV",
            reason="nausea",
            observed_at="09:30",
            clinic_day=day.group(1),
            clinic_offset=offset.group(1),
        )
    assert refused.status_code == 422
    assert "more than 60 min ago" in html.unescape(refused.text)
    assert 'id="f-adjunct-observed_at" name="observed_at" value="09:30"' in refused.text
    assert not [e for e in ward.state(sid)["events"] if e["kind"] == "adjunct"]
