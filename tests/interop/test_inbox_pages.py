"""The HL7 inbox page on SQLite and PostgreSQL: what could not be placed is listed with its
reason; a nurse dismisses a message by saying why, and it leaves the inbox but stays on record."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Role
from ketaclinic.interop.device_codes import SYSTOLIC
from ketaclinic.interop.models import Hl7Message
from tests.conftest import Person, csrf_from, log_in
from tests.infusions.test_api import Team, at
from tests.interop.test_service import _infusing, _oru, _receive, _vitals


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _browser(app: FastAPI, person: Person) -> TestClient:
    browser = TestClient(app)
    log_in(browser, person)
    return browser


def _messages(factory: sessionmaker[Session]) -> dict[str | None, Hl7Message]:
    with factory() as session:
        return {m.control_id: m for m in session.scalars(select(Hl7Message))}


def test_the_inbox_lists_what_was_not_placed_and_a_nurse_dismisses_with_a_reason(
    app: FastAPI,
    team: Team,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    _infusing(team)
    # Charted: never in the inbox. A long id, so that no random CSRF token on the page holds it.
    _receive(factory, _oru("CHARTED-NOT-WAITING"))
    _receive(factory, _oru("P2", mrn="NOBODY-9"))
    _receive(factory, "garbage")
    nurse = make_person(Role.NURSE)
    browser = _browser(app, nurse)
    page = browser.get("/interop/inbox")
    assert page.status_code == 200, page.text
    assert "Waiting (2)" in page.text
    assert "no patient with this MRN" in page.text
    assert "CHARTED-NOT-WAITING" not in page.text
    waiting = _messages(factory)["P2"]

    blank = browser.post(
        f"/interop/inbox/{waiting.id}/dismiss",
        data={"csrf_token": csrf_from(page.text), "reason": "  "},
        follow_redirects=False,
    )
    assert blank.status_code == 422
    assert "say why" in blank.text
    assert _messages(factory)["P2"].outcome == "inbox"

    done = browser.post(
        f"/interop/inbox/{waiting.id}/dismiss",
        data={"csrf_token": csrf_from(page.text), "reason": "test message from the vendor"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    stored = _messages(factory)["P2"]
    assert (stored.outcome, stored.handled_reason) == ("dismissed", "test message from the vendor")
    assert stored.handled_by_user_id is not None
    assert "Waiting (1)" in browser.get("/interop/inbox").text

    again = browser.post(
        f"/interop/inbox/{waiting.id}/dismiss",
        data={"csrf_token": csrf_from(page.text), "reason": "twice"},
        follow_redirects=False,
    )
    assert again.status_code == 404


def test_another_clinic_sees_nothing_of_this_inbox(
    app: FastAPI,
    team: Team,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    _receive(factory, _oru("P3", mrn="NOBODY-9"))
    outsider = _browser(app, make_person(Role.NURSE, clinic="SOUTH"))
    page = outsider.get("/interop/inbox")
    assert page.status_code == 200
    assert "Nothing waiting." in page.text
    waiting = _messages(factory)["P3"]
    refused = outsider.post(
        f"/interop/inbox/{waiting.id}/dismiss",
        data={"csrf_token": csrf_from(page.text), "reason": "not ours"},
        follow_redirects=False,
    )
    assert refused.status_code == 404
    assert _messages(factory)["P3"].outcome == "inbox"


def test_a_nurse_matches_a_waiting_message_to_the_session_she_chooses(
    app: FastAPI,
    team: Team,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    _receive(factory, _oru("P4", mrn="WRONG-MRN"))
    _receive(factory, _oru("P5", mrn="WRONG-MRN", **{SYSTOLIC: "120.5"}))
    nurse = make_person(Role.NURSE)
    browser = _browser(app, nurse)
    with at(8):
        page = browser.get("/interop/inbox")
        assert f'<option value="{sid}">' in page.text
        token = csrf_from(page.text)
        fraction = _messages(factory)["P5"]
        refused = browser.post(
            f"/interop/inbox/{fraction.id}/match",
            data={"csrf_token": token, "session_id": str(sid)},
            follow_redirects=False,
        )
        unchosen = browser.post(
            f"/interop/inbox/{fraction.id}/match",
            data={"csrf_token": token, "session_id": ""},
            follow_redirects=False,
        )
        waiting = _messages(factory)["P4"]
        done = browser.post(
            f"/interop/inbox/{waiting.id}/match",
            data={"csrf_token": token, "session_id": str(sid)},
            follow_redirects=False,
        )
    assert refused.status_code == 422
    assert "whole numbers" in refused.text
    assert unchosen.status_code == 422
    assert "choose the session" in unchosen.text
    assert done.status_code == 303, done.text
    matched = _messages(factory)["P4"]
    assert (matched.outcome, matched.session_id) == ("matched", sid)
    assert _messages(factory)["P5"].outcome == "inbox"
    charted = _vitals(factory, sid)
    assert len(charted) == before + 1
    assert charted[-1].data["source"] == "device"
    assert charted[-1].by_user_id == matched.handled_by_user_id


def test_the_menu_leads_clinicians_to_the_inbox_and_no_one_else(
    app: FastAPI, make_person: Callable[..., Person]
) -> None:
    link = '<a href="/interop/inbox">Monitor inbox</a>'
    for role in Role:
        if role is Role.PATIENT:
            continue  # the portal has its own menu
        home = _browser(app, make_person(role)).get(
            "/patients" if role is not Role.ADMIN else "/audit"
        )
        assert home.status_code == 200, (role, home.text[:200])
        assert (link in home.text) == (role in (Role.NURSE, Role.PHYSICIAN)), role
