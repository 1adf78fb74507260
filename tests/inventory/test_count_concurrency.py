"""A count recorded while a nurse draws from the same lot, on SQLite and PostgreSQL, with threads
and the real database: the two are judged one after the other, never interleaved.

A count locks the lots it counts before it sums what the ledger expects (``counts.record_count``),
and a draw locks its lot before it checks and takes stock (``chain.draw``): whichever holds the
lot first finishes before the other reads it. So a count's expected quantity is always the
ledger's sum with the draw wholly in it or wholly out of it, and never a stale sum recorded after
the draw (a lost update). Each test holds one of the two inside its transaction, after its lock,
and sees the other wait there; then lets it go and checks the count against the ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.inventory import counts_core, service
from tests.infusions.test_api import at
from tests.inventory.helpers import API, Stock

VIAL_MG = Decimal(500)  # 10 mL × 50 mg/mL (helpers.KETAMINE); the shelf holds two
#: Long enough for a thread to reach the lock on a busy machine; only a guard against a hang.
GUARD_S = 120


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The draw and the count queue for SQLite's one write lock: a long busy timeout keeps the
    held transaction from turning the wait into a 503."""
    application = create_app(settings.model_copy(update={"sqlite_busy_timeout_ms": 600_000}))
    yield application
    application.state.engine.dispose()


class Pause:
    """Stops the thread that calls ``target`` just after its lock, until ``go`` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self.holding, self.go = threading.Event(), threading.Event()
        original: Callable[..., Any] = getattr(owner, name)

        def paused(*args: Any, **kwargs: Any) -> Any:
            self.holding.set()
            assert self.go.wait(GUARD_S)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, paused)


def _in_thread(app: FastAPI, call: Callable[[TestClient], httpx.Response]) -> Any:
    result: dict[str, httpx.Response] = {}

    def run() -> None:
        with TestClient(app) as own:
            result["response"] = call(own)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _count_call(stock: Stock, sealed: int) -> Callable[[TestClient], httpx.Response]:
    line = {"lot_id": stock.lot_id, "location_id": stock.safe["id"],
            "sealed_containers": sealed, "opened_ml": "0"}  # fmt: skip
    body = {"kind": "shift", "timing": "close", "lines": [line], "witness": stock.witness}
    return lambda own: own.post(API + "/counts", json=body, headers=stock.team.nurse)


def _draw_call(stock: Stock, sid: int) -> Callable[[TestClient], httpx.Response]:
    body = {"lot_id": stock.lot_id, "location_id": stock.safe["id"], "containers": 1}
    url = f"{API}/sessions/{sid}/draws"
    return lambda own: own.post(url, json=body, headers=stock.team.second_nurse)


def _held_then_released(
    app: FastAPI,
    pause: Pause,
    first: Callable[[TestClient], httpx.Response],
    second: Callable[[TestClient], httpx.Response],
) -> tuple[httpx.Response, httpx.Response]:
    """Run ``first`` until it holds the lot, start ``second``, see it wait, then let both end."""
    first_thread, first_result = _in_thread(app, first)
    assert pause.holding.wait(GUARD_S), "the first never reached its lock"
    second_thread, second_result = _in_thread(app, second)
    second_thread.join(1.0)
    waited = second_thread.is_alive()
    pause.go.set()
    first_thread.join(GUARD_S)
    second_thread.join(GUARD_S)
    assert not first_thread.is_alive() and not second_thread.is_alive()
    assert waited, "the second finished while the first held the lot"
    return first_result["response"], second_result["response"]


def _ledger_total(stock: Stock) -> Decimal:
    return stock.balance().get(("K-001", "Safe A"), Decimal(0))


def test_a_count_holding_the_lot_makes_the_draw_wait_and_expects_the_stock_before_it(
    app: FastAPI, stock: Stock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with at(-30):
        sid = stock.team.schedule()
        before = _ledger_total(stock)
        pause = Pause(monkeypatch, counts_core, "check_complete")  # after the count's locks
        count, draw = _held_then_released(
            app, pause, _count_call(stock, sealed=2), _draw_call(stock, sid)
        )
    assert count.status_code == 201, count.text
    assert draw.status_code == 201, draw.text
    [line] = count.json()["lines"]
    assert Decimal(line["expected_mg"]) == before == 2 * VIAL_MG  # the draw came after
    assert line["discrepancy_id"] is None  # two vials counted, two expected
    assert _ledger_total(stock) == before - VIAL_MG


def test_a_draw_holding_the_lot_makes_the_count_wait_and_the_count_sees_the_draw(
    app: FastAPI, stock: Stock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with at(-30):
        sid = stock.team.schedule()
        before = _ledger_total(stock)
        pause = Pause(monkeypatch, service, "take")  # after the draw's lock
        draw, count = _held_then_released(
            app, pause, _draw_call(stock, sid), _count_call(stock, sealed=1)
        )
    assert draw.status_code == 201, draw.text
    assert count.status_code == 201, count.text
    [line] = count.json()["lines"]
    after = _ledger_total(stock)
    assert after == before - VIAL_MG
    assert Decimal(line["expected_mg"]) == after  # the count saw the draw, not a stale sum
    assert line["discrepancy_id"] is None  # one vial counted, one expected
