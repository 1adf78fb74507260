"""One Jinja2 environment for every domain's templates, with the helpers pages share."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response

from ketaclinic import clock, labels

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


def number(value: Decimal | float | int | str | None) -> str:
    """A recorded number as stored, without trailing zeros ("72.50" → "72.5"); never rounded."""
    if value is None:
        return "—"
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text == "-0" else text


_env.filters["number"] = number
_env.filters["label"] = labels.label
_env.filters["labelled"] = labels.labelled
_env.filters["sentence"] = labels.sentence
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


def refusal_of(context: dict[str, Any]) -> dict[str, str] | None:
    """The banner at the top of a refused page: what was refused and where the message is.

    A page may set ``refusal`` itself; otherwise the first message of its ``errors`` (the shared
    form convention) or of the session page's ``failed`` form is shown.
    """
    given = context.get("refusal")
    if isinstance(given, dict):
        return given
    errors = context.get("errors")
    if not (isinstance(errors, dict) and errors):  # a page with several forms: end_errors, …
        errors = next(
            (v for k, v in context.items() if k.endswith("_errors") and isinstance(v, dict) and v),
            None,
        )
    failed = context.get("failed")
    where = "#e-all"
    if isinstance(failed, dict) and isinstance(failed.get("refusal"), str):
        anchor = failed.get("anchor") or str(failed.get("form") or "top").replace("_", "-")
        return {"message": failed["refusal"], "href": f"#{anchor}"}
    if not (isinstance(errors, dict) and errors) and isinstance(failed, dict):
        errors = failed.get("errors") or (
            {"__all__": failed["stale"]} if failed.get("stale") else None
        )
        where = f"#{failed.get('anchor') or str(failed.get('form') or 'top').replace('_', '-')}"
    if not isinstance(errors, dict) or not errors:
        return None
    field, text = next(iter(errors.items()))
    prefix = "" if field == "__all__" else f"{labels.label(field)}: "
    more = len(errors) - 1
    tail = f" (and {more} more below)" if more > 0 else ""
    return {"message": f"{prefix}{text}{tail}", "href": where}


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
    if status_code >= 400 and "refusal" not in (context or {}):
        values["refusal"] = refusal_of(values)
    return templates.TemplateResponse(request, name, values, status_code=status_code)
