"""The API's browsable documentation (Swagger UI), served without any CDN.

Clinics may be offline, so Swagger UI's script and stylesheet come from the ``fastapi-offline``
package installed from PyPI (never copied into the repository), and the page's own start-up code
is a static file, so the Content-Security-Policy needs no inline script. FastAPI's own ``/docs``
loads Swagger UI from a CDN with an inline script; ``create_app`` switches it off for these.

In production only signed-in users (a page session or a bearer token) read the docs and the
OpenAPI document: they map every route of a clinic's server. In development they stay open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import fastapi_offline
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from ketaclinic.accounts.deps import SettingsDep, bearer_token, signed_in_actor
from ketaclinic.web.templating import render

#: Swagger UI as the package ships it: swagger-ui-bundle.js, swagger-ui.css, favicon.png.
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs/assets"
OPENAPI_URL = "/openapi.json"


def docs_access(
    request: Request, settings: SettingsDep, token: Annotated[str | None, Depends(bearer_token)]
) -> None:
    """Open in development; in production a signed-in user of any role."""
    if settings.environment == "production":
        signed_in_actor(request, token)


router = APIRouter(include_in_schema=False, dependencies=[Depends(docs_access)])


@router.get("/docs")
def docs_page(request: Request) -> Response:
    context = {"assets": ASSETS_URL, "openapi_url": OPENAPI_URL, "title": request.app.title}
    return render(request, "api_docs.html", context)


@router.get(OPENAPI_URL)
def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
