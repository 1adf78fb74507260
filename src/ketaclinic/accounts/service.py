"""Account use-cases: clinics, users, logins. Each runs inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import (
    Actor,
    LockoutPolicy,
    LoginState,
    Role,
    after_failure,
    after_success,
    is_locked,
    password_problem,
)
from ketaclinic.accounts.models import Clinic, User
from ketaclinic.accounts.security import hash_password, verify_password
from ketaclinic.audit import service as audit
from ketaclinic.errors import Conflict, InvalidInput
from ketaclinic.protocols import service as protocols


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


def set_password(session: Session, *, user: User, password: str, must_change: bool = False) -> None:
    """A new password: clears a lock, ends every other session and token (the credentials
    version moves), and, when someone else chose it, asks the user to pick their own."""
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem, loc=("password",))
    user.password_hash = hash_password(password)
    user.failed_login_count = 0
    user.locked_until = None
    user.password_must_change = must_change
    user.credentials_version += 1


def change_own_password(
    session: Session, *, user: User, current: str, new: str, actor: Actor
) -> None:
    """The user replaces their password, proving they know the current one."""
    if not verify_password(user.password_hash, current):
        raise InvalidInput("the current password is wrong", loc=("current_password",))
    if current == new:
        raise InvalidInput("choose a password different from the current one", loc=("password",))
    set_password(session, user=user, password=new)
    audit.record(session, actor=actor, action="user.password_change", detail=f"user_id={user.id}")


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    locked: bool = False


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    policy: LockoutPolicy,
    client_address: str | None,
) -> LoginOutcome:
    """Check a login, count failures toward lockout, and audit success or failure."""
    now = clock.now()
    user = session.scalar(select(User).where(User.username == username.strip()))
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not user.is_active:
        _audit_login(
            session, None, username, client_address, "login.failure", "unknown or inactive"
        )
        return LoginOutcome(None)
    state = LoginState(user.failed_login_count, user.locked_until)
    if is_locked(state, now):
        _audit_login(session, user, username, client_address, "login.failure", "locked")
        return LoginOutcome(None, locked=True)
    if not password_ok:
        new_state = after_failure(state, policy, now)
        user.failed_login_count, user.locked_until = new_state.failed_count, new_state.locked_until
        locked_now = is_locked(new_state, now)
        _audit_login(
            session,
            user,
            username,
            client_address,
            "login.failure",
            "wrong password; account locked" if locked_now else "wrong password",
        )
        return LoginOutcome(None, locked=locked_now)
    new_state = after_success()
    user.failed_login_count, user.locked_until = new_state.failed_count, new_state.locked_until
    user.last_login_at = now
    _audit_login(session, user, username, client_address, "login.success", None)
    return LoginOutcome(user)


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
