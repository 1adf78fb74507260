"""What no field of any route may hold, refused before a route runs; and JSON numbers read exactly.

Two mechanisms, each in one place:

- ``refuse_unstorable_input`` is a dependency of the whole application (``app.py``): every path
  parameter, query parameter, form field and JSON string or key of every route is checked for
  characters a clinical record must not hold. NUL cannot be stored by PostgreSQL at all (and
  SQLite would keep it, invisible, in a name), the other C0 controls (tab, line feed and carriage
  return excepted) are never typed by a person, and a lone UTF-16 surrogate (``"\\ud800"`` in
  JSON) cannot be encoded as UTF-8 by either database. Each is a 422 naming the field, FastAPI's
  shape for the API and the error page for the pages (both through the app's one handler).
- ``ExactJsonRoute`` is the route class of the JSON routers: it parses request bodies with
  non-integer numbers as ``Decimal``, so ``80.0000000000000000000001`` reaches the schema as it
  was sent instead of as the float ``80.0``, and a field that allows two decimal places can
  refuse it. Fields typed ``float`` still accept these numbers (pydantic converts a ``Decimal``).
  ``NaN``, ``Infinity`` and integers of absurd length are not numbers a clinic sends: they are
  refused naming the field too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.responses import Response

#: C0 controls except tab (U+0009), line feed (U+000A) and carriage return (U+000D), and the
#: UTF-16 surrogate range, which only a lone ``\uD8xx`` JSON escape can produce.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
#: Longer integers are not an id, a count or a dose; Python itself refuses to read more than
#: 4,300 digits, which would surface as an unexplained 400.
MAX_INTEGER_DIGITS = 100
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Loc = tuple[str | int, ...]


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored in a record, or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    what = "an unpaired UTF-16 surrogate" if code >= 0xD800 else "a control character"
    return f"contains {what} (U+{code:04X}) at position {found.start() + 1}; remove it"


class Unreadable:
    """A JSON token that parses but is no number a clinic sends: ``NaN``, ``Infinity``, or an
    integer of more than ``MAX_INTEGER_DIGITS`` digits. Left in place so that the check names
    the field it was sent in."""

    def __init__(self, token: str) -> None:
        self.token = token

    def problem(self) -> str:
        if self.token.lstrip("-").isdigit():
            return f"a number of more than {MAX_INTEGER_DIGITS} digits is not accepted"
        return f"{self.token} is not a number; send a finite number"

    def __repr__(self) -> str:
        return f"Unreadable({self.token[:20]!r})"


def _integer(token: str) -> int | Unreadable:
    if len(token.lstrip("-")) > MAX_INTEGER_DIGITS:
        return Unreadable(token)
    return int(token)


def read_json(body: bytes | str) -> Any:
    """JSON with every non-integer number as the exact ``Decimal`` that was written."""
    return json.loads(body, parse_float=Decimal, parse_int=_integer, parse_constant=Unreadable)


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class ExactJsonRoute(APIRoute):
    """A route whose JSON body is read by ``read_json``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(ExactJsonRequest(request.scope, request.receive))

        return exact


def json_problems(value: object, loc: Loc) -> Iterator[tuple[Loc, str]]:
    """Every string, key or token in a parsed JSON value that cannot be stored, with its place.
    Walked with a stack, not recursion: a body nested as deep as the parser allows must not
    exhaust the interpreter's stack here."""
    pending: list[tuple[Loc, object]] = [(loc, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield where, problem
        elif isinstance(item, Unreadable):
            yield where, item.problem()
        elif isinstance(item, Mapping):
            for key in item:
                key_problem = text_problem(str(key))
                if key_problem:
                    yield (*where, key), f"the name {key_problem}"
            pending.extend(((*where, key), child) for key, child in reversed(list(item.items())))
        elif isinstance(item, Sequence):
            pending.extend(((*where, i), child) for i, child in reversed(list(enumerate(item))))


def _pairs_problems(kind: str, pairs: Sequence[tuple[str, Any]]) -> Iterator[tuple[Loc, str]]:
    for name, value in pairs:
        name_problem = text_problem(name)
        if name_problem:
            yield (kind, name), f"the name {name_problem}"
        text = (value.filename or "") if isinstance(value, UploadFile) else str(value)
        problem = text_problem(text)
        if problem:
            yield (kind, name), problem


async def _body_problems(request: Request) -> list[tuple[Loc, str]]:
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return []
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        form = await request.form()
        return list(_pairs_problems("body", form.multi_items()))
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            return []  # malformed or absurdly nested: the route's own parser answers it
        return list(json_problems(body, ("body",)))
    return []


async def refuse_unstorable_input(request: Request) -> None:
    """The application-wide check (see the module docstring); raises a 422 naming every field."""
    found = list(_pairs_problems("path", list(request.path_params.items())))
    found += _pairs_problems("query", request.query_params.multi_items())
    found += await _body_problems(request)
    if found:
        raise RequestValidationError(
            [{"loc": loc, "msg": msg, "type": "unstorable_input"} for loc, msg in found]
        )
