"""The infusion session's state machine, as data (DESIGN §3). Pure: no I/O, no clock.

The table says which move leads where; the guards say what must be true first. An illegal move is
an ``InvalidTransition`` (409) naming the state and the moves it allows; an unmet guard is an
``InvalidInput`` (422) naming what is missing. Nothing is ever a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from ketaclinic.errors import InvalidInput, InvalidTransition


class State(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    INFUSING = "infusing"
    PAUSED = "paused"
    OBSERVING = "observing"
    DISCHARGED = "discharged"
    ABORTED = "aborted"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Move(StrEnum):
    CHECK_IN = "check_in"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    DISCHARGE = "discharge"
    ABORT = "abort"
    CANCEL = "cancel"
    MARK_NO_SHOW = "mark_no_show"


#: Final states: nothing leaves them.
TERMINAL = frozenset({State.DISCHARGED, State.ABORTED, State.CANCELLED, State.NO_SHOW})

#: DESIGN §3: "any state before discharged ─abort(reason)→ aborted". A cancelled or no-show session
#: never reached the chair, so there is nothing to abort.
_ABORTABLE = (State.SCHEDULED, State.CHECKED_IN, State.INFUSING, State.PAUSED, State.OBSERVING)

#: Every allowed move, ``(state, move) -> next state``; in the order moves are offered to users.
TRANSITIONS: Mapping[tuple[State, Move], State] = MappingProxyType(
    {
        (State.SCHEDULED, Move.CHECK_IN): State.CHECKED_IN,
        (State.SCHEDULED, Move.CANCEL): State.CANCELLED,
        (State.SCHEDULED, Move.MARK_NO_SHOW): State.NO_SHOW,
        (State.CHECKED_IN, Move.START): State.INFUSING,
        (State.INFUSING, Move.PAUSE): State.PAUSED,
        (State.INFUSING, Move.STOP): State.OBSERVING,
        (State.PAUSED, Move.RESUME): State.INFUSING,
        # Stopping from a pause is how an infusion ends early after an adverse effect.
        (State.PAUSED, Move.STOP): State.OBSERVING,
        (State.OBSERVING, Move.DISCHARGE): State.DISCHARGED,
    }
    | {(state, Move.ABORT): State.ABORTED for state in _ABORTABLE}
)


@dataclass(frozen=True, kw_only=True)
class GuardContext:
    """What the guards look at. The defaults are the unsafe-to-assume answers, so a caller that
    forgets a fact gets a refusal, never a pass.

    ``starter_is_not_verifier`` says the person starting is not the nurse who verified the order
    (issue 11: an independent double check). ``discharge_problems`` is
    ``discharge.discharge_problems(...)`` as computed by the caller;
    ``None`` means no discharge assessment was made.
    """

    order_signed: bool = False
    second_nurse_verified: bool = False
    starter_is_not_verifier: bool = False
    no_bp_block: bool = False
    reason: str | None = None
    discharge_problems: Sequence[str] | None = None


#: A guard returns ``None`` when satisfied, else the message saying what is missing.
Guard = Callable[[GuardContext], str | None]


def _order_signed(ctx: GuardContext) -> str | None:
    return None if ctx.order_signed else "start needs a signed physician order"


def _second_nurse(ctx: GuardContext) -> str | None:
    return None if ctx.second_nurse_verified else "start needs a second nurse's pump verification"


def _independent_check(ctx: GuardContext) -> str | None:
    if ctx.starter_is_not_verifier or not ctx.second_nurse_verified:
        return None
    return (
        "start needs a nurse other than the one who did the second check: the nurse who "
        "verified may not start the infusion (an independent double check needs two nurses)"
    )


def _no_bp_block(move: Move) -> Guard:
    def guard(ctx: GuardContext) -> str | None:
        if not ctx.no_bp_block:
            return f"{move.value} needs the blood-pressure block resolved first"
        return None

    return guard


def _reason(move: Move) -> Guard:
    def guard(ctx: GuardContext) -> str | None:
        if ctx.reason is None or not ctx.reason.strip():
            return f"{move.value} needs a non-blank reason"
        return None

    return guard


def _discharge_criteria(ctx: GuardContext) -> str | None:
    if ctx.discharge_problems is None:
        return "discharge needs a discharge assessment"
    if ctx.discharge_problems:
        return "discharge criteria not met: " + "; ".join(ctx.discharge_problems)
    return None


#: Named guards per move; a move not listed has none. Resume shares start's BP block: a pause for
#: high blood pressure must not be undone before the block is resolved. Pause and resume both
#: need a reason (issue 5): why it stopped, and why it is safe to go on.
GUARDS: Mapping[Move, tuple[tuple[str, Guard], ...]] = MappingProxyType(
    {
        Move.START: (
            ("order_signed", _order_signed),
            ("second_nurse_verified", _second_nurse),
            ("independent_check", _independent_check),
            ("no_bp_block", _no_bp_block(Move.START)),
        ),
        Move.RESUME: (
            ("no_bp_block", _no_bp_block(Move.RESUME)),
            ("reason", _reason(Move.RESUME)),
        ),
        Move.PAUSE: (("reason", _reason(Move.PAUSE)),),
        Move.ABORT: (("reason", _reason(Move.ABORT)),),
        Move.DISCHARGE: (("discharge_criteria", _discharge_criteria),),
    }
)


def _parse(kind: type[State] | type[Move], value: str) -> State | Move:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(m.value for m in kind)
        name = kind.__name__.lower()
        raise InvalidInput(f"unknown {name} {value!r}; known: {known}", loc=(name,)) from None


def allowed_moves(state: str) -> tuple[str, ...]:
    """The moves the table allows from ``state`` (guards not checked), in table order."""
    current = _parse(State, state)
    return tuple(move.value for (src, move) in TRANSITIONS if src is current)


def unmet_guards(move: str, context: GuardContext) -> tuple[tuple[str, str], ...]:
    """``(guard name, message)`` for every guard of ``move`` that ``context`` fails."""
    checked = _parse(Move, move)
    problems = ((name, guard(context)) for name, guard in GUARDS.get(Move(checked), ()))
    return tuple((name, msg) for name, msg in problems if msg is not None)


def transition(state: str, move: str, context: GuardContext) -> State:
    """The state after ``move`` from ``state``, or the reason it is refused.

    The table is checked before the guards: "cannot start from scheduled" is the more useful answer
    than "start needs a signed order" when the patient has not even checked in.
    """
    current = State(_parse(State, state))
    requested = Move(_parse(Move, move))
    target = TRANSITIONS.get((current, requested))
    if target is None:
        allowed = ", ".join(allowed_moves(current)) or "none (final state)"
        raise InvalidTransition(
            f"cannot {requested.value} from {current.value}; allowed: {allowed}", loc=("move",)
        )
    unmet = unmet_guards(requested, context)
    if unmet:
        raise InvalidInput("; ".join(msg for _, msg in unmet), loc=(unmet[0][0],))
    return target


#: How far back a booking may be: a patient already in the chair may be booked a little late.
#: Earlier is a late entry of a visit, not a booking, and would put a phantom row on the board.
PAST_GRACE = timedelta(hours=1)


def booking_time_problem(scheduled_at: datetime, now: datetime) -> str | None:
    """Why a session cannot be booked for ``scheduled_at`` (aware) at ``now``, or None. The one
    rule for the page and the API."""
    if scheduled_at < now - PAST_GRACE:
        return "is more than 1 hour in the past; choose a later time"
    return None
