"""Everything the board and the session page templates need, gathered in the route's transaction.

Which forms a page offers follows the state machine and the actor's role, so a nurse is never
shown a button the service would refuse for a reason visible on the page already.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor, Role
from ketaclinic.config import Settings
from ketaclinic.dosing.protocol import DOSE_UNITS
from ketaclinic.infusions import page_order, service
from ketaclinic.infusions import page_views as views
from ketaclinic.infusions.chain_view import chain_context, unrecorded_waste
from ketaclinic.infusions.core import TERMINAL, State, allowed_moves
from ketaclinic.infusions.discharge import ALDRETE_ITEMS
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.page_corrections import correction_context
from ketaclinic.infusions.page_forms import MOOD_INSTRUMENTS, VITALS
from ketaclinic.infusions.pump import StopReason, show
from ketaclinic.instruments.definitions import INSTRUMENTS
from ketaclinic.monitoring.adjuncts import ADJUNCTS
from ketaclinic.monitoring.side_effects import MOAA_S_LEVELS, SIDE_EFFECTS, Severity
from ketaclinic.patients.banner import safety_banner
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import service as scheduling
from ketaclinic.scheduling.history import with_moves

#: Board refresh period, seconds (issue 5: "updating without a reload").
BOARD_REFRESH_S = 20
VITAL_FIELDS = dict(
    zip(
        VITALS,
        (
            ("Systolic (mmHg)", "SBP"),
            ("Diastolic (mmHg)", "DBP"),
            ("Heart rate (/min)", "HR"),
            ("SpO2 (%)", "SpO2"),
            ("Resp. rate (/min)", "RR"),
        ),
        strict=True,
    )
)
#: The choices of the quick-entry selects, as ``(value, text)``.
OPTIONS: dict[str, Any] = {
    "moaa_options": [(level, f"{level} · {words}") for level, words in MOAA_S_LEVELS.items()],
    "severity_options": [(s.label, s.label) for s in Severity],
    "adjunct_options": [
        (a.id, f"{a.label} ({a.purpose}; at most {views.number(a.max_single_dose, 3)} {a.unit})")
        for a in ADJUNCTS
    ],
    "aldrete": [
        (item, [(v, f"{v} · {text}") for v, text in item.levels.items()]) for item in ALDRETE_ITEMS
    ],
}
_CHARTING = frozenset({State.CHECKED_IN, State.INFUSING, State.PAUSED, State.OBSERVING})
_ORDERABLE = frozenset({State.SCHEDULED, State.CHECKED_IN})


def relative(target: datetime | None, now: datetime) -> str:
    """'in 12 min', 'now' or '3 min ago': how far off a due time is, to the minute."""
    if target is None:
        return "—"
    minutes = int((target - now).total_seconds() // 60)
    if minutes > 0:
        return f"in {_duration(minutes)}"
    if minutes == 0 or minutes == -1:
        return "now"
    return f"{_duration(-minutes)} ago"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


def exact(value: Decimal | str | int) -> str:
    """A rate or amount exactly as recorded (a stored plan keeps decimals as text), never
    rounded for display: what the pump is set to is shown as it is."""
    return show(Decimal(str(value)))


def _shared(settings: Settings) -> dict[str, Any]:
    now = clock.now()
    return {
        "now": now,
        "rel": lambda target: relative(target, now),
        "since": lambda start: _duration(max(0, int((now - start).total_seconds() // 60))),
        "fmt": views.number,
        "exact": exact,
        "zone": settings.timezone,
    }


def board_context(session: Session, actor: Actor, settings: Settings) -> dict[str, Any]:
    day = clock.today(settings.timezone)
    rows = service.board(session, actor=actor, day=day, zone=settings.timezone)
    assert actor.clinic_id is not None  # the board needs a clinic's clinician
    chairs = scheduling.list_chairs(session, clinic_id=actor.clinic_id, active_only=True)
    # A chair retired today still shows while it has today's sessions on it.
    chairs += sorted({r.chair for r in rows if not r.chair.active}, key=lambda c: c.display_order)
    board_rows = views.board_rows(session, rows)
    return {
        **_shared(settings),
        "day": day,
        "rows": board_rows,
        "cards": views.chair_cards(chairs, board_rows),
        "refresh_s": BOARD_REFRESH_S,
        "unrecorded_waste": unrecorded_waste(session, actor),
    }


def session_context(
    session: Session, actor: Actor, settings: Settings, row: InfusionSession
) -> dict[str, Any]:
    patient = session.get(Patient, row.patient_id)
    protocol = session.get(ProtocolVersion, row.protocol_version_id)
    assert patient is not None and protocol is not None  # foreign keys
    given = service.delivered(row)
    names = views.user_names(
        session,
        [row.order_signed_by_user_id, row.verified_by_user_id]
        + [a.acknowledged_by_user_id for a in row.alerts],
    )
    chart = views.chart(row, patient, given, settings.timezone)
    offer = offers(actor, row, has_bolus=protocols.definition(protocol).bolus is not None)
    lines = with_moves(session, views.timeline_lines(session, row), row, settings.timezone)
    if offer["verify"]:
        lines = views.blind(lines)
    return {
        **_shared(settings),
        "row": row,
        "patient": patient,
        "banner": safety_banner(
            patient,
            today=clock.today(settings.timezone),
            zone=settings.timezone,
            plan=row.order_plan,
        ),
        "protocol": protocol,
        "given": given,
        "names": names,
        "open_alerts": [a for a in row.alerts if a.is_open],
        "closed_alerts": [a for a in row.alerts if a.acknowledged_at and not a.withdrawn_at],
        "vitals_due_at": service.vitals_due_at(session, row),
        "earliest_discharge_at": service.earliest_discharge(session, row),
        "blocks": service.open_blocks(row),
        "lines": lines,
        "chart": chart,
        "offer": offer,
        "pump_now": service.current_setting(row),
        "stop_early": service.stop_is_early(row),
        "stop_reasons": [(r.value, r.label) for r in StopReason],
        "verified_by_me": row.verified_by_user_id is not None
        and row.verified_by_user_id == actor.user_id,
        "protocol_dose_unit": DOSE_UNITS[protocols.definition(protocol).dose_mode],
        "order_prefill": (
            page_order.prefill(session, actor, row, settings.timezone)
            if actor.role is Role.PHYSICIAN and State(row.state) in _ORDERABLE
            else None
        ),
        "moves": allowed_moves(row.state),
        "vital_fields": VITAL_FIELDS,
        "side_effects": SIDE_EFFECTS,
        **OPTIONS,
        "moods": [INSTRUMENTS[i] for i in MOOD_INSTRUMENTS],
        **correction_context(actor, row, settings),
        **chain_context(session, actor, row, settings),
    }


def offers(actor: Actor, row: InfusionSession, *, has_bolus: bool) -> dict[str, bool]:
    """Which forms the page shows for this state, this person and this protocol."""
    state = State(row.state)
    moves = set(allowed_moves(row.state))
    physician, nurse = actor.role is Role.PHYSICIAN, actor.role is Role.NURSE
    signed = row.order_signed_by_user_id is not None
    return {
        "check_in": "check_in" in moves,
        "clearance": physician and bool(service.open_blocks(row)) and state not in TERMINAL,
        "order": physician and state in _ORDERABLE,
        "verify": nurse
        and signed
        and row.verified_by_user_id is None
        and row.order_signed_by_user_id != actor.user_id
        and state in _ORDERABLE,
        # The nurse who did the blind check may not start: the check must be independent.
        "start": "start" in moves and row.verified_by_user_id != actor.user_id,
        "resume": "resume" in moves,
        "stop": "stop" in moves,
        "pause": "pause" in moves,
        "rate": state is State.INFUSING,
        "bolus": has_bolus and state in (State.INFUSING, State.PAUSED),
        "charting": state in _CHARTING,
        "discharge": "discharge" in moves,
        "abort": "abort" in moves,
        "cancel": "cancel" in moves,
        "no_show": "mark_no_show" in moves,
    }
