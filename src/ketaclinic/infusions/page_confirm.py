"""The second step of an irreversible click on the session page (no-show, cancel, abort).

The first post carries no ``confirm=yes``: nothing is written, and the page comes back with a
panel that names what will happen, for whom, when and where. Only the panel's own button posts
``confirm=yes``. A plain page, no script: the Content-Security-Policy forbids inline script, and a
browser dialog is too easy to click through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

#: The form field that only the confirmation panel sends (shared with the pump's Stop).
CONFIRM_FIELD = "confirm"
CONFIRMED = "yes"
_ENDS = "the session ends and cannot be restarted"


@dataclass(frozen=True)
class Confirmation:
    """What the panel says and which button confirms it; ``reason`` rides along unchanged."""

    path: str
    sentence: str
    button: str
    reason: str = ""


def confirmed(form: Mapping[str, object]) -> bool:
    return form.get(CONFIRM_FIELD) == CONFIRMED


def confirmation(
    path: str, *, patient: str, chair: str, scheduled_at: datetime, zone: tzinfo, reason: str
) -> Confirmation | None:
    """The panel for an irreversible move at ``path``; ``None`` for any other form."""
    at = scheduled_at.astimezone(zone).strftime("%H:%M")
    because = f" (reason: {reason})" if reason else ""
    if path == "no-show":
        return Confirmation(
            path, f"Mark {patient} as a no-show for {at} in {chair}: {_ENDS}.", "Confirm no-show"
        )
    if path == "cancel":
        sentence = f"Cancel {patient}'s session at {at} in {chair}{because}: {_ENDS}."
        return Confirmation(path, sentence, "Confirm cancellation", reason)
    if path == "abort":
        sentence = (
            f"Abort {patient}'s session at {at} in {chair}{because}: {_ENDS}; "
            "if the pump is running, stop it at the pump as well."
        )
        return Confirmation(path, sentence, "Confirm abort", reason)
    return None
