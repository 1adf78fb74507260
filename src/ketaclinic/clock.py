"""The clinic's clock. Tests freeze it; nothing else calls ``datetime.now``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_frozen: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def today(zone: ZoneInfo) -> date:
    """Today's date where the clinic is."""
    return now().astimezone(zone).date()


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Freeze the clock at ``instant`` (aware) for the duration of the block."""
    global _frozen
    if instant.tzinfo is None:
        raise ValueError("a frozen instant must be timezone-aware")
    previous, _frozen = _frozen, instant.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous
