"""The session page's drug-chain card, on SQLite and PostgreSQL: a draw before the start, a
refused over-draw that names what is on hand, and after the stop the waste the timeline leaves,
recorded with a witness; the chair board marks the session until then."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import PASSWORD, Person, csrf_from, log_in
from tests.infusions.test_api import at
from tests.inventory.helpers import Stock


def test_a_nurse_draws_before_the_start_and_records_the_witnessed_waste_after_the_stop(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    team = stock.team
    browser = TestClient(app)
    log_in(browser, make_person(Role.NURSE))
    source = f"{stock.lot_id}:{stock.safe['id']}"
    with at(-30):
        sid = team.schedule()
        page = browser.get(f"/sessions/{sid}")
        assert "Nothing drawn for this session yet." in page.text
        assert f'value="{source}"' in page.text  # the lot on hand is offered
        token = csrf_from(page.text)
        too_much = browser.post(
            f"/sessions/{sid}/draw",
            data={"source": source, "containers": "3", "csrf_token": token},
        )
        assert too_much.status_code == 422
        assert "holds 1000 mg here; 1500 mg cannot be drawn" in too_much.text
        drawn = browser.post(
            f"/sessions/{sid}/draw",
            data={"source": source, "volume_ml": "1", "csrf_token": token},
        )
        assert drawn.status_code == 200, drawn.text
        assert "Drawn 50 mg (1 mL) for this session." in drawn.text
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(60):
        stopped = team.act(sid, "stop", team.nurse)
    given = Decimal(stopped["delivered"]["total_mg"])
    with at(65):
        board = browser.get("/board/data").text
        assert "Controlled-substance waste not recorded" in board
        overview = browser.get("/inventory").text  # its link opens the card itself
        assert f'<a href="/sessions/{sid}#drug-chain">Session {sid}</a>' in overview
        worklist = TestClient(app)
        log_in(worklist, make_person(Role.PHYSICIAN))
        assert f'href="/sessions/{sid}#drug-chain"' in worklist.get("/worklist").text
        page = browser.get(f"/sessions/{sid}")
        assert "Waste not recorded." in page.text
        assert f"To waste: <strong>{(50 - given).normalize():f} mg</strong>" in page.text
        form = {
            "manner": "into the pharmaceutical waste bin",
            "witness_username": stock.witness_person.username,
            "witness_password": "not the password",
            "csrf_token": csrf_from(page.text),
        }
        long = browser.post(f"/sessions/{sid}/waste", data={**form, "manner": "x" * 201})
        assert long.status_code == 422
        assert "at most 200 characters" in long.text
        wrong = browser.post(f"/sessions/{sid}/waste", data=form)
        assert wrong.status_code == 422
        assert "username or password is wrong" in wrong.text
        done = browser.post(f"/sessions/{sid}/waste", data={**form, "witness_password": PASSWORD})
        assert done.status_code == 200, done.text
        assert "the chain is closed" in done.text
        assert "Controlled-substance waste not recorded" not in browser.get("/board/data").text
        assert f'href="/sessions/{sid}#drug-chain"' not in worklist.get("/worklist").text
    assert stock.balance()[("K-001", "Safe A")] == 1000 - 50
