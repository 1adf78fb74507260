"""Shared route dependencies: the settings, a database session, and who is asking."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts import sessions
from ketaclinic.accounts.core import Actor, Permission, Role, SessionKind, may
from ketaclinic.accounts.service import actor_for
from ketaclinic.config import Settings
from ketaclinic.db import begin_read_only
from ketaclinic.errors import Forbidden, KetaclinicError, NotAuthenticated


class LoginRequired(NotAuthenticated):
    """A page needs a logged-in user; the handler sends the browser to the login page."""


class PasswordChangeRequired(Forbidden):
    """An administrator set this password: the user picks their own before anything else (the
    handler sends the browser to the password page)."""


#: Pages a user whose password must change may still open.
PASSWORD_CHANGE_PATHS = frozenset({"/account/password", "/logout"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request. Routes open the one transaction they write in."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]

bearer_token = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


#: The page session's key in Starlette's signed cookie (beside the CSRF token and flash messages).
SESSION_KEY = "sid"


def _load_actor(request: Request, secret: str, kind: SessionKind) -> Actor | None:
    """The acting user of a live sign-in (one indexed read, no write), or None once it was ended,
    expired or its user deactivated. A password an administrator set allows only the password
    page."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        begin_read_only(session)  # every request passes here: it must not queue for SQLite's lock
        found = sessions.find(session, secret=secret, kind=kind)
    if found is None:
        return None
    request.state.login_session_id = found.session_id
    actor = actor_for(found.user, client_address(request))
    if found.user.password_must_change and request.url.path not in PASSWORD_CHANGE_PATHS:
        request.state.actor = actor
        raise PasswordChangeRequired("choose your own password first", loc=("password",))
    return actor


def _api_actor(request: Request, token: str | None) -> Actor:
    actor = _load_actor(request, token, SessionKind.API) if token else None
    if actor is None:
        raise NotAuthenticated("a valid bearer token is required", loc=("header", "Authorization"))
    return actor


def _page_actor(request: Request) -> Actor:
    secret = request.session.get(SESSION_KEY)
    actor = _load_actor(request, secret, SessionKind.WEB) if isinstance(secret, str) else None
    if actor is None:
        request.session.pop(SESSION_KEY, None)
        raise LoginRequired("please log in")
    return actor


def login_session_id(request: Request) -> int | None:
    """The sign-in this request came with (set once the actor is loaded)."""
    value = getattr(request.state, "login_session_id", None)
    return value if isinstance(value, int) else None


def current_actor(request: Request, token: Annotated[str | None, Depends(bearer_token)]) -> Actor:
    """The API and FHIR take bearer tokens only; pages take the session cookie only (CSRF-safe
    API)."""
    if request.url.path.startswith(("/api/", "/fhir/")):
        actor = _api_actor(request, token)
    else:
        actor = _page_actor(request)
    request.state.actor = actor
    return actor


def signed_in_actor(request: Request, token: str | None) -> Actor:
    """For read-only pages both people and scripts open (the API docs): a bearer token when one
    is sent, otherwise the page session."""
    if token:
        actor = _api_actor(request, token)
    else:
        try:
            actor = _page_actor(request)
        except LoginRequired:
            raise LoginRequired(
                "log in, or send a bearer token", loc=("header", "Authorization")
            ) from None
    request.state.actor = actor
    return actor


CurrentUser = Annotated[Actor, Depends(current_actor)]


def require(permission: Permission) -> Callable[[Actor], Actor]:
    """A dependency that lets through only roles holding ``permission``."""

    def check(actor: CurrentUser) -> Actor:
        if actor.role is None or not may(actor.role, permission):
            raise Forbidden(f"your role may not do this ({permission.value})")
        return actor

    return check


def require_role(*roles: Role) -> Callable[[Actor], Actor]:
    def check(actor: CurrentUser) -> Actor:
        if actor.role not in roles:
            raise Forbidden("your role may not see this page")
        return actor

    return check


async def require_csrf(request: Request) -> None:
    """Every state-changing form post must echo the session's CSRF token."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get("csrf")
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not secrets.compare_digest(sent, expected)
    ):
        raise CsrfFailed(
            "the form expired or did not come from this site; reload the page and try again"
        )


class CsrfFailed(KetaclinicError):
    status_code = 403
