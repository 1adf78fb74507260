"""The demo clinic's board, a session page, a patient page and the portal at a phone's, a tablet's
and a laptop's width: nothing scrolls sideways, the menu folds away on the phone, the charts'
tick labels never repeat, and the footer names the clinic's time zone. Screenshots of every page
at every width are saved under the test's tmp dir (printed on failure)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketaclinic import clock, demo
from ketaclinic.config import Settings
from ketaclinic.db import engine_scope, make_session_factory
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.interop import service as interop
from ketaclinic.interop.hl7_core import sample_oru_r01
from ketaclinic.patients.models import Patient
from tests.infusions.test_api import CALM_VITALS

pytestmark = pytest.mark.browser

ZONE = "America/Chicago"
WIDTHS = {"phone": 390, "tablet": 820, "laptop": 1366}
HEIGHT = 900
#: Tick labels of every Plotly axis on the page, axis by axis.
TICKS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(plot =>
  Array.from(plot.querySelectorAll('g.xaxislayer-above, g.yaxislayer-above')).map(layer =>
    Array.from(layer.querySelectorAll('text')).map(t => t.textContent)))"""


@pytest.fixture
def sqlite_settings(sqlite_settings: Settings) -> Settings:
    """The suite's SQLite database, in the demo clinic's real time zone."""
    return sqlite_settings.model_copy(update={"clinic_timezone": ZONE})


@pytest.fixture
def seeded(sqlite_settings: Settings) -> dict[str, Any]:
    """The demo clinic with its history and today's floor; its logins, and the pages to open."""
    result = demo.seed(sqlite_settings)
    logins = {username: password for username, _, password in result.passwords}
    with engine_scope(sqlite_settings) as engine, make_session_factory(engine)() as session:
        infusing = session.scalars(
            select(InfusionSession).where(InfusionSession.state == "infusing")
        ).first()
        portal_patient = session.scalars(select(Patient).order_by(Patient.id)).first()
        assert infusing is not None and portal_patient is not None
        pages = {
            "board": "/board",
            "session": f"/sessions/{infusing.id}",
            "patient": f"/patients/{portal_patient.id}",
            # reminders (issue 13): the staff list and a patient's contact page
            "reminders": "/scheduling/reminders",
            "contact": f"/patients/{portal_patient.id}/contact",
            "book_day": "/scheduling/day",
            "book_week": "/scheduling/week",
            "hl7_inbox": "/interop/inbox",  # with one reading no session could take
        }
        clinic_id = infusing.clinic_id
    unplaceable = sample_oru_r01(
        control_id="SCREEN-1",
        mrn="NOBODY-1",
        observed_at=clock.now(),
        values={name: Decimal(value) for name, value in CALM_VITALS.items()},
    )
    with engine_scope(sqlite_settings) as engine, make_session_factory(engine)() as session:
        ack = interop.receive(
            session, unplaceable, clinic_id=clinic_id, zone=ZoneInfo(ZONE), now=clock.now()
        )
        assert "|AE|" in ack
    return {"logins": logins, "pages": pages}


@pytest.fixture
def contexts(browser_page: Any) -> Iterator[dict[str, Any]]:
    """One browser context per width (phones are touch screens)."""
    browser = browser_page.context.browser
    made = {}
    for name, width in WIDTHS.items():
        phone = name == "phone"
        made[name] = browser.new_context(
            viewport={"width": width, "height": HEIGHT}, is_mobile=phone, has_touch=phone
        )
    yield made
    for context in made.values():
        context.close()


def _log_in(page: Any, base: str, username: str, password: str, target: str) -> None:
    page.goto(f"{base}{target}")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}{target}")


def _check(page: Any, name: str, width: int, shots: Path) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{name} at {width} px scrolls sideways ({scroll} > {inner})"
    for labels in page.evaluate(TICKS_JS):
        assert len(labels) == len(set(labels)), f"{name} at {width} px repeats ticks {labels}"
    assert ZONE in page.inner_text("footer")


def test_every_page_fits_every_screen_without_sideways_scrolling(
    live_server: str, contexts: dict[str, Any], seeded: dict[str, Any], tmp_path: Path
) -> None:
    """Slow because Chromium renders four pages with their charts at three widths and screenshots
    each, after the demo is seeded (most of its time is Chromium's, not this process's)."""
    shots = tmp_path / "screens"
    shots.mkdir()
    print(f"screenshots: {shots}")
    logins = seeded["logins"]
    errors: list[str] = []
    for size, context in contexts.items():
        width = WIDTHS[size]
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error, size=size: errors.append(f"{size}: {error}"))
        _log_in(page, live_server, "demo.nurse", logins["demo.nurse"], "/board")
        menu = page.locator("#main-menu")
        if size == "phone":
            assert not menu.is_visible()  # folded away
            page.click("label[for=menu-toggle]")
            assert menu.is_visible() and page.locator("#main-menu a[href='/board']").is_visible()
            page.click("label[for=menu-toggle]")
            assert not menu.is_visible()
        else:
            assert menu.is_visible() and not page.locator("label[for=menu-toggle]").is_visible()
        for name, url in seeded["pages"].items():
            page.goto(f"{live_server}{url}")
            if name in ("session", "patient"):
                page.wait_for_selector(".js-plotly-plot .main-svg")
            if name == "hl7_inbox":  # the table is on the page, not an empty inbox
                assert page.locator("#waiting table tbody tr").count() == 1
            _check(page, name, width, shots)
        page.context.clear_cookies()  # the patient logs in on the same device
        _log_in(page, live_server, "demo.patient", logins["demo.patient"], "/portal")
        page.wait_for_selector("#portal-chart .main-svg")
        _check(page, "portal", width, shots)
        assert errors == []
        page.close()
    assert len(list(shots.iterdir())) == (len(seeded["pages"]) + 1) * len(WIDTHS)
