"""Login and logout pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from ketaclinic.accounts import service, sessions
from ketaclinic.accounts.core import Role, SessionKind
from ketaclinic.accounts.deps import (
    SESSION_KEY,
    CurrentUser,
    SessionDep,
    SettingsDep,
    client_address,
    login_session_id,
    require_csrf,
)
from ketaclinic.accounts.models import User
from ketaclinic.audit import service as audit
from ketaclinic.errors import InvalidInput, KetaclinicError
from ketaclinic.web.forms import error_messages
from ketaclinic.web.templating import csrf_token, flash, render

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)

CHANGE_PAGE = "/account/password"
CHANGE_TEMPLATE = "accounts/password.html"

HOME_BY_ROLE = {
    Role.ADMIN: "/audit",
    Role.PHYSICIAN: "/patients",
    Role.NURSE: "/patients",
    Role.STAFF: "/patients",
    Role.PATIENT: "/portal",
}


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so the login page cannot be used to bounce users elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "accounts/login.html", {"next": _safe_next(next) or "", "errors": {}})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    policy = service.lockout_policy(settings.lockout_failures, settings.lockout_minutes)
    lifetime = timedelta(minutes=settings.session_max_age_min)
    check = service.check_password(session, username=username, password=password)
    with session.begin():
        outcome = service.authenticate(
            session,
            username=username,
            check=check,
            policy=policy,
            client_address=client_address(request),
        )
        user = outcome.user
        role = Role(user.role) if user else None
        must_change = user is not None and user.password_must_change
        secret = (
            sessions.start(session, user=user, kind=SessionKind.WEB, lifetime=lifetime)
            if user
            else None
        )
    if secret is None or role is None:
        message = (
            "Too many failed logins for this username: try again in "
            f"{settings.lockout_minutes} minutes."
            if outcome.locked
            else "Wrong username or password."
        )
        context = {
            "next": _safe_next(next) or "",
            "username": username,
            "errors": {"password": message},
        }
        return render(
            request, "accounts/login.html", context, status_code=429 if outcome.locked else 401
        )
    request.session.clear()  # a fresh session on login prevents session fixation
    request.session[SESSION_KEY] = secret
    csrf_token(request)
    if must_change:
        return RedirectResponse(CHANGE_PAGE, status_code=303)
    return RedirectResponse(_safe_next(next) or HOME_BY_ROLE[role], status_code=303)


@router.post("/logout")
def logout(request: Request, actor: CurrentUser, session: SessionDep) -> Response:
    """Ends the session on the server too, so a copy of the cookie no longer signs anyone in."""
    session_id = login_session_id(request)
    with session.begin():
        if session_id is not None:
            sessions.end(session, session_id=session_id)
        audit.record(session, actor=actor, action="logout")
    request.session.clear()
    flash(request, "You are logged out.")
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(actor: CurrentUser) -> Response:
    assert actor.role is not None
    return RedirectResponse(HOME_BY_ROLE[actor.role], status_code=303)


@router.get(CHANGE_PAGE)
def password_page(request: Request, actor: CurrentUser, session: SessionDep) -> Response:
    with session.begin():
        user = session.get(User, actor.user_id)
        must_change = user is not None and user.password_must_change
    return render(request, CHANGE_TEMPLATE, {"errors": {}, "must_change": must_change})


@router.post(CHANGE_PAGE)
def change_password(
    request: Request,
    actor: CurrentUser,
    session: SessionDep,
    current_password: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_confirm: Annotated[str, Form()] = "",
) -> Response:
    """The user's own new password; every other session and token of theirs stops working, this
    browser stays signed in."""
    try:
        if password != password_confirm:
            raise InvalidInput("the two new passwords differ", loc=("password_confirm",))
        with session.begin():
            user = session.get(User, actor.user_id)
            assert user is not None  # the actor was loaded from it
            service.change_own_password(
                session,
                user=user,
                current=current_password,
                new=password,
                actor=actor,
                keep_session=login_session_id(request),
            )
            role = Role(user.role)
    except KetaclinicError as error:
        context = {"errors": error_messages(error), "must_change": False}
        return render(request, CHANGE_TEMPLATE, context, status_code=error.status_code)
    flash(request, "Your password is changed.", "success")
    return RedirectResponse(HOME_BY_ROLE[role], status_code=303)
