"""One exception tree. Each error knows its HTTP status and which field it is about."""

from __future__ import annotations

from collections.abc import Sequence


class KetaclinicError(Exception):
    """A refusal the user can act on. ``loc`` names the field, FastAPI-style."""

    status_code = 400
    headers: dict[str, str] = {}  # noqa: RUF012  (read-only per class)

    def __init__(self, msg: str, *, loc: Sequence[str | int] = ()) -> None:
        super().__init__(msg)
        self.msg = msg
        self.loc = tuple(loc)

    def detail(self) -> list[dict[str, object]]:
        return [{"loc": list(self.loc), "msg": self.msg, "type": type(self).__name__}]


class InvalidInput(KetaclinicError):
    status_code = 422


class NotAuthenticated(KetaclinicError):
    status_code = 401


class Forbidden(KetaclinicError):
    status_code = 403


class NotFound(KetaclinicError):
    status_code = 404


class Conflict(KetaclinicError):
    status_code = 409


class SlotTaken(Conflict):
    """A booking whose chair is held by another at that time; ``alternatives`` are free starts
    (``{"chair_id", "chair", "start"}``) a person may pick instead."""

    def __init__(
        self,
        msg: str,
        *,
        loc: Sequence[str | int] = (),
        alternatives: Sequence[dict[str, object]] = (),
    ) -> None:
        super().__init__(msg, loc=loc)
        self.alternatives = list(alternatives)

    def detail(self) -> list[dict[str, object]]:
        return [{**item, "alternatives": self.alternatives} for item in super().detail()]


class OutsideHours(InvalidInput):
    """A booking outside the opening hours or on a closed day, with free starts to pick from."""

    def __init__(
        self,
        msg: str,
        *,
        loc: Sequence[str | int] = (),
        alternatives: Sequence[dict[str, object]] = (),
    ) -> None:
        super().__init__(msg, loc=loc)
        self.alternatives = list(alternatives)

    def detail(self) -> list[dict[str, object]]:
        return [{**item, "alternatives": self.alternatives} for item in super().detail()]


class InvalidTransition(Conflict):
    """A move the session's state machine does not allow."""


class DoseOutOfRange(InvalidInput):
    """A dose, rate or volume outside a limit; the message names the limit."""


class AccountLocked(KetaclinicError):
    status_code = 429


class Busy(KetaclinicError):
    """The database is busy with other requests right now; nothing was written. Try again."""

    status_code = 503
    headers = {"Retry-After": "1"}  # noqa: RUF012
