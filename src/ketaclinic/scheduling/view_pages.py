"""The appointment book's day and week views (pages and JSON), and the next-free-slot search.

``/scheduling/day?date=YYYY-MM-DD``: chairs × hours of one clinic day. ``/scheduling/week?start=``
the seven days from that date's Monday, for planning. ``/api/v1/scheduling/day`` and ``/week``
answer the same data as JSON. Everyone on staff reads them (``schedule.read``); see
``view_service`` for who sees names.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Permission, may
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require, require_csrf
from ketaclinic.errors import NotFound
from ketaclinic.protocols import service as protocols
from ketaclinic.scheduling import grid, view_service
from ketaclinic.scheduling.schemas import is_clock, minutes_of
from ketaclinic.web.fields import OptionalQueryDate
from ketaclinic.web.inputs import ExactJsonRoute
from ketaclinic.web.params import MAX_ID
from ketaclinic.web.templating import render

pages = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)
api = APIRouter(prefix="/api/v1/scheduling", tags=["appointment book"], route_class=ExactJsonRoute)

Reader = Annotated[Actor, Depends(require(Permission.SCHEDULE_READ))]
DayParam = Annotated[OptionalQueryDate, Query(alias="date", description="YYYY-MM-DD; none: today")]
StartParam = Annotated[
    OptionalQueryDate, Query(alias="start", description="Any day of the week; none: this week")
]


def _books(actor: Actor) -> bool:
    return actor.role is not None and may(actor.role, Permission.SCHEDULE_BOOK)


# --- JSON -----------------------------------------------------------------------------------------


class BlockOut(BaseModel):
    session_id: int
    chair_id: int
    start: datetime
    visit_end: datetime
    hold_end: datetime
    state: str
    patient: str | None
    protocol: str | None
    course_id: int | None


class ChairDayOut(BaseModel):
    chair_id: int
    name: str
    bookings: list[BlockOut]


class DayOut(BaseModel):
    date: date
    timezone: str
    closed: str | None
    opening: list[tuple[datetime, datetime]]
    open_minutes: float
    booked_minutes: float
    utilisation_percent: float | None
    chairs: list[ChairDayOut]


def day_out(g: grid.DayGrid, zone: ZoneInfo) -> DayOut:
    return DayOut(
        date=g.day,
        timezone=zone.key,
        closed=g.closed_reason,
        opening=[(o.start, o.end) for o in g.opening],
        open_minutes=g.open_minutes,
        booked_minutes=round(g.booked_minutes, 1),
        utilisation_percent=g.utilisation_percent,
        chairs=[
            ChairDayOut(
                chair_id=c.chair_id,
                name=c.name,
                bookings=[BlockOut(**vars(b.booking)) for b in c.blocks],
            )
            for c in g.columns
        ],
    )


@api.get("/day", response_model=DayOut)
def day_json(
    actor: Reader, session: SessionDep, settings: SettingsDep, day: DayParam = None
) -> DayOut:
    """One clinic day, chair by chair: each booking holding a chair with its visit end (infusion
    and observation) and hold end (plus turnover). ``patient`` is null for readers who may not
    see patient records; ``opening`` is the day's open intervals (UTC)."""
    zone = settings.timezone
    with session.begin():
        g = view_service.day_view(session, actor=actor, day=day or clock.today(zone), zone=zone)
    return day_out(g, zone)


@api.get("/week", response_model=list[DayOut])
def week_json(
    actor: Reader, session: SessionDep, settings: SettingsDep, start: StartParam = None
) -> list[DayOut]:
    """The seven days (Monday first) of the week holding ``start``, without patient names."""
    zone = settings.timezone
    monday = grid.monday_of(start or clock.today(zone))
    with session.begin():
        grids = view_service.week_view(session, actor=actor, monday=monday, zone=zone)
    return [day_out(g, zone) for g in grids]


# --- pages ----------------------------------------------------------------------------------------


def _find(
    request: Request,
    session: Any,
    actor: Actor,
    zone: ZoneInfo,
    day: date,
) -> dict[str, Any]:
    """The next-free-slot form and, when asked, its answer."""
    query = request.query_params
    protocol_text = query.get("protocol_id", "").strip()
    context: dict[str, Any] = {
        "find_protocol_id": protocol_text,
        "find_from": query.get("from", ""),
    }
    if not protocol_text:
        return context
    errors: dict[str, str] = {}
    protocol_id = int(protocol_text) if protocol_text.isdigit() else 0
    protocol = (
        protocols.get(session, clinic_id=actor.clinic_id or 0, protocol_id=protocol_id)
        if 1 <= protocol_id <= MAX_ID
        else None
    )
    if protocol is None:
        errors["protocol_id"] = "choose a protocol from the list"
    from_text = query.get("from", "").strip() or "00:00"
    if not is_clock(from_text) or from_text == "24:00":
        errors["from"] = "a clock time such as 09:00"
    if errors or protocol is None:
        context["find_errors"] = errors
        return context
    minutes = minutes_of(from_text)
    wanted = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    after = max(wanted.astimezone(clock.now().tzinfo), clock.now())
    context["found"] = view_service.next_free(
        session, actor=actor, protocol=protocol, after=after, zone=zone
    )
    context["found_protocol"] = f"{protocol.name} v{protocol.version}"
    return context


@pages.get("/scheduling/day")
def day_page(
    request: Request,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
    day: DayParam = None,
) -> Response:
    zone = settings.timezone
    shown = day or clock.today(zone)
    with session.begin():
        g = view_service.day_view(session, actor=actor, day=shown, zone=zone)
        books = _books(actor)
        found = _find(request, session, actor, zone, shown) if books else {}
        choices = view_service.bookable_protocols(session, actor=actor) if books else []
    context = {
        "grid": g,
        "zone": zone,
        "prev_day": shown - timedelta(days=1),
        "next_day": shown + timedelta(days=1),
        "monday": grid.monday_of(shown),
        "books": books,
        "names": view_service.sees_names(actor),
        "protocols": choices,
        **found,
    }
    return render(request, "scheduling/day.html", context)


@pages.get("/scheduling/week")
def week_page(
    request: Request,
    actor: Reader,
    session: SessionDep,
    settings: SettingsDep,
    start: StartParam = None,
) -> Response:
    zone = settings.timezone
    monday = grid.monday_of(start or clock.today(zone))
    with session.begin():
        grids = view_service.week_view(session, actor=actor, monday=monday, zone=zone)
    if not grids:
        raise NotFound("no week", loc=("query", "start"))
    context = {
        "grids": grids,
        "zone": zone,
        "monday": monday,
        "prev_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
        "marks": grids[0].marks,
        "today": clock.today(zone),
    }
    return render(request, "scheduling/week.html", context)
