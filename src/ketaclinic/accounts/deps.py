"""Shared route dependencies: the settings, a database session, and who is asking."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Actor, Permission, Role, may
from ketaclinic.accounts.models import User
from ketaclinic.accounts.security import read_token
from ketaclinic.accounts.service import actor_for
from ketaclinic.config import Settings
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


def _load_actor(request: Request, user_id: int, version: object) -> Actor | None:
    """The acting user, unless deactivated or their password changed since this session or
    token was made; a password an administrator set allows only the password page."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active or user.credentials_version != version:
            return None
        if user.password_must_change and request.url.path not in PASSWORD_CHANGE_PATHS:
            request.state.actor = actor_for(user, client_address(request))
            raise PasswordChangeRequired("choose your own password first", loc=("password",))
        return actor_for(user, client_address(request))


def _api_actor(request: Request, token: str | None) -> Actor:
    settings = get_settings(request)
    issued = (
        read_token(settings.signing_key, token, settings.token_max_age_min * 60) if token else None
    )
    actor = _load_actor(request, *issued) if issued is not None else None
    if actor is None:
        raise NotAuthenticated("a valid bearer token is required", loc=("header", "Authorization"))
    return actor


def _page_actor(request: Request) -> Actor:
    uid = request.session.get("uid")
    version = request.session.get("cv")
    actor = _load_actor(request, uid, version) if isinstance(uid, int) else None
    if actor is None:
        request.session.pop("uid", None)
        raise LoginRequired("please log in")
    return actor


def current_actor(request: Request, token: Annotated[str | None, Depends(bearer_token)]) -> Actor:
    """The API takes bearer tokens only; pages take the session cookie only (CSRF-safe API)."""
    if request.url.path.startswith("/api/"):
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
