"""Reminders: which one is due, what it says, and its iCalendar invitation. Pure: no I/O.

A reminder carries the date, time and clinic and the preparation advice, and nothing clinical:
no protocol, drug, dose or diagnosis, because e-mail and text messages are read on lock screens
and shared devices. The advice is what the clinic's discharge rules ask of every patient: a
responsible adult takes them home (Ketalar US label, REFERENCE.md §5c [R13]) and no driving until
the next day after restful sleep (Spravato label [R20][R21]; 24 h or more after ketamine [R62]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

PREPARATION_ADVICE = (
    "Please arrange for an adult to take you home after your appointment.",
    "Do not drive or operate machinery until the next day, after a night's sleep.",
    "If you cannot come, please contact the clinic as soon as you can.",
)
#: Minutes to wait before each retry of a failed send; past the last, the reminder has failed.
RETRY_DELAYS_MIN = (1, 5, 15, 60)
#: A claim older than this is taken to belong to a worker that died mid-send.
CLAIM_LEASE = timedelta(minutes=10)
ICS_LINE_OCTETS = 75  # RFC 5545 §3.1: lines SHOULD NOT be longer than 75 octets


class ReminderState(StrEnum):
    DUE = "due"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Visit:
    """What a reminder may say about a booking: when, how long, where. Nothing clinical."""

    session_id: int
    starts_at: datetime  # aware
    ends_at: datetime  # aware
    clinic_name: str
    clinic_code: str
    zone: ZoneInfo


def due_offset(starts_at: datetime, offsets_min: Sequence[int], now: datetime) -> int | None:
    """The offset whose reminder is due now: the nearest one to the session whose time has
    come. Earlier offsets that passed unsent (a late booking, a stopped worker) are not sent
    as well: one reminder now says everything they would have."""
    if now >= starts_at:
        return None
    passed = [m for m in offsets_min if starts_at - timedelta(minutes=m) <= now]
    return min(passed) if passed else None


def skip_reason(
    *, booked_at: datetime, current_at: datetime, still_booked: bool, now: datetime
) -> str | None:
    """Why a claimed reminder must not go out (the session moved, was called off or began),
    or None to send it. Read from the session as it is at sending time, never as queued."""
    if not still_booked:
        return "the session is no longer booked"
    if current_at != booked_at:
        return "the session was moved; a reminder for the new time replaces this one"
    if now >= current_at:
        return "the session time has passed"
    return None


def retry_at(attempts: int, now: datetime, *, max_attempts: int) -> datetime | None:
    """When to try again after ``attempts`` failed tries, or None once they are used up."""
    if attempts >= max_attempts:
        return None
    delay = RETRY_DELAYS_MIN[min(attempts, len(RETRY_DELAYS_MIN)) - 1]
    return now + timedelta(minutes=delay)


def local_when(visit: Visit) -> str:
    start = visit.starts_at.astimezone(visit.zone)
    return start.strftime("%A %d %B %Y at %H:%M") + f" ({visit.zone.key})"


def email_subject(visit: Visit) -> str:
    start = visit.starts_at.astimezone(visit.zone)
    return f"Reminder: your appointment at {visit.clinic_name} on {start:%d %B %Y, %H:%M}"


def email_text(visit: Visit) -> str:
    lines = [
        "Hello,",
        "",
        f"This is a reminder of your appointment at {visit.clinic_name} on {local_when(visit)}.",
        "",
        *PREPARATION_ADVICE,
        "",
        "The attached calendar file adds the appointment to your calendar.",
        "",
        f"{visit.clinic_name}",
    ]
    return "\n".join(lines) + "\n"


def sms_text(visit: Visit) -> str:
    return (
        f"{visit.clinic_name}: reminder of your appointment on {local_when(visit)}. "
        "An adult must take you home; no driving until the next day."
    )


def ics_uid(visit: Visit) -> str:
    """Stable per session, so a calendar updates the one event when the time changes."""
    return f"session-{visit.session_id}@{visit.clinic_code.lower()}.ketaclinic"


def build_ics(visit: Visit, *, stamp: datetime) -> str:
    """An RFC 5545 calendar with one event (METHOD:PUBLISH: no reply is expected)."""
    description = " ".join(PREPARATION_ADVICE)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ketaclinic//reminders//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{ics_uid(visit)}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(visit.starts_at)}",
        f"DTEND:{_utc(visit.ends_at)}",
        # A moved session gets a higher sequence, so calendars take the newer time.
        f"SEQUENCE:{int(stamp.timestamp())}",
        f"SUMMARY:{escape_text('Appointment at ' + visit.clinic_name)}",
        f"LOCATION:{escape_text(visit.clinic_name)}",
        f"DESCRIPTION:{escape_text(description)}",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into pieces of at most 75 octets (RFC 5545 §3.1), never inside a
    UTF-8 character; each continuation starts with one space, which counts toward its 75."""
    pieces: list[str] = []
    current, size, limit = "", 0, ICS_LINE_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size, limit = "", 0, ICS_LINE_OCTETS - 1
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def _utc(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
