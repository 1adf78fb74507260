"""A busy clinic floor against a real server, audited and not. Run:

    PYTHONPATH=src .venv/bin/python bench/load_bench.py [--clients 32] [--seconds 15]

For SQLite and (with ``KETACLINIC_TEST_POSTGRES_URL`` set) PostgreSQL, a fresh database is seeded
with the demo clinic (``ketaclinic demo``: 44 synthetic patients, today's floor with a session
infusing). Then, for 1 and 2 app processes, the server is started on loopback twice: once as a
clinic runs it (``ketaclinic serve --workers N``, every read and write audited, events sealed
every 5 s), once with auditing switched off (``bench/unaudited_app.py``, the same app with
``audit.service.record`` made a no-op and no sealer: a reference that exists only here). N
clients then loop for a fixed time over the chair board's data (``GET /board/data``), a patient
page (``GET /patients/{id}``) and a bedside vitals entry (``POST /api/v1/sessions/{id}/vitals``),
a third each. Printed per run: requests per second, p50/p95/p99 latency, and 5xx answers; and
the ratio of audited to unaudited throughput (goal ≥ 0.8) with 5xx (goal: none at 32 clients).

The clients share the machine with the server (loopback only), so absolute figures depend on the
machine; the ratio does not, because both runs pay the same.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from pages_bench import PG_ENV, fresh_postgres, percentile
from sqlalchemy import select

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


async def _client(base: str, floor: Floor, stop_at: float, run: Run, index: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        bearer = await _log_in(client, floor)
        turn = index
        while time.perf_counter() < stop_at:
            kind = turn % 3
            patient = floor.patient_ids[turn % len(floor.patient_ids)]
            started = time.perf_counter()
            if kind == 0:
                response = await client.get("/board/data")
            elif kind == 1:
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
            turn += 1


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


def bench(label: str, url: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    floor = prepare(url)
    print(f"\n{label}: demo clinic seeded in {time.perf_counter() - started:.0f} s; "
          f"{args.clients} clients, {args.seconds:.0f} s per run", flush=True)  # fmt: skip
    for workers in args.workers:
        audited = measure(url, floor, workers, True, args)
        unaudited = measure(url, floor, workers, False, args)
        plural = "es" if workers > 1 else ""
        print(f"  → audited / unaudited throughput with {workers} process{plural}: "
              f"{audited / unaudited:.2f} (goal ≥ 0.80)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    if "sqlite" in args.engines:
        with tempfile.TemporaryDirectory() as scratch:
            bench("SQLite", f"sqlite:///{Path(scratch) / 'load.db'}", args)
    server_url = os.environ.get(PG_ENV)
    if "postgresql" not in args.engines:
        return
    if server_url:
        with fresh_postgres(server_url) as url:
            bench("PostgreSQL", url, args)
    else:
        print(f"\nPostgreSQL skipped: set {PG_ENV} to a server URL to run it too")


if __name__ == "__main__":
    main()
