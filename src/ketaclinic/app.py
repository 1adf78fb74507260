"""create_app(): the FastAPI application, assembled from the domain routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import plotly
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ketaclinic import __version__
from ketaclinic.accounts import admin_pages as accounts_admin_pages
from ketaclinic.accounts import api as accounts_api
from ketaclinic.accounts import pages as accounts_pages
from ketaclinic.accounts.deps import LoginRequired, PasswordChangeRequired
from ketaclinic.audit import pages as audit_pages
from ketaclinic.audit.sealer import BackgroundSealer
from ketaclinic.config import Settings
from ketaclinic.courses import api as courses_api
from ketaclinic.courses import pages as courses_pages
from ketaclinic.dashboard import pages as dashboard_pages
from ketaclinic.db import is_contention, make_engine, make_session_factory
from ketaclinic.errors import Busy, Conflict, KetaclinicError
from ketaclinic.infusions import api as infusions_api
from ketaclinic.infusions import page_inventory as infusions_inventory_pages
from ketaclinic.infusions import pages as infusions_pages
from ketaclinic.infusions import schedule_pages as infusions_schedule_pages
from ketaclinic.interop import fhir_api, fhir_import_api
from ketaclinic.interop import pages as interop_pages
from ketaclinic.interop.fhir_base import FHIR_PATH, FhirInvalid
from ketaclinic.interop.fhir_referral import BundleUnreadable
from ketaclinic.inventory import api as inventory_api
from ketaclinic.inventory import counts_api as inventory_counts_api
from ketaclinic.inventory import counts_pages as inventory_counts_pages
from ketaclinic.inventory import pages as inventory_pages
from ketaclinic.inventory import report_pages as inventory_report_pages
from ketaclinic.outcomes import api as outcomes_api
from ketaclinic.outcomes import goal_pages as outcomes_goal_pages
from ketaclinic.outcomes import pages as outcomes_pages
from ketaclinic.patients import api as patients_api
from ketaclinic.patients import contact_api as patients_contact_api
from ketaclinic.patients import contact_pages as patients_contact_pages
from ketaclinic.patients import pages as patients_pages
from ketaclinic.portal import pages as portal_pages
from ketaclinic.protocols import api as protocols_api
from ketaclinic.protocols import library_pages as protocol_library_pages
from ketaclinic.protocols import pages as protocols_pages
from ketaclinic.reports import pages as reports_pages
from ketaclinic.scheduling import api as scheduling_api
from ketaclinic.scheduling import pages as scheduling_pages
from ketaclinic.scheduling import reminders_pages, reminders_portal_pages, reminders_worker
from ketaclinic.scheduling import series_pages as scheduling_series_pages
from ketaclinic.scheduling import view_pages as scheduling_view_pages
from ketaclinic.scheduling.reminders_worker import BackgroundReminders
from ketaclinic.screening import api as screening_api
from ketaclinic.screening import pages as screening_pages
from ketaclinic.web import api_docs
from ketaclinic.web.inputs import refuse_unstorable_input
from ketaclinic.web.templating import render

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
MACHINE_PREFIXES = ("/api/", "/fhir/", api_docs.OPENAPI_URL)
#: Files that may be cached: their names do not change with the signed-in user.
STATIC_PREFIXES = ("/static/", f"{api_docs.ASSETS_URL}/")
BUSY_MESSAGE = "the clinic's database is busy with other requests; nothing was saved, try again"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings)
    app = FastAPI(
        lifespan=_lifespan,
        title="ketaclinic",
        version=__version__,
        description="Ketamine infusion clinic platform. It supports clinicians; it does not "
        "replace their judgement.",
        # web/api_docs.py serves the docs and the OpenAPI document instead (no CDN; login in
        # production).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(refuse_unstorable_input)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.signing_key,
        session_cookie="ketaclinic_session",
        max_age=settings.session_max_age_min * 60,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    _add_routes(app)
    _add_error_handlers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Seal the audit trail in the background while the app serves (``audit_seal_interval_s``)."""
    settings: Settings = app.state.settings
    sealer = None
    if settings.audit_seal_interval_s > 0:
        sealer = BackgroundSealer(app.state.session_factory, settings.audit_seal_interval_s)
        sealer.start()
    reminders = _start_reminders(app)
    try:
        yield
    finally:
        if sealer is not None:
            await run_in_threadpool(sealer.stop)
        if reminders is not None:
            await run_in_threadpool(reminders.stop)


def _start_reminders(app: FastAPI) -> BackgroundReminders | None:
    """The reminder worker as a thread of this process, when the clinic asks for it."""
    settings: Settings = app.state.settings
    if not settings.reminders_in_serve or not reminders_worker.channels_of(settings):
        return None
    worker = BackgroundReminders(app.state.session_factory, settings)
    worker.start()
    return worker


def _add_routes(app: FastAPI) -> None:
    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        """Served from the installed plotly package, never copied into the repository."""
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(api_docs.ASSETS_URL, StaticFiles(directory=api_docs.ASSETS_DIR), name="docs-assets")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in (
        accounts_api.router,
        patients_api.router,
        screening_api.router,
        outcomes_api.router,
        protocols_api.router,
        infusions_api.router,
        courses_api.router,
        inventory_api.router,
        inventory_counts_api.router,
        scheduling_api.router,
        scheduling_pages.router,
        scheduling_view_pages.api,
        scheduling_view_pages.pages,
        scheduling_series_pages.api,
        scheduling_series_pages.pages,
        outcomes_pages.router,
        outcomes_goal_pages.router,
        accounts_pages.router,
        accounts_admin_pages.router,
        screening_pages.router,
        protocols_pages.router,
        protocol_library_pages.router,
        patients_pages.router,
        infusions_pages.router,
        infusions_inventory_pages.router,
        infusions_schedule_pages.router,
        courses_pages.router,
        audit_pages.router,
        portal_pages.router,
        reports_pages.router,
        dashboard_pages.router,
        inventory_pages.router,
        inventory_counts_pages.router,
        inventory_report_pages.router,
        api_docs.router,
    ):
        app.include_router(router)
    app.include_router(patients_contact_pages.router)
    app.include_router(patients_contact_api.router)
    app.include_router(reminders_pages.router)
    app.include_router(reminders_portal_pages.router)
    app.include_router(interop_pages.router)
    app.include_router(fhir_api.router)
    app.include_router(fhir_import_api.router)
    _include_optional(app)


def _include_optional(app: FastAPI) -> None:
    """Routers of domains that may not be installed in every build (the PK page)."""
    try:
        from ketaclinic.pk import pages as pk_pages  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return
    app.include_router(pk_pages.router)


def _is_machine(request: Request) -> bool:
    return request.url.path.startswith(MACHINE_PREFIXES)


def _is_fhir(request: Request) -> bool:
    return request.url.path.startswith(f"{FHIR_PATH}/") or request.url.path == (FHIR_PATH)


#: FHIR IssueType codes for the refusals' HTTP statuses (FHIR R4 valueset-issue-type).
FHIR_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    503: "transient",
}


def _fhir_error(status: int, detail: list[dict[str, object]], headers: dict[str, str]) -> Response:
    """A refusal under /fhir/ as an OperationOutcome, its location from the field path."""
    problems = []
    for item in detail:
        loc = item.get("loc")
        parts = loc if isinstance(loc, list | tuple) else []
        problems.append((".".join(map(str, parts)), str(item.get("msg", ""))))
    code = FHIR_ISSUE_CODES.get(status, "processing")
    return fhir_api.outcome_response(status, problems, code, headers=headers)


def _error_response(request: Request, error: KetaclinicError) -> Response:
    if _is_fhir(request):
        headers = dict(error.headers)
        if error.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return _fhir_error(error.status_code, error.detail(), headers)
    if _is_machine(request):
        headers = dict(error.headers)
        if error.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(
            {"detail": error.detail()}, status_code=error.status_code, headers=headers
        )
    if isinstance(error, PasswordChangeRequired):
        return RedirectResponse("/account/password", status_code=303)
    if isinstance(error, LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
    context = {"status": error.status_code, "message": error.msg}
    response = render(request, "error.html", context, status_code=error.status_code)
    response.headers.update(error.headers)
    return response


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KetaclinicError)
    async def on_refusal(request: Request, error: KetaclinicError) -> Response:
        return _error_response(request, error)

    @app.exception_handler(FhirInvalid)
    async def on_fhir_invalid(request: Request, error: FhirInvalid) -> Response:
        """A bundle or resource the FHIR import refuses: every problem at its place."""
        status = 400 if isinstance(error, BundleUnreadable) else 422
        return fhir_api.outcome_response(status, error.problems, FHIR_ISSUE_CODES[status])

    @app.exception_handler(StaleDataError)
    async def on_stale(request: Request, _error: StaleDataError) -> Response:
        message = "someone else saved this record first; reload it and try again"
        return _error_response(request, Conflict(message, loc=("body", "version")))

    @app.exception_handler(IntegrityError)
    async def on_integrity(request: Request, _error: IntegrityError) -> Response:
        message = "this conflicts with a record saved at the same moment; reload and try again"
        return _error_response(request, Conflict(message))

    @app.exception_handler(OperationalError)
    async def on_operational(request: Request, error: OperationalError) -> Response:
        if not is_contention(error):
            raise error
        return _error_response(request, Busy(BUSY_MESSAGE))

    @app.exception_handler(PoolTimeout)
    async def on_pool_timeout(request: Request, _error: PoolTimeout) -> Response:
        return _error_response(request, Busy(BUSY_MESSAGE))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        if _is_fhir(request):
            detail: list[dict[str, object]] = [{"loc": [], "msg": str(error.detail)}]
            return _fhir_error(error.status_code, detail, dict(error.headers or {}))
        if _is_machine(request):
            detail = [{"loc": [], "msg": str(error.detail), "type": "HTTPException"}]
            return JSONResponse(
                {"detail": detail}, status_code=error.status_code, headers=error.headers
            )
        context = {"status": error.status_code, "message": str(error.detail)}
        return render(request, "error.html", context, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        detail = [
            {
                "loc": list(e["loc"]),
                "msg": str(e["msg"]).removeprefix("Value error, "),
                "type": e["type"],
            }
            for e in error.errors()
        ]
        if _is_fhir(request):
            return _fhir_error(422, detail, {})
        if _is_machine(request):
            return JSONResponse({"detail": detail}, status_code=422)
        message = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail)
        return render(request, "error.html", {"status": 422, "message": message}, status_code=422)


#: Scripts only from our own files (no inline script, no eval); styles may be inline because
#: Plotly writes its own <style> rules and positions chart parts with style attributes.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
#: Nothing here uses a camera, microphone, location, payment or device access: deny them all.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
)
#: One year, subdomains too (the value browsers' preload lists ask for); only over HTTPS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Headers every response carries: no framing, no sniffing, no referrer leaks, scripts only
    from our own files, no device access, and HTTPS only once the cookies are (``hsts``)."""

    HEADERS = (
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cache-control", b"no-store"),
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    )

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        hsts_header = (b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode())
        self.headers = self.HEADERS + ((hsts_header,) if hsts else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                static = scope["path"].startswith(STATIC_PREFIXES)
                existing = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k, v)
                    for k, v in self.headers
                    if k not in existing and not (static and k == b"cache-control")
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
