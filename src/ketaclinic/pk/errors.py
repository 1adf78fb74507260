"""The PK engine's one error: an input it refuses, named with its unit."""

from __future__ import annotations

from ketaclinic.errors import InvalidInput


class PkInputError(InvalidInput, ValueError):
    """An input to the PK engine is missing, non-finite or out of range.

    It is a ``ValueError`` (so plain numeric callers can catch it) and the project's
    ``InvalidInput`` (so the web layer answers 422 with ``loc`` naming the field). The message
    always names the parameter and its unit, e.g.
    ``"weight_kg must be between 30 and 300 kg, got 12"``.
    """

    def __init__(self, parameter: str, msg: str) -> None:
        super().__init__(msg, loc=(parameter,))
        self.parameter = parameter
