"""The listener's lean write path (issue #14 benchmark) with real sockets and databases: several
listener processes sharing one port, a lost database connection retried once, and bedside charting
that reads neither the session's whole timeline nor its alerts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.config import Settings
from ketaclinic.db import make_engine, make_session_factory
from ketaclinic.infusions import charting
from ketaclinic.infusions import service as infusions
from ketaclinic.infusions.models import SessionAlert
from ketaclinic.infusions.schemas import VitalsIn
from ketaclinic.interop import listener, service
from ketaclinic.interop.device_codes import SYSTOLIC
from ketaclinic.interop.hl7_core import sample_oru_r01
from ketaclinic.interop.mllp import MllpClient
from tests.conftest import Person, cli_env
from tests.infusions.test_api import CALM_VITALS, Team, at
from tests.interop.test_service import MRN, _infusing, _msa, _oru, _stored, _values, _vitals

CONNECTIONS = 8
PER_CONNECTION = 3


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _clinic(factory: sessionmaker[Session]) -> int:
    with factory() as session, session.begin():
        return service.resolve_clinic(session, None)


def _worker_pids(parent: int) -> list[int]:
    """The listener's worker processes (Linux: the kernel's list of a task's children), not
    multiprocessing's resource tracker beside them."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


@pytest.fixture
def listening_twice(settings: Settings, team: Team) -> Iterator[tuple[int, int]]:
    """``ketaclinic hl7 listen --port 0 --processes 2``; yields (port, the command's pid)."""
    env = {**os.environ, **cli_env(settings)}
    code = "from ketaclinic.cli import main; main()"
    command = [sys.executable, "-c", code, "hl7", "listen", "--port", "0", "--processes", "2"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("listening on 127.0.0.1:"), line
            yield int(line.rsplit(":", 1)[1]), process.pid
        finally:
            process.terminate()
            assert process.wait(timeout=60) == 0


def test_two_listener_processes_share_the_port_and_store_each_message_once(
    team: Team, factory: sessionmaker[Session], listening_twice: tuple[int, int]
) -> None:
    """Slow because it starts the command and its two worker processes (about 15 s here)."""
    port, pid = listening_twice
    assert len(_worker_pids(pid)) == 2
    sid = _infusing(team)
    before = len(_vitals(factory, sid))

    def message(control_id: str) -> bytes:
        # The command runs on the real clock: the readings are observed now.
        return sample_oru_r01(
            control_id=control_id, mrn=MRN, observed_at=clock.now(), values=_values()
        ).encode()

    repeated = message("SAME-1")

    async def monitor(index: int) -> list[str]:
        client = await MllpClient.connect("127.0.0.1", port)
        try:
            acks = [await client.send(repeated)]  # the same message on every connection
            for n in range(PER_CONNECTION):
                acks.append(await client.send(message(f"P{index}-{n}")))
            return [_msa(ack.decode())[1] for ack in acks]
        finally:
            await client.close()

    async def every_monitor() -> list[list[str]]:
        return await asyncio.gather(*(monitor(i) for i in range(CONNECTIONS)))

    codes = asyncio.run(every_monitor())
    assert codes == [["AA"] * (PER_CONNECTION + 1)] * CONNECTIONS
    stored = _stored(factory)
    expected = {"SAME-1"} | {f"P{i}-{n}" for i in range(CONNECTIONS) for n in range(PER_CONNECTION)}
    assert sorted(m.control_id or "" for m in stored) == sorted(expected)  # each once
    assert len(_vitals(factory, sid)) == before + len(expected)


def test_a_message_on_a_lost_database_connection_is_handled_again_on_a_new_one(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("a PostgreSQL server connection is what gets lost")
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    engine = make_engine(settings, pre_ping=False)  # as ``ketaclinic hl7 listen``
    try:
        handler = listener.make_handler(make_session_factory(engine), settings, _clinic(factory))
        with engine.connect() as connection:  # the pool's one connection, used by the handler
            lost = connection.scalar(text("SELECT pg_backend_pid()"))
        with factory() as session, session.begin():
            ended = session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        assert ended is True
        with at(6):
            ack = asyncio.run(handler(_oru("LOST-1").encode())).decode()
        assert _msa(ack)[1:3] == ["AA", "LOST-1"]
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != lost
    finally:
        engine.dispose()
    assert [m.control_id for m in _stored(factory)] == ["LOST-1"]
    assert len(_vitals(factory, sid)) == before + 1


def test_charting_vitals_reads_neither_the_timeline_nor_the_alerts(
    team: Team, factory: sessionmaker[Session]
) -> None:
    sid = _infusing(team)
    clinic_id = _clinic(factory)
    with at(5), factory() as session, session.begin():
        actor = service.device_actor(session, clinic_id)
        row = infusions.get(session, actor=actor, session_id=sid, lock=True)
        assert row is not None
        high = VitalsIn(**{**CALM_VITALS, "systolic_mmhg": 190})
        charting.record_vitals(session, actor=actor, row=row, data=high)
        assert {"events", "alerts"} <= inspect(row).unloaded
        # Read afterwards, they hold what was just charted.
        assert row.events[-1].kind == "vitals"
        assert [a.rule_id for a in row.alerts] == ["systolic_high"]
        # A timeline already loaded (a page that showed it) gets the next entry without a reload.
        charting.record_vitals(session, actor=actor, row=row, data=high)
        assert [e.kind for e in row.events[-2:]] == ["vitals", "vitals"]
        assert [a.rule_id for a in row.alerts] == ["systolic_high", "systolic_high"]
    with factory() as session:
        rules = session.scalars(
            select(SessionAlert.rule_id).where(SessionAlert.session_id == sid)
        ).all()
    assert rules == ["systolic_high", "systolic_high"]


def test_a_message_with_one_refused_time_charts_none_of_its_times(
    team: Team, factory: sessionmaker[Session]
) -> None:
    """Without a savepoint the listener checks every set of readings before writing any."""
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    good = _oru("TWO-1", minutes=4)  # checked first: the earlier time
    implausible = _oru("TWO-1", minutes=5, **{SYSTOLIC: 260})
    # One message, two observation times: the second OBX group is beyond its band.
    obx = [line for line in implausible.split("\r") if line.startswith("OBX")]
    both = "\r".join([*good.rstrip("\r").split("\r"), *obx]) + "\r"
    with at(6), factory() as session:
        ack = service.receive(session, both, clinic_id=_clinic(factory), zone=UTC, now=clock.now())
    assert _msa(ack)[1] == "AE"
    assert "outside the plausibility band" in _msa(ack)[3]  # the second time, not a conflict
    assert len(_vitals(factory, sid)) == before
