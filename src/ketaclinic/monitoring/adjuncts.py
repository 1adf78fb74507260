"""Adjunct and rescue medications given during an infusion, with per-drug limits as data. Pure.

REFERENCE §3c gives only a few published doses; every maximum below is clinic policy and says so.
Doses are ``Decimal`` and are compared exactly: nothing is clamped or rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ketaclinic.errors import DoseOutOfRange, InvalidInput


class Route(StrEnum):
    IV = "IV"
    PO = "PO"


@dataclass(frozen=True)
class Adjunct:
    id: str
    label: str
    purpose: str
    routes: frozenset[Route]
    unit: str
    typical_dose: Decimal | None
    typical_dose_source: str
    max_single_dose: Decimal
    max_session_dose: Decimal
    limits_source: str


ADJUNCTS: tuple[Adjunct, ...] = (
    Adjunct(
        "ondansetron",
        "Ondansetron",
        "antiemetic",
        frozenset({Route.IV}),
        "mg",
        Decimal("4"),
        "4 mg IV is usual practice, dose UNCONFIRMED; routine use by Patil & Anitescu [R24] [V], "
        "dose not stated",
        Decimal("8"),
        Decimal("16"),
        "clinic policy: maximum 8 mg per dose, 16 mg per session",
    ),
    Adjunct(
        "midazolam",
        "Midazolam",
        "premedication against psychomimetic effects",
        frozenset({Route.IV}),
        "mg",
        Decimal("2"),
        "2 mg IV given twice, Schwartzman CRPS protocol [R26] [V]",
        Decimal("2"),
        Decimal("4"),
        "clinic policy: maximum 2 mg per dose, 4 mg per session (the 2 × 2 mg of [R26])",
    ),
    Adjunct(
        "clonidine",
        "Clonidine",
        "premedication against sympathetic stimulation and psychomimetic effects",
        frozenset({Route.PO}),
        "mg",
        Decimal("0.1"),
        "0.1 mg PO, Schwartzman CRPS protocol [R26] [V]",
        Decimal("0.1"),
        Decimal("0.2"),
        "clinic policy: maximum 0.1 mg per dose, 0.2 mg per session",
    ),
    Adjunct(
        "labetalol",
        "Labetalol",
        "treatment of ketamine-induced hypertension",
        frozenset({Route.IV}),
        "mg",
        None,
        "no published ketamine-specific dose found — UNCONFIRMED (REFERENCE §3c)",
        Decimal("20"),
        Decimal("40"),
        "clinic policy: 10–20 mg IV increments, maximum 20 mg per dose, 40 mg per session",
    ),
)

BY_ID: Mapping[str, Adjunct] = {a.id: a for a in ADJUNCTS}


def _exact_dose(value: object, field: str) -> Decimal:
    """A finite, non-negative ``Decimal``; floats are refused because they are not exact."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput(f"{field} must be a finite Decimal, not {value!r}", loc=(field,))
    if value < 0:
        raise InvalidInput(f"{field} must not be negative, got {value}", loc=(field,))
    return value


def check_adjunct(
    drug: str, dose: Decimal, unit: str, route: str, given_so_far_in_session: Decimal
) -> None:
    """Refuse an adjunct dose that is unknown, malformed or over a limit; return None if allowed.

    ``given_so_far_in_session`` is the total of this drug already given this session, in the
    drug's unit. A dose exactly at a limit is allowed; above it raises ``DoseOutOfRange`` naming
    the limit and its value. Unknown drug, route or unit raise ``InvalidInput`` naming the field.
    """
    adjunct = BY_ID.get(drug)
    if adjunct is None:
        known = ", ".join(BY_ID)
        raise InvalidInput(f"unknown adjunct drug {drug!r}; known: {known}", loc=("drug",))
    if route not in adjunct.routes:
        allowed = ", ".join(sorted(adjunct.routes))
        raise InvalidInput(
            f"route {route!r} is not allowed for {drug}; allowed: {allowed}", loc=("route",)
        )
    if unit != adjunct.unit:
        raise InvalidInput(
            f"unit {unit!r} is not accepted for {drug}; give the dose in {adjunct.unit}",
            loc=("unit",),
        )
    dose = _exact_dose(dose, "dose")
    if dose == 0:
        raise InvalidInput("dose must be greater than 0", loc=("dose",))
    given = _exact_dose(given_so_far_in_session, "given_so_far_in_session")
    if dose > adjunct.max_single_dose:
        raise DoseOutOfRange(
            f"{drug} {dose} {unit} exceeds the maximum single dose of "
            f"{adjunct.max_single_dose} {unit} ({adjunct.limits_source})",
            loc=("dose",),
        )
    total = given + dose
    if total > adjunct.max_session_dose:
        raise DoseOutOfRange(
            f"{drug} {dose} {unit} would bring the session total to {total} {unit}, over the "
            f"maximum session dose of {adjunct.max_session_dose} {unit} ({adjunct.limits_source})",
            loc=("dose",),
        )
