"""A patient with two diagnoses, a course, a baseline PHQ-9 and one discharged session with a
severe side effect, built through the API as a clinic would build it."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.infusions.discharge import MIN_OBSERVATION_MIN
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.readings import delivered
from tests.conftest import Person
from tests.infusions.test_api import CHECK_IN, T0, Team, at
from tests.infusions.test_check_in_and_discharge import DISCHARGE

SECOND_DIAGNOSIS = "F33.1"
BASELINE_PHQ9 = [3, 2, 2, 2, 2, 2, 1, 1, 0]
PRE_PHQ9 = [1, 1, 1, 1, 1, 1, 0, 0, 0]
POST_PHQ9 = [1, 0, 0, 0, 0, 0, 0, 0, 0]


@dataclass(frozen=True)
class Record:
    team: Team
    patient_id: int
    session_id: int
    mrn: str
    diagnosis_codes: tuple[str, ...]
    alert_message: str
    #: (context, exact PHQ-9 total) as the API scored them
    phq9_totals: tuple[tuple[str, str], ...]
    delivered_mg: Decimal
    delivered_ml: Decimal


def build_record(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> Record:
    team = Team(client, make_person)
    pid = team.patient_id
    added = client.post(
        f"/api/v1/patients/{pid}/diagnoses",
        json={"code": SECOND_DIAGNOSIS},
        headers=team.physician,
    )
    assert added.status_code in (200, 201), added.text
    with at(-60):
        course = client.post(
            "/api/v1/courses",
            json={"patient_id": pid, "protocol_id": team.protocol_id},
            headers=team.physician,
        )
        assert course.status_code == 201, course.text
        baseline = {
            "instrument": "phq9",
            "answers": BASELINE_PHQ9,
            "context": "baseline",
            "measured_at": (T0 - timedelta(days=2)).isoformat(),
        }
        measured = client.post(
            f"/api/v1/patients/{pid}/measurements", json=baseline, headers=team.nurse
        )
        assert measured.status_code == 201, measured.text
    with at(-30):
        body = {
            "patient_id": pid,
            "protocol_id": team.protocol_id,
            "scheduled_at": T0.isoformat(),
            "chair": "Chair 3",
            "course_id": course.json()["id"],
        }
        scheduled = client.post("/api/v1/sessions", json=body, headers=team.nurse)
        assert scheduled.status_code == 201, scheduled.text
        sid: int = scheduled.json()["id"]
        mood = {"instrument": "phq9", "answers": PRE_PHQ9}
        team.act(sid, "check-in", team.nurse, **{**CHECK_IN, "mood": mood})
        team.act(sid, "order", team.physician)
        team.act(sid, "verify", team.second_nurse)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(10):
        severe = [{"effect": "nausea_vomiting", "grade": "severe"}]
        charted = team.act(sid, "side-effects", team.nurse, assessments=severe)
    assert charted["alerts"], "a severe side effect raises an alert"
    with at(45):
        team.act(sid, "stop", team.nurse)
    with at(45 + MIN_OBSERVATION_MIN):
        post_mood = {"instrument": "phq9", "answers": POST_PHQ9}
        done = team.act(sid, "discharge", team.nurse, **{**DISCHARGE, "mood": post_mood})
    assert done["state"] == "discharged"
    rows = client.get(f"/api/v1/patients/{pid}/measurements", headers=team.nurse).json()
    phq9 = tuple(
        (m["context"], next(s["exact"] for s in m["scores"] if s["name"] == "total"))
        for m in sorted(rows, key=lambda m: m["measured_at"])
        if m["instrument"] == "phq9"
    )
    with factory() as session:
        row = session.get(InfusionSession, sid)
        assert row is not None
        given = delivered(row)
    assert given is not None and given.total_mg > 0
    patient = client.get(f"/api/v1/patients/{pid}", headers=team.nurse).json()
    return Record(
        team=team,
        patient_id=pid,
        session_id=sid,
        mrn=patient["mrn"],
        diagnosis_codes=tuple(d["code"] for d in patient["diagnoses"]),
        alert_message=charted["alerts"][0]["message"],
        phq9_totals=phq9,
        delivered_mg=given.total_mg,
        delivered_ml=given.total_ml,
    )


def pdf_text(data: bytes) -> str:
    """Every page's text, whitespace collapsed so table cells that wrap still read as one."""
    assert data.startswith(b"%PDF-"), "not a PDF"
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))
