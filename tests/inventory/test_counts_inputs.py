"""Hostile input to counts, resolutions and disposals, on SQLite and PostgreSQL: every extreme
value of its kind (text with NUL or a lone surrogate, integers past 64 bits, 22-decimal numbers,
NaN, instants in year 1) in every place of a valid request is answered with a 4xx, never a 5xx.
(The fuzz test has no seeded inventory yet; this covers these routes until it does.)"""

from __future__ import annotations

from fastapi import FastAPI

from tests.infusions.test_api import at
from tests.inventory.helpers import API, Stock
from tests.web.fuzzing import Call, places, send, sweep


def test_no_value_in_any_place_of_a_count_resolution_or_disposal_is_a_server_error(
    app: FastAPI, stock: Stock
) -> None:
    schema = app.openapi()
    tokens = {"nurse": stock.team.nurse, "physician": stock.team.physician}
    _, expired = stock.receive("OLD-1", "2026-03-01", containers=1)
    line = {
        "lot_id": stock.lot_id,
        "location_id": stock.safe["id"],
        "sealed_containers": 1,
        "opened_ml": "2.5",
        "opened_estimated": True,
    }
    old = {"lot_id": expired, "location_id": stock.safe["id"], "sealed_containers": 1}
    count = {"kind": "shift", "timing": "close", "lines": [line, old], "witness": stock.witness}
    with at(0):
        made = stock.post("/counts", count, stock.team.nurse)
    discrepancy = {"discrepancy_id": made["lines"][0]["discrepancy_id"]}
    calls = [
        Call(
            "POST",
            API + "/discrepancies/{discrepancy_id}/resolve",
            path_params=discrepancy,
            body={"resolution": "loss", "reason": "missing", "significant": True,
                  "loss_type": "other", "witness": stock.witness},
        ),
        Call(
            "POST",
            API + "/discrepancies/{discrepancy_id}/dea-notification",
            path_params=discrepancy,
            body={"note": "faxed"},
        ),
        Call(
            "POST",
            API + "/disposals",
            role="nurse",
            body={
                "method": "reverse_distributor",
                "lines": [{"lot_id": expired, "location_id": stock.safe["id"], "volume_ml": "0.5"}],
                "distributor": {"name": "Returns Demo", "dea_number": "RR1234563"},
                "witnesses": [stock.witness],
            },
        ),
        Call("POST", API + "/counts", role="nurse", body=count),  # last: it supersedes the first
        Call("GET", API + "/discrepancies", query={"open_only": "true"}),
    ]  # fmt: skip
    for call in calls:
        with at(10):
            valid = send(stock.client, call, tokens)
            assert valid.status_code < 300, (call, valid.text)
            for variant in sweep(call, places(schema, call)):
                response = send(stock.client, variant, tokens)
                assert response.status_code < 500, (variant, response.text)
