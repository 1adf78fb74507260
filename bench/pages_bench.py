"""Page speed on a big synthetic clinic, against the 300 ms target at the 95th percentile. Run:

    PYTHONPATH=src .venv/bin/python bench/pages_bench.py [--sqlite FILE] [--repeats 40]

Generates 2,000 patients and 50,000 sessions (``bench/generate.py``) into a fresh SQLite file, or
reuses ``--sqlite FILE`` made by it; with ``KETACLINIC_TEST_POSTGRES_URL`` set it also creates a
fresh PostgreSQL database, fills it the same way, times it, and drops it. Each page is rendered
through ``TestClient`` logged in as a physician: ``/dashboard`` (default window, the last twelve
weeks) and ``/patients/{id}`` for random patients. Each figure is printed with its ratio to the
300 ms target and to a reference timed in the same run (``/login``, a page that reads nothing), so
a slow machine shows as a slow reference, not as a slow page.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from generate import BENCH_PASSWORD, PHYSICIAN, bench_settings, generate, url_of
from sqlalchemy import create_engine, make_url, select, text

from ketaclinic.app import create_app
from ketaclinic.patients.models import Patient

TARGET_MS = 300.0
PG_ENV = "KETACLINIC_TEST_POSTGRES_URL"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` of the values at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def timed(repeats: int, request: Callable[[int], int]) -> list[float]:
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        status = request(i)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"a benchmarked request answered {status}")
    return times


def log_in(client: TestClient) -> None:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert match
    data = {"username": PHYSICIAN, "password": BENCH_PASSWORD, "csrf_token": match.group(1)}
    response = client.post("/login", data=data, follow_redirects=False)
    if response.status_code != 303:
        raise SystemExit(f"bench login failed: {response.status_code}")


def bench(url: str, label: str, repeats: int) -> None:
    app = create_app(bench_settings(url))
    try:
        with app.state.session_factory() as session:
            patient_ids = list(session.scalars(select(Patient.id)))
        rng = random.Random(7)
        with TestClient(app) as client:
            log_in(client)
            for warm in ("/login", "/dashboard", f"/patients/{patient_ids[0]}"):
                client.get(warm)
            reference = timed(repeats, lambda _: client.get("/login").status_code)
            dashboard = timed(repeats, lambda _: client.get("/dashboard").status_code)
            patient = timed(
                repeats, lambda _: client.get(f"/patients/{rng.choice(patient_ids)}").status_code
            )
    finally:
        app.state.engine.dispose()
    ref_p50 = statistics.median(reference)
    print(f"\n{label}: {len(patient_ids):,} patients, {repeats} requests per page")
    print(f"  reference GET /login   p50 {ref_p50:7.1f} ms")
    for name, values in (("GET /dashboard", dashboard), ("GET /patients/{id}", patient)):
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        verdict = "meets" if p95 < TARGET_MS else "MISSES"
        print(
            f"  {name:<20} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
            f"p95/target {p95 / TARGET_MS:5.2f} ({verdict} 300 ms)  "
            f"p50/reference {p50 / ref_p50:6.1f}×"
        )


@contextmanager
def fresh_postgres(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server (a copy of ``template`` when one is named), dropped
    afterwards (as tests/conftest.py does)."""
    name = f"ketaclinic_bench_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fill(url: str, patients: int, sessions: int) -> None:
    started = time.perf_counter()
    generate(url, patients, sessions)
    print(f"generated {patients:,} patients, {sessions:,} sessions in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="reuse a file made by bench/generate.py")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.sqlite and Path(args.sqlite).exists():
            url = url_of(args.sqlite)
        else:
            url = url_of(args.sqlite or str(Path(scratch) / "bench.db"))
            _fill(url, args.patients, args.sessions)
        bench(url, "SQLite", args.repeats)
    server = os.environ.get(PG_ENV)
    if server:
        with fresh_postgres(server) as url:
            _fill(url, args.patients, args.sessions)
            bench(url, "PostgreSQL", args.repeats)
    else:
        print(f"\nPostgreSQL skipped: set {PG_ENV} to a server URL to time it too")


if __name__ == "__main__":
    main()
