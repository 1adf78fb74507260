"""Admin pages for the clinic's user accounts: list, create, reset a password, unlock, (de)activate.

Accounts used to be made only from the CLI; these pages let a clinic's admin run them without a
shell. Everything is scoped to the admin's own clinic: another clinic's user is a 404, as if it
did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts import service, sessions, throttle
from ketaclinic.accounts.core import (
    Actor,
    LockoutPolicy,
    LoginState,
    Permission,
    Role,
    SessionKind,
    is_locked,
    password_problem,
    recent_failures,
)
from ketaclinic.accounts.deps import (
    SessionDep,
    SettingsDep,
    login_session_id,
    require,
    require_csrf,
)
from ketaclinic.accounts.models import Clinic, User
from ketaclinic.audit import service as audit
from ketaclinic.config import Settings
from ketaclinic.errors import Forbidden, InvalidInput, KetaclinicError, NotFound
from ketaclinic.patients.models import Patient
from ketaclinic.web.forms import FieldErrors, error_messages
from ketaclinic.web.params import RecordId
from ketaclinic.web.templating import flash, render

router = APIRouter(
    prefix="/admin/users", dependencies=[Depends(require_csrf)], include_in_schema=False
)

UserAdmin = Annotated[Actor, Depends(require(Permission.USER_MANAGE))]
TextField = Annotated[str, Form()]
# The column widths of user_account; PostgreSQL refuses longer values, SQLite would keep them.
DISPLAY_NAME_MAX = 200
MRN_MAX = 32
CREATE_FIELDS = ("username", "display_name", "role", "patient_mrn")
ROLES = [role.value for role in Role]


@dataclass(frozen=True)
class UserRow:
    """One account as the admin pages show it; the MRN only for a patient account."""

    id: int
    username: str
    display_name: str
    role: str
    patient_mrn: str | None
    is_active: bool
    locked: bool
    failed_login_count: int
    last_login_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class _Lockout:
    """What the rows need to show locks: the failures per username and the rule."""

    states: dict[str, LoginState]
    policy: LockoutPolicy
    now: datetime


def _lockout(session: Session, settings: Settings, usernames: list[str]) -> _Lockout:
    policy = service.lockout_policy(settings.lockout_failures, settings.lockout_minutes)
    return _Lockout(throttle.states(session, usernames=usernames), policy, clock.now())


def _row(user: User, mrn: str | None, lockout: _Lockout) -> UserRow:
    state = lockout.states[user.username]
    return UserRow(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        patient_mrn=mrn,
        is_active=user.is_active,
        locked=is_locked(state, lockout.now),
        failed_login_count=recent_failures(state, lockout.policy, lockout.now),
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


def _query(actor: Actor) -> Select[User, str]:
    """Users of the admin's clinic with their linked patient's MRN (outer join: most have none)."""
    return (
        select(User, Patient.mrn)
        .outerjoin(Patient, Patient.id == User.patient_id)
        .where(User.clinic_id == actor.clinic_id)
    )


def _list_rows(session: Session, settings: Settings, actor: Actor) -> list[UserRow]:
    rows = session.execute(_query(actor).order_by(User.username)).all()
    lockout = _lockout(session, settings, [user.username for user, _ in rows])
    return [_row(user, mrn, lockout) for user, mrn in rows]


def _clinic_user(session: Session, actor: Actor, user_id: int) -> User:
    """The user if it belongs to the admin's clinic; otherwise 404, never 403 (no probing)."""
    user = session.get(User, user_id)
    if user is None or user.clinic_id != actor.clinic_id:
        raise NotFound(f"no user {user_id} in your clinic")
    return user


def _user_row(session: Session, settings: Settings, actor: Actor, user_id: int) -> UserRow:
    found = session.execute(_query(actor).where(User.id == user_id)).first()
    if found is None:
        raise NotFound(f"no user {user_id} in your clinic")
    return _row(found[0], found[1], _lockout(session, settings, [found[0].username]))


def _password_errors(password: str, confirm: str) -> FieldErrors:
    """The CLI's password rule, plus the two typings must agree. Messages never quote them."""
    problem = password_problem(password)
    if problem:
        return {"password": problem}
    if password != confirm:
        return {"password_confirm": "the two passwords are not the same"}
    return {}


def _create_errors(values: dict[str, str], password: str, confirm: str) -> FieldErrors:
    """Checks the form can make without the database; the service checks the rest."""
    errors: FieldErrors = {}
    if values["role"] not in ROLES:
        errors["role"] = f"choose one of {', '.join(ROLES)}"
    if len(values["display_name"]) > DISPLAY_NAME_MAX:
        errors["display_name"] = f"a display name has at most {DISPLAY_NAME_MAX} characters"
    if values["role"] == Role.PATIENT.value and not values["patient_mrn"]:
        errors["patient_mrn"] = "a patient account needs the MRN of the patient's record"
    elif values["role"] != Role.PATIENT.value and values["patient_mrn"]:
        errors["patient_mrn"] = "only a patient account is linked to a patient record"
    elif len(values["patient_mrn"]) > MRN_MAX:
        errors["patient_mrn"] = f"an MRN has at most {MRN_MAX} characters"
    for field, message in _password_errors(password, confirm).items():
        errors.setdefault(field, message)
    return errors


def _patient_link(session: Session, actor: Actor, mrn: str) -> int:
    """The patient record a new portal account may see: in this clinic, not yet anyone's."""
    patient_id = session.scalar(
        select(Patient.id).where(Patient.clinic_id == actor.clinic_id, Patient.mrn == mrn)
    )
    if patient_id is None:
        raise InvalidInput(f"no patient with MRN {mrn} in this clinic", loc=("patient_mrn",))
    owner = session.scalar(select(User.username).where(User.patient_id == patient_id))
    if owner is not None:
        raise InvalidInput(
            f"the patient with MRN {mrn} already has an account ({owner})", loc=("patient_mrn",)
        )
    return patient_id


def _audit(session: Session, actor: Actor, action: str, user: User) -> None:
    """A patient account's events carry its patient, so the patient's trail shows them too."""
    audit.record(
        session, actor=actor, action=action, patient_id=user.patient_id, detail=f"user_id={user.id}"
    )


def _form_page(
    request: Request, values: dict[str, str], errors: FieldErrors, status_code: int = 200
) -> Response:
    context = {"values": values, "errors": errors, "roles": ROLES}
    return render(request, "accounts/users_form.html", context, status_code=status_code)


def _detail_page(
    request: Request,
    session: Session,
    actor: Actor,
    user_id: int,
    errors: FieldErrors | None = None,
    status_code: int = 200,
) -> Response:
    """The account with its lock state and how many sign-ins of it work right now."""
    settings: Settings = request.app.state.settings
    with session.begin():
        row = _user_row(session, settings, actor, user_id)
        live = sessions.count_live(session, user_id=user_id)
    context = {
        "u": row,
        "errors": errors or {},
        "values": {},
        "is_self": row.id == actor.user_id,
        "web_sessions": live[SessionKind.WEB],
        "api_tokens": live[SessionKind.API],
    }
    return render(request, "accounts/users_detail.html", context, status_code=status_code)


def _own_session(request: Request, actor: Actor, user: User) -> int | None:
    """The admin's own browser session when the admin acts on their own account: it stays."""
    return login_session_id(request) if user.id == actor.user_id else None


@router.get("")
def list_page(
    request: Request, actor: UserAdmin, session: SessionDep, settings: SettingsDep
) -> Response:
    with session.begin():
        rows = _list_rows(session, settings, actor)
    return render(request, "accounts/users.html", {"users": rows})


@router.get("/new")
def new_page(request: Request, actor: UserAdmin) -> Response:
    values = dict.fromkeys(CREATE_FIELDS, "")
    values["role"] = Role.STAFF.value
    return _form_page(request, values, {})


@router.post("/new")
def create_from_form(
    request: Request,
    actor: UserAdmin,
    session: SessionDep,
    username: TextField = "",
    display_name: TextField = "",
    role: TextField = "",
    patient_mrn: TextField = "",
    password: TextField = "",
    password_confirm: TextField = "",
) -> Response:
    values = {
        "username": username.strip(),
        "display_name": display_name.strip(),
        "role": role,
        "patient_mrn": patient_mrn.strip(),
    }
    errors = _create_errors(values, password, password_confirm)
    if errors:
        return _form_page(request, values, errors, status_code=422)
    try:
        with session.begin():
            clinic = session.get(Clinic, actor.clinic_id)
            assert clinic is not None  # the actor was loaded from a user of this clinic
            patient_id = (
                _patient_link(session, actor, values["patient_mrn"])
                if values["patient_mrn"]
                else None
            )
            user = service.create_user(
                session,
                clinic=clinic,
                username=values["username"],
                password=password,
                role=Role(values["role"]),
                display_name=values["display_name"] or None,
                patient_id=patient_id,
                actor=actor,
                must_change=True,
            )
            user_id, created = user.id, user.username
    except KetaclinicError as error:
        return _form_page(request, values, error_messages(error), status_code=error.status_code)
    message = f"Account {created} created. Hand over the password in person; "
    flash(request, message + "they choose their own at first login.", "success")
    return RedirectResponse(f"/admin/users/{user_id}", status_code=303)


@router.get("/{user_id}")
def detail_page(
    request: Request, user_id: RecordId, actor: UserAdmin, session: SessionDep
) -> Response:
    return _detail_page(request, session, actor, user_id)


@router.post("/{user_id}/password")
def reset_password(
    request: Request,
    user_id: RecordId,
    actor: UserAdmin,
    session: SessionDep,
    password: TextField = "",
    password_confirm: TextField = "",
) -> Response:
    errors = _password_errors(password, password_confirm)
    if errors:
        return _detail_page(request, session, actor, user_id, errors, status_code=422)
    with session.begin():
        user = _clinic_user(session, actor, user_id)
        # set_password also clears any lock and ends the user's sign-ins: a fresh start.
        service.set_password(
            session,
            user=user,
            password=password,
            must_change=True,
            keep_session=_own_session(request, actor, user),
        )
        _audit(session, actor, "user.password_reset", user)
        name = user.username
    flash(request, f"New password set for {name}. Hand it over in person.", "success")
    return RedirectResponse(f"/admin/users/{user_id}", status_code=303)


@router.post("/{user_id}/unlock")
def unlock(request: Request, user_id: RecordId, actor: UserAdmin, session: SessionDep) -> Response:
    with session.begin():
        user = _clinic_user(session, actor, user_id)
        name = user.username
        was_locked = is_locked(throttle.current(session, typed=name), clock.now())
        if was_locked:
            throttle.clear(session, typed=name)
            _audit(session, actor, "user.unlock", user)
    flash(request, f"{name} is unlocked." if was_locked else f"{name} was not locked.", "success")
    return RedirectResponse(f"/admin/users/{user_id}", status_code=303)


@router.post("/{user_id}/deactivate")
def deactivate(
    request: Request, user_id: RecordId, actor: UserAdmin, session: SessionDep
) -> Response:
    if user_id == actor.user_id:
        # Keeps at least one admin able to log in, and stops an accidental self-lockout.
        raise Forbidden("you cannot deactivate your own account")
    return _set_active(request, user_id, actor, session, active=False)


@router.post("/{user_id}/reactivate")
def reactivate(
    request: Request, user_id: RecordId, actor: UserAdmin, session: SessionDep
) -> Response:
    return _set_active(request, user_id, actor, session, active=True)


@router.post("/{user_id}/sessions/end")
def end_sessions(
    request: Request, user_id: RecordId, actor: UserAdmin, session: SessionDep
) -> Response:
    """Sign the user out everywhere: every browser session and API token ends now (a lost
    tablet, a token left in a script). On their own account the admin's browser stays."""
    with session.begin():
        user = _clinic_user(session, actor, user_id)
        sessions.end_all(session, user_id=user.id, keep=_own_session(request, actor, user))
        _audit(session, actor, "user.sessions_end", user)
        name = user.username
    flash(request, f"Every session and API token of {name} has ended.", "success")
    return RedirectResponse(f"/admin/users/{user_id}", status_code=303)


def _set_active(
    request: Request, user_id: int, actor: Actor, session: Session, *, active: bool
) -> Response:
    """Deactivation ends the user's sessions and API tokens at once."""
    with session.begin():
        user = _clinic_user(session, actor, user_id)
        name, changed = user.username, user.is_active != active
        if changed:
            service.set_active(session, user=user, active=active)
            _audit(session, actor, "user.reactivate" if active else "user.deactivate", user)
    state = "active" if active else "deactivated"
    flash(request, f"{name} is {state}." if changed else f"{name} was already {state}.", "success")
    return RedirectResponse(f"/admin/users/{user_id}", status_code=303)
