"""HL7 v2 vitals over MLLP into a real database: messages per second from 8 bedside monitors,
against the goal of 2,000 messages/s on PostgreSQL (issue #14). Run:

    PYTHONPATH=src:bench .venv/bin/python bench/mllp_bench.py [--seconds 10] [--url URL] \
        [--processes N]

The database is ``--url``, else a fresh PostgreSQL database on ``KETACLINIC_TEST_POSTGRES_URL``
(dropped afterwards), else a fresh SQLite file. It is migrated and given a synthetic clinic
(``bench/generate.py``) of 8 patients, each with one session set infusing on its own chair. The
listener (``interop.listener``, as ``ketaclinic hl7 listen`` runs it) is started as a subprocess
of this script, so that the senders do not share its interpreter. Then 8 persistent MLLP
connections, one per monitor, each send ORU^R01 vitals (the simulator's message: five charted
vitals and three kept in the message) one after the other, waiting for each ACK, for ``--seconds``.

Printed: messages/s, ACK latency p50/p95, the ACK codes, and stored vs sent: rows counted in the
database afterwards (messages stored, vitals charted, distinct control ids), so a lost or
duplicated message shows. Beside it, the reference measured in the same run: the same messages
parsed and mapped by ``hl7_core`` alone (no socket, no database), and the ratio of the two.
Also printed: the listener's CPU seconds (all its processes, from /proc) per message acknowledged,
the figure that does not depend on how busy the shared machine is. ``--processes N`` runs the
listener as ``ketaclinic hl7 listen --processes N`` (workers sharing the port). ``--profile FILE``
runs a one-process listener under cProfile and writes its stats to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from generate import bench_settings, generate, url_of
from pages_bench import fresh_postgres, percentile
from sqlalchemy import delete, func, insert, select, update

from ketaclinic.accounts.models import User
from ketaclinic.config import Settings
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.interop import listener, service
from ketaclinic.interop.hl7_core import VitalsMessage, parse_message, sample_oru_r01, sample_vitals
from ketaclinic.interop.mllp import MllpClient, MllpServer
from ketaclinic.interop.models import Hl7Message
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Chair

PG_ENV = "KETACLINIC_TEST_POSTGRES_URL"
MONITORS = 8
GOAL_PER_S = 2000  # issue #14
READY = "listening on port "


@dataclass
class Monitor:
    """One bedside monitor: its patient, its EUI-64, and what it sent and got back."""

    mrn: str
    eui64: str
    sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ack_codes: Counter[str] = field(default_factory=Counter)


def prepare(url: str) -> list[str]:
    """A migrated clinic of ``MONITORS`` patients, each with one session infusing on its own
    chair (checked in 30 minutes ago, so a monitor's current time is a valid charting time).
    Returns the MRNs."""
    generate(url, patients=MONITORS, sessions=MONITORS)
    now = datetime.now(UTC)
    with engine_scope(bench_settings(url)) as engine, engine.begin() as connection:
        rows = connection.execute(
            select(InfusionSession.id, Patient.mrn)
            .join(Patient, Patient.id == InfusionSession.patient_id)
            .order_by(InfusionSession.id)
        ).all()
        chairs = list(connection.execute(select(Chair.id).order_by(Chair.id)).scalars())
        nurse = connection.scalar(select(User.id).where(User.username == "bench.nurse"))
        session_ids = [sid for sid, _ in rows]
        connection.execute(delete(SessionEvent).where(SessionEvent.session_id.in_(session_ids)))
        for index, (sid, _) in enumerate(rows):
            chair = chairs[index % len(chairs)]
            connection.execute(
                update(InfusionSession)
                .where(InfusionSession.id == sid)
                .values(state="infusing", chair_id=chair, scheduled_at=now - timedelta(minutes=30),
                        chair_held_until=now + timedelta(hours=3))
            )  # fmt: skip
            for kind, minutes in (("check_in", 30), ("start", 20)):
                connection.execute(
                    insert(SessionEvent).values(
                        session_id=sid, kind=kind, at=now - timedelta(minutes=minutes),
                        recorded_at=now - timedelta(minutes=minutes), by_user_id=nurse,
                        rate_mg_per_h=None, reason=None, data={},
                    )
                )  # fmt: skip
        return [mrn for _, mrn in rows]


def message(monitor: Monitor, index: int, rng: random.Random) -> bytes:
    """The simulator's ORU^R01 for this monitor, observed now, with a control id unique to it."""
    return sample_oru_r01(
        control_id=f"{monitor.eui64[-6:]}-{index}",
        mrn=monitor.mrn,
        observed_at=datetime.now(UTC).replace(microsecond=0),
        values=sample_vitals(rng),
        device_eui64=monitor.eui64,
    ).encode()


async def drive(monitor: Monitor, port: int, until: float, seed: int) -> None:
    """One persistent connection: send, wait for the ACK, send the next, until ``until``."""
    rng = random.Random(seed)
    client = await MllpClient.connect("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            payload = message(monitor, monitor.sent, rng)
            started = time.perf_counter()
            monitor.sent += 1
            ack = await client.send(payload)
            monitor.latencies_ms.append((time.perf_counter() - started) * 1000)
            msa = next(s for s in ack.decode().split("\r") if s.startswith("MSA|"))
            monitor.ack_codes[msa.split("|")[1]] += 1
    finally:
        await client.close()


async def push(monitors: list[Monitor], port: int, seconds: float) -> float:
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(drive(m, port, until, i) for i, m in enumerate(monitors)))
    return time.perf_counter() - started


def parse_only(monitors: list[Monitor], seconds: float) -> float:
    """The reference: messages/s that parsing and mapping alone reach in this process."""
    rng = random.Random(0)
    texts = [message(m, i, rng).decode() for i in range(50) for m in monitors]
    done = 0
    started = time.perf_counter()
    until = started + seconds
    while time.perf_counter() < until:
        for text in texts:
            if not isinstance(parse_message(text, assume_tz=UTC), VitalsMessage):
                raise SystemExit("the bench message does not parse as vitals")
        done += len(texts)
    return done / (time.perf_counter() - started)


def count_stored(url: str) -> tuple[int, int, int, int]:
    """(messages stored, accepted, distinct sender+control ids, vitals events charted)."""
    with engine_scope(bench_settings(url)) as engine, engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(Hl7Message)) or 0
        accepted = (
            connection.scalar(
                select(func.count()).select_from(Hl7Message).where(Hl7Message.outcome == "accepted")
            )
            or 0
        )
        distinct = (
            connection.scalar(
                select(func.count()).select_from(
                    select(Hl7Message.sending_application, Hl7Message.control_id)
                    .distinct()
                    .subquery()
                )
            )
            or 0
        )
        vitals = (
            connection.scalar(
                select(func.count()).select_from(SessionEvent).where(SessionEvent.kind == "vitals")
            )
            or 0
        )
    return stored, accepted, distinct, vitals


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds used so far by process ``root`` and its descendants (the
    listener's worker processes), read from /proc (Linux)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the name: state, ppid, ... utime is field 14 and stime 15 (proc(5)).
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    family = {root}
    while grown := {pid for pid, (ppid, _) in stats.items() if ppid in family} - family:
        family |= grown
    ticks = sum(stats[pid][1] for pid in family if pid in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Listener:
    port: int
    pid: int


@contextmanager
def listener_process(url: str, profile: str | None, processes: int) -> Iterator[Listener]:
    """``ketaclinic hl7 listen`` on a free port, in a child process; yields its port and pid."""
    command = [sys.executable, __file__, "--serve", url, "--processes", str(processes)]
    if profile:
        command += ["--profile", profile]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())  # noqa: S603  (our own script)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith(READY):
            raise SystemExit(f"the listener did not start: {line!r}")
        yield Listener(int(line[len(READY) :]), child.pid)
    finally:
        child.terminate()
        child.wait(timeout=60)


def serve(url: str, profile: str | None, processes: int) -> None:
    """The child: the listener as the CLI runs it, until terminated (SIGTERM ends it cleanly)."""
    settings = bench_settings(url)
    if processes > 1:
        serve_processes(settings, profile, processes)
        return
    with engine_scope(settings, pre_ping=False) as engine:  # as ``ketaclinic hl7 listen``
        factory = make_session_factory(engine)
        with factory() as session:
            with session.begin():
                clinic_id = service.resolve_clinic(session, None)
            # As ``ketaclinic hl7 listen`` does before listening.
            service.ensure_device_account(session, clinic_id)

        def ready(server: MllpServer) -> None:
            print(f"{READY}{server.port}", flush=True)

        async def run() -> None:
            serving = asyncio.create_task(
                listener.listen(
                    factory, settings, clinic_id=clinic_id, host="127.0.0.1", port=0, ready=ready
                )
            )
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serving.cancel)
            await asyncio.gather(serving, return_exceptions=True)

        # cProfile sees the event loop's thread only; the handlers run in worker threads, so
        # every thread is profiled (threading.setprofile) into one Profile per thread.
        profilers: list[cProfile.Profile] = []
        if profile:
            lock = threading.Lock()

            def start_thread_profiler(*_: object) -> None:
                profiler = cProfile.Profile()
                with lock:
                    profilers.append(profiler)
                profiler.enable()

            threading.setprofile(start_thread_profiler)  # type: ignore[arg-type]
        asyncio.run(run())
        if profile and profilers:
            for p in profilers:
                p.disable()
            stats = pstats.Stats(profilers[0])
            for p in profilers[1:]:
                stats.add(p)
            stats.dump_stats(profile)


def serve_processes(settings: Settings, profile: str | None, processes: int) -> None:
    """``ketaclinic hl7 listen --processes N``: worker processes sharing the port."""
    if profile:
        raise SystemExit("--profile profiles one listener process: use it without --processes")
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        with session.begin():
            clinic_id = service.resolve_clinic(session, None)
        service.ensure_device_account(session, clinic_id)
    with contextlib.suppress(KeyboardInterrupt):
        listener.serve_processes(
            settings,
            clinic_id=clinic_id,
            host="127.0.0.1",
            port=0,
            processes=processes,
            ready=lambda port: print(f"{READY}{port}", flush=True),
        )


def bench(url: str, label: str, seconds: float, profile: str | None, processes: int) -> None:
    started = time.perf_counter()
    mrns = prepare(url)
    print(f"\n{label}: clinic of {MONITORS} infusing patients ready in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    monitors = [Monitor(mrn, f"0012A1FFFE{index:06X}") for index, mrn in enumerate(mrns)]
    with listener_process(url, profile, processes) as child:
        cpu_before = cpu_seconds(child.pid)
        elapsed = asyncio.run(push(monitors, child.port, seconds))
        cpu_used = cpu_seconds(child.pid) - cpu_before
    reference = parse_only(monitors, min(seconds, 3))
    sent = sum(m.sent for m in monitors)
    acked = sum(len(m.latencies_ms) for m in monitors)
    latencies = [ms for m in monitors for ms in m.latencies_ms]
    codes = sum((m.ack_codes for m in monitors), Counter())
    stored, accepted, distinct, vitals = count_stored(url)
    rate = acked / elapsed
    print(f"  reference parse+map only (hl7_core, no socket, no DB): {reference:9,.0f} messages/s")
    print(f"  MLLP -> listener -> DB, {MONITORS} connections, {elapsed:.1f} s: "
          f"{rate:9,.0f} messages/s  ({rate / reference:.3f} of parse-only; "
          f"goal {GOAL_PER_S:,}/s: {'met' if rate >= GOAL_PER_S else 'NOT met'}, "
          f"{rate / GOAL_PER_S:.2f} of it)")  # fmt: skip
    print(f"  listener CPU {cpu_used:.1f} s over {processes} process(es): "
          f"{cpu_used * 1000 / max(acked, 1):.2f} ms per message")  # fmt: skip
    print(f"  ACK latency p50 {statistics.median(latencies):6.1f} ms   "
          f"p95 {percentile(latencies, 0.95):6.1f} ms   codes {dict(codes)}")  # fmt: skip
    lost = sent - stored
    duplicated = stored - distinct
    print(f"  sent {sent:,}  acked {acked:,}  stored {stored:,} (accepted {accepted:,})  "
          f"vitals charted {vitals:,}  lost {lost}  duplicated {duplicated}")  # fmt: skip
    if lost or duplicated or vitals != accepted:
        raise SystemExit("stored does not match sent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--url", help="a database URL to fill (empty) instead of a fresh one")
    parser.add_argument("--sqlite-too", action="store_true", help="also run on a fresh SQLite")
    parser.add_argument("--profile", help="write the listener's cProfile stats here")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="listener worker processes (hl7 listen --processes)",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.profile, args.processes)
        return
    server = os.environ.get(PG_ENV)
    if args.url:
        bench(url_of(args.url), "given database", args.seconds, args.profile, args.processes)
    elif server:
        with fresh_postgres(server) as url:
            bench(url, "PostgreSQL", args.seconds, args.profile, args.processes)
    if args.sqlite_too or not (args.url or server):
        with tempfile.TemporaryDirectory() as scratch:
            bench(
                url_of(str(Path(scratch) / "mllp.db")),
                "SQLite",
                args.seconds,
                args.profile,
                args.processes,
            )


if __name__ == "__main__":
    main()
