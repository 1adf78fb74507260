"""A dosing protocol as data, validated on construction. Pure: no I/O.

A protocol is versioned and frozen: a session keeps the exact version it was planned with, so a
protocol is never edited in place; a change is a new version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import (
    Decimal,
)
from enum import StrEnum

from ketaclinic.dosing.checks import (
    require_positive,
    require_text,
    require_whole,
)
from ketaclinic.errors import DoseOutOfRange, InvalidInput
from ketaclinic.indications import KNOWN_IDS

#: Clinic policy (REFERENCE §5c): observe at least 60 min after every infusion. No guideline
#: stating 60 min was found; a protocol may ask for more (Spravato: 2 h), never less.
MIN_OBSERVATION_MIN = 60

#: Issue 5 default: vitals every 15 minutes during the infusion and the observation; a protocol may
#: set its own interval. Clinic policy: the Ketalar label asks for continuous monitoring
#: (REFERENCE §1e [R12][R13]) and the Emory series checked BP every 10 min during and every 15 min
#: after infusions (REFERENCE §2 [R22]); the charted interval sits on top of the monitor.
DEFAULT_VITALS_INTERVAL_MIN = 15
MAX_VITALS_INTERVAL_MIN = 60

#: The maintenance booster rule's defaults (clinic policy; no guideline sets a booster interval,
#: REFERENCE §3b [R16][R24][R37]): suggest a booster when pain is back to at least this percent of
#: baseline, or the PHQ-9 is up this many points from its best since the last session. ``None``
#: switches a trigger off.
DEFAULT_BOOSTER_PAIN_RETURN_PERCENT = 70
DEFAULT_BOOSTER_PHQ9_RISE = 5

#: DESIGN §3: the duration bounds a protocol gets unless it says otherwise.
DEFAULT_MIN_DURATION_MIN = 45
DEFAULT_MAX_DURATION_MIN = 300

#: The clinic's one vocabulary of indications (``ketaclinic.indications``), shared with screening.
#: A fixed list catches a typo ("depresion") that would otherwise hide a protocol from its
#: indication; add to the table deliberately.
KNOWN_INDICATIONS = KNOWN_IDS

_SLUG = re.compile(r"[a-z0-9]+(?:[_-][a-z0-9]+)*")


class DoseMode(StrEnum):
    """How the ordered dose becomes a rate."""

    MG_PER_KG_PER_H = "mg_per_kg_per_h"  # rate = dose × weight
    MG_PER_KG_OVER_MIN = "mg_per_kg_over_min"  # total = dose × weight, spread over the duration
    MG_PER_H = "mg_per_h"  # a fixed rate, not weight-based


DOSE_UNITS: dict[DoseMode, str] = {
    DoseMode.MG_PER_KG_PER_H: "mg/kg/h",
    DoseMode.MG_PER_KG_OVER_MIN: "mg/kg",
    DoseMode.MG_PER_H: "mg/h",
}

#: The name a per-kg dose limit goes by in findings and ``override_reasons``.
DOSE_LIMIT_NAMES: dict[DoseMode, str] = {
    DoseMode.MG_PER_KG_PER_H: "dose_mg_per_kg_per_h",
    DoseMode.MG_PER_KG_OVER_MIN: "dose_mg_per_kg",
}
RATE_LIMIT_NAME = "rate_mg_per_h"
TOTAL_LIMIT_NAME = "total_mg"
BOLUS_LIMIT_NAME = "bolus_mg_per_kg"
DURATION_LIMIT_NAME = "duration_min"


# --- the protocol ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Limit:
    """An upper limit pair. Above ``soft_max`` needs a stated reason; above ``hard_max`` is
    refused. The unit is the one of the quantity the limit is attached to."""

    soft_max: Decimal
    hard_max: Decimal

    def checked(self, name: str, unit: str) -> Limit:
        soft = require_positive(f"{name}.soft_max", self.soft_max, unit)
        hard = require_positive(f"{name}.hard_max", self.hard_max, unit)
        if soft > hard:
            raise InvalidInput(
                f"{name}.soft_max ({soft} {unit}) must not be above {name}.hard_max "
                f"({hard} {unit})",
                loc=(name, "soft_max"),
            )
        return Limit(soft_max=soft, hard_max=hard)


@dataclass(frozen=True, kw_only=True)
class Bolus:
    """A loading dose before the infusion: ``over_min`` minutes, or ``None`` for a push.

    ``dose_mg_per_kg`` is what the order form suggests; the calculator gives a bolus only when one
    is ordered.
    """

    dose_mg_per_kg: Decimal
    limit_mg_per_kg: Limit
    over_min: int | None = None

    def checked(self) -> Bolus:
        unit = "mg/kg"
        limit = self.limit_mg_per_kg.checked("bolus.limit_mg_per_kg", unit)
        dose = require_positive("bolus.dose_mg_per_kg", self.dose_mg_per_kg, unit)
        if dose > limit.soft_max:
            raise InvalidInput(
                f"bolus.dose_mg_per_kg ({dose} mg/kg) must be within the bolus soft limit "
                f"({limit.soft_max} mg/kg)",
                loc=("bolus", "dose_mg_per_kg"),
            )
        over = (
            None
            if self.over_min is None
            else require_whole("bolus.over_min", self.over_min, "min", 1)
        )
        return Bolus(dose_mg_per_kg=dose, limit_mg_per_kg=limit, over_min=over)


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """One version of an infusion protocol. Every number is a ``Decimal`` (or whole minutes/days).

    ``dose_limit`` is in the dose unit of a weight-based mode (mg/kg/h or mg/kg) and must be
    ``None`` for ``mg_per_h``, where ``rate_limit_mg_per_h`` is the dose limit. ``cap_mg_per_h`` is
    the protocol's own ceiling (Schwartzman 2009: 25 mg/h): a higher planned rate is lowered to it,
    visibly; it is not a limit to override.
    """

    key: str
    name: str
    version: int
    indications: tuple[str, ...]
    dose_mode: DoseMode
    default_dose: Decimal
    dose_limit: Limit | None
    rate_limit_mg_per_h: Limit
    total_limit_mg: Limit
    default_duration_min: int
    min_duration_min: int = DEFAULT_MIN_DURATION_MIN
    max_duration_min: int = DEFAULT_MAX_DURATION_MIN
    bolus: Bolus | None = None
    concentration_mg_per_ml: Decimal
    bag_volume_ml: Decimal
    titration_step: Decimal | None = None
    series_sessions: int
    series_spacing_days: int
    maintenance_rule: str
    observation_min: int = MIN_OBSERVATION_MIN
    vitals_interval_min: int = DEFAULT_VITALS_INTERVAL_MIN
    booster_pain_return_percent: int | None = DEFAULT_BOOSTER_PAIN_RETURN_PERCENT
    booster_phq9_rise: int | None = DEFAULT_BOOSTER_PHQ9_RISE
    cap_mg_per_h: Decimal | None = None
    source: str

    def __post_init__(self) -> None:
        values = _checked_fields(self)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def dose_unit(self) -> str:
        return DOSE_UNITS[self.dose_mode]

    @property
    def is_weight_based(self) -> bool:
        return self.dose_mode in DOSE_LIMIT_NAMES

    def limit_names(self) -> tuple[str, ...]:
        """The names ``override_reasons`` may use for this protocol."""
        names = [DOSE_LIMIT_NAMES[self.dose_mode]] if self.is_weight_based else []
        names += [RATE_LIMIT_NAME, TOTAL_LIMIT_NAME]
        return (*names, BOLUS_LIMIT_NAME) if self.bolus is not None else tuple(names)

    def checked_duration_min(self, duration_min: int | None) -> int:
        """The default, or a duration within the bounds. Outside them is refused: the bounds
        are not a limit a reason can override."""
        if duration_min is None:
            return self.default_duration_min
        duration = require_whole(DURATION_LIMIT_NAME, duration_min, "min", 1)
        low, high = self.min_duration_min, self.max_duration_min
        if not low <= duration <= high:
            raise DoseOutOfRange(
                f"refused: {DURATION_LIMIT_NAME} {duration} min is outside the protocol's bounds "
                f"of {low}–{high} min",
                loc=(DURATION_LIMIT_NAME,),
            )
        return duration

    def checked_bolus_mg_per_kg(self, bolus_mg_per_kg: Decimal | None) -> Decimal:
        """The ordered bolus, or 0 when none is ordered (never the protocol's suggestion)."""
        if bolus_mg_per_kg is None:
            return Decimal(0)
        if self.bolus is None:
            raise InvalidInput(
                f"protocol {self.key} v{self.version} has no bolus", loc=(BOLUS_LIMIT_NAME,)
            )
        return require_positive(BOLUS_LIMIT_NAME, bolus_mg_per_kg, "mg/kg")

    def checked_override_reasons(self, override_reasons: Mapping[str, str]) -> dict[str, str]:
        """Non-blank reasons by limit name; an unknown name is refused so a typo cannot hide."""
        unknown = sorted(set(override_reasons) - set(self.limit_names()))
        if unknown:
            raise InvalidInput(
                f"override_reasons names limits this protocol does not have: {unknown}; "
                f"known: {list(self.limit_names())}",
                loc=("override_reasons",),
            )
        reasons: dict[str, str] = {}
        for name, reason in override_reasons.items():
            if not isinstance(reason, str):
                raise InvalidInput(
                    f"override_reasons[{name!r}] must be text", loc=("override_reasons", name)
                )
            if reason.strip():
                reasons[name] = reason.strip()
        return reasons


def _checked_fields(protocol: Protocol) -> dict[str, object]:
    """Every field validated and normalised; raises ``InvalidInput`` naming the first bad one."""
    mode = _dose_mode(protocol.dose_mode)
    values: dict[str, object] = {
        "key": _slug("key", protocol.key),
        "name": require_text("name", protocol.name),
        "version": require_whole("version", protocol.version, "(a version number)", 1),
        "indications": _indications(protocol.indications),
        "dose_mode": mode,
        "source": require_text("source", protocol.source),
        "maintenance_rule": require_text("maintenance_rule", protocol.maintenance_rule),
    }
    values |= _checked_doses(protocol, mode)
    values |= _checked_durations(protocol)
    values |= _checked_delivery(protocol)
    values |= _checked_series(protocol)
    values |= _checked_booster(protocol)
    values["bolus"] = None if protocol.bolus is None else protocol.bolus.checked()
    return values


def _slug(name: str, value: object) -> str:
    text = require_text(name, value)
    if not _SLUG.fullmatch(text):
        raise InvalidInput(
            f"{name} must be lower-case letters, digits, '_' or '-', got {text!r}", loc=(name,)
        )
    return text


def _indications(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list | frozenset | set):
        raise InvalidInput("indications must be a sequence of indication ids", loc=("indications",))
    ids = tuple(_slug("indications", item) for item in value)
    if not ids:
        raise InvalidInput("indications must name at least one indication", loc=("indications",))
    unknown = sorted(set(ids) - KNOWN_INDICATIONS)
    if unknown:
        raise InvalidInput(
            f"indications has unknown ids {unknown}; known: {sorted(KNOWN_INDICATIONS)}",
            loc=("indications",),
        )
    return ids


def _dose_mode(value: object) -> DoseMode:
    try:
        return DoseMode(str(value))
    except ValueError:
        modes = ", ".join(mode.value for mode in DoseMode)
        raise InvalidInput(
            f"dose_mode must be one of {modes}, got {value!r}", loc=("dose_mode",)
        ) from None


def _checked_doses(protocol: Protocol, mode: DoseMode) -> dict[str, object]:
    unit = DOSE_UNITS[mode]
    default = require_positive("default_dose", protocol.default_dose, unit)
    rate = protocol.rate_limit_mg_per_h.checked("rate_limit_mg_per_h", "mg/h")
    total = protocol.total_limit_mg.checked("total_limit_mg", "mg")
    dose_limit: Limit | None = None
    soft = rate.soft_max
    if mode in DOSE_LIMIT_NAMES:
        if protocol.dose_limit is None:
            raise InvalidInput(
                f"dose_limit ({unit}) is required for dose_mode {mode.value}", loc=("dose_limit",)
            )
        dose_limit = protocol.dose_limit.checked("dose_limit", unit)
        soft = dose_limit.soft_max
    elif protocol.dose_limit is not None:
        raise InvalidInput(
            "dose_limit must be empty for dose_mode mg_per_h; rate_limit_mg_per_h limits it",
            loc=("dose_limit",),
        )
    if default > soft:
        raise InvalidInput(
            f"default_dose ({default} {unit}) must be within the soft limit ({soft} {unit})",
            loc=("default_dose",),
        )
    step = protocol.titration_step
    step = None if step is None else require_positive("titration_step", step, unit)
    return {
        "default_dose": default,
        "dose_limit": dose_limit,
        "rate_limit_mg_per_h": rate,
        "total_limit_mg": total,
        "titration_step": step,
    }


def _checked_durations(protocol: Protocol) -> dict[str, object]:
    low = require_whole("min_duration_min", protocol.min_duration_min, "min", 1)
    high = require_whole("max_duration_min", protocol.max_duration_min, "min", low)
    default = require_whole("default_duration_min", protocol.default_duration_min, "min", low, high)
    observation = require_whole(
        "observation_min", protocol.observation_min, "min (clinic policy)", MIN_OBSERVATION_MIN
    )
    vitals = require_whole(
        "vitals_interval_min", protocol.vitals_interval_min, "min", 1, MAX_VITALS_INTERVAL_MIN
    )
    return {
        "min_duration_min": low,
        "max_duration_min": high,
        "default_duration_min": default,
        "observation_min": observation,
        "vitals_interval_min": vitals,
    }


def _checked_delivery(protocol: Protocol) -> dict[str, object]:
    concentration = require_positive(
        "concentration_mg_per_ml", protocol.concentration_mg_per_ml, "mg/mL"
    )
    bag = require_positive("bag_volume_ml", protocol.bag_volume_ml, "mL")
    cap = protocol.cap_mg_per_h
    if cap is not None:
        cap = require_positive("cap_mg_per_h", cap, "mg/h")
        hard = protocol.rate_limit_mg_per_h.hard_max
        if cap > hard:
            raise InvalidInput(
                f"cap_mg_per_h ({cap} mg/h) must not be above rate_limit_mg_per_h.hard_max "
                f"({hard} mg/h)",
                loc=("cap_mg_per_h",),
            )
    return {"concentration_mg_per_ml": concentration, "bag_volume_ml": bag, "cap_mg_per_h": cap}


def _checked_booster(protocol: Protocol) -> dict[str, object]:
    pain, phq9 = protocol.booster_pain_return_percent, protocol.booster_phq9_rise
    return {
        "booster_pain_return_percent": None
        if pain is None
        else require_whole("booster_pain_return_percent", pain, "% of baseline", 1, 100),
        "booster_phq9_rise": None
        if phq9 is None
        else require_whole("booster_phq9_rise", phq9, "PHQ-9 points", 1, 27),
    }


def _checked_series(protocol: Protocol) -> dict[str, object]:
    sessions = require_whole("series_sessions", protocol.series_sessions, "sessions", 1)
    spacing = require_whole("series_spacing_days", protocol.series_spacing_days, "days", 0)
    if sessions > 1 and spacing < 1:
        raise InvalidInput(
            f"series_spacing_days must be at least 1 day for a series of {sessions} sessions",
            loc=("series_spacing_days",),
        )
    return {"series_sessions": sessions, "series_spacing_days": spacing}
