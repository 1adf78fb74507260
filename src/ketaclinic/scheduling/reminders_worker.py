"""The reminder worker: `ketaclinic reminders run`, or a thread inside `serve`.

One pass queues what has come due, claims a batch, and sends each claimed reminder: e-mail over
SMTP with an .ics invitation, or a text message through the clinic's SMS webhook (README,
"Reminders"). Claiming is atomic (``reminders_service.claim``), so any number of workers, on any
number of machines, send each reminder once. Nothing is sent inside a database transaction.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.config import Settings
from ketaclinic.db import transaction
from ketaclinic.patients.contact_core import Channel
from ketaclinic.scheduling import reminders_service as service
from ketaclinic.scheduling.reminders_core import (
    ReminderState,
    build_ics,
    email_subject,
    email_text,
    sms_text,
)

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """The message did not go out; the text says why, without patient data."""


@dataclass
class PassResult:
    queued: int = 0
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:12]}"


def channels_of(settings: Settings) -> tuple[Channel, ...]:
    return service.enabled_channels(
        email=settings.smtp_host is not None, sms=settings.sms_webhook_url is not None
    )


def run_once(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    worker: str,
    now: datetime | None = None,
) -> PassResult:
    """Queue, claim and send until nothing ready is left for this worker."""
    now = now or clock.now()
    result = PassResult()
    with transaction(factory) as session:
        result.queued = service.queue_due(
            session,
            now=now,
            offsets_min=settings.reminder_offsets_min,
            channels=channels_of(settings),
        )
    while True:
        with transaction(factory) as session:
            claimed = service.claim(session, worker=worker, now=now)
        if not claimed:
            return result
        result.claimed += len(claimed)
        for reminder_id in claimed:
            _send_one(
                factory, settings, reminder_id=reminder_id, worker=worker, now=now, into=result
            )


def _send_one(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    reminder_id: int,
    worker: str,
    now: datetime,
    into: PassResult,
) -> None:
    with transaction(factory) as session:
        outgoing = service.prepare(
            session, reminder_id=reminder_id, worker=worker, now=now, zone=settings.timezone
        )
    if outgoing is None:
        into.skipped += 1
        return
    try:
        deliver(settings, outgoing, now=now)
    except SendFailed as error:
        with transaction(factory) as session:
            state = service.mark_failed(
                session,
                reminder_id=reminder_id,
                worker=worker,
                now=now,
                error=str(error),
                max_attempts=settings.reminder_max_attempts,
            )
        if state is ReminderState.FAILED:
            into.failed += 1
        else:
            into.retrying += 1
        log.warning("reminder %s not sent (%s)", reminder_id, error)
        return
    with transaction(factory) as session:
        service.mark_sent(session, reminder_id=reminder_id, worker=worker, now=now)
    into.sent += 1


def deliver(settings: Settings, outgoing: service.Outgoing, *, now: datetime) -> None:
    if outgoing.channel is Channel.EMAIL:
        send_email(settings, outgoing, now=now)
    else:
        send_sms(settings, outgoing)


def email_message(settings: Settings, outgoing: service.Outgoing, *, now: datetime) -> EmailMessage:
    visit = outgoing.visit
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = outgoing.to
    message["Subject"] = email_subject(visit)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message.set_content(email_text(visit))
    message.add_attachment(
        build_ics(visit, stamp=now).encode(),
        maintype="text",
        subtype="calendar",
        filename="appointment.ics",
        params={"method": "PUBLISH"},
    )
    return message


def send_email(settings: Settings, outgoing: service.Outgoing, *, now: datetime) -> None:
    """Hand the message to the clinic's SMTP server; any refusal or network error is a
    SendFailed naming the SMTP code or error class."""
    assert settings.smtp_host is not None
    message = email_message(settings, outgoing, now=now)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and settings.smtp_password is not None:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPResponseException as error:
        raise SendFailed(f"SMTP server refused: {error.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        raise SendFailed("SMTP server refused the recipient") from None
    except (smtplib.SMTPException, OSError) as error:
        raise SendFailed(f"SMTP server unreachable or failed: {type(error).__name__}") from None


def sms_payload(outgoing: service.Outgoing) -> dict[str, object]:
    """The JSON body posted to the SMS webhook (documented in the README)."""
    return {
        "to": outgoing.to,
        "text": sms_text(outgoing.visit),
        "reminder_id": outgoing.reminder_id,
        "clinic": outgoing.visit.clinic_code,
    }


def send_sms(settings: Settings, outgoing: service.Outgoing) -> None:
    """POST the text to the clinic's gateway; any answer but 2xx is a SendFailed."""
    assert settings.sms_webhook_url is not None
    request = urllib.request.Request(  # noqa: S310  (the clinic's own configured URL)
        settings.sms_webhook_url,
        data=json.dumps(sms_payload(outgoing)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    if settings.sms_webhook_token is not None:
        token = settings.sms_webhook_token.get_secret_value()
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=settings.smtp_timeout_s) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        raise SendFailed(f"SMS webhook answered {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise SendFailed(f"SMS webhook unreachable: {type(error).__name__}") from None
    if not 200 <= status < 300:
        raise SendFailed(f"SMS webhook answered {status}")


class BackgroundReminders:
    """The worker as a thread of `serve` (``reminders_in_serve``), like the audit sealer."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory, self.settings = factory, settings
        self.worker = new_worker_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reminders", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.reminder_interval_s):
            run_safely(self.factory, self.settings, worker=self.worker)


def run_safely(factory: sessionmaker[Session], settings: Settings, *, worker: str) -> None:
    """One pass; a database error is logged (without data) and the next pass tries again."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        run_once(factory, settings, worker=worker)
    except SQLAlchemyError as error:
        log.warning("reminder pass failed (%s); will retry", type(error).__name__)
