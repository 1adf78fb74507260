"""Monitors mapped to chairs, with real sockets against a real database (SQLite and PostgreSQL):
a mapped monitor's vitals are charted only on the session at its chair; a mismatch is answered AE
with the reason and waits in the inbox; ``ketaclinic hl7 monitors`` edits the mapping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ketaclinic import clock
from ketaclinic.cli import app
from ketaclinic.config import Settings
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.interop.hl7_core import VitalsMessage, parse_message, sample_oru_r01
from ketaclinic.interop.hl7_monitors import monitor_of
from ketaclinic.interop.models import Hl7Message, Hl7Monitor
from ketaclinic.scheduling import service as scheduling
from ketaclinic.scheduling.models import Chair
from tests.conftest import Person, cli_env, patient_body
from tests.infusions.test_api import Team, at
from tests.interop.test_listener import _clinic, _exchange
from tests.interop.test_service import _infusing, _msa, _oru, _values, _vitals

runner = CliRunner()
MONITOR = "0012A1FFFE000001"  # the sample device's EUI-64 (hl7_core.sample_oru_r01)


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _chair_of(factory: sessionmaker[Session], session_id: int) -> str:
    with factory() as session:
        row = session.get(InfusionSession, session_id)
        assert row is not None
        chair = session.get(Chair, row.chair_id)
        assert chair is not None
        return chair.name


def _other_chair(factory: sessionmaker[Session], name: str = "Bay 9") -> str:
    with factory() as session, session.begin():
        scheduling.ensure_chair(session, clinic_id=_clinic(factory), name=name)
    return name


def _monitors(settings: Settings, *arguments: str) -> tuple[int, str]:
    result = runner.invoke(app, ["hl7", "monitors", *arguments], env=cli_env(settings))
    return result.exit_code, result.output


def test_a_monitor_at_another_chair_gets_ae_and_the_message_waits_in_the_inbox(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    elsewhere = _other_chair(factory)
    assert _monitors(settings, "set", MONITOR, "--chair", elsewhere)[0] == 0
    first, second = _oru("W1").encode(), _oru("W2").encode()
    with at(6):
        acks = asyncio.run(_exchange(factory, settings, [first, second]))
    msa = [_msa(ack) for ack in acks]
    assert [m[1] for m in msa] == ["AE", "AE"]
    assert f"chair '{elsewhere}'" in msa[0][3]
    assert "no session is active there" in msa[0][3]
    assert len(_vitals(factory, sid)) == before
    with factory() as session:
        stored = session.scalars(select(Hl7Message).order_by(Hl7Message.id)).all()
        assert [(m.control_id, m.outcome) for m in stored] == [("W1", "inbox"), ("W2", "inbox")]
        assert all(m.reason and elsewhere in m.reason for m in stored)


def test_a_monitor_at_the_sessions_chair_is_charted(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    assert _monitors(settings, "set", MONITOR, "--chair", _other_chair(factory))[0] == 0
    # Moved to the patient's chair: the same mapping command replaces the earlier chair.
    assert _monitors(settings, "set", MONITOR, "--chair", _chair_of(factory, sid))[0] == 0
    with at(6):
        acks = asyncio.run(_exchange(factory, settings, [_oru("R1").encode(), _oru("R2").encode()]))
    assert [_msa(ack)[1] for ack in acks] == ["AA", "AA"]
    assert len(_vitals(factory, sid)) == before + 2
    with factory() as session:
        assert len(session.scalars(select(Hl7Monitor)).all()) == 1


def test_the_chair_is_checked_against_the_session_there_not_only_the_chair_name(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    mine = _infusing(team)
    theirs = _infusing_for_another_patient(team)
    assert _chair_of(factory, mine) != _chair_of(factory, theirs)
    assert _monitors(settings, "set", MONITOR, "--chair", _chair_of(factory, theirs))[0] == 0
    with at(6):
        (ack,) = asyncio.run(_exchange_one(factory, settings, _oru("X1").encode()))
    assert _msa(ack)[1] == "AE"
    assert "the session active there is not this patient's" in _msa(ack)[3]


def _infusing_for_another_patient(team: Team) -> int:
    """A second patient's session, infusing at its own chair."""
    made = team.client.post("/api/v1/patients", json=patient_body(mrn="MRN-2"), headers=team.nurse)
    assert made.status_code == 201, made.text
    mine, team.patient_id = team.patient_id, made.json()["id"]
    try:
        return _infusing(team)
    finally:
        team.patient_id = mine


async def _exchange_one(
    factory: sessionmaker[Session], settings: Settings, message: bytes
) -> list[str]:
    """One message on one connection (``_exchange`` needs two at least)."""
    return (await _exchange(factory, settings, [message, message]))[:1]


def test_an_unmapped_monitor_is_matched_by_mrn_alone(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    assert (
        _monitors(settings, "set", "SOME-OTHER-MONITOR", "--chair", _other_chair(factory))[0] == 0
    )
    with at(6):
        acks = asyncio.run(_exchange(factory, settings, [_oru("U1").encode(), _oru("U2").encode()]))
    assert [_msa(ack)[1] for ack in acks] == ["AA", "AA"]
    assert len(_vitals(factory, sid)) == before + 2


def test_the_monitors_commands_list_replace_and_remove_a_mapping(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    a, b = _other_chair(factory, "Bay A"), _other_chair(factory, "Bay B")
    code, output = _monitors(settings, "list")
    assert code == 0 and "no monitor is mapped" in output
    assert _monitors(settings, "set", "MON-1", "--chair", a)[0] == 0
    assert _monitors(settings, "set", "MON-2", "--chair", a)[0] == 0
    assert _monitors(settings, "set", "MON-1", "--chair", b)[0] == 0
    code, output = _monitors(settings, "list", "--json")
    assert code == 0
    assert sorted((r["monitor"], r["chair"]) for r in json.loads(output)) == [
        ("MON-1", b),
        ("MON-2", a),
    ]
    assert _monitors(settings, "remove", "MON-2")[0] == 0
    code, output = _monitors(settings, "list", "--json")
    assert json.loads(output) == [{"monitor": "MON-1", "chair": b}]
    code, output = _monitors(settings, "remove", "MON-2")
    assert code == 2 and "MON-2 is not mapped" in output


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["MON-1", "--chair", "No such chair"], "no chair named 'No such chair'"),
        (["   ", "--chair", "Bay A"], "the monitor id is empty"),
        (["MON^1", "--chair", "Bay A"], "one HL7 component"),
        (["M" * 228, "--chair", "Bay A"], "at most 227 characters"),
    ],
)
def test_setting_a_monitor_refuses_bad_input_and_writes_nothing(
    team: Team,
    factory: sessionmaker[Session],
    settings: Settings,
    arguments: list[str],
    reason: str,
) -> None:
    _other_chair(factory, "Bay A")
    code, output = _monitors(settings, "set", *arguments)
    assert code == 2
    assert reason in output
    with factory() as session:
        assert session.scalars(select(Hl7Monitor)).all() == []


def test_a_retired_chair_is_refused(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    name = _other_chair(factory, "Old bay")
    with factory() as session, session.begin():
        chair = session.scalar(select(Chair).where(Chair.name == name))
        assert chair is not None
        chair.active = False
    code, output = _monitors(settings, "set", "MON-1", "--chair", name)
    assert code == 2 and "retired" in output


def _parsed(text: str) -> VitalsMessage:
    parsed = parse_message(text, assume_tz=UTC)
    assert isinstance(parsed, VitalsMessage)
    return parsed


def test_a_monitor_is_known_by_obx_18_then_msh_3_universal_id_then_msh_3_namespace() -> None:
    with at(0):
        text = sample_oru_r01(
            control_id="I1",
            mrn="M",
            observed_at=clock.now(),
            values=_values(),
            device_eui64="0012A1FFFE0000AA",
        )
    assert monitor_of(_parsed(text)) == "0012A1FFFE0000AA"
    without_obx18 = text.replace("0012A1FFFE0000AA^^0012A1FFFE0000AA^EUI-64", "")
    assert monitor_of(_parsed(without_obx18)) == "0012A1FFFE0000AA"  # MSH-3.2
    gateway = without_obx18.replace("KETACLINIC_SIM^0012A1FFFE0000AA^EUI-64", "GATEWAY_7")
    assert monitor_of(_parsed(gateway)) == "GATEWAY_7"
