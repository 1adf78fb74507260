"""Reminder test fixtures: a real SMTP server (aiosmtpd) and a real HTTP server for the SMS
webhook, both on loopback, and a clinic with a patient who agreed to reminders."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.config import Settings
from tests.conftest import Person
from tests.courses.helpers import SINGLE, Clinic

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
EMAIL = "synthetic.patient@example.org"
PHONE_TYPED = "(201) 555-0123"
PHONE_E164 = "+12015550123"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SmtpSink:
    """What the SMTP server received; ``refuse`` makes it answer every message with that reply."""

    port: int = 0
    refuse: str | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse is not None:
            return self.refuse
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Webhook:
    url: str = ""
    status: int = 200
    posts: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def sms_webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            hook.posts.append((dict(self.headers), body))
            self.send_response(hook.status)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: no request lines in the test output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def with_smtp(settings: Settings, sink: SmtpSink, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
            "smtp_starttls": False,
            "smtp_from": "reminders@north.example.org",
            **more,
        }
    )


class Book(Clinic):
    """The course helpers' clinic, with contact details and bookings for reminder tests."""

    def set_contact(self, patient_id: int, **body: Any) -> dict[str, Any]:
        response = self.client.put(
            f"/api/v1/patients/{patient_id}/contact", json=body, headers=self.nurse
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def consenting_patient(self, mrn: str, *, sms: bool = False) -> int:
        patient_id = self.patient_id if mrn == "MRN-1" else self.new_patient(mrn)
        self.set_contact(
            patient_id, phone=PHONE_TYPED, email=EMAIL, consent_email=True, consent_sms=sms
        )
        return patient_id

    def book(self, patient_id: int, at: datetime, key: str = SINGLE) -> int:
        body = {
            "patient_id": patient_id,
            "protocol_id": self.protocol_ids[key],
            "scheduled_at": at.isoformat(),
        }
        with clock.frozen_at(min(clock.now(), at - timedelta(days=7))):
            response = self.client.post("/api/v1/sessions", json=body, headers=self.nurse)
        assert response.status_code == 201, response.text
        session_id: int = response.json()["id"]
        return session_id


@pytest.fixture
def book(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Book:
    return Book(client, make_person, factory)
