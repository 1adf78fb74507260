"""A booking's history as the session page shows it: where a moved booking was before.

``infusions.service.reschedule`` keeps every move as a ``reschedule`` event holding the old and
new time and chair; this turns that into words in the clinic's time zone for the timeline line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketaclinic.infusions.models import InfusionSession
from ketaclinic.scheduling.models import Chair


def _when(text: Any, zone: ZoneInfo) -> str:
    try:
        return datetime.fromisoformat(str(text)).astimezone(zone).strftime("%a %d %b %H:%M")
    except ValueError:
        return "?"


def with_moves(
    session: Session, lines: Sequence[Any], row: InfusionSession, zone: ZoneInfo
) -> list[Any]:
    """The timeline's lines (dataclasses with ``kind``, ``event_id`` and ``values``), each move
    saying from when and which chair to when and which."""
    moves = {e.id: e.data or {} for e in row.events if e.kind == "reschedule"}
    if not moves:
        return list(lines)
    ids = {d.get(k) for d in moves.values() for k in ("from_chair_id", "to_chair_id")}
    found = session.execute(select(Chair.id, Chair.name).where(Chair.id.in_(ids))).all()
    names: dict[Any, str] = {r.id: r.name for r in found}
    result = []
    for line in lines:
        data = moves.get(line.event_id or 0) if line.kind == "reschedule" else None
        if data is not None:
            text = (
                f"from {_when(data.get('from_at'), zone)} "
                f"({names.get(data.get('from_chair_id'), '?')}) to "
                f"{_when(data.get('to_at'), zone)} ({names.get(data.get('to_chair_id'), '?')})"
            )
            line = replace(line, values=text)
        result.append(line)
    return result
