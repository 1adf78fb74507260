"""API login: OAuth2 password form in, bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from ketaclinic.accounts import service
from ketaclinic.accounts.deps import CurrentUser, SessionDep, SettingsDep, client_address
from ketaclinic.accounts.security import issue_token
from ketaclinic.errors import AccountLocked, Forbidden, NotAuthenticated

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth2 token type, not a secret)


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
    policy = service.lockout_policy(settings.lockout_failures, settings.lockout_minutes)
    with session.begin():
        outcome = service.authenticate(
            session,
            username=form.username,
            password=form.password,
            policy=policy,
            client_address=client_address(request),
        )
        user = outcome.user
        user_id, version = (user.id, user.credentials_version) if user else (None, 0)
        must_change = user is not None and user.password_must_change
    if outcome.locked:
        raise AccountLocked(
            "too many failed logins; the account is locked for a while", loc=("body", "username")
        )
    if user_id is None:
        raise NotAuthenticated("wrong username or password", loc=("body", "password"))
    if must_change:
        raise Forbidden(
            "this password was set by an administrator: log in to the web app and choose your "
            "own first",
            loc=("body", "password"),
        )
    return Token(access_token=issue_token(settings.signing_key, user_id, version))


@router.get("/me", response_model=Me)
def who_am_i(actor: CurrentUser) -> Me:
    assert actor.user_id is not None and actor.role is not None and actor.clinic_id is not None
    return Me(
        user_id=actor.user_id,
        username=actor.username or "",
        role=actor.role.value,
        clinic_id=actor.clinic_id,
    )
