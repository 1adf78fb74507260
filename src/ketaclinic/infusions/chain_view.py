"""The drug-chain card of the session page: what was drawn for this session and from which lot,
what the lots on hand offer for a draw, and once the infusion has ended, what the timeline says
was given and what is left to waste (``inventory.chain``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import CLINICIANS, Actor
from ketaclinic.config import Settings
from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.core import State
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.inventory import chain, core, service


@dataclass(frozen=True)
class Drawable:
    """A lot at a location that may be drawn from today, as the draw form offers it."""

    value: str  # "lot_id:location_id"
    text: str


def drawable(session: Session, clinic_id: int, settings: Settings) -> list[Drawable]:
    today = clock.today(settings.timezone)
    offers = []
    for r in service.balances(session, clinic_id=clinic_id):
        flag = core.expiry_flag(r.lot.expiry_date, today)
        if flag is core.ExpiryFlag.EXPIRED:
            continue
        warn = " (expires soon)" if flag is core.ExpiryFlag.EXPIRING else ""
        offers.append(
            Drawable(
                f"{r.lot.id}:{r.location.id}",
                f"{r.product.substance} {r.product.concentration_mg_per_ml.normalize():f} mg/mL, "
                f"lot {r.lot.lot_number}{warn}, {r.location.name}: "
                f"{r.on_hand_mg.normalize():f} mg on hand",
            )
        )
    return offers


def chain_context(
    session: Session, actor: Actor, row: InfusionSession, settings: Settings
) -> dict[str, Any]:
    """What the card shows and which of its forms this person may use now."""
    if actor.role not in CLINICIANS:
        return {"drug_chain": None}
    link = chain.chain_of(session, row)
    state = State(row.state)
    shares: list[chain.LotShare] = []
    problem = None
    if state in chain.WASTE_STATES and link.drawn_mg and not link.waste_recorded:
        try:
            shares = chain.shares_of(session, row)
        except InvalidInput as error:
            problem = error.msg
    offer_draw = state in chain.DRAW_STATES
    returnable = returnable_options(session, row) if not link.waste_recorded else []
    return {
        "drug_chain": {
            "link": link,
            "shares": shares,
            "waste_due_mg": sum((s.waste_mg for s in shares), Decimal(0)),
            "problem": problem,
            "offer_draw": offer_draw,
            "offer_waste": bool(shares) and problem is None,
            "drawable_options": [
                (d.value, d.text) for d in drawable(session, row.clinic_id, settings)
            ]
            if offer_draw
            else [],
            "offer_return": bool(returnable),
            "returnable_options": returnable,
            "location_options": [
                (place.id, place.name)
                for place in service.locations(session, clinic_id=row.clinic_id)
            ]
            if returnable
            else [],
        }
    }


def returnable_options(session: Session, row: InfusionSession) -> list[tuple[int, str]]:
    """The lots with containers drawn whole for this session and not returned yet."""
    options = []
    for lot_id, n in chain.unopened_containers(session, row.id).items():
        lot = service.get_lot(session, lot_id)
        product = service.product_of(session, lot)
        options.append(
            (lot_id, f"{product.substance} lot {lot.lot_number}: {n} drawn whole, not returned")
        )
    return options


def unrecorded_waste(session: Session, actor: Actor) -> frozenset[int]:
    """Sessions of the clinic whose infusion ended with drug drawn and no waste recorded: the
    chair board marks them until the chain is closed."""
    if actor.clinic_id is None or actor.role not in CLINICIANS:
        return frozenset()
    return frozenset(chain.sessions_with_unrecorded_waste(session, clinic_id=actor.clinic_id))
