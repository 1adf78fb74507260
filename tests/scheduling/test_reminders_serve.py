"""The reminder worker as a thread of `serve`: started only when asked and a channel is set,
stopped with the app."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from ketaclinic.app import create_app
from ketaclinic.config import Settings
from tests.scheduling.reminder_fixtures import SmtpSink, with_smtp


def _reminder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "reminders"]


def test_serve_runs_the_worker_only_when_asked(settings: Settings, smtp_server: SmtpSink) -> None:
    assert _reminder_threads() == []
    for config, expected in (
        (with_smtp(settings, smtp_server), 0),  # a channel, but not asked
        (settings.model_copy(update={"reminders_in_serve": True}), 0),  # asked, no channel
        (with_smtp(settings, smtp_server, reminders_in_serve=True), 1),
    ):
        app = create_app(config)
        with TestClient(app):
            assert len(_reminder_threads()) == expected
        assert _reminder_threads() == []
        app.state.engine.dispose()
