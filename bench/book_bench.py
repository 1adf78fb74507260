"""The appointment book's day and week views on a big synthetic clinic, against the 300 ms target
at the 95th percentile. Run:

    PYTHONPATH=src .venv/bin/python bench/book_bench.py [--sqlite FILE] [--repeats 40]

Generates 2,000 patients and 50,000 sessions on eight chairs (``bench/generate.py``) into a fresh
SQLite file, or reuses ``--sqlite FILE`` made by it; with ``KETACLINIC_TEST_POSTGRES_URL`` set it
also fills a fresh PostgreSQL database the same way, times it, and drops it. The clinic is given
opening hours (Monday to Saturday, 07:00-20:00) so that closed hours are shaded. Timed, logged in
as a physician (who sees names, so every booking shown on a day is audited): the day page, the
week page and the day's JSON, each for random days of the two years the data covers. Each figure
is printed beside two references timed in the same run: ``GET /login`` (a page that reads
nothing) and a plain query of one week's bookings straight through the engine, so a slow machine
shows as slow references, not as slow views.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from generate import BENCH_PASSWORD, PHYSICIAN, bench_settings, url_of
from pages_bench import TARGET_MS, _fill, fresh_postgres, log_in, percentile, timed
from sqlalchemy import select

from ketaclinic import clock
from ketaclinic.app import create_app
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.scheduling import core
from ketaclinic.scheduling import service as scheduling

PG_ENV = "KETACLINIC_TEST_POSTGRES_URL"
HOURS = [core.DailyHours(d, 7 * 60, 20 * 60) for d in range(6)]


def _prepare(app: object, repeats: int) -> tuple[int, list[date]]:
    """Opening hours for the bench clinic, and the days to show: the days of randomly drawn
    sessions, so that busy days are drawn as often as a clinic opens them."""
    factory = app.state.session_factory  # type: ignore[attr-defined]
    rng = random.Random(13)
    with transaction(factory) as session:
        clinic_id = session.scalars(select(InfusionSession.clinic_id).limit(1)).one()
        scheduling.set_hours(session, clinic_id=clinic_id, week=HOURS)
        starts = list(session.scalars(select(InfusionSession.scheduled_at)))
    return clinic_id, [d.date() for d in rng.sample(starts, repeats + 1)]


def _plain_query(app: object, clinic_id: int, monday: date) -> int:
    """The reference: one week's bookings of the clinic, as rows, with nothing else."""
    start = datetime.combine(monday, datetime.min.time(), tzinfo=UTC)
    with app.state.engine.connect() as connection:  # type: ignore[attr-defined]
        rows = connection.execute(
            select(
                InfusionSession.id,
                InfusionSession.chair_id,
                InfusionSession.scheduled_at,
                InfusionSession.chair_held_until,
                InfusionSession.state,
            ).where(
                InfusionSession.clinic_id == clinic_id,
                InfusionSession.scheduled_at > start - timedelta(days=1),
                InfusionSession.scheduled_at < start + timedelta(days=7),
                InfusionSession.chair_held_until > start,
            )
        ).all()
    return len(rows)


def bench(url: str, label: str, repeats: int) -> None:
    app = create_app(bench_settings(url))
    try:
        clinic_id, days = _prepare(app, repeats)
        rng = random.Random(13)
        # The views read "today" only for defaults; freeze it at the data's end so that every
        # day asked for lies in the past or near future, as a clinic's book does.
        end = datetime.combine(max(days), datetime.min.time(), tzinfo=UTC)
        with clock.frozen_at(end), TestClient(app) as client:
            log_in(client)
            token = client.post(
                "/api/v1/auth/token",
                data={"username": PHYSICIAN, "password": BENCH_PASSWORD},
            ).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            for warm in ("/login", f"/scheduling/day?date={days[0]}",
                             f"/scheduling/week?start={days[0]}"):  # fmt: skip
                client.get(warm)
            reference = timed(repeats, lambda _: client.get("/login").status_code)
            plain: list[float] = []
            for _ in range(repeats):
                monday = rng.choice(days)
                started = time.perf_counter()
                _plain_query(app, clinic_id, monday)
                plain.append((time.perf_counter() - started) * 1000)
            shown = [rng.choice(days) for _ in range(repeats)]
            per_day = statistics.mean(
                    sum(len(c["bookings"]) for c in client.get(
                        "/api/v1/scheduling/day", params={"date": str(d)},
                        headers=bearer).json()["chairs"])
                    for d in shown[:10]
                )  # fmt: skip
            day = timed(repeats, lambda i: client.get(
                    f"/scheduling/day?date={shown[i]}").status_code)  # fmt: skip
            week = timed(repeats, lambda i: client.get(
                    f"/scheduling/week?start={shown[i]}").status_code)  # fmt: skip
            data = timed(repeats, lambda i: client.get(
                    "/api/v1/scheduling/day", params={"date": str(shown[i])},
                    headers=bearer).status_code)  # fmt: skip
    finally:
        app.state.engine.dispose()
    ref_p50 = statistics.median(reference)
    plain_p50 = statistics.median(plain)
    print(f"\n{label}: days of random sessions, about {per_day:.0f} bookings a day shown, "
          f"{repeats} requests per view")  # fmt: skip
    print(f"  reference GET /login            p50 {ref_p50:7.1f} ms")
    print(f"  reference plain week query      p50 {plain_p50:7.1f} ms  "
          f"p95 {percentile(plain, 0.95):7.1f} ms")  # fmt: skip
    for name, values in (
        ("GET /scheduling/day", day),
        ("GET /scheduling/week", week),
        ("GET /api/v1/scheduling/day", data),
    ):
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        verdict = "meets" if p95 < TARGET_MS else "MISSES"
        print(
            f"  {name:<30} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
            f"p95/target {p95 / TARGET_MS:5.2f} ({verdict} 300 ms)  "
            f"p50/plain query {p50 / plain_p50:6.1f}×"
        )


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
