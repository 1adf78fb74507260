"""The audit trail's tamper evidence, on plain values: every kind of tampering is caught."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.audit.core import (
    Checkpoint,
    EventFields,
    StoredEvent,
    StoredSeal,
    checkpoint_from_json,
    checkpoint_is_genuine,
    checkpoint_to_json,
    event_mac,
    make_seal,
    sign_checkpoint,
    verify_trail,
)

KEY = b"k" * 40
OTHER_KEY = b"o" * 40
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _fields(n: int) -> EventFields:
    return EventFields(
        occurred_at=T0 + timedelta(seconds=n),
        action="patient.read",
        user_id=1,
        username="nurse1",
        role="nurse",
        clinic_id=1,
        patient_id=n,
        client_address="127.0.0.1",
        detail=None,
    )


def _event(event_id: int, order_key: int, key: bytes = KEY) -> StoredEvent:
    fields = _fields(event_id)
    return StoredEvent(event_id, order_key, fields, event_mac(key, fields))


def _trail(
    order_keys: list[int], seal_ends: list[int], key: bytes = KEY
) -> tuple[list[StoredEvent], list[StoredSeal]]:
    """Events with these order keys (ids 1, 2, …), sealed at each key in ``seal_ends``."""
    events = sorted(
        (_event(i, k, key) for i, k in enumerate(order_keys, start=1)),
        key=lambda e: (e.order_key, e.event_id),
    )
    seals: list[StoredSeal] = []
    for end in seal_ends:
        start = seals[-1].fields.key_to if seals else 0
        covered = [(e.event_id, e.mac) for e in events if start <= (e.order_key or 0) < end]
        seals.append(
            make_seal(
                key,
                previous=seals[-1] if seals else None,
                key_to=end,
                entries=covered,
                sealed_at=T0,
            )
        )
    return events, seals


def _checkpoint(seals: list[StoredSeal], key: bytes = KEY) -> Checkpoint:
    newest = seals[-1]
    made = Checkpoint(newest.fields.seq, newest.mac, newest.fields.last_event_id, T0)
    return sign_checkpoint(key, made)


def _where(events: list[StoredEvent], seals: list[StoredSeal], **kw: object) -> list[str]:
    verdict = verify_trail(KEY, events=events, seals=seals, **kw)  # type: ignore[arg-type]
    return [f.where for f in verdict.findings]


def test_an_intact_trail_verifies_and_counts_what_is_not_sealed_yet() -> None:
    events, seals = _trail([1, 2, 2, 3, 5, 8, 9], [3, 6])
    verdict = verify_trail(KEY, events=events, seals=seals, checkpoint=_checkpoint(seals))
    assert verdict.intact
    assert (verdict.events_checked, verdict.seals_checked, verdict.unsealed_events) == (7, 2, 2)


def test_an_empty_trail_verifies() -> None:
    assert verify_trail(KEY, events=[], seals=[]).intact


@given(st.integers(2, 12), st.data())
def test_changing_any_event_is_caught_at_that_event(n: int, data: st.DataObject) -> None:
    events, seals = _trail(list(range(n)), [n // 2])
    k = data.draw(st.integers(0, n - 1))
    events[k] = replace(events[k], fields=replace(events[k].fields, action="patient.update"))
    assert f"event {events[k].event_id}" in _where(events, seals)


@given(st.integers(2, 12), st.data())
def test_deleting_any_sealed_event_is_caught_at_its_seal(n: int, data: st.DataObject) -> None:
    events, seals = _trail(list(range(n)), [n // 2, n])
    k = data.draw(st.integers(0, n - 1))
    seal_of_k = 1 if (events[k].order_key or 0) < n // 2 else 2
    del events[k]
    assert _where(events, seals) == [f"seal {seal_of_k}"]


def test_deleting_the_newest_event_is_caught_when_it_is_sealed() -> None:
    events, seals = _trail([1, 2, 3], [4])
    assert _where(events[:-1], seals) == ["seal 1"]


def test_an_event_added_into_a_sealed_range_is_caught_even_with_a_valid_mac() -> None:
    events, seals = _trail([1, 2, 3], [4])
    copied = replace(events[1], event_id=99)  # a genuine event replayed under a new id
    assert _where([*events, copied], seals) == ["seal 1"]


def test_reordering_events_inside_a_seal_is_caught() -> None:
    events, seals = _trail([1, 2, 3], [4])
    swapped = [replace(events[0], event_id=2), replace(events[1], event_id=1), events[2]]
    assert "seal 1" in _where(swapped, seals)


def test_an_event_without_an_order_key_was_not_written_by_the_app() -> None:
    events, seals = _trail([1, 2], [3])
    stray = replace(_event(3, 0), order_key=None)
    assert _where([*events, stray], seals) == ["event 3"]


def test_deleting_a_seal_in_the_middle_breaks_the_chain_of_seals() -> None:
    events, seals = _trail([1, 2, 3, 4, 5, 6], [2, 4, 7])
    del seals[1]
    assert "seal 3" in _where(events, seals)


def test_changing_a_seal_is_caught() -> None:
    events, seals = _trail([1, 2, 3], [2, 4])
    seals[0] = replace(seals[0], fields=replace(seals[0].fields, event_count=5))
    assert "seal 1" in _where(events, seals)


def test_a_trail_rewritten_without_the_key_fails_everywhere() -> None:
    forged_events, forged_seals = _trail([1, 2, 3], [4], key=OTHER_KEY)
    found = _where(forged_events, forged_seals)
    assert {"event 1", "event 2", "event 3", "seal 1"} <= set(found)


def test_removing_the_newest_seals_and_their_events_shows_only_against_a_checkpoint() -> None:
    events, seals = _trail([1, 2, 3, 4], [2, 5])
    kept = _checkpoint(seals)
    shortened_events = [e for e in events if (e.order_key or 0) < 2]
    assert _where(shortened_events, seals[:1]) == []  # consistent on its own...
    found = _where(shortened_events, seals[:1], checkpoint=kept)
    assert found == ["checkpoint (seal 2)"]  # ...but not with what was kept outside


def test_truncating_everything_shows_against_a_checkpoint() -> None:
    _, seals = _trail([1, 2], [3])
    assert _where([], [], checkpoint=_checkpoint(seals)) == ["checkpoint (seal 1)"]


def test_a_chain_rewritten_with_the_key_differs_from_the_checkpoint() -> None:
    events, seals = _trail([1, 2, 3], [4])
    kept = _checkpoint(seals)
    remaining = [events[0], events[2]]  # an insider holding the key drops event 2 and re-seals
    entries = [(e.event_id, e.mac) for e in remaining]
    resealed = [make_seal(KEY, previous=None, key_to=4, entries=entries, sealed_at=T0)]
    assert _where(remaining, resealed) == []
    assert _where(remaining, resealed, checkpoint=kept) == ["checkpoint (seal 1)"]


def test_a_checkpoint_altered_or_signed_with_another_key_is_refused() -> None:
    _, seals = _trail([1, 2], [3])
    kept = _checkpoint(seals)
    assert checkpoint_is_genuine(KEY, kept)
    assert not checkpoint_is_genuine(KEY, replace(kept, last_event_id=1))
    assert not checkpoint_is_genuine(KEY, _checkpoint(seals, key=OTHER_KEY))


def test_a_checkpoint_survives_its_file_format() -> None:
    _, seals = _trail([1, 2], [3])
    kept = _checkpoint(seals)
    assert checkpoint_from_json(checkpoint_to_json(kept)) == kept


@pytest.mark.parametrize(
    "text", ["", "[]", '{"seal_seq": 1}', '{"ketaclinic_audit_checkpoint": 1, "seal_seq": 1}']
)
def test_a_malformed_checkpoint_file_is_refused_naming_the_problem(text: str) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        checkpoint_from_json(text)


def test_a_seal_cannot_end_before_the_previous_one() -> None:
    _, seals = _trail([1], [5])
    with pytest.raises(ValueError, match="before the previous"):
        make_seal(KEY, previous=seals[0], key_to=3, entries=[], sealed_at=T0)


def test_the_mac_covers_the_instant_not_the_time_zone_it_is_written_in() -> None:
    fields = _fields(1)
    kiritimati = timezone(timedelta(hours=14))
    same_instant = replace(fields, occurred_at=fields.occurred_at.astimezone(kiritimati))
    assert same_instant.occurred_at.utcoffset() == timedelta(hours=14)
    assert event_mac(KEY, fields) == event_mac(KEY, same_instant)
    later = replace(fields, occurred_at=fields.occurred_at + timedelta(microseconds=1))
    assert event_mac(KEY, fields) != event_mac(KEY, later)


@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=25),
    st.lists(st.integers(1, 32), min_size=1, max_size=5, unique=True),
    st.data(),
)
def test_any_single_change_delete_or_insert_is_caught(
    keys: list[int], ends: list[int], data: st.DataObject
) -> None:
    events, seals = _trail(keys, sorted(ends))
    sealed = [e for e in events if (e.order_key or 0) < seals[-1].fields.key_to]
    how = data.draw(st.sampled_from(["change", "delete", "insert"]))
    if how == "change":
        k = data.draw(st.integers(0, len(events) - 1))
        events[k] = replace(events[k], fields=replace(events[k].fields, detail="x"))
    elif how == "delete":
        if not sealed:
            return  # only sealed events are protected against deletion
        victim = data.draw(st.sampled_from(sealed))
        events.remove(victim)
    else:
        if not sealed:
            return
        copied = replace(data.draw(st.sampled_from(sealed)), event_id=10_000)
        events.append(copied)
        events.sort(key=lambda e: (e.order_key, e.event_id))
    assert _where(events, seals) != []
