"""The MLLP listener with real sockets against a real database (SQLite and PostgreSQL): a placed
message is charted and raises its alert, an unknown MRN waits in the inbox, a repeated message is
acknowledged and stored once; and the ``ketaclinic hl7 listen`` command serves the same way."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.cli import app
from ketaclinic.config import Settings
from ketaclinic.infusions.models import SessionAlert
from ketaclinic.interop import listener, service
from ketaclinic.interop.device_codes import SYSTOLIC
from ketaclinic.interop.hl7_core import sample_oru_r01
from ketaclinic.interop.mllp import MllpClient, MllpServer, frame
from ketaclinic.interop.models import Hl7Message
from tests.conftest import Person, cli_env
from tests.infusions.test_api import Team, at
from tests.interop.test_service import MRN, _infusing, _msa, _oru, _values, _vitals

runner = CliRunner()


@pytest.fixture
def team(client: TestClient, make_person: Callable[..., Person]) -> Team:
    return Team(client, make_person)


def _clinic(factory: sessionmaker[Session]) -> int:
    with factory() as session, session.begin():
        return service.resolve_clinic(session, None)


async def _exchange(
    factory: sessionmaker[Session], settings: Settings, messages: list[bytes]
) -> list[str]:
    """Start the listener on a free port, send ``messages`` on one connection (the first two in
    one write, the rest split across writes), and return the ACKs in order."""
    started: asyncio.Future[MllpServer] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        listener.listen(
            factory,
            settings,
            clinic_id=_clinic(factory),
            host="127.0.0.1",
            port=0,
            ready=started.set_result,
        )
    )
    server = await started
    client = await MllpClient.connect("127.0.0.1", server.port)
    try:
        await client.write_raw(frame(messages[0]) + frame(messages[1]))
        acks = [await client.read_ack(), await client.read_ack()]
        for message in messages[2:]:
            framed = frame(message)
            await client.write_raw(framed[:7])
            await client.write_raw(framed[7:])
            acks.append(await client.read_ack())
    finally:
        await client.close()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    return [ack.decode() for ack in acks]


def test_one_connection_gets_an_ack_for_each_case(
    team: Team, factory: sessionmaker[Session], settings: Settings
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    high = _oru("L1", **{SYSTOLIC: 190}).encode()
    unknown = _oru("L2", mrn="NOBODY-9").encode()
    malformed = b"not an HL7 message"
    with at(6):
        acks = asyncio.run(_exchange(factory, settings, [high, unknown, high, malformed]))
    assert [_msa(a)[1] for a in acks] == ["AA", "AE", "AA", "AR"]
    assert acks[2] == acks[0]  # the repeat is answered with the ACK it got the first time
    assert len(_vitals(factory, sid)) == before + 1  # and charted once
    with factory() as session:
        stored = session.scalars(select(Hl7Message).order_by(Hl7Message.id)).all()
        assert [(m.control_id, m.outcome) for m in stored] == [
            ("L1", "accepted"),
            ("L2", "inbox"),
            (None, "refused"),
        ]
        rules = session.scalars(
            select(SessionAlert.rule_id).where(SessionAlert.session_id == sid)
        ).all()
    assert rules == ["systolic_high"]


@pytest.fixture
def listening(settings: Settings, team: Team) -> Iterator[int]:
    """``ketaclinic hl7 listen --port 0`` in its own process; yields its port."""
    env = {**os.environ, **cli_env(settings)}
    code = "from ketaclinic.cli import main; main()"
    command = [sys.executable, "-c", code, "hl7", "listen", "--port", "0"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("listening on 127.0.0.1:"), line
            yield int(line.rsplit(":", 1)[1])
        finally:
            process.terminate()
            process.wait()


def test_the_listen_command_charts_a_message_sent_to_it(
    team: Team, factory: sessionmaker[Session], listening: int
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    # The command runs on the real clock: the readings are observed now.
    message = sample_oru_r01(
        control_id="C1", mrn=MRN, observed_at=clock.now(), values=_values()
    ).encode()

    async def send() -> bytes:
        client = await MllpClient.connect("127.0.0.1", listening)
        try:
            return await client.send(message)
        finally:
            await client.close()

    ack = asyncio.run(send()).decode()
    assert _msa(ack)[1:3] == ["AA", "C1"]
    assert len(_vitals(factory, sid)) == before + 1


def test_the_simulator_sends_vitals_for_a_session_and_prints_each_ack(
    team: Team, factory: sessionmaker[Session], settings: Settings, listening: int
) -> None:
    sid = _infusing(team)
    before = len(_vitals(factory, sid))
    arguments = ["hl7", "simulate", "--session", str(sid), "--port", str(listening)]
    result = runner.invoke(app, [*arguments, "--every", "0", "--count", "2"], env=cli_env(settings))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split("|")[1] for line in lines] == ["AA", "AA"]
    assert len(_vitals(factory, sid)) == before + 2
    assert MRN not in result.output


def test_the_simulator_refuses_an_unknown_session(settings: Settings, team: Team) -> None:
    result = runner.invoke(app, ["hl7", "simulate", "--session", "999999"], env=cli_env(settings))
    assert result.exit_code == 2
    assert "no infusion session 999999" in result.output


def test_the_simulator_says_when_no_listener_answers(settings: Settings, team: Team) -> None:
    sid = _infusing(team)
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    arguments = ["hl7", "simulate", "--session", str(sid), "--port", str(port), "--count", "1"]
    result = runner.invoke(app, arguments, env=cli_env(settings))
    assert result.exit_code == 2
    assert f"cannot reach the listener at 127.0.0.1:{port}" in result.output


def test_listen_refuses_to_start_when_the_clinic_cannot_be_told(
    settings: Settings, make_person: Callable[..., Person]
) -> None:
    make_person(Role.NURSE)
    make_person(Role.NURSE, clinic="SOUTH")
    result = runner.invoke(app, ["hl7", "listen", "--port", "0"], env=cli_env(settings))
    assert result.exit_code == 2
    assert "KETACLINIC_HL7_CLINIC" in result.output
    unknown = {**cli_env(settings), "KETACLINIC_HL7_CLINIC": "NOWHERE"}
    result = runner.invoke(app, ["hl7", "listen", "--port", "0"], env=unknown)
    assert result.exit_code == 2
    assert "no clinic with code 'NOWHERE'" in result.output
