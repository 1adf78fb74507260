"""The count, discrepancy, Form 106, disposal and Form 41 pages, on SQLite and PostgreSQL: a
blind count on the page opens a discrepancy, a physician resolves it as a significant loss and
records the DEA notification, and expired stock is destroyed on site with two witnesses."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.accounts.core import Role
from tests.conftest import PASSWORD, Person, csrf_from, log_in
from tests.infusions.test_api import at
from tests.inventory.helpers import Stock


def _browser(app: FastAPI, person: Person) -> TestClient:
    browser = TestClient(app)
    log_in(browser, person)
    return browser


def _count_fields(html: str) -> dict[str, str]:
    """The hidden lot and location of each row the count page offers."""
    return dict(re.findall(r'name="(lines\.\d+\.(?:lot_id|location_id))" value="(\d+)"', html))


def test_a_count_on_the_page_is_blind_and_opens_a_discrepancy_a_physician_resolves(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    nurse, physician = make_person(Role.NURSE), make_person(Role.PHYSICIAN)
    counting = _browser(app, nurse)
    form = counting.get("/inventory/counts/new")
    assert form.status_code == 200
    assert "1000 mg" not in form.text  # the expected amount is not shown to the counters
    fields = _count_fields(form.text)
    assert fields == {
        "lines.0.lot_id": str(stock.lot_id),
        "lines.0.location_id": str(stock.safe["id"]),
    }
    data = {
        **fields,
        "kind": "daily",
        "timing": "close",
        "lines.0.sealed_containers": "1",
        "lines.0.opened_ml": "",
        "witness_username": stock.witness["username"],
        "witness_password": "wrong password",
        "csrf_token": csrf_from(form.text),
    }
    with at(0):
        refused = counting.post("/inventory/counts/new", data=data)
    assert refused.status_code == 422
    assert "username or password is wrong" in refused.text
    with at(0):
        counted = counting.post(
            "/inventory/counts/new", data={**data, "witness_password": PASSWORD}
        )
    assert counted.status_code == 200, counted.text
    assert "Discrepancy" in counted.text and "-500" in counted.text  # 500 − 1000 mg
    discrepancy_id = re.search(r'href="/inventory/discrepancies/(\d+)"', counted.text)
    assert discrepancy_id is not None
    path = f"/inventory/discrepancies/{discrepancy_id.group(1)}"
    assert "a physician resolves" in counting.get("/inventory").text

    resolving = _browser(app, physician)
    page = resolving.get(path)
    assert 'action="' + path + '/resolve"' in page.text
    body = {
        "resolution": "loss",
        "reason": "vial missing",
        "significant": "on",
        "loss_type": "break_in",
        "csrf_token": csrf_from(page.text),
    }
    with at(30):
        form106 = resolving.post(path + "/resolve", data=body)
    assert form106.status_code == 200, form106.text
    assert "DEA Form 106 data" in form106.text and "break in" in form106.text
    assert stock.balance()[("K-001", "Safe A")] == 500
    assert path + "/form-106" in resolving.get("/worklist").text
    with at(40):
        noted = resolving.post(
            path + "/dea-notification",
            data={
                "note": "phoned and faxed the Field Division",
                "csrf_token": csrf_from(page.text),
            },
        )
    assert "phoned and faxed the Field Division" in noted.text
    assert path + "/form-106" not in resolving.get("/worklist").text


def test_a_nurse_sees_a_discrepancy_without_the_resolve_form(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    line = {"lot_id": stock.lot_id, "location_id": stock.safe["id"], "sealed_containers": 3}
    body = {"kind": "shift", "timing": "opening", "lines": [line], "witness": stock.witness}
    with at(0):
        count = stock.post("/counts", body, stock.team.nurse)
    page = _browser(app, make_person(Role.NURSE)).get(
        f"/inventory/discrepancies/{count['lines'][0]['discrepancy_id']}"
    )
    assert page.status_code == 200
    assert "/resolve" not in page.text
    assert "A physician resolves this discrepancy" in page.text


def test_expired_stock_is_destroyed_on_the_page_with_two_witnesses_and_shows_the_form_41_data(
    app: FastAPI, stock: Stock, make_person: Callable[..., Person]
) -> None:
    _, lot_id = stock.receive("OLD-1", "2026-03-01", containers=1)
    nurse, second = make_person(Role.NURSE), make_person(Role.PHYSICIAN)
    browser = _browser(app, nurse)
    with at(0):
        overview = browser.get("/inventory")
        form = browser.get("/inventory/disposals/new")
    assert "Awaiting disposal" in overview.text and "OLD-1" in overview.text
    place = f"{lot_id}:{stock.safe['id']}"
    assert f'value="{place}"' in form.text
    data = {
        "place": place,
        "method": "destroyed_on_site",
        "destruction_method": "chemical digestion",
        "witness_username": stock.witness["username"],
        "witness_password": PASSWORD,
        "second_witness_username": stock.witness["username"],
        "second_witness_password": PASSWORD,
        "csrf_token": csrf_from(form.text),
    }
    with at(0):
        refused = browser.post("/inventory/disposals/new", data=data)
    assert refused.status_code == 422
    assert "two different people" in refused.text
    with at(0):
        done = browser.post(
            "/inventory/disposals/new", data={**data, "second_witness_username": second.username}
        )
    assert done.status_code == 200, done.text
    assert "DEA Form 41 data" in done.text and "chemical digestion" in done.text
    assert second.username in done.text
    assert ("OLD-1", "Safe A") not in stock.balance()
