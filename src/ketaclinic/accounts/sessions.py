"""Sign-ins as records: a browser's page session or an API bearer token, ended on the server.

The cookie (signed by Starlette's session middleware, which also carries the CSRF token and
flash messages) or the bearer token holds only a random key; ``login_session`` holds its hash.
A request reads one row by that hash and writes nothing. Each function runs inside the caller's
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import SessionKind, digest
from ketaclinic.accounts.models import LoginSession, User
from ketaclinic.accounts.security import new_secret


@dataclass(frozen=True)
class SignedIn:
    user: User
    session_id: int


def start(session: Session, *, user: User, kind: SessionKind, lifetime: timedelta) -> str:
    """A new sign-in for ``user``, valid for ``lifetime`` from now (never extended, so nothing is
    written per request). Returns the secret for the cookie or the token: it is stored nowhere.
    The user's ended and expired sign-ins are deleted here, so rows do not pile up."""
    now = clock.now()
    done = (
        select(LoginSession.id)
        .where(
            LoginSession.user_id == user.id,
            or_(LoginSession.ended_at.is_not(None), LoginSession.expires_at <= now),
        )
        .with_for_update(skip_locked=True)  # two logins at once never wait on each other here
    )
    session.execute(delete(LoginSession).where(LoginSession.id.in_(done)))
    secret = new_secret()
    session.add(
        LoginSession(
            key_hash=digest(secret),
            kind=kind.value,
            user_id=user.id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return secret


def find(session: Session, *, secret: str, kind: SessionKind) -> SignedIn | None:
    """The live sign-in this secret opens, with its (active) user: one read by a unique index."""
    row = session.execute(
        select(User, LoginSession.id)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(
            LoginSession.key_hash == digest(secret),
            LoginSession.kind == kind.value,
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > clock.now(),
            User.is_active.is_(True),
        )
    ).first()
    return SignedIn(row[0], row[1]) if row is not None else None


def end(session: Session, *, session_id: int) -> None:
    """End one sign-in (logout, revocation)."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    )


def end_all(session: Session, *, user_id: int, keep: int | None = None) -> None:
    """End every live sign-in of a user, browser sessions and API tokens alike, except ``keep``
    (the browser that changed its own password stays signed in)."""
    statement = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.ended_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(LoginSession.id != keep)
    session.execute(statement.values(ended_at=clock.now()))


def count_live(session: Session, *, user_id: int) -> dict[SessionKind, int]:
    """How many browser sessions and API tokens of the user work right now."""
    rows = session.execute(
        select(LoginSession.kind, func.count())
        .where(
            LoginSession.user_id == user_id,
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > clock.now(),
        )
        .group_by(LoginSession.kind)
    )
    counts = dict.fromkeys(SessionKind, 0)
    for kind, count in rows:
        counts[SessionKind(kind)] = count
    return counts
