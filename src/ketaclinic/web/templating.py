"""One Jinja2 environment for every domain's templates, with the helpers pages share."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response

from ketaclinic import clock

_PACKAGE = Path(__file__).resolve().parent.parent
_SEARCH_PATH = [str(_PACKAGE / "web" / "templates")] + sorted(
    str(p) for p in _PACKAGE.glob("*/templates") if p.parent.name != "web"
)

_env = Environment(
    loader=FileSystemLoader(_SEARCH_PATH),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def flash(request: Request, message: str, category: str = "info") -> None:
    request.session.setdefault("flash", []).append({"message": message, "category": category})


def _pop_flashes(request: Request) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = request.session.pop("flash", [])
    return messages


def _local_time(request: Request, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(request.app.state.settings.timezone).strftime(fmt)


def zone_now(zone: ZoneInfo) -> str:
    """The zone's abbreviation and UTC offset now ("CST, UTC-06:00") for the footer; nothing
    for UTC itself."""
    now = clock.now().astimezone(zone)
    if now.tzname() == zone.key:
        return ""
    offset = now.strftime("%z")
    return f"{now.tzname()}, UTC{offset[:3]}:{offset[3:]}"


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render a page (or a partial, for a script request) with the shared helpers."""
    values = {
        "csrf_token": csrf_token(request),
        "flashes": _pop_flashes(request),
        "actor": getattr(request.state, "actor", None),
        "local": lambda value, fmt="%Y-%m-%d %H:%M": _local_time(request, value, fmt),
        "clinic_timezone": request.app.state.settings.clinic_timezone,
        "clinic_zone_now": zone_now(request.app.state.settings.timezone),
    }
    values.update(context or {})
    return templates.TemplateResponse(request, name, values, status_code=status_code)
