"""Security headers on every response, templates the Content-Security-Policy can run, and the API
docs: served without any network, behind a login in production."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import User
from ketaclinic.app import create_app
from ketaclinic.config import Settings
from ketaclinic.db import make_engine, make_session_factory
from ketaclinic.infusions.models import InfusionSession
from tests.conftest import Person, log_in, token_for
from tests.e2e.conftest import browser_page, live_server  # noqa: F401  (fixtures)

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "ketaclinic"
DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb")


def _policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {d[0]: d[1:] for d in directives}


@pytest.mark.parametrize("path", ["/login", "/api/v1/me", "/static/app.css", "/nowhere"])
def test_every_response_carries_the_content_security_policy(client: TestClient, path: str) -> None:
    policy = _policy(client.get(path).headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no other host
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert not any("unsafe-eval" in value for values in policy.values() for value in values)


def test_every_response_denies_devices_and_payment(client: TestClient) -> None:
    header = client.get("/login").headers["permissions-policy"]
    features = dict(part.strip().split("=", 1) for part in header.split(","))
    assert {f: features.get(f) for f in DENIED_FEATURES} == dict.fromkeys(DENIED_FEATURES, "()")
    assert set(features.values()) == {"()"}


def test_strict_transport_security_is_sent_only_with_secure_cookies(
    client: TestClient, settings: Settings
) -> None:
    assert "strict-transport-security" not in client.get("/login").headers
    secure = create_app(settings.model_copy(update={"secure_cookies": True}))
    with TestClient(secure, base_url="https://testserver") as https:
        for path in ("/login", "/api/v1/me", "/static/app.css"):
            header = https.get(path).headers["strict-transport-security"]
            assert header == "max-age=31536000; includeSubDomains"
    secure.state.engine.dispose()


class _Tags(HTMLParser):
    """Script tags, event-handler attributes and javascript: links of one template."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and "src" not in values and values.get("type") != "application/json":
            self.problems.append("an inline <script>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"an inline handler {name}=")
            if (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"a javascript: URL in {name}=")


def test_no_template_has_a_script_the_policy_would_block() -> None:
    templates = sorted(TEMPLATES.glob("*/templates/**/*.html"))
    assert len(templates) > 40  # every domain's templates were found
    problems = []
    for template in templates:
        parser = _Tags()
        parser.feed(template.read_text())
        problems += [f"{template.relative_to(TEMPLATES)}: {p}" for p in parser.problems]
    assert problems == []


def _referenced(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_the_api_docs_need_no_network_and_name_no_other_host(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert not re.search(r"https?:|//[a-z]", page.text, re.IGNORECASE)
    assets = _referenced(page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    starter = client.get("/static/api-docs.js").text
    assert not re.search(r"https?:", starter)
    assert client.get("/openapi.json").json()["paths"]
    assert client.get("/redoc").status_code == 404  # no second docs page loading from a CDN


@pytest.fixture
def production(settings: Settings) -> Any:
    app = create_app(
        settings.model_copy(update={"environment": "production", "secure_cookies": True})
    )
    yield app
    app.state.engine.dispose()


def test_in_production_the_api_docs_answer_only_to_signed_in_users(
    production: FastAPI, make_person: Any
) -> None:
    nurse: Person = make_person(Role.NURSE)
    with TestClient(production, base_url="https://testserver") as anonymous:
        docs = anonymous.get("/docs", follow_redirects=False)
        assert docs.status_code == 303
        assert docs.headers["location"] == "/login?next=/docs"
        document = anonymous.get("/openapi.json")
        assert document.status_code == 401
        assert document.json()["detail"][0]["loc"] == ["header", "Authorization"]
        assert (
            anonymous.get("/openapi.json", headers={"Authorization": "Bearer x"}).status_code == 401
        )
    with TestClient(production, base_url="https://testserver") as browser:
        log_in(browser, nurse)
        assert browser.get("/docs").status_code == 200
        assert browser.get("/openapi.json").json()["paths"]
    with TestClient(production, base_url="https://testserver") as script:
        headers = token_for(script, nurse)
        assert script.get("/openapi.json", headers=headers).json()["paths"]


def _operations(settings: Settings) -> int:
    app = create_app(settings)
    document = app.openapi()
    app.state.engine.dispose()
    verbs = {"get", "post", "put", "patch", "delete"}
    return sum(len(verbs & set(item)) for item in document["paths"].values())


def _demo_records(settings: Settings) -> tuple[int, int]:
    """A session with a chart and the portal patient's record, from the demo's history."""
    engine = make_engine(settings)
    with make_session_factory(engine)() as session:
        session_id = session.scalar(
            select(InfusionSession.id)
            .where(InfusionSession.state == "discharged")
            .order_by(InfusionSession.id)
        )
        patient_id = session.scalar(select(User.patient_id).where(User.username == "demo.patient"))
    engine.dispose()
    assert session_id is not None and patient_id is not None
    return session_id, patient_id


@pytest.mark.browser
def test_charts_and_the_api_docs_draw_under_the_policy_with_nothing_from_outside(
    live_server: str,  # noqa: F811
    browser_page: Any,  # noqa: F811
    sqlite_settings: Settings,
) -> None:
    from ketaclinic import demo

    logins = {username: password for username, _, password in demo.seed(sqlite_settings).passwords}
    session_id, patient_id = _demo_records(sqlite_settings)
    page, blocked, outside = browser_page, [], []
    page.on("console", lambda m: blocked.append(m.text) if "Security Policy" in m.text else None)
    page.on("pageerror", lambda error: blocked.append(str(error)))

    def local_only(route: Any) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)

    def visit(username: str, charts: dict[str, str]) -> None:
        page.context.clear_cookies()
        page.goto(f"{live_server}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", logins[username])
        page.click("button[type=submit]")
        for path, selector in charts.items():
            page.goto(live_server + path)
            page.wait_for_selector(selector)

    visit(
        "demo.physician",
        {
            "/dashboard": "#chart-weeks .main-svg",
            f"/sessions/{session_id}": "#session-chart .main-svg",
            f"/patients/{patient_id}": "#trajectory-chart .main-svg",
            "/docs": ".opblock",
        },
    )
    assert page.locator(".opblock").count() == _operations(sqlite_settings)
    visit("demo.patient", {"/portal": "#portal-chart .main-svg"})
    assert blocked == []
    assert outside == []
