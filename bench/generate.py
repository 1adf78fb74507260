"""A synthetic clinic big enough to time pages against. Run:

    PYTHONPATH=src .venv/bin/python bench/generate.py /tmp/bench.db [--patients N] [--sessions M]
    PYTHONPATH=src .venv/bin/python bench/generate.py postgresql+psycopg://user@host/emptydb

Migrates the database, then writes one clinic (code BENCH) with a physician and a nurse (password
``BENCH_PASSWORD``), the seeded protocol library, and for every patient a diagnosis, a weight, a
signed screening, baseline NRS and PHQ-9, one course, and its sessions over the last two years (and
a few booked ahead) with their events, alerts and pre/post questionnaires. Everything is plainly
synthetic ("Synthetic-…"). Rows go in with SQLAlchemy Core ``insert()`` in batches, not through
the services, so 50,000 sessions take seconds, not hours.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, insert, select, text

from ketaclinic import clock
from ketaclinic.accounts import service as accounts
from ketaclinic.accounts.core import Role
from ketaclinic.config import Settings
from ketaclinic.courses.models import Course
from ketaclinic.db import make_engine, make_session_factory, transaction
from ketaclinic.infusions.models import InfusionSession, SessionAlert, SessionEvent
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Diagnosis, Patient, WeightMeasurement
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import service as scheduling
from ketaclinic.schema import upgrade
from ketaclinic.screening.indications import BY_ID
from ketaclinic.screening.models import Screening

BENCH_SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105  (synthetic)
BENCH_AUDIT_KEY = "bench-audit-key-that-is-long-enough-0123456789"
BENCH_PASSWORD = "synthetic bench password"  # noqa: S105  (synthetic data only)
PHYSICIAN = "bench.physician"
BATCH = 10_000
#: Chairs of the bench clinic; history rows are written directly, each holding its chair 3 h.
BENCH_CHAIRS = 8
# indication -> (protocol key, ICD-10-CM code, title, share of patients)
CASES = (
    ("fibromyalgia", "fibromyalgia-graven-nielsen-2000", "M79.7", "Fibromyalgia", 0.25),
    ("crps", "crps-schwartzman-2009", "G90.50", "Complex regional pain syndrome I", 0.15),
    ("migraine", "migraine-lauritsen-2016", "G43.909", "Migraine, unspecified", 0.15),
    ("neuropathic_pain", "chronic-pain-low-dose", "G62.9", "Polyneuropathy, unspecified", 0.15),
    ("depression", "depression-murrough-2013", "F33.2", "Major depressive disorder", 0.30),
)


@dataclass
class Rows:
    """Rows per table, with ids given here so children can point at parents without a round trip."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)

    def add(self, table: Table, **values: Any) -> int:
        new_id = self.next_id.get(table.name, 1)
        self.next_id[table.name] = new_id + 1
        self.tables.setdefault(table.name, []).append({"id": new_id, **values})
        return new_id


def _setup(engine: Engine) -> tuple[int, int, dict[str, int], list[int]]:
    """Clinic, users and protocols through the services (a handful of rows)."""
    with transaction(make_session_factory(engine)) as session:
        clinic = accounts.ensure_clinic(session, code="BENCH", name="Synthetic bench clinic")
        protocols.seed_library(session, clinic_id=clinic.id)
        physician = accounts.create_user(
            session, clinic=clinic, username=PHYSICIAN, password=BENCH_PASSWORD,
            role=Role.PHYSICIAN, display_name="Synthetic-Physician",
        )  # fmt: skip
        accounts.create_user(
            session, clinic=clinic, username="bench.nurse", password=BENCH_PASSWORD,
            role=Role.NURSE, display_name="Synthetic-Nurse",
        )  # fmt: skip
        query = select(ProtocolVersion.key, ProtocolVersion.id).where(
            ProtocolVersion.clinic_id == clinic.id
        )
        keys = {key: pid for key, pid in session.execute(query)}  # noqa: C416  (Row objects)
        chairs = [
            scheduling.ensure_chair(session, clinic_id=clinic.id, name=f"Chair {n}").id
            for n in range(1, BENCH_CHAIRS + 1)
        ]
        return clinic.id, physician.id, keys, chairs


def _phq9_answers(total: int, rng: random.Random) -> list[int]:
    answers = [0] * 9
    for _ in range(total):
        open_items = [i for i in range(9) if answers[i] < 3 and i != 8]
        answers[rng.choice(open_items)] += 1
    return answers


def _phq9_band(total: int) -> str:
    bands = ((20, "severe"), (15, "moderately_severe"), (10, "moderate"), (5, "mild"))
    return next((name for low, name in bands if total >= low), "minimal")


def _measure(
    rows: Rows, pid: int, instrument: str, total: int, context: str, at: datetime,
    session_id: int | None, user: int, rng: random.Random,
) -> None:  # fmt: skip
    answers = [total] if instrument == "nrs" else _phq9_answers(total, rng)
    rows.add(
        Measurement.__table__, patient_id=pid, instrument=instrument, context=context,
        session_id=session_id, answers=answers, scores={"total": str(total)},
        band=_phq9_band(total) if instrument == "phq9" else None, flags=[],
        measured_at=at, recorded_by_user_id=user,
        flag_acknowledged_by_user_id=None, flag_acknowledged_at=None,
    )  # fmt: skip


def _session_counts(patients: int, sessions: int, rng: random.Random) -> list[int]:
    """Sessions per patient: one in twenty stops after one session; the rest share the others."""
    quitters = max(1, patients // 20)
    counts = [1] * quitters
    rest = patients - quitters
    base, extra = divmod(sessions - quitters, rest)
    counts += [base + (1 if i < extra else 0) for i in range(rest)]
    rng.shuffle(counts)
    return counts


def _patient(rows: Rows, index: int, clinic_id: int, user: int, now: datetime,
             rng: random.Random) -> tuple[int, str, str]:  # fmt: skip
    weights = [c[4] for c in CASES]
    indication, key, code, title, _ = rng.choices(CASES, weights)[0]
    created = now - timedelta(days=rng.uniform(400, 760))
    pid = rows.add(
        Patient.__table__, clinic_id=clinic_id, mrn=f"SYN-{index:06d}",
        given_name=f"Synthetic-{index}", family_name=f"Synthetic-Patient-{index:05d}",
        birth_date=date(1950, 1, 1) + timedelta(days=rng.randrange(20_000)),
        sex=rng.choice(["female", "male"]), height_cm=None, allergies=[], medications=[],
        created_at=created, updated_at=created, version=1,
    )  # fmt: skip
    rows.add(WeightMeasurement.__table__, patient_id=pid, weight_kg=rng.randrange(50, 110),
             measured_at=created, recorded_by_user_id=user)  # fmt: skip
    rows.add(Diagnosis.__table__, patient_id=pid, code=code, title=title, is_primary=True,
             recorded_at=created, recorded_by_user_id=user)  # fmt: skip
    return pid, indication, key


def _screen(rows: Rows, pid: int, indication: str, code: str, at: datetime, user: int) -> None:
    found = BY_ID.get(indication)
    matched = [{"code": code, "indication_id": indication, "name": found.name if found else "",
                "evidence": "", "grade": None, "benefit": "", "source": ""}]  # fmt: skip
    rows.add(
        Screening.__table__, patient_id=pid, indication_id=indication, treatments_failed=[],
        systolic_mmhg=124, diastolic_mmhg=78, heart_rate_per_min=72, spo2_percent=98,
        resp_rate_per_min=14, contraindications_present=[], findings=[],
        matched_indications=matched, outcome="eligible", notes=None, signed_by_user_id=user,
        signed_at=at, baseline_measurement_ids=[],
    )  # fmt: skip


def _events(rows: Rows, sid: int, at: datetime, user: int, state: str,
            rng: random.Random) -> None:  # fmt: skip
    def event(kind: str, minutes: float, data: dict[str, Any] | None = None) -> None:
        rows.add(SessionEvent.__table__, session_id=sid, kind=kind,
                 at=at + timedelta(minutes=minutes), by_user_id=user, rate_mg_per_h=None,
                 reason=None, data=data or {})  # fmt: skip

    event("check_in", 0)
    event("order", 5)
    event("verify", 8)
    event("start", 10)
    event("vitals", 25, {"systolic_mmhg": 128})
    if rng.random() < 0.3:
        grade = rng.choice(["none", "mild", "mild", "moderate", "severe"])
        event("side_effects", 30, {"assessments": [{"effect": "nausea_vomiting", "grade": grade}]})
    if state == "aborted":
        event("abort", 40)
        return
    event("stop", 55)
    event("discharge", 120)
    if rng.random() < 0.08:
        rows.add(SessionAlert.__table__, session_id=sid, rule_id="bp_high",
                 message="Synthetic alert", severity="warning", suggested_action="pause",
                 source="clinic policy", raised_at=at + timedelta(minutes=30),
                 acknowledged_by_user_id=user,
                 acknowledged_at=at + timedelta(minutes=32))  # fmt: skip


def build(engine: Engine, patients: int, sessions: int, seed: int = 2024) -> Rows:
    """Every row of the synthetic clinic, in memory (a few hundred MB at the default size)."""
    rng = random.Random(seed)
    clinic_id, user, keys, chairs = _setup(engine)
    now = clock.now()
    rows = Rows()
    for table in (Patient, Screening, Course, InfusionSession, SessionEvent, Measurement):
        rows.next_id[table.__tablename__] = _max_id(engine, table.__table__) + 1
    for index, count in enumerate(_session_counts(patients, sessions, rng), start=1):
        pid, indication, key = _patient(rows, index, clinic_id, user, now, rng)
        first = now - timedelta(days=rng.uniform(30, 720), minutes=rng.randrange(0, 480))
        code = next(c[2] for c in CASES if c[0] == indication)
        _screen(rows, pid, indication, code, first - timedelta(days=3), user)
        instrument = "phq9" if indication == "depression" else "nrs"
        baseline = rng.randrange(12, 25) if instrument == "phq9" else rng.randrange(5, 10)
        _measure(rows, pid, instrument, baseline, "baseline", first - timedelta(days=3), None,
                 user, rng)  # fmt: skip
        cid = rows.add(Course.__table__, patient_id=pid, clinic_id=clinic_id,
                       protocol_version_id=keys[key], started_at=first - timedelta(days=1),
                       created_by_user_id=user, version_id=1,
                       ended_at=first + timedelta(days=2) if count == 1 else None,
                       end_reason="Synthetic: stopped" if count == 1 else None)  # fmt: skip
        _sessions(rows, pid, cid, keys[key], clinic_id, user, first, count, instrument,
                  baseline, now, rng, chairs)  # fmt: skip
    return rows


def _sessions(rows: Rows, pid: int, cid: int, protocol_id: int, clinic_id: int, user: int,
              first: datetime, count: int, instrument: str, baseline: int, now: datetime,
              rng: random.Random, chairs: list[int]) -> None:  # fmt: skip
    at = first
    improvement = rng.uniform(0.0, 0.7)  # this patient's eventual relative improvement
    for n in range(count):
        state = _state(at, now, rng)
        sid = rows.add(
            InfusionSession.__table__, patient_id=pid, clinic_id=clinic_id,
            protocol_version_id=protocol_id, course_id=cid, state=state, scheduled_at=at,
            chair_id=rng.choice(chairs), chair_held_until=at + timedelta(hours=3),
            created_at=at - timedelta(days=2),
            updated_at=at, created_by_user_id=user, version_id=1,
        )  # fmt: skip
        if state in ("discharged", "aborted"):
            _events(rows, sid, at, user, state, rng)
            score = max(0, round(baseline * (1 - improvement * min(1, (n + 1) / 6))))
            _measure(rows, pid, instrument, score, "pre", at, sid, user, rng)
            if instrument == "nrs" and state == "discharged":
                _measure(rows, pid, "nrs", max(0, score - 2), "post", at + timedelta(hours=2),
                         sid, user, rng)  # fmt: skip
        at += timedelta(days=rng.choice([2, 3]) if n < 6 else rng.randrange(14, 35))


def _state(at: datetime, now: datetime, rng: random.Random) -> str:
    if at > now:
        return "scheduled"
    roll = rng.random()
    return "no_show" if roll < 0.04 else "cancelled" if roll < 0.09 else (
        "aborted" if roll < 0.12 else "discharged")  # fmt: skip


def _max_id(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return (
            connection.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar()
            or 0
        )


def _batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def write(engine: Engine, rows: Rows) -> None:
    """Parents before children (foreign keys), then move PostgreSQL's sequences past our ids."""
    order = ("patient", "weight_measurement", "diagnosis", "screening", "course",
             "infusion_session", "session_event", "session_alert", "measurement")  # fmt: skip
    tables = {t.name: t for t in (Patient.__table__, WeightMeasurement.__table__,
              Diagnosis.__table__, Screening.__table__, Course.__table__,
              InfusionSession.__table__, SessionEvent.__table__, SessionAlert.__table__,
              Measurement.__table__)}  # fmt: skip
    with engine.begin() as connection:
        for name in order:
            for batch in _batches(rows.tables.get(name, [])):
                connection.execute(insert(tables[name]), batch)
        if engine.dialect.name == "postgresql":
            for name in order:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 1) FROM {name}))"
                ))  # fmt: skip


def bench_settings(url: str) -> Settings:
    """The benchmarks' settings: fixed synthetic keys, so no key file is written anywhere."""
    return Settings(database_url=url, secret_key=BENCH_SECRET, audit_key=BENCH_AUDIT_KEY)


def url_of(target: str) -> str:
    return target if "://" in target else f"sqlite:///{Path(target).resolve()}"


def generate(url: str, patients: int = 2000, sessions: int = 50_000) -> dict[str, int]:
    """Migrate ``url`` and fill it; returns the row count of each table written."""
    if sessions < patients:
        raise SystemExit("--sessions must be at least --patients (every patient has one)")
    engine = make_engine(bench_settings(url))
    try:
        upgrade(engine)
        rows = build(engine, patients, sessions)
        write(engine, rows)
        if engine.dialect.name == "sqlite":
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
        return {name: len(items) for name, items in rows.tables.items()}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="a SQLite file path (must not exist) or a PostgreSQL URL")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=50_000)
    args = parser.parse_args()
    if "://" not in args.target and Path(args.target).exists():
        raise SystemExit(f"{args.target} exists; give a new file name")
    started = time.perf_counter()
    counts = generate(url_of(args.target), args.patients, args.sessions)
    took = time.perf_counter() - started
    print(", ".join(f"{name} {n:,}" for name, n in counts.items()))
    print(f"written in {took:.1f} s; log in as {PHYSICIAN} / {BENCH_PASSWORD!r}")


if __name__ == "__main__":
    main()
