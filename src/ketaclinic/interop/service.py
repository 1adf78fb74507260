"""HL7 v2 use-cases, one import for callers (the listener, the CLI, the inbox page).

The work lives in cohesive modules: ``hl7_clinic`` (the clinic, its device account, shared
refusals), ``hl7_receive`` (store once, acknowledge), ``hl7_vitals`` (placing ORU^R01 vitals on
the flowsheet), ``hl7_adt`` (ADT^A04/A08) and ``hl7_inbox`` (what waits for a nurse).
"""

from __future__ import annotations

from ketaclinic.interop.hl7_clinic import (
    ACTIVE_STATES,
    ClinicNotConfigured,
    device_actor,
    device_username,
    ensure_device_account,
    resolve_clinic,
)
from ketaclinic.interop.hl7_inbox import (
    WAITING,
    InboxRow,
    active_sessions,
    dismiss,
    inbox,
    match,
)
from ketaclinic.interop.hl7_receive import Outcome, receive, receive_payload

__all__ = [
    "ACTIVE_STATES",
    "WAITING",
    "ClinicNotConfigured",
    "InboxRow",
    "Outcome",
    "active_sessions",
    "device_actor",
    "device_username",
    "dismiss",
    "ensure_device_account",
    "inbox",
    "match",
    "receive",
    "receive_payload",
    "resolve_clinic",
]
