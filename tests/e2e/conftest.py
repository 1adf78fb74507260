"""A real server on a free port and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from ketaclinic.app import create_app
from ketaclinic.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live_server(sqlite_settings: Settings) -> Iterator[str]:
    yield from _serve(sqlite_settings)


@pytest.fixture
def live_server_any(settings: Settings) -> Iterator[str]:
    """The same server on each database the ``settings`` fixture gives (SQLite, PostgreSQL)."""
    yield from _serve(settings)


def _serve(settings: Settings) -> Iterator[str]:
    port = _free_port()
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


@pytest.fixture
def browser_page() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        page = context.new_page()
        # A generous wait for each step: on the shared 2-core machine, with other test runs
        # beside it, a page with its charts took longer than 10 s to load (a timeout is no
        # measure of the app here; waiting longer costs nothing when the page is quick).
        page.set_default_timeout(30_000)
        yield page
        context.close()
        browser.close()
