"""Controlled-substance ledger speed on 100,000 entries, against the 50 ms target for a balance at
the 95th percentile. Run:

    PYTHONPATH=src .venv/bin/python bench/inventory_bench.py [--entries 100000] [--repeats 50]
        [--pdf]

Builds a fresh SQLite file and, with ``KETACLINIC_TEST_POSTGRES_URL`` set, a fresh PostgreSQL
database (dropped afterwards), migrated, with one clinic (code BENCH), two products, three locked
locations and 40 lots, 2,000 patients and their sessions over the last two years, each session
with a start event and its draw, administration and witnessed waste in the ledger; receipts and
transfers fill the rest. Everything is synthetic, and goes in with SQLAlchemy Core ``insert()``
in batches, not through the services. Then it times, each in its own transaction:

- the reference, ``SELECT count(*) FROM ledger_entry`` (a plain scan of the same table);
- ``inventory.service.balances`` (on hand per product, lot and location: the overview's query);
- ``inventory.reports.administrations`` (the 1304.22(c) record) over the last 30 days and over
  the last 365 days (and, with ``--pdf``, the 30-day record rendered as a PDF: fpdf2's tables
  are slow, a few ms per cell).

Each figure is printed with its p50/p95, the ratio of its p95 to the 50 ms target (balance only)
and of its p50 to the reference's, so a slow machine shows as a slow reference. The balance is
summed from the covering index ``ix_ledger_entry_clinic_id_lot_id_location_id`` (migration 0019);
PostgreSQL is vacuumed after the build so that it can read that index alone.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from generate import BENCH_PASSWORD, bench_settings, url_of
from pages_bench import fresh_postgres, percentile
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.core import Role
from ketaclinic.db import make_engine, make_session_factory, transaction
from ketaclinic.infusions.models import InfusionSession, SessionEvent
from ketaclinic.inventory import reports, service
from ketaclinic.inventory.core import Movement, stock_delta_mg
from ketaclinic.inventory.models import DrugProduct, LedgerEntry, StockLot, StorageLocation
from ketaclinic.inventory.report_files import pdf_bytes
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import service as scheduling
from ketaclinic.schema import upgrade

TARGET_MS = 50.0
PG_ENV = "KETACLINIC_TEST_POSTGRES_URL"
BATCH = 10_000
PATIENTS = 2000
LOTS = 40
#: Synthetic products: (substance, schedule, mg/mL, mL per container).
PRODUCTS = (
    ("ketamine", "CIII", Decimal(50), Decimal(10)),
    ("midazolam", "CIV", Decimal(1), Decimal(2)),
)


def _setup(engine: Engine) -> dict[str, Any]:
    """Clinic, people, protocols, products, locations and lots through the ORM (a few rows)."""
    with transaction(make_session_factory(engine)) as session:
        clinic = accounts.ensure_clinic(session, code="BENCH", name="Synthetic bench clinic")
        protocols.seed_library(session, clinic_id=clinic.id)
        nurses = [
            accounts.create_user(
                session,
                clinic=clinic,
                username=f"bench.nurse{i}",
                password=BENCH_PASSWORD,
                role=Role.NURSE,
                display_name=f"Synthetic-Nurse-{i}",
            ).id
            for i in (1, 2)
        ]
        products = []
        for n, (substance, schedule, mg_per_ml, ml) in enumerate(PRODUCTS):
            product = DrugProduct(
                clinic_id=clinic.id,
                substance=substance,
                schedule=schedule,
                form="injectable solution (synthetic)",
                concentration_mg_per_ml=mg_per_ml,
                container_ml=ml,
                ndc=f"0000000000{n}",
                manufacturer="Synthetic",
                active=True,
            )
            session.add(product)
            products.append(product)
        places = [
            StorageLocation(clinic_id=clinic.id, name=f"Safe {c}", active=True) for c in "ABC"
        ]
        session.add_all(places)
        session.flush()
        lots = []
        for i in range(LOTS):
            lot = StockLot(
                clinic_id=clinic.id,
                product_id=products[1 if i % 4 == 3 else 0].id,
                lot_number=f"SYN-{i:03d}",
                expiry_date=date(2030, 1, 1) + timedelta(days=i),
            )
            session.add(lot)
            lots.append(lot)
        session.flush()
        protocol = session.scalar(
            select(ProtocolVersion.id).where(ProtocolVersion.clinic_id == clinic.id).limit(1)
        )
        return {
            "clinic_id": clinic.id,
            "nurses": nurses,
            "products": {p.id: p for p in products},
            "lots": [(lot.id, lot.product_id) for lot in lots],
            "places": [p.id for p in places],
            "protocol_id": protocol,
            "chair_id": scheduling.ensure_chair(session, clinic_id=clinic.id, name="Chair 1").id,
        }


def _max_id(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.max(model.id))).scalar() or 0


def _entry(
    setup: dict[str, Any],
    kind: Movement,
    lot: tuple[int, int],
    at: datetime,
    mg: Decimal,
    **more: Any,
) -> dict[str, Any]:
    product = setup["products"][lot[1]]
    return {
        "clinic_id": setup["clinic_id"],
        "kind": kind.value,
        "at": at,
        "by_user_id": setup["nurses"][0],
        "witness_user_id": more.pop("witness", None),
        "product_id": lot[1],
        "lot_id": lot[0],
        "location_id": more.pop("location", None),
        "session_id": more.pop("session", None),
        "patient_id": more.pop("patient", None),
        "receipt_id": None,
        "quantity_mg": mg,
        "volume_ml": mg / product.concentration_mg_per_ml,
        "containers": more.pop("containers", None),
        "stock_delta_mg": stock_delta_mg(kind, mg),
        "reason": None,
        "manner": more.pop("manner", None),
    }


def build(engine: Engine, entries: int, seed: int = 12) -> dict[str, Any]:
    """The synthetic clinic's rows; returns the setup (ids) for the timings."""
    rng = random.Random(seed)
    setup = _setup(engine)
    now = clock.now()
    sessions = (entries - LOTS) * 3 // 4 // 3  # three entries per session fill ~3/4 of the ledger
    first_patient = _max_id(engine, Patient) + 1
    first_session = _max_id(engine, InfusionSession) + 1
    patients = [
        {
            "id": first_patient + i,
            "clinic_id": setup["clinic_id"],
            "mrn": f"SYN-{i:06d}",
            "given_name": f"Synthetic-{i}",
            "family_name": f"Synthetic-Patient-{i:05d}",
            "birth_date": date(1960, 1, 1) + timedelta(days=i),
            "sex": "female",
            "height_cm": None,
            "allergies": [],
            "medications": [],
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(PATIENTS)
    ]
    ledger = [
        _entry(
            setup,
            Movement.RECEIVE,
            lot,
            now - timedelta(days=740),
            Decimal(10**6),
            location=setup["places"][0],
            containers=10**6 // 500,
            witness=setup["nurses"][1],
        )
        for lot in setup["lots"]
    ]
    rows_session, rows_event = [], []
    for n in range(sessions):
        sid, pid = first_session + n, first_patient + rng.randrange(PATIENTS)
        at = now - timedelta(days=730 * (sessions - n) / sessions, minutes=rng.randrange(600))
        lot = rng.choice(setup["lots"])
        rows_session.append(
            {
                "id": sid,
                "patient_id": pid,
                "clinic_id": setup["clinic_id"],
                "protocol_version_id": setup["protocol_id"],
                "course_id": None,
                "state": "discharged",
                "scheduled_at": at,
                "chair_id": setup["chair_id"],
                "chair_held_until": at + timedelta(hours=3),
                "created_at": at,
                "updated_at": at,
                "created_by_user_id": setup["nurses"][0],
                "version_id": 1,
            }
        )
        rows_event.append(
            {
                "session_id": sid,
                "kind": "start",
                "at": at,
                "by_user_id": setup["nurses"][0],
                "rate_mg_per_h": Decimal(20),
                "reason": None,
                "data": {},
            }
        )
        drawn = Decimal(rng.choice([50, 100, 200]))
        given = (drawn * Decimal(rng.randrange(50, 100)) / 100).quantize(Decimal("0.001"))
        who = {"session": sid, "patient": pid}
        ledger += [
            _entry(
                setup, Movement.DRAW, lot, at, drawn, location=rng.choice(setup["places"]), **who
            ),
            _entry(setup, Movement.ADMINISTER, lot, at + timedelta(hours=1), given, **who),
            _entry(
                setup,
                Movement.WASTE,
                lot,
                at + timedelta(hours=1),
                drawn - given,
                witness=setup["nurses"][1],
                manner="sharps bin (synthetic)",
                **who,
            ),
        ]
    while len(ledger) < entries:
        at = now - timedelta(days=rng.uniform(0, 730))
        lot = rng.choice(setup["lots"])
        source, target = rng.sample(setup["places"], 2)
        for kind, place in ((Movement.TRANSFER_OUT, source), (Movement.TRANSFER_IN, target)):
            if len(ledger) < entries:
                ledger.append(
                    _entry(
                        setup,
                        kind,
                        lot,
                        at,
                        Decimal(500),
                        location=place,
                        containers=1,
                        witness=setup["nurses"][1],
                    )
                )
    _write(
        engine,
        [
            (Patient, patients),
            (InfusionSession, rows_session),
            (SessionEvent, rows_event),
            (LedgerEntry, ledger),
        ],
    )
    return setup


def _write(engine: Engine, tables: list[tuple[Any, list[dict[str, Any]]]]) -> None:
    with engine.begin() as connection:
        for model, rows in tables:
            for start in range(0, len(rows), BATCH):
                connection.execute(insert(model.__table__), rows[start : start + BATCH])
        if engine.dialect.name == "postgresql":
            for model, _ in tables:
                name = model.__tablename__
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                        f"(SELECT coalesce(max(id), 1) FROM {name}))"
                    )
                )
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")


def _vacuum(engine: Engine) -> None:
    """PostgreSQL: VACUUM sets the visibility map, which an index-only scan needs (a clinic's
    autovacuum does the same in the background)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE ledger_entry")


def timed(repeats: int, work: Callable[[Session], object], engine: Engine) -> list[float]:
    factory = make_session_factory(engine)
    work_once = lambda: _in_transaction(factory, work)  # noqa: E731
    work_once()  # warm the connection and the caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work_once()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _in_transaction(factory: Any, work: Callable[[Session], object]) -> None:
    with factory() as session, session.begin():
        work(session)


def bench(url: str, label: str, entries: int, repeats: int, pdf: bool) -> None:
    engine = make_engine(bench_settings(url))
    try:
        upgrade(engine)
        started = time.perf_counter()
        setup = build(engine, entries)
        built = time.perf_counter() - started
        _vacuum(engine)
        clinic_id = setup["clinic_id"]
        zone = bench_settings(url).timezone
        today = clock.today(zone)
        month = reports.period(today - timedelta(days=29), today, zone)
        year = reports.period(today - timedelta(days=364), today, zone)
        count = select(func.count()).select_from(LedgerEntry)
        with engine.connect() as connection:
            total = connection.execute(count).scalar()
        reference = timed(repeats, lambda s: s.execute(count).scalar(), engine)
        results = {
            "balances (service.balances)": timed(
                repeats, lambda s: service.balances(s, clinic_id=clinic_id), engine
            ),
            "administrations, 30 days": timed(
                repeats,
                lambda s: reports.administrations(s, clinic_id=clinic_id, period=month),
                engine,
            ),
            "administrations, 365 days": timed(
                max(5, repeats // 5),
                lambda s: reports.administrations(s, clinic_id=clinic_id, period=year),
                engine,
            ),
        }
        if pdf:
            results["administrations, 30 days, PDF"] = timed(
                3,
                lambda s: pdf_bytes(
                    reports.administrations(s, clinic_id=clinic_id, period=month), zone
                ),
                engine,
            )
        with make_session_factory(engine)() as session:
            rows_month = len(
                reports.administrations(session, clinic_id=clinic_id, period=month).tables[0].rows
            )
            rows_year = len(
                reports.administrations(session, clinic_id=clinic_id, period=year).tables[0].rows
            )
    finally:
        engine.dispose()
    ref_p50 = statistics.median(reference)
    print(
        f"\n{label}: {total:,} ledger entries (built in {built:.1f} s); "
        f"30 days = {rows_month:,} administrations, 365 days = {rows_year:,}"
    )
    print(
        f"  reference: count of ledger_entry rows  p50 {ref_p50:7.2f} ms  "
        f"p95 {percentile(reference, 0.95):7.2f} ms"
    )
    for name, values in results.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        goal = ""
        if name.startswith("balances"):
            verdict = "meets" if p95 < TARGET_MS else "MISSES"
            goal = f"  p95/target {p95 / TARGET_MS:5.2f} ({verdict} 50 ms)"
        print(
            f"  {name:<32} p50 {p50:8.2f} ms  p95 {p95:8.2f} ms  "
            f"p50/reference {p50 / ref_p50:6.1f}x{goal}  (n={len(values)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--pdf", action="store_true", help="also time the 30-day PDF (slow)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = url_of(str(Path(scratch) / "inventory.db"))
        bench(url, "SQLite", args.entries, args.repeats, args.pdf)
    server = os.environ.get(PG_ENV)
    if server:
        with fresh_postgres(server) as url:
            bench(url, "PostgreSQL", args.entries, args.repeats, args.pdf)
    else:
        print(f"\nPostgreSQL skipped: set {PG_ENV} to a server URL to time it too")


if __name__ == "__main__":
    main()
