"""Controlled-substance arithmetic: DEA numbers, NDCs, quantities and what each ledger movement
does to a location's stock and to a session's drawn drug. Pure: values in, values out.

The record-keeping rules come from 21 CFR 1304.22(c) (continuing records), 1304.11 (inventories),
1301.76(b) (theft or significant loss) and Part 1317 (disposal), as summarised in
``shared/clinical/CODES.md`` §2.1. State rules may be stricter; the clinic decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from ketaclinic.errors import InvalidInput

#: Lots expiring within this many days are flagged on the overview (clinic policy).
EXPIRY_WARNING_DAYS = 30


class Schedule(StrEnum):
    """DEA schedules a clinic may stock (21 CFR 1308.12–1308.15)."""

    CII = "CII"
    CIII = "CIII"
    CIV = "CIV"
    CV = "CV"


class Movement(StrEnum):
    """Every kind of ledger entry. Each one is a fact; nothing is ever edited or deleted."""

    RECEIVE = "receive"  # containers arrive on an invoice (1304.22(c))
    RECEIPT_REVERSAL = "receipt_reversal"  # a receipt entered in error, reversed with a reason
    TRANSFER_OUT = "transfer_out"  # leaves one locked location…
    TRANSFER_IN = "transfer_in"  # …and arrives at another, in the same transaction
    DRAW = "draw"  # from a location into a session's prepared bag or syringe
    RETURN = "return"  # drawn but unopened containers go back to a location
    ADMINISTER = "administer"  # given to the patient: derived from the session's timeline
    WASTE = "waste"  # left over after administration ("pharmaceutical wastage"), witnessed
    DISPOSE = (
        "dispose"  # expired or unwanted stock to a reverse distributor or destroyed (Part 1317)
    )
    LOSS = "loss"  # theft or loss found (1301.76(b))
    ADJUST = "adjust"  # a count's difference, resolved with a reason


#: The sign each movement applies to the stock of its location (+1 in, -1 out, 0 none).
#: Administer and waste act on drug already drawn out of stock into a session.
STOCK_SIGN: dict[Movement, int] = {
    Movement.RECEIVE: 1,
    Movement.RECEIPT_REVERSAL: -1,
    Movement.TRANSFER_OUT: -1,
    Movement.TRANSFER_IN: 1,
    Movement.DRAW: -1,
    Movement.RETURN: 1,
    Movement.ADMINISTER: 0,
    Movement.WASTE: 0,
    Movement.DISPOSE: -1,
    Movement.LOSS: -1,
    Movement.ADJUST: 1,  # an adjustment carries its own sign in its quantity
}

#: The sign each movement applies to the drug a session holds (drawn, not yet given or wasted).
SESSION_SIGN: dict[Movement, int] = {
    Movement.DRAW: 1,
    Movement.RETURN: -1,
    Movement.ADMINISTER: -1,
    Movement.WASTE: -1,
}

#: Movements a second person must sign (clinic policy, following state rules and standard
#: practice; the federal rules require no witness for wastage: CODES.md §2.1). A return is
#: witnessed because it puts containers back on the shelf for the next patient: the second
#: person sees that each seal is intact, which no later count of containers can tell.
WITNESSED: frozenset[Movement] = frozenset(
    {
        Movement.RECEIVE,
        Movement.RECEIPT_REVERSAL,
        Movement.TRANSFER_OUT,
        Movement.TRANSFER_IN,
        Movement.RETURN,
        Movement.WASTE,
        Movement.DISPOSE,
        Movement.ADJUST,
    }
)


def stock_delta_mg(movement: Movement, quantity_mg: Decimal) -> Decimal:
    """The signed change one entry makes to its location's stock, in mg."""
    return STOCK_SIGN[movement] * quantity_mg


def session_delta_mg(movement: Movement, quantity_mg: Decimal) -> Decimal:
    """The signed change one entry makes to the drug its session holds, in mg."""
    return SESSION_SIGN.get(movement, 0) * quantity_mg


# --- DEA registration numbers ---------------------------------------------------------------

_DEA_PATTERN = re.compile(r"^[A-Z][A-Z9][0-9]{7}$")


def dea_check_digit(digits: str) -> int:
    """The DEA number's check digit: (d1 + d3 + d5) + 2 × (d2 + d4 + d6), last digit.

    The rule the DEA uses for registration numbers (two letters and seven digits), as documented
    in pharmacy-practice references; it catches a mistyped digit, not a forged number.
    """
    d = [int(c) for c in digits[:6]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def check_dea_number(number: str, *, registrant_name: str | None = None) -> str:
    """A DEA registration number in canonical form (upper case), or a refusal saying why.

    The second character is the initial of the registrant's last name or business name (or 9 for
    some business registrants); when a name is given, it must be one of its initials.
    """
    canonical = number.strip().upper()
    if not _DEA_PATTERN.match(canonical):
        raise InvalidInput(
            "a DEA number is two letters and seven digits (for example AB1234563)",
            loc=("dea_number",),
        )
    expected = dea_check_digit(canonical[2:])
    if int(canonical[8]) != expected:
        raise InvalidInput(
            f"DEA number {canonical} fails the check digit: the last digit should be {expected}",
            loc=("dea_number",),
        )
    initials = _initials(registrant_name)
    if initials and canonical[1] not in (*initials, "9"):
        raise InvalidInput(
            f"DEA number {canonical}: the second letter should be "
            f"{' or '.join(initials)}, an initial of {registrant_name!r}",
            loc=("dea_number",),
        )
    return canonical


def _initials(name: str | None) -> tuple[str, ...]:
    """The initials a registrant's DEA number may carry: a business name's first word or a
    person's last name (``Dr Ann Lee`` → ``D`` or ``L``; a title's letter does no harm)."""
    words = [w for w in re.split(r"[^A-Za-z]+", name or "") if w]
    if not words:
        return ()
    return tuple(dict.fromkeys((words[0][0].upper(), words[-1][0].upper())))


# --- National Drug Codes --------------------------------------------------------------------

#: The three 10-digit NDC configurations (labeler-product-package) and where the 11-digit
#: HIPAA form adds its leading zero (FDA, National Drug Code Directory).
_NDC_SEGMENTS: dict[tuple[int, int, int], tuple[int, int, int]] = {
    (4, 4, 2): (1, 0, 0),
    (5, 3, 2): (0, 1, 0),
    (5, 4, 1): (0, 0, 1),
    (5, 4, 2): (0, 0, 0),
}


def normalise_ndc(ndc: str) -> str:
    """An NDC as 11 digits (5-4-2 without hyphens).

    A 10-digit NDC is ambiguous without its hyphens, so it must be written with them (4-4-2,
    5-3-2 or 5-4-1); 11 digits may be written plainly or as 5-4-2.
    """
    text = ndc.strip()
    if re.fullmatch(r"[0-9]{11}", text):
        return text
    parts = text.split("-")
    shape = tuple(len(p) for p in parts)
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or shape not in _NDC_SEGMENTS:
        raise InvalidInput(
            "an NDC is 11 digits, or 10 digits written with hyphens as 4-4-2, 5-3-2 or 5-4-1",
            loc=("ndc",),
        )
    pads = _NDC_SEGMENTS[(shape[0], shape[1], shape[2])]
    return "".join("0" * pad + part for pad, part in zip(pads, parts, strict=True))


def format_ndc(ndc11: str) -> str:
    """An 11-digit NDC as people read it: 5-4-2."""
    return f"{ndc11[:5]}-{ndc11[5:9]}-{ndc11[9:]}"


# --- Quantities -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """What one container holds: ``concentration_mg_per_ml`` × ``container_ml`` mg."""

    concentration_mg_per_ml: Decimal
    container_ml: Decimal

    @property
    def container_mg(self) -> Decimal:
        return self.concentration_mg_per_ml * self.container_ml


@dataclass(frozen=True)
class Quantity:
    """An amount of one product: mg (what the law counts) and the mL it is in."""

    mg: Decimal
    ml: Decimal


def quantity_of(
    product: Product, *, containers: int | None = None, volume_ml: Decimal | None = None
) -> Quantity:
    """The amount in whole containers or in a measured volume (exactly one of the two)."""
    if (containers is None) == (volume_ml is None):
        raise InvalidInput(
            "give either a number of containers or a volume in mL", loc=("containers",)
        )
    if containers is not None:
        if containers <= 0:
            raise InvalidInput("the number of containers must be at least 1", loc=("containers",))
        ml = product.container_ml * containers
    else:
        assert volume_ml is not None
        if volume_ml <= 0:
            raise InvalidInput("the volume must be more than 0 mL", loc=("volume_ml",))
        ml = volume_ml
    return Quantity(mg=ml * product.concentration_mg_per_ml, ml=ml)


def quantity_of_mg(product: Product, mg: Decimal) -> Quantity:
    """The volume a dose in mg occupies at the product's concentration (exact)."""
    return Quantity(mg=mg, ml=mg / product.concentration_mg_per_ml)


# --- Lots -----------------------------------------------------------------------------------


class ExpiryFlag(StrEnum):
    OK = "ok"
    EXPIRING = "expiring"  # within EXPIRY_WARNING_DAYS
    EXPIRED = "expired"  # may not be drawn; awaits disposal (Part 1317)


def expiry_flag(expiry_date: date, today: date) -> ExpiryFlag:
    """A lot may be used through its expiry date and not after it."""
    if today > expiry_date:
        return ExpiryFlag.EXPIRED
    if expiry_date - today <= timedelta(days=EXPIRY_WARNING_DAYS):
        return ExpiryFlag.EXPIRING
    return ExpiryFlag.OK


def check_drawable(
    *, lot_number: str, expiry_date: date, today: date, wanted_mg: Decimal, on_hand_mg: Decimal
) -> None:
    """Refuse a draw from an expired lot, or of more than the location holds (naming it)."""
    if expiry_flag(expiry_date, today) is ExpiryFlag.EXPIRED:
        raise InvalidInput(
            f"lot {lot_number} expired on {expiry_date.isoformat()}: "
            "it cannot be drawn and awaits disposal",
            loc=("lot_id",),
        )
    if on_hand_mg <= 0:
        raise InvalidInput(f"lot {lot_number} is not on hand at this location", loc=("lot_id",))
    if wanted_mg > on_hand_mg:
        raise InvalidInput(
            f"lot {lot_number} holds {on_hand_mg.normalize():f} mg here; "
            f"{wanted_mg.normalize():f} mg cannot be drawn",
            loc=("containers",),
        )


# --- One session's chain --------------------------------------------------------------------


@dataclass(frozen=True)
class SessionChain:
    """Drawn = administered + wasted + returned, per session (the reconciliation of 1304.22(c))."""

    drawn_mg: Decimal
    administered_mg: Decimal
    wasted_mg: Decimal
    returned_mg: Decimal

    @property
    def unaccounted_mg(self) -> Decimal:
        """Drug drawn for the session that is neither given, wasted nor returned."""
        return self.drawn_mg - self.administered_mg - self.wasted_mg - self.returned_mg

    @property
    def balanced(self) -> bool:
        return self.unaccounted_mg == 0


def waste_due_mg(drawn_mg: Decimal, administered_mg: Decimal, returned_mg: Decimal) -> Decimal:
    """What must be wasted after a session: drawn − administered − returned, never negative.

    A session that gave more than was drawn is a discrepancy, not a negative waste.
    """
    due = drawn_mg - administered_mg - returned_mg
    if due < 0:
        raise InvalidInput(
            f"the session gave {administered_mg.normalize():f} mg but only "
            f"{(drawn_mg - returned_mg).normalize():f} mg was drawn for it: record a further draw "
            "or a discrepancy first",
            loc=("session_id",),
        )
    return due


def check_witness(actor_id: int, witness_id: int | None, movement: Movement) -> None:
    """A witnessed movement needs a second person, never the one who records it."""
    if movement not in WITNESSED:
        return
    if witness_id is None:
        raise InvalidInput(
            f"a {movement.value.replace('_', ' ')} needs a witness", loc=("witness",)
        )
    if witness_id == actor_id:
        raise InvalidInput(
            "the witness must be a second person, not the one who records the entry",
            loc=("witness",),
        )


def check_returnable(
    *,
    lot_number: str,
    containers: int,
    unopened: int,
    container_mg: Decimal,
    left_mg: Decimal,
    given_mg: Decimal,
    substance: str,
) -> None:
    """Refuse a return of more unopened containers than were drawn whole for the session, or one
    that would leave less drawn than the record says the patient has been given already."""
    if containers > unopened:
        raise InvalidInput(
            f"{unopened} unopened container{'' if unopened == 1 else 's'} of lot {lot_number} "
            f"drawn whole for this session can be returned, not {containers}",
            loc=("containers",),
        )
    after = left_mg - containers * container_mg
    if after < given_mg:
        raise InvalidInput(
            f"the record says {given_mg.normalize():f} mg of {substance} was given already; "
            f"after returning {containers} container{'' if containers == 1 else 's'} only "
            f"{after.normalize():f} mg would remain drawn for it",
            loc=("containers",),
        )
