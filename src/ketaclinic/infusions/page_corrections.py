"""What the session page needs for charting corrections and late entries (issue 11): which
entries this person may mark entered in error, and the clinic's day and offset that turn a late
entry's clock time ("15:30") into an instant.

Kept apart from ``page_context`` so that the corrections can change without touching the rest of
the page's context.
"""

from __future__ import annotations

from typing import Any

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.config import Settings
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.monitoring.core import CORRECTABLE_KINDS


def correctable_ids(actor: Actor, row: InfusionSession) -> frozenset[int]:
    """The charted entries this person may mark entered in error: their own, or any for a
    physician (``monitoring.core.check_correction`` is the rule the service applies)."""
    physician = actor.role is Role.PHYSICIAN
    return frozenset(
        e.id
        for e in row.events
        if e.kind in CORRECTABLE_KINDS
        and not e.in_error
        and (physician or e.by_user_id == actor.user_id)
    )


def correction_context(actor: Actor, row: InfusionSession, settings: Settings) -> dict[str, Any]:
    local_now = clock.now().astimezone(settings.timezone)
    return {
        "correctable": correctable_ids(actor, row),
        "late_entry_max_min": settings.late_entry_max_min,
        "clinic_day": local_now.date().isoformat(),
        # "+01:00" from "2026-03-02T10:15+01:00": the offset the page's clock times are in.
        "clinic_offset": local_now.isoformat(timespec="minutes")[16:],
    }
