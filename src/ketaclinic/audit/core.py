"""Tamper evidence for the audit trail. Pure: no I/O.

Writers never wait for each other: each event carries its own keyed hash (an HMAC over its fields,
with a key that is kept outside the database), so appending an event reads and updates nothing else.
A sealer then closes the newest events into *seals*, one batch at a time: a seal names which
events it covers, holds a digest of their ids and MACs, and is MAC'd and linked to the previous one.
What that proves, and what it cannot, is in the README ("Security").

- a changed event no longer matches its MAC (the key is needed to forge one);
- a deleted, inserted or reordered event changes the digest of the seal that covers it;
- a deleted or changed seal breaks the chain of seals;
- deleting the newest seals (or truncating everything) leaves a shorter but consistent chain, which
  only something kept outside the database can expose: a signed checkpoint (the newest seal's MAC).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS_MAC = "0" * 64
#: A key shorter than the hash output weakens HMAC (RFC 2104 §3).
KEY_MIN_LENGTH = 32
#: The most problems a verification names; past that the trail is plainly not to be trusted.
MAX_FINDINGS = 50


@dataclass(frozen=True)
class EventFields:
    """What an audit event says, in the form that is MAC'd."""

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
class StoredEvent:
    """An event as read back: its row id, the position the sealer orders it by, and its MAC."""

    event_id: int
    order_key: int | None
    fields: EventFields
    mac: str


@dataclass(frozen=True)
class SealFields:
    """What a seal says: it covers every event whose order key is in [key_from, key_to)."""

    seq: int
    sealed_at: datetime
    key_from: int
    key_to: int
    event_count: int
    first_event_id: int | None
    last_event_id: int | None
    events_digest: str
    prev_mac: str


@dataclass(frozen=True)
class StoredSeal:
    fields: SealFields
    mac: str


@dataclass(frozen=True)
class Checkpoint:
    """The newest seal at a moment, signed, to be kept outside the database."""

    seal_seq: int
    seal_mac: str
    last_event_id: int | None
    made_at: datetime
    signature: str = ""


@dataclass(frozen=True)
class Finding:
    """One thing that does not hold, and where."""

    where: str
    reason: str


@dataclass
class Verdict:
    """The outcome of a verification: intact when nothing was found."""

    findings: list[Finding] = field(default_factory=list)
    events_checked: int = 0
    seals_checked: int = 0
    unsealed_events: int = 0
    newest_seal_seq: int = 0

    @property
    def intact(self) -> bool:
        return not self.findings

    def add(self, where: str, reason: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(where, reason))


def _canonical(record: dict[str, Any]) -> bytes:
    for name, value in record.items():
        if isinstance(value, datetime):
            record[name] = value.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key: bytes, kind: str, record: dict[str, Any]) -> str:
    """HMAC-SHA256 (RFC 2104) over a canonical JSON; ``kind`` keeps the domains apart."""
    record["kind"] = kind
    return hmac.new(key, _canonical(record), hashlib.sha256).hexdigest()


def event_mac(key: bytes, fields: EventFields) -> str:
    # Its fields are flat (no container to copy), so a shallow copy gives what ``asdict`` would,
    # without its deep copy: every write is audited, so this runs a few times a request.
    return _mac(key, "event", dict(vars(fields)))


def events_digest(entries: Iterable[tuple[int, str]]) -> str:
    """SHA-256 over the (event id, MAC) pairs in the order given (the seal's MAC keys it)."""
    digest = hashlib.sha256()
    for event_id, mac in entries:
        digest.update(f"{event_id}:{mac}\n".encode("ascii"))
    return digest.hexdigest()


def seal_mac(key: bytes, fields: SealFields) -> str:
    return _mac(key, "seal", asdict(fields))


def make_seal(
    key: bytes,
    *,
    previous: StoredSeal | None,
    key_to: int,
    entries: list[tuple[int, str]],
    sealed_at: datetime,
) -> StoredSeal:
    """The next seal over ``entries`` ((event id, MAC) in order), following ``previous``."""
    key_from = previous.fields.key_to if previous else 0
    if key_to < key_from:
        raise ValueError(f"a seal cannot end ({key_to}) before the previous one ({key_from})")
    fields = SealFields(
        seq=previous.fields.seq + 1 if previous else 1,
        sealed_at=sealed_at,
        key_from=key_from,
        key_to=key_to,
        event_count=len(entries),
        first_event_id=entries[0][0] if entries else None,
        last_event_id=entries[-1][0] if entries else None,
        events_digest=events_digest(entries),
        prev_mac=previous.mac if previous else GENESIS_MAC,
    )
    return StoredSeal(fields, seal_mac(key, fields))


def _checkpoint_record(checkpoint: Checkpoint) -> dict[str, Any]:
    record = asdict(checkpoint)
    del record["signature"]
    return record


def sign_checkpoint(key: bytes, checkpoint: Checkpoint) -> Checkpoint:
    signature = _mac(key, "checkpoint", _checkpoint_record(checkpoint))
    return Checkpoint(**{**_checkpoint_record(checkpoint), "signature": signature})


def checkpoint_is_genuine(key: bytes, checkpoint: Checkpoint) -> bool:
    expected = _mac(key, "checkpoint", _checkpoint_record(checkpoint))
    return hmac.compare_digest(expected, checkpoint.signature)


def checkpoint_to_json(checkpoint: Checkpoint) -> str:
    record = asdict(checkpoint)
    record["made_at"] = checkpoint.made_at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps({"ketaclinic_audit_checkpoint": 1, **record}, indent=2) + "\n"


def checkpoint_from_json(text: str) -> Checkpoint:
    """A checkpoint read from its file; ``ValueError`` naming what is wrong with it."""
    try:
        record = json.loads(text)
        if not isinstance(record, dict) or record.pop("ketaclinic_audit_checkpoint", None) != 1:
            raise ValueError("it is not a ketaclinic audit checkpoint")
        made_at = datetime.fromisoformat(record["made_at"])
        if made_at.tzinfo is None:
            raise ValueError("made_at has no time zone")
        checkpoint = Checkpoint(
            seal_seq=int(record["seal_seq"]),
            seal_mac=str(record["seal_mac"]),
            last_event_id=None if record["last_event_id"] is None else int(record["last_event_id"]),
            made_at=made_at,
            signature=str(record["signature"]),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"the checkpoint file is malformed ({error})") from None
    return checkpoint


class _SealWalk:
    """Checks seals in order as events stream past, so a whole trail is verified in one pass."""

    def __init__(
        self, key: bytes, seals: Iterator[StoredSeal], verdict: Verdict, watch_seq: int
    ) -> None:
        self.key, self.seals, self.verdict, self.watch_seq = key, seals, verdict, watch_seq
        self.watched_mac: str | None = None
        self.current: StoredSeal | None = None
        self.prev_mac, self.expected_seq, self.expected_from = GENESIS_MAC, 1, 0
        self.entries: list[tuple[int, str]] = []
        self._next_seal()

    def _next_seal(self) -> None:
        seal = next(self.seals, None)
        self.current, self.entries = seal, []
        if seal is None:
            return
        f, v = seal.fields, self.verdict
        where = f"seal {f.seq}"
        if not hmac.compare_digest(seal_mac(self.key, f), seal.mac):
            v.add(where, "its content does not match its MAC (changed, or forged without the key)")
        if f.seq != self.expected_seq:
            v.add(where, f"seal {self.expected_seq} is missing (seals were deleted)")
        elif f.prev_mac != self.prev_mac:
            v.add(where, "its link to the previous seal is broken (the chain was rewritten)")
        if f.key_from != self.expected_from:
            v.add(where, "it does not start where the previous seal ended")
        v.seals_checked += 1
        v.newest_seal_seq = f.seq
        if f.seq == self.watch_seq:
            self.watched_mac = seal.mac
        self.prev_mac, self.expected_seq, self.expected_from = seal.mac, f.seq + 1, f.key_to

    def _close(self) -> None:
        assert self.current is not None
        f = self.current.fields
        if events_digest(self.entries) != f.events_digest or len(self.entries) != f.event_count:
            ids = f"events {f.first_event_id}–{f.last_event_id}" if f.event_count else "no events"
            self.verdict.add(
                f"seal {f.seq}",
                f"its events were deleted, added or changed: it sealed {f.event_count} ({ids}), "
                f"the table now holds {len(self.entries)} in its range",
            )
        self._next_seal()

    def take(self, event: StoredEvent) -> bool:
        """Count ``event`` into the seal covering it; False when no seal covers it (yet)."""
        key = event.order_key
        while self.current is not None and (key is None or key >= self.current.fields.key_to):
            self._close()
        if self.current is None or key is None or key < self.current.fields.key_from:
            return False
        self.entries.append((event.event_id, event.mac))
        return True

    def finish(self) -> None:
        while self.current is not None:
            self._close()


def verify_trail(
    key: bytes,
    *,
    events: Iterable[StoredEvent],
    seals: Iterable[StoredSeal],
    checkpoint: Checkpoint | None = None,
) -> Verdict:
    """Every event's MAC, every seal's MAC, link and digest, and the checkpoint if one is given.

    ``events`` must come ordered by (order key, event id), events without an order key last;
    ``seals`` by sequence number.
    """
    verdict = Verdict()
    walk = _SealWalk(key, iter(seals), verdict, checkpoint.seal_seq if checkpoint else 0)
    for event in events:
        verdict.events_checked += 1
        where = f"event {event.event_id}"
        if not hmac.compare_digest(event_mac(key, event.fields), event.mac):
            verdict.add(where, "its content does not match its MAC (changed, or forged)")
        if event.order_key is None:
            verdict.add(where, "it has no transaction id: it was not written by ketaclinic")
        if not walk.take(event):
            verdict.unsealed_events += 1
    walk.finish()
    if checkpoint is not None:
        _check_against(key, checkpoint, verdict, walk.watched_mac)
    return verdict


def _check_against(
    key: bytes, checkpoint: Checkpoint, verdict: Verdict, mac_found: str | None
) -> None:
    """The trail must still hold the checkpoint's seal, unchanged, and everything before it."""
    where = f"checkpoint (seal {checkpoint.seal_seq})"
    if not checkpoint_is_genuine(key, checkpoint):
        verdict.add(where, "the checkpoint's signature is wrong (it was altered or made elsewhere)")
    elif mac_found is None:
        verdict.add(
            where,
            f"the trail ends at seal {verdict.newest_seal_seq}: seals and events up to seal "
            f"{checkpoint.seal_seq} (event {checkpoint.last_event_id}) were removed",
        )
    elif not hmac.compare_digest(mac_found, checkpoint.seal_mac):
        verdict.add(where, "the seal named by the checkpoint differs (the chain was rewritten)")
