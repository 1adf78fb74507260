"""The reminder worker against a real SMTP server and a real SMS webhook, on both engines: each
reminder is sent once even with two workers, with a parseable .ics, nothing clinical, moved and
cancelled sessions handled at sending time, failures retried and then shown to staff."""

from __future__ import annotations

import threading
from datetime import timedelta

import icalendar
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.accounts.models import Clinic as ClinicRow
from ketaclinic.audit.models import AuditEvent
from ketaclinic.config import Settings
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.models import Patient
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import reminders_service as service
from ketaclinic.scheduling import reminders_worker as worker
from ketaclinic.scheduling.reminders_core import CLAIM_LEASE, RETRY_DELAYS_MIN, ReminderState
from ketaclinic.scheduling.reminders_models import Reminder
from tests.conftest import csrf_from, log_in
from tests.scheduling.reminder_fixtures import (
    EMAIL,
    NOW,
    PHONE_E164,
    Book,
    SmtpSink,
    Webhook,
    free_port,
    with_smtp,
)

HOUR = timedelta(hours=1)


def _reminders(factory: sessionmaker[Session]) -> list[Reminder]:
    with factory() as session:
        return list(session.scalars(select(Reminder).order_by(Reminder.id)))


def _ics(message: object) -> icalendar.Calendar:
    parts = list(message.iter_attachments())  # type: ignore[attr-defined]
    calendars = [p for p in parts if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1, [p.get_content_type() for p in parts]
    raw = calendars[0].get_payload(decode=True)
    assert b"\r\n" in raw and all(len(line) <= 75 for line in raw.split(b"\r\n"))
    return icalendar.Calendar.from_ical(raw)


def test_two_workers_send_each_reminder_exactly_once_with_a_parseable_ics(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    patients = [book.consenting_patient(f"MRN-{n}") for n in range(1, 6)]
    starts = {book.book(p, NOW + 30 * HOUR + 2 * n * HOUR): p for n, p in enumerate(patients)}
    config = with_smtp(settings, smtp_server)
    barrier = threading.Barrier(2)
    results: list[worker.PassResult] = []

    def run(name: str) -> None:
        barrier.wait()
        results.append(worker.run_once(factory, config, worker=name, now=NOW))

    threads = [threading.Thread(target=run, args=(f"w{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 2
    assert sum(r.queued for r in results) == len(starts)  # queued once between them
    assert sum(r.sent for r in results) == len(starts)
    assert len(smtp_server.messages) == len(starts)
    assert all(rcpt == [EMAIL] for rcpt in smtp_server.recipients)
    rows = _reminders(factory)
    assert sorted(r.session_id for r in rows) == sorted(starts)
    assert {(r.state, r.offset_min, r.channel) for r in rows} == {("sent", 48 * 60, "email")}
    with factory() as session:
        booked = {s.id: s.scheduled_at for s in session.scalars(select(InfusionSession))}
    seen = set()
    for message in smtp_server.messages:
        event = _ics(message).walk("VEVENT")[0]
        session_id = int(str(event["UID"]).split("@")[0].removeprefix("session-"))
        assert event.decoded("DTSTART") == booked[session_id]
        assert event.decoded("DTEND") > event.decoded("DTSTART")
        seen.add(session_id)
    assert seen == set(starts)

    again = worker.run_once(factory, config, worker="w3", now=NOW + timedelta(minutes=5))
    assert (again.queued, again.sent) == (0, 0)
    assert len(smtp_server.messages) == len(starts)


def test_the_message_says_date_time_clinic_and_advice_and_nothing_clinical(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    session_id = book.book(patient_id, NOW + HOUR)
    worker.run_once(factory, with_smtp(settings, smtp_server), worker="w", now=NOW)
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    with factory() as session:
        booking = session.get(InfusionSession, session_id)
        assert booking is not None
        protocol = session.get(ProtocolVersion, booking.protocol_version_id)
        patient = session.get(Patient, patient_id)
        clinic = session.get(ClinicRow, booking.clinic_id)
        assert protocol is not None and patient is not None and clinic is not None
        clinical = [protocol.name, protocol.key, "ketamine", " mg", "infusion", patient.mrn]
        clinical += [d.code for d in patient.diagnoses] + [d.title for d in patient.diagnoses]
        local = booking.scheduled_at.astimezone(settings.timezone)
        clinic_name = clinic.name
    ics = _ics(message).to_ical().decode()
    lowered = "\n".join([str(message["Subject"]), body, ics]).lower()
    assert [word for word in clinical if word.lower() in lowered] == []
    assert clinic_name in body
    assert f"{local:%d %B %Y}" in body and f"{local:%H:%M}" in body
    assert "adult" in body and "drive" in body.lower()
    # The 2-hour reminder is the one due an hour before: the 48-hour one is not sent as well.
    assert [r.offset_min for r in _reminders(factory)] == [120]


def test_reading_the_address_is_audited_as_the_system(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    book.book(patient_id, NOW + HOUR)
    worker.run_once(factory, with_smtp(settings, smtp_server), worker="w", now=NOW)
    with factory() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "reminder.contact.read")
        ).all()
    assert [(e.patient_id, e.username, e.user_id, e.role) for e in events] == [
        (patient_id, "reminders", None, None)
    ]
    assert EMAIL not in (events[0].detail or "")


def test_a_moved_session_is_reminded_at_its_new_time_and_never_at_the_old(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    session_id = book.book(patient_id, NOW + 40 * HOUR)
    config = with_smtp(settings, smtp_server)
    channels = worker.channels_of(config)
    with transaction(factory) as session:
        added = service.queue_due(session, now=NOW, offsets_min=[2880, 120], channels=channels)
        assert added == 1
    moved_to = NOW + 60 * HOUR
    with transaction(factory) as session:
        row = session.get(InfusionSession, session_id)
        assert row is not None
        row.scheduled_at = moved_to
    result = worker.run_once(factory, config, worker="w", now=NOW)
    assert (result.sent, result.skipped) == (0, 1)
    assert smtp_server.messages == []
    later = NOW + 13 * HOUR  # 47 h before the new time
    assert worker.run_once(factory, config, worker="w", now=later).sent == 1
    assert _ics(smtp_server.messages[0]).walk("VEVENT")[0].decoded("DTSTART") == moved_to
    states = [(r.session_at, r.state) for r in _reminders(factory)]
    assert states == [(NOW + 40 * HOUR, "skipped"), (moved_to, "sent")]


def test_a_cancelled_session_gets_no_reminder(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    session_id = book.book(patient_id, NOW + HOUR)
    with clock.frozen_at(NOW - HOUR):
        response = book.client.post(
            f"/api/v1/sessions/{session_id}/cancel",
            json={"reason": "patient called"},
            headers=book.nurse,
        )
    assert response.status_code == 200, response.text
    result = worker.run_once(factory, with_smtp(settings, smtp_server), worker="w", now=NOW)
    assert (result.queued, result.sent) == (0, 0)
    assert smtp_server.messages == []


def test_without_consent_nothing_is_sent(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    book.set_contact(book.patient_id, email=EMAIL, consent_email=False)
    book.book(book.patient_id, NOW + HOUR)
    result = worker.run_once(factory, with_smtp(settings, smtp_server), worker="w", now=NOW)
    assert (result.queued, result.sent) == (0, 0)
    assert smtp_server.messages == [] and _reminders(factory) == []


def test_consent_withdrawn_after_queueing_stops_the_reminder(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    book.book(patient_id, NOW + HOUR)
    config = with_smtp(settings, smtp_server)
    with transaction(factory) as session:
        service.queue_due(session, now=NOW, offsets_min=[120], channels=worker.channels_of(config))
    book.set_contact(patient_id, email=EMAIL, consent_email=False)
    result = worker.run_once(factory, config, worker="w", now=NOW)
    assert (result.sent, result.skipped) == (0, 1)
    assert smtp_server.messages == []


def test_a_refusing_server_is_retried_with_backoff_then_shown_to_staff(
    book: Book,
    client: TestClient,
    factory: sessionmaker[Session],
    settings: Settings,
    smtp_server: SmtpSink,
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    book.book(patient_id, NOW + 10 * HOUR)
    smtp_server.refuse = "451 4.3.0 try again later"
    config = with_smtp(settings, smtp_server, reminder_max_attempts=3)
    at = NOW
    outcomes = []
    for _ in range(config.reminder_max_attempts):
        result = worker.run_once(factory, config, worker="w", now=at)
        outcomes.append((result.retrying, result.failed))
        assert worker.run_once(factory, config, worker="w", now=at).claimed == 0  # not yet
        (row,) = _reminders(factory)
        at = row.next_attempt_at
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    (row,) = _reminders(factory)
    assert (row.state, row.attempts) == (ReminderState.FAILED.value, 3)
    assert row.last_error == "SMTP server refused: 451"
    assert smtp_server.messages == []

    staff = book.nurse_person
    log_in(client, staff)
    page = client.get("/scheduling/reminders")
    assert page.status_code == 200
    failed = page.text.split('id="failed"')[1].split("</section>")[0]
    assert "Synthetic-Case" in failed and "SMTP server refused: 451" in failed

    smtp_server.refuse = None
    with clock.frozen_at(at):
        retry = client.post(
            f"/scheduling/reminders/{row.id}/retry",
            data={"csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
    assert retry.status_code == 303
    assert worker.run_once(factory, config, worker="w", now=at).sent == 1
    assert len(smtp_server.messages) == 1


def test_the_retry_delays_grow(
    book: Book, factory: sessionmaker[Session], settings: Settings
) -> None:
    """An unreachable server (nothing listens on the port) counts as a failed try."""
    patient_id = book.consenting_patient("MRN-1")
    book.book(patient_id, NOW + 10 * HOUR)
    config = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_starttls": False}
    )
    at, waits = NOW, []
    for _ in range(len(RETRY_DELAYS_MIN)):
        worker.run_once(factory, config, worker="w", now=at)
        (row,) = _reminders(factory)
        waits.append(row.next_attempt_at - at)
        at = row.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in RETRY_DELAYS_MIN]
    assert row.last_error is not None and row.last_error.startswith("SMTP server unreachable")


def test_sms_goes_to_the_webhook_as_documented(
    book: Book, factory: sessionmaker[Session], settings: Settings, sms_webhook: Webhook
) -> None:
    patient_id = book.consenting_patient("MRN-1", sms=True)
    session_id = book.book(patient_id, NOW + HOUR)
    config = settings.model_copy(
        update={"sms_webhook_url": sms_webhook.url, "sms_webhook_token": SecretStr("hook-secret")}
    )
    result = worker.run_once(factory, config, worker="w", now=NOW)
    assert result.sent == 1
    ((headers, body),) = sms_webhook.posts
    assert headers["Authorization"] == "Bearer hook-secret"
    assert headers["Content-Type"] == "application/json"
    (row,) = _reminders(factory)
    assert set(body) == {"to", "text", "reminder_id", "clinic"}
    assert (body["to"], body["reminder_id"], row.channel) == (PHONE_E164, row.id, "sms")
    assert "adult" in body["text"] and "ketamine" not in body["text"].lower()
    assert row.session_id == session_id


def test_sms_is_off_unless_a_webhook_is_set(
    book: Book, factory: sessionmaker[Session], settings: Settings
) -> None:
    patient_id = book.consenting_patient("MRN-1", sms=True)
    book.book(patient_id, NOW + HOUR)
    assert settings.sms_webhook_url is None and settings.smtp_host is None
    result = worker.run_once(factory, settings, worker="w", now=NOW)
    assert (result.queued, result.sent) == (0, 0)


def test_a_webhook_error_is_a_failed_try(
    book: Book, factory: sessionmaker[Session], settings: Settings, sms_webhook: Webhook
) -> None:
    patient_id = book.consenting_patient("MRN-1", sms=True)
    book.book(patient_id, NOW + HOUR)
    sms_webhook.status = 503
    config = settings.model_copy(update={"sms_webhook_url": sms_webhook.url})
    result = worker.run_once(factory, config, worker="w", now=NOW)
    assert (result.sent, result.retrying) == (0, 1)
    (row,) = _reminders(factory)
    assert (row.state, row.last_error) == ("due", "SMS webhook answered 503")


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_the_lease(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    book.book(patient_id, NOW + 3 * HOUR)
    config = with_smtp(settings, smtp_server, reminder_offsets_min=[180])
    with transaction(factory) as session:
        service.queue_due(session, now=NOW, offsets_min=[180], channels=worker.channels_of(config))
    with transaction(factory) as session:
        assert len(service.claim(session, worker="dead", now=NOW)) == 1  # and never sends
    within = NOW + CLAIM_LEASE - timedelta(seconds=1)
    assert worker.run_once(factory, config, worker="w", now=within).claimed == 0
    after = NOW + CLAIM_LEASE + timedelta(seconds=1)
    assert worker.run_once(factory, config, worker="w", now=after).sent == 1
    with transaction(factory) as session:  # the dead worker's late report changes nothing
        service.mark_failed(
            session, reminder_id=1, worker="dead", now=after, error="late", max_attempts=1
        )
    assert [(r.state, r.last_error) for r in _reminders(factory)] == [("sent", None)]
    assert len(smtp_server.messages) == 1


def test_starttls_against_a_server_without_it_is_a_failed_try(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    """The link is never used in clear when the clinic asked for STARTTLS."""
    patient_id = book.consenting_patient("MRN-1")
    book.book(patient_id, NOW + HOUR)
    config = with_smtp(settings, smtp_server, smtp_starttls=True)
    assert worker.run_once(factory, config, worker="w", now=NOW).retrying == 1
    (row,) = _reminders(factory)
    assert row.last_error is not None and row.last_error.startswith("SMTP server")
    assert smtp_server.messages == []


def test_on_postgresql_a_row_being_claimed_is_skipped_not_waited_for(
    book: Book, factory: sessionmaker[Session], settings: Settings, smtp_server: SmtpSink
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite has one writer at a time: a second claim waits for the first")
    for mrn in ("MRN-1", "MRN-2"):
        book.book(book.consenting_patient(mrn), NOW + HOUR)
    channels = worker.channels_of(with_smtp(settings, smtp_server))
    with transaction(factory) as session:
        assert service.queue_due(session, now=NOW, offsets_min=[120], channels=channels) == 2
    first = factory()
    try:
        first.begin()
        taken_first = service.claim(first, worker="a", now=NOW, limit=1)
        with transaction(factory) as second:
            # Waiting on the first worker's row would fail here instead of hanging the test.
            second.execute(text("SET LOCAL lock_timeout = '5s'"))
            taken_second = service.claim(second, worker="b", now=NOW, limit=2)
        first.commit()
    finally:
        first.close()
    assert len(taken_first) == 1 and len(taken_second) == 1
    assert set(taken_first).isdisjoint(taken_second)
    with transaction(factory) as session:
        assert service.claim(session, worker="c", now=NOW) == []
