"""Engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import BigInteger, Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from ketaclinic.config import Settings

#: Execution option: this connection only reads (SQLite then begins a deferred transaction).
READ_ONLY_OPTION = "ketaclinic_read_only"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored as UTC and always read back timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("instants must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactQuantity(TypeDecorator[Decimal]):
    """A quantity kept exactly as a whole number of 10**-9 units (a BigInteger), so sums in SQL
    are exact on SQLite too, whose NUMERIC is a float. A value with more than nine decimals is
    refused, never rounded: the caller decides any rounding, visibly."""

    impl = BigInteger
    cache_ok = True
    PLACES = 9

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value).scaleb(self.PLACES)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.PLACES} decimals")
        return int(scaled)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.PLACES)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: The settings each engine was made from, so that code holding only a session finds the audit
#: key (which lives in the settings, never in the database).
_settings_of: WeakKeyDictionary[Engine, Settings] = WeakKeyDictionary()


#: PostgreSQL's JIT compiles a query whose estimated cost passes ``jit_above_cost``; the
#: dashboard's aggregates pass it on estimates (correlated subplans), and compiling took ~60 ms of a
#: query that runs in ~100 ms (EXPLAIN ANALYZE, bench/pages_bench.py data, issue #15). Pages run
#: short queries, so JIT never pays here; switching it off changes no result.
_POSTGRES_CONNECT_ARGS = {"options": "-c jit=off"}


#: Without a ping per checkout a pooled connection is replaced after this long, so that one a
#: firewall or the server dropped while idle is rarely met (an engine made with ``pre_ping=False``).
RECYCLE_WITHOUT_PING_S = 600


def make_engine(settings: Settings, *, pre_ping: bool = True) -> Engine:
    """An engine for the configured database; SQLite gets WAL, foreign keys and a busy timeout.

    ``pre_ping`` tests each PostgreSQL connection with a round trip when it is checked out of the
    pool. A caller that handles a dead connection itself (the HL7 listener retries the message
    once in a new transaction) passes False and saves that round trip per transaction; its
    connections are then recycled every ``RECYCLE_WITHOUT_PING_S`` instead."""
    if settings.is_sqlite:
        engine = create_engine(settings.database_url, connect_args={"check_same_thread": False})
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
    else:
        engine = create_engine(
            settings.database_url,
            pool_pre_ping=pre_ping,
            pool_recycle=-1 if pre_ping else RECYCLE_WITHOUT_PING_S,
            connect_args=_POSTGRES_CONNECT_ARGS,
        )
    _settings_of[engine] = settings
    return engine


def settings_of(engine: Engine) -> Settings | None:
    """The settings ``engine`` was made from by ``make_engine``."""
    return _settings_of.get(engine)


def audit_key_of(session: Session) -> bytes:
    """The audit trail's HMAC key for the database this session talks to."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    settings = _settings_of.get(engine)
    if settings is None:
        raise RuntimeError("this engine was not made by make_engine(), so it has no audit key")
    return settings.audit_signing_key


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Every transaction that may write starts with BEGIN IMMEDIATE, after its turn in this
    process.

    Nearly every request writes (at least its audit event). A deferred transaction that reads
    first and writes later cannot wait for the write lock once another writer has committed: SQLite
    answers "database is locked" at once (SQLITE_BUSY_SNAPSHOT), whatever the busy timeout. Taking
    the write lock at BEGIN makes concurrent requests wait their turn instead. The driver's own
    transaction handling is switched off so that SQLAlchemy's BEGIN is the only one (the SQLAlchemy
    documentation's pysqlite recipe). Read-only sessions (``begin_read_only``) begin deferred.
    """
    turns = _WriteTurns(busy_timeout_ms / 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION, False):
            connection.exec_driver_sql("BEGIN")
            return
        turns.take(connection.info)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.give_back(connection.info)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Connection) -> None:
        turns.give_back(connection.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        turns.give_back(record.info)  # a connection returned mid-transaction gives its turn too


class _WriteTurns:
    """One writing transaction at a time per process, before SQLite's own lock.

    SQLite's busy handler makes waiting writers poll with growing sleeps (up to 100 ms), so under
    a burst some wait past the busy timeout while the lock is free most of the time. Threads of
    one process wait here instead, woken as soon as the turn is free; SQLite's lock still decides
    between processes. A wait past the busy timeout is contention, as SQLite would report it.
    """

    _HOLDS = "ketaclinic_write_turn"

    def __init__(self, timeout_s: float) -> None:
        self._lock = threading.Lock()
        self._timeout_s = timeout_s

    def take(self, info: dict[Any, Any]) -> None:
        if not self._lock.acquire(timeout=self._timeout_s):
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        info[self._HOLDS] = True

    def give_back(self, info: dict[Any, Any]) -> None:
        if info.pop(self._HOLDS, False):
            self._lock.release()


#: PostgreSQL's answers to contention: serialization failure, deadlock, lock not available,
#: too many connections, server starting up (SQLSTATE classes 40, 55, 53, 57).
_PG_CONTENTION = frozenset({"40001", "40P01", "55P03", "53300", "57P03"})


def is_contention(error: OperationalError) -> bool:
    """Whether the database refused only because other work holds what this needs (retry later),
    rather than because something is wrong."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _PG_CONTENTION
    message = str(error.orig).lower()
    return "database is locked" in message or "database table is locked" in message


@contextmanager
def engine_scope(settings: Settings, *, pre_ping: bool = True) -> Iterator[Engine]:
    """An engine for a command that runs once; its connections are closed at the end."""
    engine = make_engine(settings, pre_ping=pre_ping)
    try:
        yield engine
    finally:
        engine.dispose()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def begin_read_only(session: Session) -> None:
    """Begin ``session``'s transaction as a reader: on SQLite it takes no write lock and waits
    for no writer (WAL), for reads that must not queue behind the clinic's writes. Call it before
    the session's first statement; the session must not write."""
    session.connection(execution_options={READ_ONLY_OPTION: True})


@contextmanager
def read_only_session(engine: Engine) -> Iterator[Session]:
    """A session for a long read that writes nothing (verifying the audit trail): on SQLite it
    does not take the write lock, so the clinic keeps working meanwhile."""
    with (
        engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as connection,
        Session(bind=connection) as session,
    ):
        yield session


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back everything if it raises."""
    with factory() as session, session.begin():
        yield session
