"""A busy clinic floor against a real server, audited and not. Run:

    PYTHONPATH=src .venv/bin/python bench/load_bench.py [--clients 32] [--seconds 15]

For SQLite and (with ``KETACLINIC_TEST_POSTGRES_URL`` set) PostgreSQL, a fresh database is seeded
with the demo clinic (``ketaclinic demo``: 44 synthetic patients, today's floor with a session
infusing), and every run starts from its own copy of it. For 1 and 2 app processes, the server is
started on loopback twice: once as a clinic runs it (``ketaclinic serve --workers N``, every read
and write audited, events sealed every 5 s), once with auditing switched off
(``bench/unaudited_app.py``, the same app with ``audit.service.record`` made a no-op and no
sealer: a reference that exists only here). N clients then loop for a fixed time over the chair
board's data (``GET /board/data``), a patient page (``GET /patients/{id}``) and a bedside vitals
entry (``POST /api/v1/sessions/{id}/vitals``), a third each, opening a new connection every 20
requests. Each pair of runs is repeated (``--repeats``, default 3), alternating, each from a fresh
copy. Printed per run: requests per second, p50/p95/p99 latency and 5xx answers; then the ratio
of the median audited to the median unaudited throughput (goal ≥ 0.8; and no 5xx at 32 clients).

The clients share the machine with the server (loopback only), so absolute figures depend on the
machine; the ratio does not, because both runs pay the same.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from pages_bench import PG_ENV, fresh_postgres, percentile
from sqlalchemy import make_url, select

from ketaclinic.config import Settings
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.demo import seed
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.models import Patient
from ketaclinic.schema import upgrade

BENCH = Path(__file__).resolve().parent
SECRET = "load-bench-secret-key-that-is-long-enough-0123"  # noqa: S105  (synthetic)
AUDIT_KEY = "load-bench-audit-key-that-is-long-enough-0123"
VITALS = {
    "systolic_mmhg": 124,
    "diastolic_mmhg": 78,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
}


@dataclass
class Floor:
    """What the clients need: logins, patients to open, a session infusing to chart on."""

    nurse: str
    password: str
    patient_ids: list[int]
    infusing_id: int


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    server_errors: int = 0
    other_errors: int = 0


def prepare(url: str) -> Floor:
    settings = Settings(database_url=url, secret_key=SECRET, audit_key=AUDIT_KEY)
    with engine_scope(settings) as engine:
        upgrade(engine)
    result = seed(settings, new_passwords=True)
    nurse_password = next(p for u, _, p in result.passwords if u == "demo.nurse")
    with engine_scope(settings) as engine, make_session_factory(engine)() as session:
        patients = list(session.scalars(select(Patient.id)))
        infusing = session.scalar(
            select(InfusionSession.id).where(InfusionSession.state == "infusing")
        )
    if infusing is None:
        raise SystemExit("the demo floor has no session infusing")
    return Floor("demo.nurse", nurse_password, patients, infusing)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(url: str, workers: int, audited: bool) -> Iterator[str]:
    """A server on loopback, started and stopped here; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "KETACLINIC_DATABASE_URL": url,
        "KETACLINIC_SECRET_KEY": SECRET,
        "KETACLINIC_AUDIT_KEY": AUDIT_KEY,
        "PYTHONPATH": f"{BENCH.parent / 'src'}{os.pathsep}{BENCH}",
    }
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if audited:
        ketaclinic = str(Path(sys.executable).parent / "ketaclinic")
        command = [ketaclinic, "serve", *common, "--no-access-log"]
    else:
        command = [sys.executable, str(BENCH / "unaudited_app.py"), *common]
    process = subprocess.Popen(  # noqa: S603  (our own command line)
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"the server exited: {stderr[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not answer /healthz within 30 s")


async def _log_in(client: httpx.AsyncClient, floor: Floor) -> dict[str, str]:
    """A browser session (cookie) for the pages and a bearer token for the API."""
    page = await client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on the login page"
    form = {"username": floor.nurse, "password": floor.password, "csrf_token": match.group(1)}
    page_login = await client.post("/login", data=form)
    if page_login.status_code != 303:
        raise SystemExit(f"the bench nurse could not log in: {page_login.status_code}")
    token = await client.post(
        "/api/v1/auth/token", data={"username": floor.nurse, "password": floor.password}
    )
    if token.status_code != 200:
        raise SystemExit(f"the bench nurse got no token: {token.status_code} {token.text}")
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


#: Each client opens a new connection after this many requests. A kept-alive connection stays
#: with the process that accepted it, and 32 clients connecting at once can all land on one; a
#: clinic's browsers come and go (or sit behind a proxy that spreads them).
REQUESTS_PER_CONNECTION = 20


async def _client(base: str, floor: Floor, stop_at: float, run: Run, index: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as first:
        bearer = await _log_in(first, floor)
        cookies = first.cookies
    turn = index
    while time.perf_counter() < stop_at:
        async with httpx.AsyncClient(base_url=base, timeout=60, cookies=cookies) as client:
            for _ in range(REQUESTS_PER_CONNECTION):
                if time.perf_counter() >= stop_at:
                    break
                await _one(client, floor, bearer, turn, run)
                turn += 1


async def _one(
    client: httpx.AsyncClient, floor: Floor, bearer: dict[str, str], turn: int, run: Run
) -> None:
    kind = turn % 3
    started = time.perf_counter()
    if kind == 0:
        response = await client.get("/board/data")
    elif kind == 1:
        patient = floor.patient_ids[turn % len(floor.patient_ids)]
        response = await client.get(f"/patients/{patient}")
    else:
        response = await client.post(
            f"/api/v1/sessions/{floor.infusing_id}/vitals", json=VITALS, headers=bearer
        )
    run.latencies_ms.append((time.perf_counter() - started) * 1000)
    if response.status_code >= 500:
        run.server_errors += 1
    elif response.status_code >= 400:
        run.other_errors += 1


async def drive(base: str, floor: Floor, clients: int, seconds: float) -> tuple[Run, float]:
    run = Run()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(_client(base, floor, stop_at, run, i) for i in range(clients)))
    return run, time.perf_counter() - started


def measure(url: str, floor: Floor, workers: int, audited: bool, args: argparse.Namespace) -> float:
    with server(url, workers, audited) as base:
        asyncio.run(drive(base, floor, args.clients, 2))  # warm up caches and connections
        run, elapsed = asyncio.run(drive(base, floor, args.clients, args.seconds))
    rate = len(run.latencies_ms) / elapsed
    values = run.latencies_ms
    print(
        f"  {workers} process{'es' if workers > 1 else '  '} "
        f"{'audited  ' if audited else 'unaudited'} {rate:7.1f} req/s  "
        f"p50 {percentile(values, 0.5):7.1f}  p95 {percentile(values, 0.95):7.1f}  "
        f"p99 {percentile(values, 0.99):7.1f} ms  5xx {run.server_errors:4d}  "
        f"other 4xx {run.other_errors:4d}  ({len(values)} requests)",
        flush=True,
    )
    return rate


def bench(label: str, template: str, copy_of: CopyMaker, args: argparse.Namespace) -> None:
    """Every run starts from its own copy of the seeded clinic, so no run inherits the rows an
    earlier one charted (the board grows slower as a session's vitals pile up)."""
    started = time.perf_counter()
    floor = prepare(template)
    print(f"\n{label}: demo clinic seeded in {time.perf_counter() - started:.0f} s; "
          f"{args.clients} clients, {args.seconds:.0f} s per run", flush=True)  # fmt: skip
    for workers in args.workers:
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeats):  # interleaved, so a noisy minute hits both alike
            for audited in (True, False):
                with copy_of(template) as url:
                    rates[audited].append(measure(url, floor, workers, audited, args))
        audited_rate, unaudited_rate = (statistics.median(rates[a]) for a in (True, False))
        plural = "es" if workers > 1 else ""
        print(f"  → {workers} process{plural}: median {audited_rate:.1f} req/s audited, "
              f"{unaudited_rate:.1f} unaudited; audited / unaudited "
              f"{audited_rate / unaudited_rate:.2f} (goal ≥ 0.80)", flush=True)  # fmt: skip


CopyMaker = Callable[[str], AbstractContextManager[str]]


@contextmanager
def sqlite_copy(template: str) -> Iterator[str]:
    source = Path(template.removeprefix("sqlite:///"))
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "run.db"
        shutil.copy(source, target)
        yield f"sqlite:///{target}"


def postgres_copy(template: str) -> AbstractContextManager[str]:
    return fresh_postgres(template, template=make_url(template).database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    if "sqlite" in args.engines:
        with tempfile.TemporaryDirectory() as scratch:
            bench("SQLite", f"sqlite:///{Path(scratch) / 'load.db'}", sqlite_copy, args)
    server_url = os.environ.get(PG_ENV)
    if "postgresql" not in args.engines:
        return
    if server_url:
        with fresh_postgres(server_url) as url:
            bench("PostgreSQL", url, postgres_copy, args)
    else:
        print(f"\nPostgreSQL skipped: set {PG_ENV} to a server URL to run it too")


if __name__ == "__main__":
    main()
