"""The hash chain. Each event's hash covers its fields and the previous hash, so an altered,
inserted or removed row breaks every hash after it. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class EventFields:
    """What an audit event says, in the form that is hashed."""

    seq: int
    occurred_at: datetime
    action: str
    user_id: int | None
    username: str | None
    role: str | None
    clinic_id: int | None
    patient_id: int | None
    client_address: str | None
    detail: str | None


@dataclass(frozen=True)
class ChainedEvent:
    fields: EventFields
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def event_hash(fields: EventFields, prev_hash: str) -> str:
    """SHA-256 over a canonical JSON of the fields and the previous hash."""
    record = asdict(fields)
    record["occurred_at"] = fields.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    record["prev_hash"] = prev_hash
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def first_break(events: Iterable[ChainedEvent], head_seq: int, head_hash: str) -> ChainBreak | None:
    """The first event where the chain does not hold, or None when it is intact.

    ``events`` must come in ``seq`` order; the head (last seq and hash, kept apart) catches
    removal of the newest rows.
    """
    expected_seq, prev = 1, GENESIS_HASH
    for event in events:
        if event.fields.seq != expected_seq:
            return ChainBreak(expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev:
            return ChainBreak(event.fields.seq, "its link to the previous event is broken")
        if event_hash(event.fields, prev) != event.hash:
            return ChainBreak(event.fields.seq, "its content does not match its hash")
        expected_seq, prev = expected_seq + 1, event.hash
    if expected_seq - 1 != head_seq or prev != head_hash:
        return ChainBreak(expected_seq, f"events after {expected_seq - 1} were removed")
    return None
