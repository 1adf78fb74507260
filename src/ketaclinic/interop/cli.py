"""``ketaclinic hl7 listen``, ``hl7 simulate`` and ``hl7 monitors``: bedside monitors over MLLP.

Exit 2 on bad settings or input (an unknown session, a clinic that cannot be told).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.cli_support import load_settings, refuse
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.errors import InvalidInput
from ketaclinic.interop import hl7_monitors, listener, service, simulator
from ketaclinic.interop.mllp import MllpServer

hl7_app = typer.Typer(help="HL7 v2 from bedside monitors (MLLP).", no_args_is_help=True)

Port = Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free).")]
Host = Annotated[str, typer.Option("--host", help="Address to listen on.")]


Processes = Annotated[
    int,
    typer.Option(
        "--processes",
        min=1,
        max=64,
        help="Listener processes sharing the port (SO_REUSEPORT), about one per core.",
    ),
]


@hl7_app.command("listen")
def hl7_listen(port: Port = 2575, host: Host = "127.0.0.1", processes: Processes = 1) -> None:
    """Receive ORU^R01 vitals over MLLP and chart them on each patient's active session; every
    message is kept and acknowledged (AA charted, AE kept in the inbox, AR malformed)."""
    settings = load_settings()
    # No ping per message: the listener handles a lost connection (``listener.make_handler``).
    with engine_scope(settings, pre_ping=False) as engine:
        factory = make_session_factory(engine)
        with factory() as session:
            try:
                with session.begin():
                    clinic_id = service.resolve_clinic(session, settings.hl7_clinic)
            except service.ClinicNotConfigured as error:
                refuse(error.msg)
            service.ensure_device_account(session, clinic_id)

        def ready(server: MllpServer) -> None:
            print(f"listening on {host}:{server.port}", flush=True)

        if processes > 1:
            engine.dispose()  # each worker process opens its own connections
            with contextlib.suppress(KeyboardInterrupt):
                listener.serve_processes(
                    settings,
                    clinic_id=clinic_id,
                    host=host,
                    port=port,
                    processes=processes,
                    ready=lambda chosen: print(f"listening on {host}:{chosen}", flush=True),
                )
            return
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                listener.listen(
                    factory, settings, clinic_id=clinic_id, host=host, port=port, ready=ready
                )
            )


@hl7_app.command("simulate")
def hl7_simulate(
    session_id: Annotated[int, typer.Option("--session", min=1, help="Infusion session id.")],
    port: Port = 2575,
    host: Annotated[str, typer.Option("--host", help="The listener's address.")] = "127.0.0.1",
    every: Annotated[
        float, typer.Option("--every", min=0, max=3600, help="Seconds between messages.")
    ] = 15,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Messages to send (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Act as a bedside monitor for a session's patient: send synthetic ORU^R01 vitals (the five
    the flowsheet records today) over MLLP and print each ACK (demos and tests, no hardware)."""
    settings = load_settings()
    with engine_scope(settings) as engine:
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            mrn = simulator.mrn_of_session(session, session_id)
    if mrn is None:
        refuse(f"no infusion session {session_id}")
    try:
        asyncio.run(
            simulator.run(
                host, port, mrn=mrn, every_s=every, count=count, show=lambda line: print(line)
            )
        )
    except KeyboardInterrupt:
        return
    except OSError as error:
        refuse(f"cannot reach the listener at {host}:{port}: {error.strerror or error}")


monitors_app = typer.Typer(
    help="Bedside monitors mapped to chairs: a mapped monitor's vitals are charted only on the "
    "session at its chair.",
    no_args_is_help=True,
)
hl7_app.add_typer(monitors_app, name="monitors")

MonitorArg = Annotated[
    str,
    typer.Argument(
        help="The monitor as it identifies itself: OBX-18 (its EUI-64), else MSH-3.2, else MSH-3.1."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Exact JSON instead of text.")]


def _clinic_actor(session: Session) -> Actor:
    """The clinic the listener serves, acting as the command line (audited as ``cli``)."""
    settings = load_settings()
    try:
        clinic_id = service.resolve_clinic(session, settings.hl7_clinic)
    except service.ClinicNotConfigured as error:
        refuse(error.msg)
    return Actor(None, "cli", None, clinic_id, client_address="cli")


@monitors_app.command("set")
def monitors_set(
    monitor: MonitorArg,
    chair: Annotated[str, typer.Option("--chair", help="The chair's name, as on the board.")],
) -> None:
    """Map a monitor to a chair (replacing its earlier chair)."""
    settings = load_settings()
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        try:
            with session.begin():
                actor = _clinic_actor(session)
                hl7_monitors.set_monitor(
                    session, actor=actor, monitor_id=monitor, chair_name=chair, now=clock.now()
                )
        except InvalidInput as error:
            refuse(error.msg)
    print(f"monitor {monitor.strip()} -> chair {chair}")


@monitors_app.command("remove")
def monitors_remove(monitor: MonitorArg) -> None:
    """Forget a monitor's chair: its vitals are then matched by MRN alone."""
    settings = load_settings()
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        try:
            with session.begin():
                removed = hl7_monitors.remove_monitor(
                    session, actor=_clinic_actor(session), monitor_id=monitor
                )
        except InvalidInput as error:
            refuse(error.msg)
    if not removed:
        refuse(f"monitor {monitor.strip()} is not mapped")
    print(f"monitor {monitor.strip()} removed")


@monitors_app.command("list")
def monitors_list(as_json: Json = False) -> None:
    """Every mapped monitor and its chair."""
    settings = load_settings()
    with (
        engine_scope(settings) as engine,
        make_session_factory(engine)() as session,
        session.begin(),
    ):
        actor = _clinic_actor(session)
        rows = hl7_monitors.list_monitors(session, actor=actor)
    if as_json:
        print(json.dumps([{"monitor": m, "chair": c} for m, c in rows]))
        return
    if not rows:
        print("no monitor is mapped to a chair (vitals are matched by MRN alone)")
    for monitor, chair in rows:
        print(f"{monitor}\t{chair}")
