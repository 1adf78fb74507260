"""`ketaclinic reminders run`: one pass with --once, JSON counts, exit 2 on bad settings."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from ketaclinic import clock
from ketaclinic.cli import app
from ketaclinic.config import Settings
from tests.conftest import cli_env
from tests.scheduling.reminder_fixtures import EMAIL, NOW, Book, SmtpSink

runner = CliRunner()


def _smtp_env(settings: Settings, sink: SmtpSink) -> dict[str, str]:
    return {
        **cli_env(settings),
        "KETACLINIC_SMTP_HOST": "127.0.0.1",
        "KETACLINIC_SMTP_PORT": str(sink.port),
        "KETACLINIC_SMTP_STARTTLS": "false",
    }


def test_one_pass_sends_what_is_due_and_says_so(
    book: Book, settings: Settings, smtp_server: SmtpSink
) -> None:
    patient_id = book.consenting_patient("MRN-1")
    book.book(patient_id, NOW + timedelta(hours=20))
    env = {**_smtp_env(settings, smtp_server), "KETACLINIC_REMINDER_OFFSETS_MIN": "[1440, 60]"}
    with clock.frozen_at(NOW):
        result = runner.invoke(app, ["reminders", "run", "--once", "--json"], env=env)
        again = runner.invoke(app, ["reminders", "run", "--once", "--json"], env=env)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["queued"], counts["sent"], counts["failed"]) == (1, 1, 0)
    assert json.loads(again.stdout)["sent"] == 0
    assert [m["To"] for m in smtp_server.messages] == [EMAIL]


def test_without_a_channel_or_with_a_bad_offset_it_refuses(settings: Settings) -> None:
    none = runner.invoke(app, ["reminders", "run", "--once"], env=cli_env(settings))
    assert none.exit_code == 2
    assert "KETACLINIC_SMTP_HOST" in none.stderr
    env = {**cli_env(settings), "KETACLINIC_SMTP_HOST": "127.0.0.1"}
    bad = runner.invoke(
        app, ["reminders", "run", "--once"], env={**env, "KETACLINIC_REMINDER_OFFSETS_MIN": "[2]"}
    )
    assert bad.exit_code == 2
    assert "KETACLINIC_REMINDER_OFFSETS_MIN" in bad.stderr and "5 to 20160 minutes" in bad.stderr
