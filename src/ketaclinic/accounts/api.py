"""API sign-in: OAuth2 password form in, bearer token out; and the token's revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from ketaclinic.accounts import service, sessions
from ketaclinic.accounts.core import SessionKind
from ketaclinic.accounts.deps import CurrentUser, SessionDep, SettingsDep, client_address
from ketaclinic.audit import service as audit
from ketaclinic.errors import AccountLocked, Forbidden, NotAuthenticated

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth2 token type, not a secret)
    expires_in: int  # seconds (RFC 6749 §5.1)


class Revocation(BaseModel):
    """After a revocation the token is not active, whatever it was before (RFC 7009 §2.2)."""

    active: bool = False


class Me(BaseModel):
    user_id: int
    username: str
    role: str
    clinic_id: int


@router.post("/auth/token", response_model=Token)
def login_for_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """A bearer token for ``token_max_age_min`` minutes; it ends sooner when revoked, when the
    password changes or when the account is deactivated."""
    policy = service.lockout_policy(settings.lockout_failures, settings.lockout_minutes)
    lifetime = timedelta(minutes=settings.token_max_age_min)
    check = service.check_password(session, username=form.username, password=form.password)
    with session.begin():
        outcome = service.authenticate(
            session,
            username=form.username,
            check=check,
            policy=policy,
            client_address=client_address(request),
        )
        user = outcome.user
        must_change = user is not None and user.password_must_change
        token = None
        if user is not None and not must_change:
            token = sessions.start(session, user=user, kind=SessionKind.API, lifetime=lifetime)
    if outcome.locked:
        raise AccountLocked(
            f"too many failed logins for this username; try again in {settings.lockout_minutes} "
            "minutes",
            loc=("body", "username"),
        )
    if user is None:
        raise NotAuthenticated("wrong username or password", loc=("body", "password"))
    if token is None:
        raise Forbidden(
            "this password was set by an administrator: log in to the web app and choose your "
            "own first",
            loc=("body", "password"),
        )
    return Token(access_token=token, expires_in=int(lifetime.total_seconds()))


@router.post("/auth/revoke", response_model=Revocation)
def revoke_token(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(min_length=1)],
    token_type_hint: Annotated[str | None, Form()] = None,
) -> Revocation:
    """End the bearer token sent as the form field ``token`` (RFC 7009). Holding the token is
    the authority to end it, so no other sign-in is needed. An unknown, expired or already
    revoked token answers the same 200: the caller wanted it dead, and it is (RFC 7009 §2.2)."""
    with session.begin():
        found = sessions.find(session, secret=token, kind=SessionKind.API)
        if found is not None:
            sessions.end(session, session_id=found.session_id)
            actor = service.actor_for(found.user, client_address(request))
            audit.record(session, actor=actor, action="token.revoke")
    return Revocation()


@router.get("/me", response_model=Me)
def who_am_i(actor: CurrentUser) -> Me:
    assert actor.user_id is not None and actor.role is not None and actor.clinic_id is not None
    return Me(
        user_id=actor.user_id,
        username=actor.username or "",
        role=actor.role.value,
        clinic_id=actor.clinic_id,
    )
