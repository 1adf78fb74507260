"""In a real browser (issue 11 items 4 and 7): a refused form brings a banner to the top and the
keyboard focus to the field to fix; No-show asks a second time on the page, with no script."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Person
from tests.e2e.test_chairside_session import _fill, _log_in, _state, at, scheduled

pytestmark = pytest.mark.browser
__all__ = ["scheduled"]  # the fixture, shared with the whole-session journey


def test_a_refused_check_in_shows_the_banner_and_focuses_the_field_to_fix(
    live_server: str, browser_page: Any, scheduled: tuple[dict[str, Person], int]
) -> None:
    people, sid = scheduled
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 1024})
    with at(-30):
        _log_in(page, live_server, people["nurse"])
        page.goto(f"{live_server}/sessions/{sid}")
        _fill(page, "check_in", {"systolic_mmhg": "120", "diastolic_mmhg": "80"})
        _fill(page, "check_in", {"heart_rate_per_min": "72", "spo2_percent": "140"})
        page.click("button:has-text('Check in')")
        page.wait_for_selector("#refusal")
        assert "Not done." in page.inner_text("#refusal")
        focused = page.evaluate("document.activeElement && document.activeElement.id")
        assert focused and focused.startswith("f-check_in-")
        assert page.get_attribute(f"#{focused}", "aria-invalid") == "true"
        assert _state(page) == "scheduled"


def test_no_show_asks_a_second_time_and_go_back_changes_nothing(
    live_server: str, browser_page: Any, scheduled: tuple[dict[str, Person], int]
) -> None:
    people, sid = scheduled
    page = browser_page
    with at(30):
        _log_in(page, live_server, people["nurse"])
        page.goto(f"{live_server}/sessions/{sid}")
        page.click("button:has-text('No-show…')")
        page.wait_for_selector("#confirm")
        assert "as a no-show for 09:00 in Chair 2" in page.inner_text("#confirm")
        page.click("#confirm a:has-text('Go back')")
        page.wait_for_selector("#session-state")
        assert _state(page) == "scheduled"
        page.click("button:has-text('No-show…')")
        page.click("#confirm button:has-text('Confirm no-show')")
        page.wait_for_selector("text=Marked as no-show.")
        assert _state(page) == "no-show"
