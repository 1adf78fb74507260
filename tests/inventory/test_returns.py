"""Unopened containers drawn for a session go back to stock, witnessed, on SQLite and PostgreSQL:
only containers drawn whole, never below what the record says was given, never once the chain
is closed; the reconciliation then reads drawn = administered + wasted + returned."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import PASSWORD, Person, csrf_from, log_in, token_for
from tests.infusions.test_api import at
from tests.inventory.helpers import API, Stock

VIAL_MG = Decimal(500)  # 10 mL × 50 mg/mL (helpers.KETAMINE)


def _return(stock: Stock, sid: int, status: int = 201, **overrides: Any) -> Any:
    body = {
        "lot_id": stock.lot_id,
        "location_id": stock.cabinet["id"],
        "containers": 1,
        "witness": stock.witness,
        **overrides,
    }
    return stock.post(f"/sessions/{sid}/returns", body, stock.team.nurse, status=status)


def _msg(answer: Any) -> str:
    return " ".join(d["msg"] for d in answer["detail"])


def test_an_unopened_vial_goes_back_to_stock_and_the_session_balances_with_it(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    team = stock.team
    with at(-30):
        sid = team.schedule()
        stock.draw(sid, containers=2)  # the whole shelf: 1000 mg
        assert stock.balance() == {}
        chain = _return(stock, sid)  # to the cabinet, not where it came from
        assert Decimal(chain["returned_mg"]) == VIAL_MG
        assert stock.balance() == {("K-001", "Cabinet B"): VIAL_MG}
        too_many = _return(stock, sid, status=422, containers=2)
        assert "1 unopened container of lot K-001 drawn whole for this session can be " in (
            _msg(too_many)
        )
        assert too_many["detail"][0]["loc"] == ["body", "containers"]
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(60):
        given = Decimal(team.act(sid, "stop", team.nurse)["delivered"]["total_mg"])
    with at(65):
        body = {"manner": "sharps bin, rendered unrecoverable", "witness": stock.witness}
        closed = stock.post(f"/sessions/{sid}/waste", body, team.nurse)
        late = _return(stock, sid, status=409)
    assert "is closed" in _msg(late)
    assert Decimal(closed["drawn_mg"]) == 2 * VIAL_MG
    assert Decimal(closed["administered_mg"]) == given
    assert Decimal(closed["wasted_mg"]) == VIAL_MG - given
    assert Decimal(closed["returned_mg"]) == VIAL_MG
    assert Decimal(closed["unaccounted_mg"]) == 0
    kinds = [
        (e["kind"], e["witness"])
        for e in stock.client.get(
            f"{API}/ledger", params={"session_id": sid}, headers=team.nurse
        ).json()
    ]
    assert kinds == [
        ("waste", stock.witness_person.username),
        ("administer", None),
        ("return", stock.witness_person.username),
        ("draw", None),
    ]
    inspector = TestClient(app)
    log_in(inspector, make_person(Role.ADMIN))
    with at(70):
        report = inspector.get(
            "/inventory/reports/reconciliation",
            params={"from": "2026-03-02", "to": "2026-03-02", "format": "csv"},
        )
    assert report.status_code == 200, report.text
    rows = [line for line in report.text.splitlines() if line.startswith(f"{sid},")]
    amounts = (2 * VIAL_MG, given, VIAL_MG - given, VIAL_MG, Decimal(0))
    expected = ",".join(
        [str(sid), "2026-03-02", "observing", "K-001", *(f"{a.normalize():f}" for a in amounts)]
    )
    assert rows == [f"{expected},balanced"]  # among every session, and no mismatch


def test_a_volume_drawn_opens_its_vial_and_cannot_be_returned(stock: Stock) -> None:
    with at(-30):
        sid = stock.team.schedule()
        stock.draw(sid, volume_ml="10")  # a whole vial's volume, but drawn up: opened
        refused = _return(stock, sid, status=422)
    assert "0 unopened containers of lot K-001" in _msg(refused)
    assert stock.balance() == {("K-001", "Safe A"): VIAL_MG}


def test_a_return_never_leaves_less_drawn_than_the_record_says_was_given(stock: Stock) -> None:
    team = stock.team
    with at(-30):
        sid = team.schedule()
        stock.draw(sid, containers=1)
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(30):  # 7.2 mg/h × 30 min = 3.6 mg given so far
        refused = _return(stock, sid, status=422)
    assert "the record says 3.6 mg of ketamine was given already" in _msg(refused)
    assert "only 0 mg would remain drawn" in _msg(refused)
    assert stock.balance() == {("K-001", "Safe A"): VIAL_MG}


def test_the_witness_of_a_return_is_a_second_licensed_person(
    stock: Stock, make_person: Callable[..., Person]
) -> None:
    nurse = make_person(Role.NURSE)
    headers = token_for(stock.client, nurse)
    clerk = make_person(Role.STAFF)
    with at(-30):
        sid = stock.team.schedule()
        stock.draw(sid, containers=1)
        body = {"lot_id": stock.lot_id, "location_id": stock.safe["id"], "containers": 1}
        url = f"{API}/sessions/{sid}/returns"
        for witness, words in (
            (nurse, "second person"),
            (clerk, "a licensed person of this clinic"),
        ):
            signed = {"username": witness.username, "password": PASSWORD}
            refused = stock.client.post(url, json={**body, "witness": signed}, headers=headers)
            assert refused.status_code == 422, refused.text
            assert words in _msg(refused.json())
            assert refused.json()["detail"][0]["loc"] == ["body", "witness"]
    assert stock.balance() == {("K-001", "Safe A"): VIAL_MG}


def test_the_session_page_returns_an_unopened_vial_with_a_witness(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    browser = TestClient(app)
    log_in(browser, make_person(Role.NURSE))
    with at(-30):
        sid = stock.team.schedule()
        page = browser.get(f"/sessions/{sid}")
        assert f'action="/sessions/{sid}/return"' not in page.text  # nothing drawn
        stock.draw(sid, containers=2)
        page = browser.get(f"/sessions/{sid}")
        assert "ketamine lot K-001: 2 drawn whole, not returned" in page.text
        form = {
            "lot_id": str(stock.lot_id),
            "location_id": str(stock.safe["id"]),
            "containers": "1",
            "witness_username": stock.witness_person.username,
            "witness_password": "not the password",
            "csrf_token": csrf_from(page.text),
        }
        wrong = browser.post(f"/sessions/{sid}/return", data=form)
        assert wrong.status_code == 422
        assert 'id="e-return-witness_username"' in wrong.text
        assert "username or password is wrong" in wrong.text
        blank = browser.post(f"/sessions/{sid}/return", data={**form, "containers": ""})
        assert blank.status_code == 422
        assert 'id="e-return-containers"' in blank.text
        done = browser.post(f"/sessions/{sid}/return", data={**form, "witness_password": PASSWORD})
        assert done.status_code == 200, done.text
        assert "Returned 1 unopened (500 mg) to stock, witnessed." in done.text
        assert "ketamine lot K-001: 1 drawn whole, not returned" in done.text
    assert stock.balance() == {("K-001", "Safe A"): VIAL_MG}


def test_a_visit_cancelled_after_its_draw_closes_its_chain_as_waste_and_returns(
    stock: Stock,
) -> None:
    """Drug drawn for a visit that is then cancelled is not stranded: whole vials go back and
    what was drawn up is wasted with a witness; nothing was given."""
    team = stock.team
    with at(-30):
        sid = team.schedule()
        stock.draw(sid, containers=1)
        stock.draw(sid, volume_ml="2")  # drawn up from the second vial: 100 mg, opened
        team.act(sid, "cancel", team.nurse, reason="patient has flu")
        assert sid in _unrecorded(stock)
        _return(stock, sid)  # the unopened vial
        body = {"manner": "sharps bin, rendered unrecoverable", "witness": stock.witness}
        closed = stock.post(f"/sessions/{sid}/waste", body, team.nurse)
    assert Decimal(closed["administered_mg"]) == 0
    assert Decimal(closed["wasted_mg"]) == Decimal(100)
    assert Decimal(closed["returned_mg"]) == VIAL_MG
    assert Decimal(closed["unaccounted_mg"]) == 0
    assert stock.balance() == {("K-001", "Cabinet B"): VIAL_MG, ("K-001", "Safe A"): 400}
    assert sid not in _unrecorded(stock)


def _unrecorded(stock: Stock) -> list[int]:
    response = stock.client.get(f"{API}/unrecorded-waste", headers=stock.team.nurse)
    assert response.status_code == 200, response.text
    result: list[int] = response.json()
    return result
