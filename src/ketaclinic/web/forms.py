"""Turning form posts into validated models, and errors back into per-field messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ketaclinic.errors import KetaclinicError
from ketaclinic.labels import message

ModelT = TypeVar("ModelT", bound=BaseModel)
FieldErrors = dict[str, str]


def lines(text: str | None) -> list[str]:
    """A textarea with one item per line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


#: More digits than any count, score or version a form asks for, and far below the 4,300 digits
#: past which Python refuses to read an integer.
MAX_WHOLE_DIGITS = 9


def whole_number(text: str) -> int | None:
    """``text`` as a whole number written in ASCII digits, or None. ``str.isdigit`` alone also
    passes "²", which ``int`` cannot read, and a pasted 5,000-digit number."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_WHOLE_DIGITS):
        return None
    return int(text)


def blank_to_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()}


def validation_messages(error: ValidationError) -> FieldErrors:
    """The first message for each field, keyed by the top-level field name, in the clinic's words
    ("choose yes or no", not "Input should be a valid boolean")."""
    messages: FieldErrors = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "__all__"
        messages.setdefault(field, message(str(item["msg"])))
    return messages


def error_messages(error: KetaclinicError) -> FieldErrors:
    field = str(error.loc[-1]) if error.loc else "__all__"
    return {field: error.msg}


def parse(model: type[ModelT], data: Mapping[str, Any]) -> tuple[ModelT | None, FieldErrors]:
    try:
        return model.model_validate(data), {}
    except ValidationError as error:
        return None, validation_messages(error)
