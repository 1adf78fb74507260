from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.audit.core import GENESIS_HASH, ChainedEvent, EventFields, event_hash, first_break

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _chain(n: int) -> list[ChainedEvent]:
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        fields = EventFields(
            seq,
            T0 + timedelta(seconds=seq),
            "patient.read",
            1,
            "nurse1",
            "nurse",
            1,
            seq,
            "127.0.0.1",
            None,
        )
        digest = event_hash(fields, prev)
        events.append(ChainedEvent(fields, prev, digest))
        prev = digest
    return events


def test_an_intact_chain_verifies() -> None:
    events = _chain(5)
    assert first_break(events, 5, events[-1].hash) is None


def test_an_empty_chain_verifies() -> None:
    assert first_break([], 0, GENESIS_HASH) is None


@given(st.integers(2, 12), st.data())
def test_altering_any_field_of_any_event_is_caught_at_that_event(
    n: int, data: st.DataObject
) -> None:
    events = _chain(n)
    k = data.draw(st.integers(0, n - 1))
    altered = replace(events[k].fields, action="patient.update")
    events[k] = replace(events[k], fields=altered)
    problem = first_break(events, n, events[-1].hash)
    assert problem is not None and problem.seq == k + 1


@given(st.integers(2, 12), st.data())
def test_removing_an_event_is_caught(n: int, data: st.DataObject) -> None:
    events = _chain(n)
    k = data.draw(st.integers(0, n - 1))
    head = events[-1].hash
    del events[k]
    problem = first_break(events, n, head)
    assert problem is not None and problem.seq == k + 1


def test_the_hash_does_not_depend_on_the_time_zone_an_instant_is_written_in() -> None:
    fields = _chain(1)[0].fields
    shifted = replace(fields, occurred_at=fields.occurred_at.astimezone(UTC).replace(tzinfo=UTC))
    assert event_hash(fields, GENESIS_HASH) == event_hash(shifted, GENESIS_HASH)
