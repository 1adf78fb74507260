"""What the controlled-substance forms share: a witness's signature read from the form, and a
refusal keyed by the form's own field names (``lots.0.containers``, ``witness_username``)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from ketaclinic.errors import KetaclinicError
from ketaclinic.web.forms import FieldErrors

M = TypeVar("M", bound=BaseModel)


def witness_from(form: FormData, prefix: str = "witness") -> dict[str, str]:
    """The signature a second person typed: ``{prefix}_username`` and ``{prefix}_password``."""
    return {
        "username": str(form.get(f"{prefix}_username", "")).strip(),
        "password": str(form.get(f"{prefix}_password", "")),
    }


def parse_dotted(model: type[M], data: dict[str, Any]) -> tuple[M | None, FieldErrors]:
    """The model, or its problems keyed like the form's fields (``lines.0.opened_ml``)."""
    try:
        return model.model_validate(data), {}
    except ValidationError as error:
        errors: FieldErrors = {}
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "__all__"
            errors.setdefault(key, str(item["msg"]).removeprefix("Value error, "))
        return None, errors


def located(error: KetaclinicError) -> FieldErrors:
    """A service refusal keyed like the form's field (``body`` and ``path`` dropped)."""
    parts = [str(p) for p in error.loc if p not in ("body", "path")]
    return {".".join(parts) or "__all__": error.msg}


def at_witness_field(errors: FieldErrors) -> FieldErrors:
    """The signature's problem shown next to the witness's username box."""
    if "witness" in errors:
        errors["witness_username"] = errors.pop("witness")
    return errors
