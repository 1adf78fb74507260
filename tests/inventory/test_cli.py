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
