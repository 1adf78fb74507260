"""ICD-10-CM look-ups against the CDC code set shipped in ``simple-icd-10-cm`` (CODES.md §3)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

with warnings.catch_warnings():
    # The package reads its data with a deprecated importlib call; nothing we can change.
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as _cm

_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


@dataclass(frozen=True)
class IcdCode:
    code: str
    title: str


class UnknownCode(ValueError):
    """A code that is not a billable ICD-10-CM code; the message says what to do."""


def normalise(code: str) -> str:
    """Upper-case with the dot after the third character (M797 → M79.7)."""
    compact = code.strip().upper().replace(".", "")
    return compact if len(compact) <= 3 else f"{compact[:3]}.{compact[3:]}"


def lookup(code: str) -> IcdCode:
    """The official code and title for a billable (leaf) ICD-10-CM code."""
    wanted = normalise(code)
    if not _CODE_SHAPE.match(wanted) or not _cm.is_valid_item(wanted):
        raise UnknownCode(f"{code.strip() or '(empty)'} is not an ICD-10-CM code")
    if not _cm.is_leaf(wanted):
        children = ", ".join(_cm.get_children(wanted)[:6])
        raise UnknownCode(f"{wanted} is a category, not a billable code; choose one of {children}")
    return IcdCode(code=wanted, title=str(_cm.get_description(wanted)))
