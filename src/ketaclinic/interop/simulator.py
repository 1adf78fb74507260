"""A sample bedside monitor (``ketaclinic hl7 simulate``): synthetic ORU^R01 vitals over MLLP for
a session's patient, so the flow can be seen without hardware."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from ketaclinic import clock
from ketaclinic.accounts.core import Actor
from ketaclinic.audit import service as audit
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.interop.device_codes import FLOWSHEET_FIELDS_TODAY
from ketaclinic.interop.hl7_core import sample_oru_r01, sample_vitals
from ketaclinic.interop.mllp import MllpClient
from ketaclinic.patients.models import Patient


def mrn_of_session(session: Session, session_id: int) -> str | None:
    """The MRN of the session's patient (an audited read by the command line), or None."""
    row = session.get(InfusionSession, session_id)
    if row is None:
        return None
    patient = session.get(Patient, row.patient_id)
    assert patient is not None  # a foreign key
    audit.record(
        session,
        actor=Actor(None, "cli", None, row.clinic_id, client_address="cli"),
        action="hl7.simulate",
        patient_id=patient.id,
        detail=f"session_id={session_id}",
    )
    return patient.mrn


def next_message(mrn: str, rng: random.Random) -> tuple[str, str]:
    """A control id and an ORU^R01 with the vitals the flowsheet records today, observed now."""
    values = {k: v for k, v in sample_vitals(rng).items() if k in FLOWSHEET_FIELDS_TODAY}
    control_id = f"SIM{uuid.uuid4().hex[:16].upper()}"
    message = sample_oru_r01(control_id=control_id, mrn=mrn, observed_at=clock.now(), values=values)
    return control_id, message


def ack_summary(ack: str) -> str:
    """The MSA segment of an ACK (its code, the control id and any reason) for printing."""
    msa = next((s for s in ack.split("\r") if s.startswith("MSA|")), "")
    return msa or "no MSA segment in the ACK"


async def run(
    host: str,
    port: int,
    *,
    mrn: str,
    every_s: float,
    count: int | None,
    show: Callable[[str], None],
    rng: random.Random | None = None,
) -> None:
    """Send ``count`` messages (or until cancelled) ``every_s`` seconds apart on one connection."""
    rng = rng or random.Random()  # noqa: S311  (demo values, not secrets)
    client = await MllpClient.connect(host, port)
    sent = 0
    try:
        while count is None or sent < count:
            if sent:
                await asyncio.sleep(every_s)
            _, message = next_message(mrn, rng)
            ack = await client.send(message.encode("utf-8"))
            show(ack_summary(ack.decode("utf-8", errors="replace")))
            sent += 1
    finally:
        await client.close()
