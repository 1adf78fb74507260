"""A clinic seeded through its own API for the fuzz test: patients, courses, and infusion sessions
in every state of the state machine, so that generated requests use ids that exist.

``bystanders`` hold one session per state for generated requests to use. An operation that needs
a record in a given state for its valid request gets a fresh one (``target``, ``fresh_course``)
just before it is fuzzed, on a patient of its own, so that nothing generated earlier (which may
end courses and abort sessions by any id) can have used it up. The clock is frozen at ``NOW``.

``stock`` holds the controlled-substance records generated requests use (a product, two
locations, a confirmed receipt, an expired lot awaiting disposal, a count with a discrepancy, a
significant loss, an on-site destruction, a session with drug drawn); an inventory operation that
changes a record gets new ones on a new shelf (``stocked``, ``receipt``, ``open_discrepancies``,
``losses``, ``drawn``). Each such operation signs with a new witness (``witness``): wrong
passwords generated for a witness count toward that name's lockout, which must lock nobody else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from ketaclinic import clock
from ketaclinic.accounts.core import Role
from ketaclinic.infusions.core import State
from tests.conftest import PASSWORD, Person, patient_body, token_for
from tests.infusions.blind import reading_for
from tests.inventory.helpers import API as INVENTORY
from tests.inventory.helpers import KETAMINE, SUPPLIER

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
INFUSION = "migraine-lauritsen-2016"
WITH_BOLUS = "chronic-pain-low-dose"  # the library protocol with a bolus

VITALS = {
    "systolic_mmhg": 124,
    "diastolic_mmhg": 78,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
}
MOOD = {"instrument": "phq9", "answers": [1, 0, 0, 0, 0, 0, 0, 0, 0]}
CHECK_IN = {
    **VITALS,
    "pain_nrs": 7,
    "mood": MOOD,
    "pregnancy_status": "not_pregnant",
    "contraindications_changed": False,
    "escort_name": "A. Friend",
}
DISCHARGE = {
    "aldrete": {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "spo2": 2},
    "pain_nrs": 3,
    "mood": MOOD,
    "escort_confirmed": True,
    "no_driving_advice_given": True,
}


#: Expiry dates, NOW being 2026-03-02: a lot in date, and one that expired the day before.
IN_DATE = "2027-06-30"
EXPIRED = "2026-03-01"
REGISTRATION = {
    "registrant_name": "Demo Clinic",  # the second letter of the number is its initial
    "dea_number": "BD1234563",  # check digit: (1+3+5) + 2*(2+4+6) = 33, last digit 3
    "schedules": ["CIII", "CIV"],
    "address": "2 Example Street, Springfield",
    "expires_date": "2028-01-31",
}
LOSS = {
    "resolution": "loss",
    "reason": "vial missing from the shelf",
    "significant": True,
    "loss_type": "unexplained",
}


@contextmanager
def at(offset: timedelta) -> Iterator[None]:
    with clock.frozen_at(NOW + offset):
        yield


@dataclass
class SeededClinic:
    client: TestClient
    login: Person  # a user kept for the token route, so its fuzzing locks nobody else out
    physician: dict[str, str]
    nurse: dict[str, str]
    second_nurse: dict[str, str]
    protocols: dict[str, int]
    patients: list[int] = field(default_factory=list)
    courses: dict[str, int] = field(default_factory=dict)
    bystanders: dict[State, int] = field(default_factory=dict)
    alert_id: int = 0
    event_id: int = 0  # a vitals row the nurse charted, to be marked entered in error
    make_person: Callable[..., Person] | None = None  # for a new witness
    stock: dict[str, int] = field(default_factory=dict)
    admin: dict[str, str] = field(default_factory=dict)  # keeps the chairs (issue 13)
    _serial: Iterator[int] = field(default_factory=lambda: iter(range(1, 10_000)))

    def post(self, url: str, headers: dict[str, str], **body: Any) -> Any:
        response = self.client.post(url, json=body, headers=headers)
        assert response.status_code in {200, 201}, f"{url}: {response.text}"
        return response.json()

    def new_patient(self) -> int:
        n = next(self._serial)
        body = patient_body(mrn=f"FZ-{n}", given_name=f"Fuzz{n}")
        patient_id: int = self.post("/api/v1/patients", self.nurse, **body)["id"]
        self.patients.append(patient_id)
        return patient_id

    def fresh_course(self) -> int:
        """An open course of a new patient."""
        body = {"patient_id": self.new_patient(), "protocol_id": self.protocols[INFUSION]}
        course_id: int = self.post("/api/v1/courses", self.physician, **body)["id"]
        return course_id

    def new_chair(self) -> int:
        """A chair of its own for each booking, so that bystanders never share one."""
        name = f"Seeded chair {next(self._serial)}"
        chair_id: int = self.post("/api/v1/scheduling/chairs", self.admin, name=name)["id"]
        return chair_id

    def book(self, when: timedelta, key: str = INFUSION) -> int:
        """A session of a new patient, booked ``when`` from ``NOW`` at the time it starts."""
        body = {
            "patient_id": self.new_patient(),
            "protocol_id": self.protocols[key],
            "scheduled_at": (NOW + when).isoformat(),
            "chair_id": self.new_chair(),
        }
        with at(min(when, timedelta(0))):
            session_id: int = self.post("/api/v1/sessions", self.nurse, **body)["id"]
        return session_id

    def act(self, session_id: int, action: str, headers: dict[str, str], **body: Any) -> Any:
        if action == "verify" and not body:  # the blind check of a correctly set pump
            url = f"/api/v1/sessions/{session_id}"
            body = reading_for(self.client.get(url, headers=headers).json())
        if action == "stop" and not body:  # before the planned end: a reason (issue 11)
            body = {"reason_category": "patient_request"}
        return self.post(f"/api/v1/sessions/{session_id}/{action}", headers, **body)

    def ready(self, key: str = INFUSION) -> int:
        """Checked in, ordered and verified three hours ago, ready to start."""
        session_id = self.book(-timedelta(hours=3), key)
        with at(-timedelta(hours=3)):
            self.act(session_id, "check-in", self.nurse, **CHECK_IN)
            self.act(session_id, "order", self.physician)
            self.act(session_id, "verify", self.second_nurse)
        return session_id

    def infusing(self, key: str = INFUSION) -> int:
        """Started two and a half hours ago."""
        session_id = self.ready(key)
        with at(-timedelta(hours=2, minutes=30)):
            self.act(session_id, "start", self.nurse)
        return session_id

    def in_state(self, state: State) -> int:
        """A session brought to ``state`` through the API."""
        if state in {State.SCHEDULED, State.CANCELLED, State.NO_SHOW}:
            session_id = self.book(timedelta(hours=2))
            if state is State.CANCELLED:
                self.act(session_id, "cancel", self.nurse, reason="patient unwell")
            elif state is State.NO_SHOW:
                with at(timedelta(hours=3)):
                    self.act(session_id, "no-show", self.nurse)
            return session_id
        if state is State.CHECKED_IN:
            return self.ready()
        session_id = self.infusing()
        with at(-timedelta(hours=2)):
            if state is State.PAUSED:
                self.act(session_id, "pause", self.nurse, reason="nausea")
            elif state is State.ABORTED:
                self.act(session_id, "abort", self.nurse, reason="hypertension")
            elif state in {State.OBSERVING, State.DISCHARGED}:
                self.act(session_id, "stop", self.nurse)
        if state is State.DISCHARGED:
            self.act(session_id, "discharge", self.nurse, **DISCHARGE)
        return session_id

    # --- controlled substances ---------------------------------------------------------------

    def inventory(self, path: str, headers: dict[str, str], **body: Any) -> Any:
        return self.post(INVENTORY + path, headers, **body)

    def witness(self) -> dict[str, str]:
        """A nurse's signature (not the nurse's who acts): a new nurse each time."""
        assert self.make_person is not None
        person = self.make_person(Role.NURSE)
        return {"username": person.username, "password": person.password}

    def location(self) -> int:
        name = f"Shelf {next(self._serial)}"
        location_id: int = self.inventory("/locations", self.physician, name=name)["id"]
        return location_id

    def receipt(
        self, location_id: int, *expiries: str, containers: int, confirm: bool = True
    ) -> dict[str, Any]:
        """A new lot per expiry at ``location_id``, entered by the nurse 60 days ago (every
        lot was in date then) and confirmed by the physician unless ``confirm`` is false."""
        lots = [
            {
                "product_id": self.stock["product"],
                "lot_number": f"FZ-{next(self._serial)}",
                "expiry_date": expiry,
                "containers": containers,
            }
            for expiry in expiries
        ]
        with at(-timedelta(days=60)):
            body = {**SUPPLIER, "location_id": location_id, "lots": lots}
            receipt: dict[str, Any] = self.inventory("/receipts", self.nurse, **body)
            if confirm:
                self.inventory(f"/receipts/{receipt['id']}/confirm", self.physician)
        return receipt

    def stocked(self, expiry: str = IN_DATE, containers: int = 100) -> tuple[int, int]:
        """(lot, location): a new lot on a new shelf, nothing else there."""
        location_id = self.location()
        receipt = self.receipt(location_id, expiry, containers=containers)
        lot_id: int = receipt["lines"][0]["lot_id"]
        return lot_id, location_id

    def open_discrepancies(self, n: int) -> list[int]:
        """``n`` open discrepancies: ``n`` lots of two vials on a new shelf, each counted one
        vial short (a receipt takes at most 50 lots)."""
        location_id = self.location()
        receipt = self.receipt(location_id, *[IN_DATE] * n, containers=2)
        lines = [
            {"lot_id": line["lot_id"], "location_id": location_id, "sealed_containers": 1}
            for line in receipt["lines"]
        ]
        body = {"kind": "shift", "timing": "close", "lines": lines, "witness": self.witness()}
        count = self.inventory("/counts", self.nurse, **body)
        return [line["discrepancy_id"] for line in count["lines"]]

    def losses(self, n: int) -> list[int]:
        """``n`` discrepancies resolved as significant losses, the DEA not yet notified."""
        found = self.open_discrepancies(n)
        for discrepancy_id in found:
            self.inventory(f"/discrepancies/{discrepancy_id}/resolve", self.physician, **LOSS)
        return found

    def drawn(self) -> int:
        """A session stopped with a vial drawn for it and its waste not recorded yet."""
        lot_id, location_id = self.stocked(containers=2)
        session_id = self.ready()
        with at(-timedelta(hours=3)):
            body = {"lot_id": lot_id, "location_id": location_id, "containers": 1}
            self.inventory(f"/sessions/{session_id}/draws", self.nurse, **body)
        with at(-timedelta(hours=2, minutes=30)):
            self.act(session_id, "start", self.nurse)
        with at(-timedelta(hours=2)):
            self.act(session_id, "stop", self.nurse)
        return session_id

    def seed_inventory(self) -> None:
        """The records generated requests use: see the module's docstring."""
        self.inventory("/registrations", self.physician, **REGISTRATION)
        self.stock["product"] = self.inventory("/products", self.physician, **KETAMINE)["id"]
        self.stock["safe"], self.stock["cabinet"] = self.location(), self.location()
        receipt = self.receipt(self.stock["safe"], IN_DATE, EXPIRED, containers=10)
        self.stock["receipt"] = receipt["id"]
        self.stock["lot"], self.stock["expired_lot"] = (r["lot_id"] for r in receipt["lines"])
        lines = [
            {"lot_id": self.stock["lot"], "location_id": self.stock["safe"], "sealed_containers": 9},
            {"lot_id": self.stock["expired_lot"], "location_id": self.stock["safe"],
             "sealed_containers": 10},
        ]  # fmt: skip
        count = self.inventory(
            "/counts", self.nurse, kind="daily", timing="opening", lines=lines,
            witness=self.witness(),
        )  # fmt: skip
        self.stock["count"] = count["id"]
        self.stock["discrepancy"] = count["lines"][0]["discrepancy_id"]
        [self.stock["loss"]] = self.losses(1)
        self.stock["disposal"] = self.inventory(
            "/disposals", self.nurse, method="destroyed_on_site",
            lines=[{"lot_id": self.stock["expired_lot"], "location_id": self.stock["safe"],
                    "containers": 1}],
            destruction_method="chemical digestion, non-retrievable",
            witnesses=[self.witness(), self.witness()],
        )["id"]  # fmt: skip
        self.stock["drawn_session"] = self.drawn()

    def pump_reading(self) -> dict[str, str]:
        """What the second nurse reads off the pump for the order every target session gets
        (the same protocol, weight and default dose), for a blind check that passes."""
        session_id = self.target("verify")
        url = f"/api/v1/sessions/{session_id}"
        return reading_for(self.client.get(url, headers=self.second_nurse).json())

    def target(self, action: str) -> int:
        """A new session in the state ``action`` (an API path's last part) starts from."""
        if action in {"check-in", "order", "cancel", "no-show"}:
            return self.in_state(State.SCHEDULED)
        if action == "verify":
            session_id = self.in_state(State.SCHEDULED)
            self.act(session_id, "order", self.physician)
            return session_id
        if action == "start":
            return self.ready()
        if action == "clearance":
            session_id = self.book(timedelta(hours=1))
            self.act(session_id, "check-in", self.nurse, **{**CHECK_IN, "systolic_mmhg": 165})
            return session_id
        if action == "bolus":
            return self.infusing(WITH_BOLUS)
        if action == "acknowledge":
            session_id = self.in_state(State.INFUSING)
            alarm = {**VITALS, "systolic_mmhg": 195}
            self.alert_id = self.act(session_id, "vitals", self.nurse, **alarm)["alerts"][0]["id"]
            return session_id
        if action == "entries":
            session_id = self.in_state(State.INFUSING)
            charted = self.act(session_id, "vitals", self.nurse, **VITALS)["events"]
            self.event_id = [e for e in charted if e["kind"] == "vitals"][-1]["id"]
            return session_id
        state = {"resume": State.PAUSED, "discharge": State.OBSERVING}.get(action, State.INFUSING)
        return self.in_state(state)


def seed(client: TestClient, make_person: Callable[..., Person]) -> SeededClinic:
    """The clinic above, seeded with the clock frozen at ``NOW``."""
    nurse = make_person(Role.NURSE)
    with at(timedelta(0)):
        clinic = SeededClinic(
            client=client,
            login=make_person(Role.STAFF),
            physician=token_for(client, make_person(Role.PHYSICIAN)),
            nurse=token_for(client, nurse),
            second_nurse=token_for(client, make_person(Role.NURSE)),
            protocols={},
            make_person=make_person,
            admin=token_for(client, make_person(Role.ADMIN)),
        )
        listed = client.get("/api/v1/protocols", headers=clinic.nurse).json()
        clinic.protocols = {row["key"]: row["id"] for row in listed}
        clinic.courses["bystander"] = clinic.fresh_course()
        for state in State:
            clinic.bystanders[state] = clinic.in_state(state)
        clinic.target("acknowledge")  # an alert for generated requests
        clinic.target("entries")  # and a charted entry
        clinic.seed_inventory()
    assert clinic.login.password == PASSWORD
    return clinic
