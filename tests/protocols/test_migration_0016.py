"""Migration 0016 (one indication vocabulary) rewrites stored protocol versions both ways: up onto
the table screening uses, down onto the protocols' old list, every other field untouched."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock, schema
from ketaclinic.accounts import service as accounts
from ketaclinic.db import transaction
from ketaclinic.dosing.library import CHRONIC_PAIN_LOW_DOSE
from ketaclinic.indications import KNOWN_IDS
from ketaclinic.protocols import service
from ketaclinic.protocols.codec import from_json, to_json
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.schema import current_revision, upgrade

#: The protocols' own list before revision 0016 (dosing/protocol.py KNOWN_INDICATIONS then).
OLD_LIST = frozenset(
    ("crps", "depression", "bipolar_depression", "migraine", "headache", "chronic_pain")
    + ("fibromyalgia", "neuropathic_pain", "spinal_cord_injury_pain", "phantom_limb_pain")
    + ("postherpetic_neuralgia", "cancer_pain", "ischemic_pain", "low_back_pain")
)


def _downgrade(engine: Engine, revision: str) -> None:
    schema.downgrade(engine, revision)  # foreign keys checked at the end on SQLite


def _store(session: Session, clinic_id: int, key: str, definition: dict[str, Any]) -> int:
    row = ProtocolVersion(
        clinic_id=clinic_id,
        key=key,
        version=1,
        name=definition["name"],
        definition={**definition, "key": key},
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row.id


def _definitions(factory: sessionmaker[Session]) -> dict[int, dict[str, Any]]:
    with factory() as session:
        return {r.id: dict(r.definition) for r in session.scalars(select(ProtocolVersion))}


def _without_indications(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k != "indications"}


def test_the_0016_migration_rewrites_stored_protocol_indications_both_ways(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    base = to_json(CHRONIC_PAIN_LOW_DOSE)
    with transaction(factory) as session:
        clinic = accounts.ensure_clinic(session, code="NORTH")
        service.seed_library(session, clinic_id=clinic.id)
        new_style = to_json(
            replace(CHRONIC_PAIN_LOW_DOSE, indications=("back_pain", "neck_pain", "migraine"))
        )
        newer = _store(session, clinic.id, "spine-and-neck", new_style)
    before = _definitions(factory)
    try:
        _downgrade(engine, "0015")
        assert current_revision(engine) == "0015"
        down = _definitions(factory)
        # back_pain has an old name; neck pain was one of the old list's chronic pain
        assert down[newer]["indications"] == ["low_back_pain", "chronic_pain", "migraine"]
        assert all(set(d["indications"]) <= OLD_LIST for d in down.values())
        assert {i: _without_indications(d) for i, d in down.items()} == {
            i: _without_indications(d) for i, d in before.items()
        }
        with transaction(factory) as session:
            old_style = {
                **base,
                "indications": ["headache", "phantom_limb_pain", "postherpetic_neuralgia"]
                + ["low_back_pain", "crps"],
            }
            older = _store(session, clinic.id, "legacy-mixed", old_style)
    finally:
        upgrade(engine)
    up = _definitions(factory)
    # headache → migraine; phantom limb and postherpetic both → neuropathic_pain, once
    assert up[older]["indications"] == ["migraine", "neuropathic_pain", "back_pain", "crps"]
    assert up[newer]["indications"] == ["back_pain", "chronic_pain", "migraine"]
    for definition in up.values():
        assert set(definition["indications"]) <= KNOWN_IDS
        from_json(definition)  # every stored version reads (and re-validates) again
    seeded = {i: d for i, d in up.items() if i not in (older, newer)}
    assert seeded == {i: d for i, d in before.items() if i in seeded}
