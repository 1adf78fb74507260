"""Rows for dashboard tests, written straight to the tables: the dashboard reads stored history,
so building it through every use-case would test those use-cases again, slowly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts import service as accounts
from ketaclinic.courses.models import Course
from ketaclinic.db import transaction
from ketaclinic.infusions.models import InfusionSession, SessionAlert, SessionEvent
from ketaclinic.outcomes.models import Measurement
from ketaclinic.patients.models import Patient
from ketaclinic.protocols import service as protocols
from ketaclinic.protocols.models import ProtocolVersion
from ketaclinic.scheduling import service as scheduling
from ketaclinic.screening.models import Screening

PAIN = "chronic-pain-low-dose"
MOOD = "depression-murrough-2013"


class Builder:
    """One clinic's history; ``user_id`` signs and records everything."""

    def __init__(self, factory: sessionmaker[Session], user_id: int, clinic: str = "NORTH"):
        self.factory, self.user_id = factory, user_id
        with transaction(factory) as session:
            self.clinic_id = accounts.ensure_clinic(session, code=clinic).id
            protocols.seed_library(session, clinic_id=self.clinic_id)
            rows = session.execute(
                select(ProtocolVersion.key, ProtocolVersion.id).where(
                    ProtocolVersion.clinic_id == self.clinic_id
                )
            )
            self.protocol_ids = {key: pid for key, pid in rows}  # noqa: C416  (Row objects)
        self._mrn = 0

    def _add(self, row: Any) -> int:
        with transaction(self.factory) as session:
            session.add(row)
            session.flush()
            new_id: int = row.id
            return new_id

    def patient(self, family: str = "Synthetic-Case") -> int:
        self._mrn += 1
        now = datetime(2026, 1, 1, tzinfo=UTC)
        return self._add(
            Patient(
                clinic_id=self.clinic_id,
                mrn=f"DASH-{self._mrn}",
                given_name="Test",
                family_name=family,
                birth_date=date(1980, 5, 17),
                sex="female",
                allergies=[],
                medications=[],
                created_at=now,
                updated_at=now,
            )
        )

    def screening(
        self, patient_id: int, indication: str | None, at: datetime, matched: tuple[str, ...] = ()
    ) -> int:
        return self._add(
            Screening(
                patient_id=patient_id,
                indication_id=indication,
                treatments_failed=[],
                systolic_mmhg=120,
                diastolic_mmhg=80,
                heart_rate_per_min=70,
                spo2_percent=98,
                resp_rate_per_min=14,
                contraindications_present=[],
                findings=[],
                matched_indications=[{"code": "X", "indication_id": m} for m in matched],
                outcome="eligible",
                signed_by_user_id=self.user_id,
                signed_at=at,
                baseline_measurement_ids=[],
            )
        )

    def measure(
        self, patient_id: int, instrument: str, total: int, context: str, at: datetime
    ) -> int:
        return self._add(
            Measurement(
                patient_id=patient_id,
                instrument=instrument,
                context=context,
                answers=[total],
                scores={"total": str(total)},
                flags=[],
                measured_at=at,
                recorded_by_user_id=self.user_id,
            )
        )

    def course(
        self, patient_id: int, key: str, started_at: datetime, ended_at: datetime | None = None
    ) -> int:
        return self._add(
            Course(
                patient_id=patient_id,
                clinic_id=self.clinic_id,
                protocol_version_id=self.protocol_ids[key],
                started_at=started_at,
                created_by_user_id=self.user_id,
                ended_at=ended_at,
                end_reason="stopped" if ended_at else None,
            )
        )

    def session(
        self,
        patient_id: int,
        key: str,
        at: datetime,
        *,
        state: str = "discharged",
        course_id: int | None = None,
        chair: str = "Chair 1",
        minutes_in_chair: int = 120,
        alert: bool = False,
        side_effects: list[dict[str, object]] | None = None,
    ) -> int:
        """A session; a discharged or aborted one was checked in and started at ``at``. Written
        directly (history, not bookings): it holds ``chair`` for ``minutes_in_chair`` + 15."""
        with transaction(self.factory) as session:
            seat = scheduling.ensure_chair(session, clinic_id=self.clinic_id, name=chair).id
        row = InfusionSession(
            patient_id=patient_id,
            clinic_id=self.clinic_id,
            protocol_version_id=self.protocol_ids[key],
            course_id=course_id,
            state=state,
            scheduled_at=at,
            chair_id=seat,
            chair_held_until=at + timedelta(minutes=minutes_in_chair + 15),
            created_at=at - timedelta(days=1),
            updated_at=at,
            created_by_user_id=self.user_id,
        )
        if state in ("discharged", "aborted"):
            out = "discharge" if state == "discharged" else "abort"
            for kind, offset in (("check_in", 0), ("start", 10), (out, minutes_in_chair)):
                row.events.append(self._event(kind, at + timedelta(minutes=offset)))
        if side_effects is not None:
            event = self._event("side_effects", at + timedelta(minutes=30))
            event.data = {"assessments": side_effects}
            row.events.append(event)
        if alert:
            row.alerts.append(
                SessionAlert(
                    rule_id="bp_high",
                    message="test",
                    severity="warning",
                    suggested_action="pause",
                    source="test",
                    raised_at=at + timedelta(minutes=20),
                )
            )
        return self._add(row)

    def _event(self, kind: str, at: datetime) -> SessionEvent:
        return SessionEvent(kind=kind, at=at, by_user_id=self.user_id, data={})
