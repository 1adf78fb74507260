"""Account use-cases: clinics, users, logins. Each runs inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts import sessions, throttle
from ketaclinic.accounts.core import (
    Actor,
    LockoutPolicy,
    Role,
    is_locked,
    normalise_username,
    password_problem,
)
from ketaclinic.accounts.models import Clinic, User
from ketaclinic.accounts.security import hash_password, verify_password
from ketaclinic.audit import service as audit
from ketaclinic.db import begin_read_only
from ketaclinic.errors import Conflict, InvalidInput
from ketaclinic.protocols import service as protocols
from ketaclinic.scheduling import service as scheduling


def get_clinic(session: Session, *, code: str) -> Clinic | None:
    return session.scalar(select(Clinic).where(Clinic.code == code))


def ensure_clinic(session: Session, *, code: str, name: str | None = None) -> Clinic:
    """The clinic with this code, created if it does not exist yet."""
    clinic = get_clinic(session, code=code)
    if clinic is None:
        clinic = Clinic(code=code, name=name or code, created_at=clock.now())
        session.add(clinic)
        session.flush()
        protocols.seed_library(session, clinic_id=clinic.id)
        scheduling.seed_chairs(session, clinic_id=clinic.id)
    return clinic


def create_user(
    session: Session,
    *,
    clinic: Clinic,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    patient_id: int | None = None,
    actor: Actor | None = None,
    must_change: bool = False,
) -> User:
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise InvalidInput(
            "a username is 1–64 letters, digits, dots, dashes or underscores", loc=("username",)
        )
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem, loc=("password",))
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"the username {username} is taken", loc=("username",))
    if role is Role.PATIENT and patient_id is None:
        raise InvalidInput("a patient account must be linked to a patient record", loc=("role",))
    linked = select(User.id).where(User.patient_id == patient_id)
    if patient_id is not None and session.scalar(linked) is not None:
        raise Conflict("this patient record already has an account", loc=("patient_id",))
    user = User(
        clinic_id=clinic.id,
        username=username,
        display_name=display_name or username,
        role=role.value,
        password_hash=hash_password(password),
        patient_id=patient_id,
        created_at=clock.now(),
        password_must_change=must_change,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor or Actor(None, "system", None, clinic.id),
        action="user.create",
        patient_id=patient_id,
        detail=f"user_id={user.id} role={role.value}",
    )
    return user


def set_password(
    session: Session,
    *,
    user: User,
    password: str,
    must_change: bool = False,
    keep_session: int | None = None,
) -> None:
    """A new password: clears a lock, ends every sign-in of the user but ``keep_session`` (the
    browser that changed its own), and, when someone else chose it, asks the user to pick their
    own."""
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem, loc=("password",))
    user.password_hash = hash_password(password)
    user.password_must_change = must_change
    throttle.clear(session, typed=user.username)
    sessions.end_all(session, user_id=user.id, keep=keep_session)


def change_own_password(
    session: Session,
    *,
    user: User,
    current: str,
    new: str,
    actor: Actor,
    keep_session: int | None = None,
) -> None:
    """The user replaces their password, proving they know the current one."""
    if not verify_password(user.password_hash, current):
        raise InvalidInput("the current password is wrong", loc=("current_password",))
    if current == new:
        raise InvalidInput("choose a password different from the current one", loc=("password",))
    set_password(session, user=user, password=new, keep_session=keep_session)
    audit.record(session, actor=actor, action="user.password_change", detail=f"user_id={user.id}")


def set_active(session: Session, *, user: User, active: bool) -> None:
    """Deactivation also ends the user's browser sessions and API tokens at once."""
    user.is_active = active
    if not active:
        sessions.end_all(session, user_id=user.id)


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    locked: bool = False


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked before the login's transaction begins: hashing costs about a tenth of
    a second of CPU, and must not hold the database's write lock (SQLite) or a row lock meanwhile.
    """

    user_id: int | None  # the active account of that username, if any
    verified_hash: str | None  # the stored hash the password matched, or None


def check_password(session: Session, *, username: str, password: str) -> PasswordCheck:
    """Read the account in a read-only transaction of its own, end it, then hash. ``session``
    must have no transaction open. An unknown name is hashed against a dummy, taking as long."""
    begin_read_only(session)
    user = session.scalar(select(User).where(User.username == normalise_username(username)))
    stored = user.password_hash if user is not None else None
    user_id = user.id if user is not None and user.is_active else None
    session.rollback()
    return PasswordCheck(user_id, stored if verify_password(stored, password) else None)


def authenticate(
    session: Session,
    *,
    username: str,
    check: PasswordCheck,
    policy: LockoutPolicy,
    client_address: str | None,
) -> LoginOutcome:
    """Count failures toward lockout and audit success or failure, for a password already checked
    (``check_password``). Runs inside the caller's transaction.

    Failures count against the typed username whether or not it exists, so an unknown name gets
    the same answers as a real one: wrong until the limit, then locked. A password changed since
    it was checked does not let the old one in.
    """
    now = clock.now()
    user = session.get(User, check.user_id) if check.user_id is not None else None
    known = user if user is not None and user.is_active else None
    password_ok = known is not None and known.password_hash == check.verified_hash
    if is_locked(throttle.current(session, typed=username), now):
        _audit_login(session, known, username, client_address, "login.failure", "locked")
        return LoginOutcome(None, locked=True)
    if known is None or not password_ok:
        state = throttle.record_failure(session, typed=username, policy=policy, at=now)
        locked_now = is_locked(state, now)
        reason = "unknown or inactive" if known is None else "wrong password"
        detail = f"{reason}; locked" if locked_now else reason
        _audit_login(session, known, username, client_address, "login.failure", detail)
        return LoginOutcome(None, locked=locked_now)
    throttle.clear(session, typed=username)
    known.last_login_at = now
    _audit_login(session, known, username, client_address, "login.success", None)
    return LoginOutcome(known)


def lockout_policy(max_failures: int, minutes: int) -> LockoutPolicy:
    return LockoutPolicy(max_failures=max_failures, lock_for=timedelta(minutes=minutes))


def actor_for(user: User, client_address: str | None) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        clinic_id=user.clinic_id,
        client_address=client_address,
        patient_id=user.patient_id,
    )


def _audit_login(
    session: Session,
    user: User | None,
    username: str,
    client_address: str | None,
    action: str,
    detail: str | None,
) -> None:
    actor = (
        actor_for(user, client_address)
        if user
        else Actor(None, None, None, None, client_address=client_address)
    )
    audit.record(session, actor=actor, action=action, detail=detail, username=username[:64])


#: A password hash no password matches (argon2 hashes start with "$argon2").
UNUSABLE_PASSWORD_HASH = "!"  # noqa: S105


def system_actor(
    session: Session, *, clinic_id: int, username: str, display_name: str, client_address: str
) -> Actor:
    """A clinic's account for a machine (the monitors' HL7 listener, the FHIR command line):
    created on first use, inactive and without a usable password, so nobody can sign in as it,
    and the audit trail names it for what it wrote."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(
            clinic_id=clinic_id,
            username=username,
            display_name=display_name,
            role=Role.STAFF.value,
            password_hash=UNUSABLE_PASSWORD_HASH,
            is_active=False,
            created_at=clock.now(),
        )
        session.add(user)
        session.flush()
    return Actor(user.id, username, None, clinic_id, client_address=client_address)
