"""Counts, discrepancies and disposal: the rules, without the database. Pure: values in, values out.

A count (21 CFR 1304.11: initial and biennial inventories; shift and daily counts are clinic
policy) records sealed containers exactly and opened ones by measured or estimated volume
(1304.11(e)(3)(iii) allows an estimate for an opened container of a Schedule III–V substance).
A difference between the count and the ledger opens a discrepancy; a significant loss is reported
to the DEA Field Division within one business day of discovery on DEA Form 106 (1301.76(b)).
Disposal goes to a reverse distributor or is destroyed on site and recorded on DEA Form 41
(Part 1317), whose record carries the signatures of two witnesses.
State rules may be stricter; the clinic decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ketaclinic.errors import InvalidInput
from ketaclinic.inventory.core import Product


class CountKind(StrEnum):
    """Why a count is taken: shift and daily counts are clinic policy; initial and biennial
    inventories are required by 21 CFR 1304.11(b) and (c)."""

    SHIFT = "shift"
    DAILY = "daily"
    INITIAL = "initial"
    BIENNIAL = "biennial"


class CountTiming(StrEnum):
    """An inventory states whether it was taken at the opening or the close of business
    (1304.11(a))."""

    OPENING = "opening"
    CLOSE = "close"


class Resolution(StrEnum):
    """How a physician (or the admin acting for the registrant) explains a difference."""

    FOUND = "found"  # the stock was found, or a recount matched the ledger: no entry
    DOCUMENTATION_ERROR = "documentation_error"  # an ADJUST entry brings stock to the count
    LOSS = "loss"  # a LOSS entry; a significant one is reported on DEA Form 106


class LossType(StrEnum):
    """The type of theft or loss DEA Form 106 asks for."""

    UNEXPLAINED = "unexplained"
    EMPLOYEE_PILFERAGE = "employee_pilferage"
    CUSTOMER_THEFT = "customer_theft"
    BREAK_IN = "break_in"
    ARMED_ROBBERY = "armed_robbery"
    LOST_IN_TRANSIT = "lost_in_transit"
    OTHER = "other"


class DisposalMethod(StrEnum):
    """Part 1317: hand the stock to a registered reverse distributor, or destroy it on site."""

    REVERSE_DISTRIBUTOR = "reverse_distributor"
    DESTROYED_ON_SITE = "destroyed_on_site"


#: Witnesses each disposal needs: an on-site destruction two (DEA Form 41 records two witnesses'
#: signatures); a hand-over to a reverse distributor one, like every other witnessed movement
#: (clinic policy).
DISPOSAL_WITNESSES: dict[DisposalMethod, int] = {
    DisposalMethod.REVERSE_DISTRIBUTOR: 1,
    DisposalMethod.DESTROYED_ON_SITE: 2,
}


# --- Counting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counted:
    """What two people found of one lot at one location."""

    sealed_containers: int
    opened_ml: Decimal  # 0 when no container is open
    estimated: bool  # the opened volume was estimated, not measured


def counted_mg(product: Product, counted: Counted) -> Decimal:
    """Sealed containers at their full content plus the opened volume at the concentration."""
    if counted.sealed_containers < 0:
        raise InvalidInput("the number of sealed containers cannot be negative")
    if counted.opened_ml < 0:
        raise InvalidInput("the opened volume cannot be negative")
    sealed = product.container_mg * counted.sealed_containers
    return sealed + counted.opened_ml * product.concentration_mg_per_ml


def difference_mg(expected_mg: Decimal, found_mg: Decimal) -> Decimal:
    """Counted minus expected: negative when stock is missing, positive when there is more."""
    return found_mg - expected_mg


Place = tuple[int, int]  # (lot id, location id)


def check_complete(
    counted: Sequence[Place], on_hand: Iterable[Place], names: dict[Place, str]
) -> None:
    """Each (lot, location) once, and every lot the ledger holds at a counted location counted:
    a lot left out would hide its own loss."""
    seen: set[Place] = set()
    for index, place in enumerate(counted):
        if place in seen:
            raise InvalidInput(
                f"{names.get(place, 'this lot')} is counted twice", loc=("lines", index)
            )
        seen.add(place)
    locations = {location for _, location in counted}
    for place in sorted(on_hand):
        if place[1] in locations and place not in seen:
            raise InvalidInput(
                f"{names.get(place, 'a lot')} is on hand at a counted location: count it too "
                "(0 if none is there)",
                loc=("lines",),
            )


# --- Discrepancies --------------------------------------------------------------------------


def check_resolution(
    resolution: Resolution, difference: Decimal, *, significant: bool, has_loss_type: bool
) -> None:
    """A loss is only of stock that is missing; only a loss can be significant (Form 106)."""
    if resolution is Resolution.LOSS and difference >= 0:
        raise InvalidInput(
            "a loss explains missing stock; this count found more than the ledger holds",
            loc=("resolution",),
        )
    if significant and resolution is not Resolution.LOSS:
        raise InvalidInput("only a loss can be significant (DEA Form 106)", loc=("significant",))
    if significant and not has_loss_type:
        raise InvalidInput("a significant loss names its type for DEA Form 106", loc=("loss_type",))


@dataclass(frozen=True)
class Amount:
    """A quantity as Form 106 and Form 41 report it: whole containers, mL and mg."""

    containers: int
    ml: Decimal
    mg: Decimal


def amount_of(product: Product, mg: Decimal) -> Amount:
    """``mg`` (positive) as full containers, the total volume and mg: 750 mg of a 500 mg
    vial at 50 mg/mL is 1 full container and 15 mL in all."""
    ml = mg / product.concentration_mg_per_ml
    containers = int(mg // product.container_mg)
    return Amount(containers=containers, ml=ml, mg=mg)


# --- Disposal -------------------------------------------------------------------------------


def check_disposal_witnesses(
    method: DisposalMethod, actor_id: int, witness_ids: Sequence[int]
) -> None:
    """The number of witnesses the method needs; none of them the actor, each a different
    person."""
    wanted = DISPOSAL_WITNESSES[method]
    if len(witness_ids) != wanted:
        what = "an on-site destruction" if wanted == 2 else "a hand-over to a reverse distributor"
        raise InvalidInput(
            f"{what} needs {wanted} witness{'es' if wanted > 1 else ''}", loc=("witnesses",)
        )
    if actor_id in witness_ids:
        raise InvalidInput(
            "a witness must be another person, not the one who disposes of the stock",
            loc=("witnesses",),
        )
    if len(set(witness_ids)) != len(witness_ids):
        raise InvalidInput("the two witnesses must be two different people", loc=("witnesses",))


def check_disposal_details(
    method: DisposalMethod, *, has_distributor: bool, has_destruction_method: bool
) -> None:
    """A hand-over names the reverse distributor; a destruction says how it was done."""
    if method is DisposalMethod.REVERSE_DISTRIBUTOR and not has_distributor:
        raise InvalidInput("name the reverse distributor and its DEA number", loc=("distributor",))
    if method is DisposalMethod.DESTROYED_ON_SITE and not has_destruction_method:
        raise InvalidInput(
            "say how the stock was destroyed (made non-retrievable)",
            loc=("destruction_method",),
        )
