"""Failed logins per typed username, known or not (``login_throttle``).

An unknown username must answer and lock exactly like a real one, or the answers tell which
usernames exist. So failures are counted for whatever was typed, under its hash, and a real
account's lock is simply the lock of its username. Each function runs inside the caller's
transaction; a row is locked (PostgreSQL) before it is changed, so concurrent failures for one
name all count, and rows past their ``forget_at`` are deleted as failures come in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ketaclinic.accounts.core import (
    NO_FAILURES,
    LockoutPolicy,
    LoginState,
    after_failure,
    digest,
    forget_at,
    normalise_username,
)
from ketaclinic.accounts.models import LoginThrottle


def _key(typed: str) -> str:
    return digest(normalise_username(typed))


def _state(row: LoginThrottle | None) -> LoginState:
    if row is None:
        return NO_FAILURES
    return LoginState(row.failed_count, row.window_started_at, row.locked_until)


def _locked_row(session: Session, key: str) -> LoginThrottle | None:
    query = select(LoginThrottle).where(LoginThrottle.username_hash == key).with_for_update()
    return session.scalar(query)


def current(session: Session, *, typed: str) -> LoginState:
    """The failures recorded for this username, the row held until the transaction ends."""
    return _state(_locked_row(session, _key(typed)))


def record_failure(
    session: Session, *, typed: str, policy: LockoutPolicy, at: datetime
) -> LoginState:
    """Count one failed login for this username; returns the new state (locked or not)."""
    key = _key(typed)
    _prune(session, at)
    row = _locked_row(session, key)
    if row is None:
        _insert_if_missing(session, key, at)
        row = _locked_row(session, key)
        assert row is not None  # inserted just now, or by a racing request
    state = after_failure(_state(row), policy, at)
    row.failed_count, row.locked_until = state.failed_count, state.locked_until
    assert state.window_started_at is not None
    row.window_started_at, row.forget_at = state.window_started_at, forget_at(state, policy)
    return state


def _prune(session: Session, at: datetime) -> None:
    """Delete the rows that mean nothing any more. Rows another login holds are left for a later
    failure (SKIP LOCKED, PostgreSQL), so two logins pruning each other's names never deadlock."""
    stale = (
        select(LoginThrottle.username_hash)
        .where(LoginThrottle.forget_at <= at)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(LoginThrottle).where(LoginThrottle.username_hash.in_(stale)))


def _insert_if_missing(session: Session, key: str, at: datetime) -> None:
    """A blank row for the name. Two first failures for one name may race: the later insert
    does nothing, and both then update the one row, each after the other (INSERT ... ON CONFLICT
    DO NOTHING, which SQLite and PostgreSQL both speak)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginThrottle)
        .values(username_hash=key, failed_count=0, window_started_at=at, forget_at=at)
        .on_conflict_do_nothing(index_elements=[LoginThrottle.username_hash])
    )


def clear(session: Session, *, typed: str) -> None:
    """Forget the failures of this username (a successful login, an admin's unlock)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.username_hash == _key(typed)))


def states(session: Session, *, usernames: Iterable[str]) -> dict[str, LoginState]:
    """The failures recorded for each of these usernames (for the admin pages)."""
    by_key = {_key(name): name for name in usernames}
    rows = session.scalars(
        select(LoginThrottle).where(LoginThrottle.username_hash.in_(list(by_key)))
    )
    found = {by_key[row.username_hash]: _state(row) for row in rows}
    return {name: found.get(name, NO_FAILURES) for name in by_key.values()}
