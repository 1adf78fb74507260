"""Field types every request schema and query parameter shares: a bounded date, a bounded instant
and exact decimals with named bounds. Each refuses rather than coerces, naming the rule broken.

The clinic's calendar runs from 1900-01-01 to 2199-12-31. No living patient was born before 1900,
and nothing a clinic books, measures or reviews lies beyond 2199; staying two centuries inside
what ``datetime`` can hold (years 1–9999) keeps the arithmetic downstream (a dashboard window's
``last_day + 1 day``, a local midnight in a zone 14 hours from UTC) from overflowing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
#: Exclusive: the first instant after the calendar.
END_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_EXAMPLE = "2025-03-31"
INSTANT_EXAMPLE = "2026-03-04T14:30:00+01:00"


def _date(value: object) -> date:
    """A calendar date as sent: ``YYYY-MM-DD`` text or a ``date``; a date with a time is not a
    date (``1980-01-01T00:00`` would silently drop its time), nor is a number."""
    if isinstance(value, datetime):
        raise ValueError(f"give a date without a time, such as {DATE_EXAMPLE}")
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value.strip()} is not a day of the calendar") from None
    else:
        raise ValueError(f"give a date (without a time) such as {DATE_EXAMPLE}")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"the date must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return day


def _instant(value: object) -> datetime:
    """An instant as sent: ISO 8601 text with its UTC offset, or an aware ``datetime``; returned
    in UTC. Without an offset the time is ambiguous (whose 14:30?), so it is refused."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"give a date and time with its UTC offset, such as {INSTANT_EXAMPLE}"
            ) from None
    else:
        raise ValueError(f"give a date and time with its UTC offset, such as {INSTANT_EXAMPLE}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"give the UTC offset with the time (+01:00, or Z for UTC), e.g. {INSTANT_EXAMPLE}"
        )
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_INSTANT <= utc < END_INSTANT:
        raise ValueError(f"the time must be between {EARLIEST_DATE} and {LATEST_DATE} (UTC)")
    return utc


ClinicDate = Annotated[date, BeforeValidator(_date)]
"""A date of the clinic's calendar, sent as ``YYYY-MM-DD``."""
ClinicInstant = Annotated[datetime, BeforeValidator(_instant)]
"""An instant of the clinic's calendar with its UTC offset, kept in UTC."""


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


OptionalQueryDate = Annotated[ClinicDate | None, BeforeValidator(_blank_is_none)]
"""A date in a page's query string, where an emptied date input sends ``from=``."""


def significant_places(value: Decimal) -> int:
    """Decimal places that carry a digit: ``19.1250`` has 3, ``80.0000000000000000000001`` 22.
    Counted on the digits as sent, never through a context that could round them."""
    _, digits, exponent = value.as_tuple()
    written = "".join(map(str, digits))
    if not isinstance(exponent, int) or exponent >= 0 or not written.strip("0"):
        return 0
    return max(-exponent - (len(written) - len(written.rstrip("0"))), 0)


@dataclass(frozen=True)
class Exact:
    """Metadata for a recorded number (``Annotated[Decimal, Exact(...)]``): at least ``minimum``
    and at most ``maximum`` ``unit``, with at most ``places`` decimal places. Out of range or
    too precise is refused naming the bound and the unit; nothing is rounded or clamped.
    ``minimum_source`` says where the minimum comes from (a citation or "clinic policy")."""

    unit: str
    minimum: Decimal
    maximum: Decimal
    places: int
    minimum_source: str = ""

    def check(self, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError(f"give a finite number of {self.unit}")
        if value < self.minimum:
            why = f" ({self.minimum_source})" if self.minimum_source else ""
            raise ValueError(f"must be at least {self.minimum} {self.unit}{why}, got {value}")
        if value > self.maximum:
            raise ValueError(f"must be at most {self.maximum} {self.unit}, got {value}")
        if significant_places(value) > self.places:
            s = "" if self.places == 1 else "s"
            raise ValueError(
                f"give at most {self.places} decimal place{s} ({self.unit}); "
                "the value is not rounded for you"
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(
            minimum=float(self.minimum),
            maximum=float(self.maximum),
            description=(
                f"{self.unit}, {self.minimum}–{self.maximum}, at most {self.places} decimal "
                "places; never rounded"
            ),
        )
        return json_schema
