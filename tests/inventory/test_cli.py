"""``ketaclinic inventory balance`` prints what the ledger sums to, as text and exact JSON."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from ketaclinic.cli import app as cli_app
from ketaclinic.config import Settings
from tests.conftest import cli_env
from tests.infusions.test_api import at
from tests.inventory.helpers import Stock

runner = CliRunner()


def test_the_balance_command_prints_each_lot_and_location_exactly(
    settings: Settings, stock: Stock
) -> None:
    with at(-30):
        stock.draw(stock.team.schedule(), volume_ml="0.41")  # 20.5 mg of the 1000 mg received
    result = runner.invoke(cli_app, ["inventory", "balance", "--json"], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["lot_number"], r["location"]) for r in rows] == [("K-001", "Safe A")]
    assert Decimal(rows[0]["on_hand_mg"]) == Decimal(1000) - Decimal("20.5")
    assert rows[0]["full_containers"] == 1
    text = runner.invoke(cli_app, ["inventory", "balance"], env=cli_env(settings))
    assert text.exit_code == 0, text.output
    assert "979.5" in text.output and "K-001" in text.output


def test_the_balance_command_refuses_an_unknown_clinic_with_exit_2(
    settings: Settings, stock: Stock
) -> None:
    result = runner.invoke(
        cli_app, ["inventory", "balance", "--clinic", "NOPE"], env=cli_env(settings)
    )
    assert result.exit_code == 2
    assert "no clinic 'NOPE'" in result.output


def _count_short(stock: Stock) -> int:
    """A count that finds one of the two vials: a discrepancy of -500 mg."""
    line = {"lot_id": stock.lot_id, "location_id": stock.safe["id"], "sealed_containers": 1}
    body = {"kind": "shift", "timing": "close", "lines": [line], "witness": stock.witness}
    with at(0):
        count = stock.post("/counts", body, stock.team.nurse)
    found: int = count["lines"][0]["discrepancy_id"]
    return found


def test_the_discrepancies_command_lists_every_open_discrepancy_and_no_resolved_one(
    settings: Settings, stock: Stock
) -> None:
    resolved = _count_short(stock)
    with at(10):
        body = {"resolution": "found", "reason": "the vial was in the other drawer"}
        stock.post(f"/discrepancies/{resolved}/resolve", body, stock.team.physician, status=200)
    still_open = _count_short(stock)
    result = runner.invoke(cli_app, ["inventory", "discrepancies", "--json"], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["discrepancy_id"] for r in rows] == [still_open]
    assert (rows[0]["lot_number"], rows[0]["location"]) == ("K-001", "Safe A")
    assert Decimal(rows[0]["expected_mg"]) == 1000
    assert Decimal(rows[0]["difference_mg"]) == -500
    text = runner.invoke(cli_app, ["inventory", "discrepancies"], env=cli_env(settings))
    assert text.exit_code == 0, text.output
    assert "K-001" in text.output and "-500" in text.output


def test_the_awaiting_disposal_command_lists_the_expired_lots_still_on_hand(
    settings: Settings, stock: Stock
) -> None:
    stock.receive("K-OLD", "2026-03-15", containers=1)  # in date when it arrived
    env = cli_env(settings)
    with at(0):
        assert runner.invoke(cli_app, ["inventory", "awaiting-disposal"], env=env).output == (
            "nothing awaits disposal\n"
        )
    with at(60 * 24 * 30):  # 1 April 2026: K-OLD has expired, K-001 has not
        result = runner.invoke(cli_app, ["inventory", "awaiting-disposal", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["lot_number"], r["location"], r["expiry_date"]) for r in rows] == [
        ("K-OLD", "Safe A", "2026-03-15")
    ]
    assert Decimal(rows[0]["on_hand_mg"]) == 500


def test_the_new_commands_refuse_an_unknown_clinic_with_exit_2(
    settings: Settings, stock: Stock
) -> None:
    for command in ("discrepancies", "awaiting-disposal"):
        result = runner.invoke(
            cli_app, ["inventory", command, "--clinic", "NOPE"], env=cli_env(settings)
        )
        assert result.exit_code == 2, (command, result.output)
        assert "no clinic 'NOPE'" in result.output
