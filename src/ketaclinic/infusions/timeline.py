"""What the patient actually received, derived from the pump timeline. Pure: no I/O, no clock.

The ordered dose is a plan; this is the record: rates × running time (paused time counts zero)
plus boluses. Every quantity is a ``Decimal``. Times are exact (a ``timedelta`` is whole
microseconds); sums are taken in seconds and divided once at the end in ``DOSE_CONTEXT``, so a
quotient that does not terminate (1 s = 0.0166… min) is cut at 28 significant digits toward zero,
never rounded to a display precision and never above the exact value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from ketaclinic.dosing.checks import DOSE_CONTEXT, require_decimal, require_positive
from ketaclinic.errors import InvalidInput
from ketaclinic.pk import schedule as pk

_SECONDS_PER_MIN = Decimal(60)
_SECONDS_PER_H = Decimal(3600)


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The pump starts at ``mg_per_h``."""

    at: datetime
    mg_per_h: Decimal


@dataclass(frozen=True)
class RateChange:
    at: datetime
    mg_per_h: Decimal


@dataclass(frozen=True)
class Pause:
    at: datetime
    reason: str = ""


@dataclass(frozen=True)
class Resume:
    """The pump runs again, at the rate it had before the pause unless ``mg_per_h`` is given."""

    at: datetime
    mg_per_h: Decimal | None = None


@dataclass(frozen=True)
class Stop:
    at: datetime


@dataclass(frozen=True)
class BolusGiven:
    """A push of ``mg`` at ``at``, on top of whatever the pump is doing."""

    at: datetime
    mg: Decimal


Event = Start | RateChange | Pause | Resume | Stop | BolusGiven


# --- results --------------------------------------------------------------------------------------


def _minutes(seconds: Decimal) -> Decimal:
    with localcontext(DOSE_CONTEXT):
        return seconds / _SECONDS_PER_MIN


@dataclass(frozen=True)
class Segment:
    """The pump ran at ``mg_per_h`` from ``start_s`` up to ``end_s`` seconds after the start."""

    start_s: Decimal
    end_s: Decimal
    mg_per_h: Decimal

    @property
    def start_min(self) -> Decimal:
        return _minutes(self.start_s)

    @property
    def end_min(self) -> Decimal:
        return _minutes(self.end_s)

    @property
    def mg(self) -> Decimal:
        with localcontext(DOSE_CONTEXT):
            return self.mg_per_h * (self.end_s - self.start_s) / _SECONDS_PER_H


@dataclass(frozen=True)
class Push:
    """A bolus of ``mg`` at ``at_s`` seconds after the start."""

    at_s: Decimal
    mg: Decimal

    @property
    def at_min(self) -> Decimal:
        return _minutes(self.at_s)


@dataclass(frozen=True)
class Delivered:
    """The dose actually given. ``running`` is true when the timeline has no stop yet and was
    read up to ``as_of``."""

    started_at: datetime
    ended_at: datetime
    running: bool
    concentration_mg_per_ml: Decimal
    segments: tuple[Segment, ...]
    boluses: tuple[Push, ...]
    infusing_s: Decimal
    paused_s: Decimal

    @property
    def infused_mg(self) -> Decimal:
        """Pump mg only: Σ rate × seconds, divided once by 3600."""
        with localcontext(DOSE_CONTEXT):
            products = (s.mg_per_h * (s.end_s - s.start_s) for s in self.segments)
            return sum(products, Decimal(0)) / _SECONDS_PER_H

    @property
    def bolus_mg(self) -> Decimal:
        with localcontext(DOSE_CONTEXT):
            return sum((b.mg for b in self.boluses), Decimal(0))

    @property
    def total_mg(self) -> Decimal:
        with localcontext(DOSE_CONTEXT):
            return self.infused_mg + self.bolus_mg

    @property
    def total_ml(self) -> Decimal:
        """Volume of drug solution given (pump and boluses alike are the same concentration)."""
        with localcontext(DOSE_CONTEXT):
            return self.total_mg / self.concentration_mg_per_ml

    @property
    def infusing_min(self) -> Decimal:
        return _minutes(self.infusing_s)

    @property
    def paused_min(self) -> Decimal:
        return _minutes(self.paused_s)

    def to_pk_schedule(self) -> pk.Schedule:
        """The same doses for the PK engine, which works in float minutes from the start."""
        infusions = (
            pk.Infusion(float(s.start_min), float(s.end_min), float(s.mg_per_h))
            for s in self.segments
        )
        boluses = (pk.Bolus(float(b.at_min), float(b.mg)) for b in self.boluses)
        return pk.Schedule.of([*infusions, *boluses])


# --- derivation -----------------------------------------------------------------------------------


def _seconds(delta: timedelta) -> Decimal:
    """A timedelta in seconds, exactly (it is whole microseconds)."""
    micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micro).scaleb(-6, DOSE_CONTEXT)  # exact: only the exponent moves


def _aware(name: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime, got {value!r}", loc=(name,))
    return value


def derive(
    events: Sequence[Event],
    concentration_mg_per_ml: Decimal,
    *,
    as_of: datetime | None = None,
) -> Delivered:
    """The dose given by ``events`` (in time order; equal times keep list order).

    A finished timeline ends with ``Stop``. A running one needs ``as_of`` (no later event) and is
    read up to it. Refused with ``InvalidInput`` naming the event: a first event that is not
    ``Start``, a time earlier than the one before, a second start, a rate change or pause while
    paused, a resume while running, anything after the stop, a negative rate or a bolus ≤ 0.
    A bolus may be given while paused: it is a push, not the pump.
    """
    with localcontext(DOSE_CONTEXT):
        return _derive(events, concentration_mg_per_ml, as_of)


def _derive(
    events: Sequence[Event], concentration_mg_per_ml: Decimal, as_of: datetime | None
) -> Delivered:
    concentration = require_positive("concentration_mg_per_ml", concentration_mg_per_ml, "mg/mL")
    if not events or not isinstance(events[0], Start):
        raise InvalidInput("the timeline must begin with a start event", loc=("events", 0))
    t0 = _aware("events[0].at", events[0].at)

    segments: list[Segment] = []
    boluses: list[Push] = []
    rate = Decimal(0)
    paused = False
    stopped = False
    since = Decimal(0)  # seconds from t0 at which the current running/paused stretch began
    infusing = Decimal(0)
    paused_total = Decimal(0)
    previous = t0

    def close(at_s: Decimal) -> None:
        nonlocal since, infusing, paused_total
        if paused:
            paused_total += at_s - since
        else:
            infusing += at_s - since
            if at_s > since:
                segments.append(Segment(since, at_s, rate))
        since = at_s

    for index, event in enumerate(events):
        loc: tuple[str | int, ...] = ("events", index)
        name = f"events[{index}]"
        at = _aware(f"{name}.at", event.at)
        if at < previous:
            raise InvalidInput(
                f"{name} ({type(event).__name__} at {at.isoformat()}) is earlier than the event "
                f"before it ({previous.isoformat()}); events must be in time order",
                loc=loc,
            )
        if stopped:
            raise InvalidInput(f"{name} ({type(event).__name__}) comes after the stop", loc=loc)
        previous = at
        at_s = _seconds(at - t0)
        match event:
            case Start():
                if index:
                    raise InvalidInput(f"{name} is a second start; use resume", loc=loc)
                rate = require_decimal(f"{name}.mg_per_h", event.mg_per_h, "mg/h")
                _non_negative(f"{name}.mg_per_h", rate, loc)
            case RateChange():
                if paused:
                    raise InvalidInput(
                        f"{name} changes the rate while paused; resume at the new rate", loc=loc
                    )
                new = require_decimal(f"{name}.mg_per_h", event.mg_per_h, "mg/h")
                _non_negative(f"{name}.mg_per_h", new, loc)
                close(at_s)
                rate = new
            case Pause():
                if paused:
                    raise InvalidInput(f"{name} pauses an infusion already paused", loc=loc)
                close(at_s)
                paused = True
            case Resume():
                if not paused:
                    raise InvalidInput(f"{name} resumes an infusion that is not paused", loc=loc)
                close(at_s)
                paused = False
                if event.mg_per_h is not None:
                    rate = require_decimal(f"{name}.mg_per_h", event.mg_per_h, "mg/h")
                    _non_negative(f"{name}.mg_per_h", rate, loc)
            case Stop():
                close(at_s)
                stopped = True
            case BolusGiven():
                mg = require_positive(f"{name}.mg", event.mg, "mg")
                boluses.append(Push(at_s, mg))
            case _:
                raise InvalidInput(f"{name} is not a timeline event: {event!r}", loc=loc)

    if stopped:
        end = previous
    elif as_of is None:
        raise InvalidInput(
            "the timeline has no stop; pass as_of to read a running infusion", loc=("as_of",)
        )
    else:
        end = _aware("as_of", as_of)
        if end < previous:
            raise InvalidInput(
                f"as_of ({end.isoformat()}) is before the last event ({previous.isoformat()})",
                loc=("as_of",),
            )
        close(_seconds(end - t0))
    return Delivered(
        started_at=t0,
        ended_at=end,
        running=not stopped,
        concentration_mg_per_ml=concentration,
        segments=tuple(segments),
        boluses=tuple(boluses),
        infusing_s=infusing,
        paused_s=paused_total,
    )


def _non_negative(name: str, rate: Decimal, loc: tuple[str | int, ...]) -> None:
    if rate < 0:
        raise InvalidInput(f"{name} must be at least 0 mg/h, got {rate}", loc=loc)
