"""The fuzz test's machinery: requests as data, the places a value can go, generated and extreme
values for each kind of place, and a sender that puts on the wire what client libraries refuse
to (lone surrogates, JSON numbers with more digits than a float holds, NaN)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import strategies as st


class Missing:
    """A field left out of the request."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


@dataclass(frozen=True)
class Raw:
    """JSON text sent as written: a number with more digits than a float holds, NaN, a list
    nested deeper than any parser allows."""

    text: str


@dataclass(frozen=True)
class Call:
    """One request. ``renew`` makes it new for each sending where the valid request would
    otherwise only succeed once (a new MRN, a new patient)."""

    method: str
    path: str
    role: str = "physician"
    path_params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    form: bool = False
    renew: Callable[[Call], Call] | None = field(default=None, repr=False, compare=False)


def every_route(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every route of the app, pages and API, through included routers."""
    found = []
    for route in app.routes:
        included = getattr(route, "original_router", None)
        pairs = (
            [(route.include_context.path_for(r), r) for r in included.routes]  # type: ignore[attr-defined]
            if included is not None
            else [(getattr(route, "path", ""), route)]
        )
        for path, inner in pairs:
            assert not hasattr(inner, "original_router"), "nested routers: walk them too"
            if isinstance(inner, APIRoute):
                found += [(method, path, inner) for method in sorted(inner.methods)]
    return found


# --- values -------------------------------------------------------------------------------------

OFFSETS = st.integers(-14 * 60 + 1, 14 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
CONTROL_TEXT = st.text(
    st.characters(max_codepoint=0x1F)
    | st.characters()
    | st.sampled_from(["\x00", "\ud800", "\udfff", "\u2028", "\ufffe"]),
    min_size=1,
    max_size=24,
)
UNSTORABLE_TEXT = st.tuples(
    st.text(max_size=8),
    st.sampled_from(["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f", "\ud800", "\udc00"]),
    st.text(max_size=8),
).map("".join)
HUGE = st.integers(-(10**40), 10**40) | st.sampled_from(
    [0, -1, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**100, 10**101]
)
PRECISE = st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: Raw(str(d)))
RAW = st.sampled_from(
    ["80.0000000000000000000001", "1e-30", "1E+400", "-0.0", "0.1e1", "NaN", "-Infinity"]
).map(Raw)
DATES = st.one_of(
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "1899-12-31",
            "2200-01-01",
            "2026-02-30",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2026-03-02T09:00:00",
            "1980-01-01T00:00:00",
        ]
    ),
    st.datetimes(max_value=datetime(1, 1, 3), timezones=OFFSETS).map(datetime.isoformat),
    st.datetimes(min_value=datetime(9999, 12, 29), timezones=OFFSETS).map(datetime.isoformat),
    st.datetimes(timezones=OFFSETS).map(datetime.isoformat),
    st.dates().map(lambda d: d.isoformat()),
)
DEEP = Raw("[" * 5000 + "]" * 5000)
SHAPES = st.sampled_from([None, True, False, [], {}, "", " ", MISSING, [None], {"": None}, DEEP])

#: For the sweep: each place gets each extreme of its kind, one at a time.
EXTREMES: dict[str, list[Any]] = {
    "text": ["a\x00b", "\ud800", "x" * 5000],
    "number": [
        10**30,
        -(2**63) - 1,
        Raw("80.0000000000000000000001"),
        Raw("1e-30"),
        Raw("1E+400"),
        Raw("NaN"),
    ],
    "date": [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31",
        "1980-01-01T00:00:00",
    ],
    "other": [None, "a\x00b", 10**30, "9999-12-31T23:59:59-14:00", DEEP],
}


def weird_values(ids: list[int]) -> st.SearchStrategy[Any]:
    """Anything a client might send in any place, including the ids of records that exist."""
    return st.one_of(
        st.sampled_from(ids),
        CONTROL_TEXT,
        UNSTORABLE_TEXT,
        HUGE,
        PRECISE,
        RAW,
        DATES,
        SHAPES,
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(CONTROL_TEXT | HUGE, max_size=3),
    )


def values_for(kind: str, ids: list[int]) -> st.SearchStrategy[Any]:
    """Seven times in ten a value of the place's own kind made extreme; otherwise anything."""
    own = {
        "text": UNSTORABLE_TEXT | CONTROL_TEXT,
        "number": HUGE | PRECISE | RAW | st.sampled_from(ids),
        "date": DATES,
    }.get(kind, SHAPES)
    anything = weird_values(ids)
    return st.integers(0, 9).flatmap(lambda n: own if n < 7 else anything)


# --- places -------------------------------------------------------------------------------------

Place = tuple[str | int, ...]
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _kind_of_value(value: Any) -> str:
    if isinstance(value, str):
        return "date" if _ISO_DAY.match(value) else "text"
    if isinstance(value, bool):
        return "other"
    return "number" if isinstance(value, int | float | Decimal | Raw) else "other"


def _kind_of_schema(schema: dict[str, Any]) -> str:
    options = schema.get("anyOf", [schema])
    if any(o.get("format") in {"date", "date-time"} for o in options):
        return "date"
    if any(o.get("type") in {"integer", "number"} for o in options):
        return "number"
    return "text" if any(o.get("type") == "string" for o in options) else "other"


def _leaves(value: Any, prefix: Place) -> Iterator[tuple[Place, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key), _kind_of_value(item)
            yield from _leaves(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index), _kind_of_value(item)
            yield from _leaves(item, (*prefix, index))


def places(schema: dict[str, Any], call: Call) -> dict[Place, str]:
    """Every place of the request a value can go in, with its kind: the schema's parameters and
    body fields, every nested place of the valid request, and a query parameter and a body field
    nobody declared (the text check reads those too, and a body sent to a route that takes none)."""
    found: dict[Place, str] = {("query", "unexpected"): "text", ("body", "unexpected"): "other"}
    parameters = _leaves({"path": call.path_params, "query": call.query}, ())
    found.update((place, kind) for place, kind in parameters if len(place) == 2)
    found.update(_leaves(call.body, ("body",)))
    operation = schema["paths"][call.path][call.method.lower()]
    for parameter in operation.get("parameters", []):
        found[(parameter["in"], parameter["name"])] = _kind_of_schema(parameter["schema"])
    for media in operation.get("requestBody", {}).get("content", {}).values():
        name = media["schema"].get("$ref", "").rsplit("/", 1)[-1]
        properties = schema["components"]["schemas"].get(name, {}).get("properties", {})
        for prop, prop_schema in properties.items():
            found[("body", prop)] = _kind_of_schema(prop_schema)
    return dict(sorted(found.items(), key=repr))


def _put(container: Any, keys: Place, value: Any) -> Any:
    """A copy of ``container`` with ``value`` at ``keys`` (``MISSING`` removes it)."""
    if not keys:
        return value
    head, rest = keys[0], keys[1:]
    if isinstance(container, list) and isinstance(head, int) and head < len(container):
        items = list(container)
        items[head] = _put(items[head], rest, value)
        return [item for item in items if item is not MISSING]
    copy = dict(container) if isinstance(container, dict) else {}
    copy[head] = _put(copy.get(head, {}), rest, value)
    return {k: v for k, v in copy.items() if v is not MISSING}


def mutate(call: Call, changes: list[tuple[Place, Any]]) -> Call:
    for (where, *keys), value in changes:
        if where == "body":
            call = replace(call, body=_put(call.body, tuple(keys), value))
        elif where in {"path", "query"}:
            attribute = "path_params" if where == "path" else "query"
            call = replace(call, **{attribute: _put(getattr(call, attribute), tuple(keys), value)})
    return call


def mutations(call: Call, spots: dict[Place, str], ids: list[int]) -> st.SearchStrategy[Call]:
    """The valid request with up to three of its places given generated values; the simplest
    example, which Hypothesis tries first, is the valid request itself."""
    change = st.sampled_from(list(spots)).flatmap(
        lambda place: st.tuples(st.just(place), values_for(spots[place], ids))
    )
    return st.lists(change, max_size=3).map(lambda changes: mutate(call, changes))


def sweep(call: Call, spots: dict[Place, str]) -> Iterator[Call]:
    """The valid request with one place given one extreme of its kind, for every place."""
    for place, kind in spots.items():
        for value in EXTREMES[kind]:
            yield mutate(call, [(place, value)])


# --- sending ------------------------------------------------------------------------------------


def to_json(value: Any) -> str:
    """JSON with raw numbers as written; ``ensure_ascii`` keeps a lone surrogate as its escape."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k))}: {to_json(v)}" for k, v in value.items() if v is not MISSING
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value if v is not MISSING) + "]"
    return json.dumps(value)


def _text(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    return value if isinstance(value, str) else to_json(value)


def _quote(value: Any) -> str:
    return quote(_text(value), safe="", errors="surrogatepass")


def _pairs(values: Any) -> str:
    items = values.items() if isinstance(values, dict) else []
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in items if v is not MISSING)


def send(client: TestClient, call: Call, tokens: dict[str, dict[str, str]]) -> Any:
    if call.renew is not None:
        call = call.renew(call)
    path = re.sub(r"\{(\w+)\}", lambda m: _quote(call.path_params.get(m[1], 0)) or "0", call.path)
    query = _pairs(call.query)
    headers = dict(tokens.get(call.role, {}))
    content = None
    if call.body is not None:
        if call.form:
            content = _pairs(call.body).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            content = to_json(call.body).encode()
            headers["content-type"] = "application/json"
    return client.request(
        call.method, f"{path}?{query}" if query else path, content=content, headers=headers
    )
