"""What a second nurse reads off a correctly set pump, for tests that need a verified order.

Derived from the session as the API returns it, the way a nurse reads the bag and the pump: the
order's concentration and pump rate, and its infusion volume in the pump's 0.1 mL steps (rounded
down: the pump never runs more than the order).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any


def reading_for(session_out: dict[str, Any]) -> dict[str, str]:
    order = session_out["order"]
    plan = order["plan"]
    vtbi = Decimal(str(plan["infusion_ml"])).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return {
        "drug": "ketamine",
        "concentration_mg_per_ml": str(plan["concentration_mg_per_ml"]),
        "rate_ml_per_h": str(order["pump_rate_ml_per_h"]),
        "volume_to_be_infused_ml": str(vtbi),
    }
