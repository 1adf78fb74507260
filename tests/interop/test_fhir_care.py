"""The care resources of infusion sessions (issue #14): MedicationRequest, MedicationAdministration,
Encounter and Procedure, built from sessions run through the API in every state that matters,
on SQLite and PostgreSQL. Each resource passes the R4B models and our own checks; the doses are
the timeline's (``infusions.readings.delivered``), compared, never restated here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.models import Clinic
from ketaclinic.dosing.checks import DOSE_CONTEXT
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.infusions.readings import delivered
from ketaclinic.infusions.timeline import Delivered
from ketaclinic.interop.fhir_base import (
    IV_ROUTE_SNOMED,
    KETAMINE_RXNORM,
    RXNORM,
    FhirContext,
    Resource,
    validated,
)
from ketaclinic.interop.fhir_care import (
    ENCOUNTER,
    KINDS,
    MEDICATION_ADMINISTRATION,
    MEDICATION_REQUEST,
    PROCEDURE,
    problems,
)
from ketaclinic.patients.models import Patient
from tests.conftest import Person
from tests.infusions.test_api import Team, at
from tests.infusions.test_check_in_and_discharge import DISCHARGE, LOW_DOSE
from tests.inventory.helpers import Stock

#: When the record is read: after every session below has ended or been left running.
READ_AT = 500


@dataclass(frozen=True)
class Seeded:
    team: Team
    stock: Stock
    sids: dict[str, int]


def _post(team: Team, sid: int, action: str, **body: Any) -> None:
    response = team.client.post(f"/api/v1/sessions/{sid}/{action}", json=body, headers=team.nurse)
    assert response.status_code == 200, response.text


def _started(team: Team, protocol: str = "migraine-lauritsen-2016") -> int:
    with at(-30):
        sid = team.schedule(protocol)
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    return sid


def _scheduled(team: Team, stock: Stock) -> int:
    with at(-60):
        return team.schedule()


def _cancelled(team: Team, stock: Stock) -> int:
    with at(-60):
        sid = team.schedule()
        _post(team, sid, "cancel", reason="patient called off")
    return sid


def _infusing(team: Team, stock: Stock) -> int:
    """Running, with a rate change at 30 min."""
    sid = _started(team)
    with at(30):
        team.act(sid, "rate", team.nurse, rate_mg_per_h="10")
    return sid


def _paused(team: Team, stock: Stock) -> int:
    sid = _started(team)
    with at(20):
        team.act(sid, "pause", team.nurse, reason="nausea")
    return sid


def _completed(team: Team, stock: Stock) -> int:
    """Run to the planned end and discharged, from a vial of lot K-001."""
    with at(-40):
        sid = team.schedule()
        stock.draw(sid, containers=1)
        team.ready(sid)
    with at(0):
        team.act(sid, "start", team.nurse)
    with at(240):
        _post(team, sid, "stop")
    with at(300):
        team.act(sid, "discharge", team.nurse, **DISCHARGE)
    return sid


def _stopped_early(team: Team, stock: Stock) -> int:
    """The low-dose protocol (it has a bolus): a push, a rate change, a pause and an early stop,
    at minutes that make a dose a non-terminating decimal (14 mg/h × 17/60 h)."""
    sid = _started(team, LOW_DOSE)
    with at(10):
        team.act(sid, "bolus", team.nurse, dose_mg="5", reason="breakthrough pain")
    with at(21):
        team.act(sid, "rate", team.nurse, rate_mg_per_h="14")
    with at(33):
        team.act(sid, "pause", team.nurse, reason="dizzy")
    with at(41):
        team.act(sid, "resume", team.nurse, reason="settled")
    with at(58):
        team.act(sid, "stop", team.nurse, reason_category="side_effects", reason="dizzy again")
    return sid


def _aborted_before_start(team: Team, stock: Stock) -> int:
    with at(-30):
        sid = team.schedule()
        team.ready(sid)
    with at(-10):
        _post(team, sid, "abort", reason="patient unwell")
    return sid


def _aborted_while_infusing(team: Team, stock: Stock) -> int:
    sid = _started(team)
    with at(17):
        _post(team, sid, "abort", reason="line tissued")
    return sid


#: One session in each state that matters, named by what happened to it.
SESSIONS: dict[str, Callable[[Team, Stock], int]] = {
    "scheduled": _scheduled,
    "cancelled": _cancelled,
    "infusing": _infusing,
    "paused": _paused,
    "completed": _completed,
    "stopped_early": _stopped_early,
    "aborted_before_start": _aborted_before_start,
    "aborted_while_infusing": _aborted_while_infusing,
}


def _seeded(client: TestClient, make_person: Callable[..., Person], names: Iterable[str]) -> Seeded:
    team = Team(client, make_person)
    stock = Stock(team, make_person)
    return Seeded(team, stock, {name: SESSIONS[name](team, stock) for name in names})


@pytest.fixture
def clinic(client: TestClient, make_person: Callable[..., Person]) -> Seeded:
    """Every session of ``SESSIONS``."""
    return _seeded(client, make_person, SESSIONS)


@pytest.fixture
def two(client: TestClient, make_person: Callable[..., Person]) -> Seeded:
    """The completed session (a lot drawn) and the one stopped early (a bolus, a pause)."""
    return _seeded(client, make_person, ("completed", "stopped_early"))


@contextmanager
def reading(factory: sessionmaker[Session], clinic_code: str = "NORTH") -> Iterator[FhirContext]:
    with factory() as session:
        clinic_id = session.scalar(select(Clinic.id).where(Clinic.code == clinic_code))
        assert clinic_id is not None
        actor = Actor(None, "fhir-test", Role.NURSE, clinic_id)
        with at(READ_AT):
            yield FhirContext(session, actor, clinic_code)


def _all(ctx: FhirContext, patient_id: int) -> dict[str, list[Resource]]:
    patient = ctx.session.get(Patient, patient_id)
    assert patient is not None
    return {kind.name: kind.for_patient(ctx, patient) for kind in KINDS}


def _by_id(resources: list[Resource]) -> dict[str, Resource]:
    return {r["id"]: r for r in resources}


def test_each_state_gives_valid_resources_with_the_status_it_means(
    clinic: Seeded, factory: sessionmaker[Session]
) -> None:
    with reading(factory) as ctx:
        listed = _all(ctx, clinic.team.patient_id)
    for name, resources in listed.items():
        for resource in resources:
            assert resource["resourceType"] == name
            assert validated(resource) is resource
            assert problems(resource) == [], (resource["id"], problems(resource))
    found = {k: _by_id(v) for k, v in listed.items()}
    assert len(found["Encounter"]) == len(clinic.sids) == len(found["Procedure"])
    assert len(found["MedicationRequest"]) == len(clinic.sids) - 2  # scheduled, cancelled
    s = {name: str(sid) for name, sid in clinic.sids.items()}

    def status(kind: str, name: str) -> str:
        return str(found[kind][s[name]]["status"])

    expected = {  # name: (Encounter, Procedure, MedicationRequest or None)
        "scheduled": ("planned", "preparation", None),
        "cancelled": ("cancelled", "not-done", None),
        "infusing": ("in-progress", "in-progress", "active"),
        "paused": ("in-progress", "on-hold", "active"),
        "completed": ("finished", "completed", "completed"),
        "stopped_early": ("in-progress", "stopped", "stopped"),
        "aborted_before_start": ("finished", "not-done", "cancelled"),
        "aborted_while_infusing": ("finished", "stopped", "stopped"),
    }
    assert set(expected) == set(s)
    for name, (enc, proc, request) in expected.items():
        assert (status("Encounter", name), status("Procedure", name)) == (enc, proc), name
        if request is None:
            assert s[name] not in found["MedicationRequest"]
        else:
            assert status("MedicationRequest", name) == request, name
    administrations = found["MedicationAdministration"]
    assert administrations[f"{s['infusing']}-1"]["status"] == "completed"
    assert administrations[f"{s['infusing']}-2"]["status"] == "in-progress"
    assert "end" not in administrations[f"{s['infusing']}-2"]["effectivePeriod"]
    assert administrations[f"{s['paused']}-1"]["status"] == "on-hold"
    assert administrations[f"{s['aborted_before_start']}-not-given"]["status"] == "not-done"
    assert administrations[f"{s['aborted_while_infusing']}-1"]["status"] == "stopped"
    assert found["Procedure"][s["stopped_early"]]["statusReason"]["text"].startswith(
        "stopped early"
    )


def test_doses_given_are_the_timelines_exactly(
    clinic: Seeded, factory: sessionmaker[Session]
) -> None:
    with reading(factory) as ctx:
        administrations = _all(ctx, clinic.team.patient_id)["MedicationAdministration"]
        checked = 0
        for name, sid in clinic.sids.items():
            row = ctx.session.get(InfusionSession, sid)
            assert row is not None
            given = delivered(row)
            mine = [a for a in administrations if a["id"].split("-")[0] == str(sid)]
            if given is None:
                assert all(a["status"] == "not-done" for a in mine), name
                continue
            by_id = _by_id(mine)
            assert len(mine) == len(given.segments) + len(given.boluses), name
            for n, segment in enumerate(given.segments, 1):
                dosage = by_id[f"{sid}-{n}"]["dosage"]
                assert Decimal(dosage["rateQuantity"]["value"]) == segment.mg_per_h
                if by_id[f"{sid}-{n}"]["status"] != "in-progress":
                    assert Decimal(dosage["dose"]["value"]) == segment.mg
            for n, push in enumerate(given.boluses, 1):
                assert Decimal(by_id[f"{sid}-bolus-{n}"]["dosage"]["dose"]["value"]) == push.mg
            if not given.running:
                _sums_to_the_total(mine, given, name)
                checked += 1
    # completed, stopped early, aborted while infusing: the finished timelines
    assert checked == 3


def _sums_to_the_total(mine: list[Resource], given: Delivered, name: str) -> None:
    """The administrations add up to ``Delivered.total_mg``: exactly when every segment's dose
    terminates; else each of them and the total are cut at 28 digits (toward zero) on their
    own, so they differ by at most one unit in the 28th digit per segment, and the total."""
    with localcontext(DOSE_CONTEXT):
        total = sum((Decimal(a["dosage"]["dose"]["value"]) for a in mine), Decimal(0))
        terminating = all(s.mg * 3600 == s.mg_per_h * (s.end_s - s.start_s) for s in given.segments)
    if terminating:
        assert total == given.total_mg, name
        return
    last_digit = Decimal(1).scaleb(given.total_mg.adjusted() - (DOSE_CONTEXT.prec - 1))
    assert abs(total - given.total_mg) <= (len(given.segments) + 1) * last_digit, name


def test_a_non_terminating_dose_keeps_every_digit_the_timeline_gives(
    two: Seeded, factory: sessionmaker[Session]
) -> None:
    sid = two.sids["stopped_early"]
    with reading(factory) as ctx:
        administrations = _by_id(_all(ctx, two.team.patient_id)["MedicationAdministration"])
        row = ctx.session.get(InfusionSession, sid)
        assert row is not None
        given = delivered(row)
    assert given is not None
    doses = [administrations[f"{sid}-{n}"]["dosage"]["dose"]["value"] for n in (1, 2, 3)]
    assert all(isinstance(d, Decimal | int) for d in doses)
    long = [d for d in doses if isinstance(d, Decimal) and len(d.as_tuple().digits) > 17]
    assert long, f"expected a dose beyond a float's digits in {doses}"
    assert doses == [s.mg for s in given.segments]


def test_the_order_says_what_was_signed(two: Seeded, factory: sessionmaker[Session]) -> None:
    sid = two.sids["completed"]
    with reading(factory) as ctx:
        request = _by_id(_all(ctx, two.team.patient_id)["MedicationRequest"])[str(sid)]
        row = ctx.session.get(InfusionSession, sid)
        assert row is not None and row.order_plan is not None
        plan = row.order_plan
        signer, signed_at = row.order_signed_by_user_id, row.order_signed_at
    assert request["intent"] == "order"
    assert request["medicationCodeableConcept"]["coding"][0] == {
        "system": RXNORM,
        "code": KETAMINE_RXNORM,
        "display": "ketamine",
    }
    assert request["requester"] == {"reference": f"Practitioner/{signer}"}
    assert signed_at is not None and request["authoredOn"].startswith(signed_at.date().isoformat())
    dosage = request["dosageInstruction"][0]
    assert dosage["route"]["coding"][0]["code"] == IV_ROUTE_SNOMED
    ordered, calculated = dosage["doseAndRate"]
    assert ordered["rateQuantity"]["code"] == plan["dose_unit"] == "mg/kg/h"
    assert Decimal(ordered["rateQuantity"]["value"]) == Decimal(str(plan["dose"]))
    assert Decimal(calculated["rateQuantity"]["value"]) == Decimal(str(plan["rate_mg_per_h"]))
    assert calculated["rateQuantity"]["code"] == "mg/h"
    assert dosage["timing"]["repeat"]["duration"] == plan["duration_min"]
    # the migraine protocol treats none of the patient's diagnoses (fibromyalgia): text only
    assert request["reasonCode"][0]["text"].startswith("Migraine")


def test_a_protocol_treating_a_diagnosis_refers_to_its_condition(
    two: Seeded, factory: sessionmaker[Session]
) -> None:
    sid = str(two.sids["stopped_early"])  # the chronic-pain protocol: fibromyalgia is one
    with reading(factory) as ctx:
        patient = ctx.session.get(Patient, two.team.patient_id)
        assert patient is not None
        diagnosis_ids = [d.id for d in patient.diagnoses]
        found = _all(ctx, patient.id)
    assert len(diagnosis_ids) == 1
    want = [{"reference": f"Condition/{diagnosis_ids[0]}"}]
    for kind in ("MedicationRequest", "Encounter", "Procedure"):
        assert _by_id(found[kind])[sid]["reasonReference"] == want, kind


def test_the_lot_drawn_is_on_a_contained_medication(
    two: Seeded, factory: sessionmaker[Session]
) -> None:
    sid = two.sids["completed"]
    with reading(factory) as ctx:
        administrations = _all(ctx, two.team.patient_id)["MedicationAdministration"]
    mine = [a for a in administrations if a["id"].startswith(f"{sid}-")]
    assert mine
    for administration in mine:
        assert administration["medicationReference"] == {"reference": "#vial"}
        (medication,) = administration["contained"]
        assert medication["batch"] == {"lotNumber": "K-001", "expirationDate": "2027-06-30"}
        assert medication["code"]["coding"][0]["code"] == KETAMINE_RXNORM
    others = [a for a in administrations if not a["id"].startswith(f"{sid}-")]
    assert others and all("contained" not in a for a in others)


def test_patient_of_answers_only_inside_the_actors_clinic(
    two: Seeded, factory: sessionmaker[Session], make_person: Callable[..., Person]
) -> None:
    make_person(Role.NURSE, "SOUTH")
    sid = two.sids["stopped_early"]
    ids = {
        MEDICATION_REQUEST: str(sid),
        MEDICATION_ADMINISTRATION: f"{sid}-bolus-1",
        ENCOUNTER: str(sid),
        PROCEDURE: str(sid),
    }
    assert set(ids) == set(KINDS)
    with reading(factory) as north:
        for kind, resource_id in ids.items():
            patient = kind.patient_of(north, resource_id)
            assert patient is not None and patient.id == two.team.patient_id, kind.name
        assert MEDICATION_ADMINISTRATION.patient_of(north, f"{sid}-1") is not None
        for nonsense in ("", "0", "x", f"{sid}-", f"{sid}-bolus-0", f"{sid}-1-1", "99999"):
            assert all(kind.patient_of(north, nonsense) is None for kind in KINDS), nonsense
        patient = north.session.get(Patient, two.team.patient_id)
    with reading(factory, "SOUTH") as south:
        for kind, resource_id in ids.items():
            assert kind.patient_of(south, resource_id) is None, kind.name
        assert patient is not None
        assert all(kind.for_patient(south, patient) == [] for kind in KINDS)


def test_problems_finds_what_the_models_let_through(
    two: Seeded, factory: sessionmaker[Session]
) -> None:
    sid = str(two.sids["completed"])
    with reading(factory) as ctx:
        found = {k: _by_id(v) for k, v in _all(ctx, two.team.patient_id).items()}
    request = found["MedicationRequest"][sid]
    administration = found["MedicationAdministration"][f"{sid}-1"]
    broken: list[tuple[Resource, str]] = [
        ({**request, "status": "bogus"}, "MedicationRequest.status"),
        ({**request, "intent": "wish"}, "MedicationRequest.intent"),
        (
            {**request, "medicationCodeableConcept": {"text": "ketamine"}},
            "MedicationRequest.medicationCodeableConcept",
        ),
        ({**administration, "dosage": {**administration["dosage"], "route": {"text": "IV"}}},
         "MedicationAdministration.dosage.route"),
        (
            {**administration, "dosage": {**administration["dosage"], "dose": {
                **administration["dosage"]["dose"], "value": 1.1}}},
            "MedicationAdministration.dosage.dose.value",
        ),
        (
            {**administration, "dosage": {**administration["dosage"], "rateQuantity": {
                **administration["dosage"]["rateQuantity"], "code": "mg/hr"}}},
            "MedicationAdministration.dosage.rateQuantity.code",
        ),
        ({**found["Encounter"][sid], "class": {"code": "IMP"}}, "Encounter.class"),
        ({**found["Procedure"][sid], "code": {"text": "infusion"}}, "Procedure.code"),
        ({**found["Procedure"][sid], "id": "a/b"}, "Procedure.id"),
        ({**found["Encounter"][sid], "meta": {}}, "Encounter.meta.profile"),
    ]  # fmt: skip
    for resource, where in broken:
        if where.endswith(("status", "intent")):  # what the R4B models accept
            assert validated(resource) is resource
        assert any(p.startswith(where) for p in problems(resource)), (where, problems(resource))


def test_an_order_in_mg_per_kg_over_minutes_is_a_dose_over_the_timings_duration(
    client: TestClient, make_person: Callable[..., Person], factory: sessionmaker[Session]
) -> None:
    team = Team(client, make_person)
    sid = _started(team, "depression-murrough-2013")
    with at(40):
        _post(team, sid, "stop")
    with reading(factory) as ctx:
        found = _all(ctx, team.patient_id)
        row = ctx.session.get(InfusionSession, sid)
        assert row is not None and row.order_plan is not None
        plan = row.order_plan
    (request,) = found["MedicationRequest"]
    ordered, calculated = request["dosageInstruction"][0]["doseAndRate"]
    assert plan["dose_unit"] == "mg/kg"
    assert ordered["doseQuantity"]["code"] == "mg/kg" and "rateQuantity" not in ordered
    assert Decimal(ordered["doseQuantity"]["value"]) == Decimal(str(plan["dose"]))
    assert request["dosageInstruction"][0]["timing"]["repeat"]["duration"] == plan["duration_min"]
    assert Decimal(calculated["doseQuantity"]["value"]) == Decimal(str(plan["infusion_mg"]))
    assert request["status"] == "completed"
    for resources in found.values():
        for resource in resources:
            assert validated(resource) is resource
            assert problems(resource) == [], (resource["id"], problems(resource))


def test_the_server_writes_every_digit_of_a_dose(
    two: Seeded, factory: sessionmaker[Session]
) -> None:
    """Over HTTP the doses are JSON numbers with all their digits (never rounded to a float),
    and each resource read alone equals its entry in $everything."""
    team, sid = two.team, two.sids["stopped_early"]
    with at(READ_AT):
        response = team.client.get(
            f"/fhir/r4/Patient/{team.patient_id}/$everything", headers=team.nurse
        )
        assert response.status_code == 200, response.text
        bundle = json.loads(response.text, parse_float=Decimal)
        served = {
            e["resource"]["id"]: e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "MedicationAdministration"
        }
        for resource_id, resource in served.items():
            alone = team.client.get(
                f"/fhir/r4/MedicationAdministration/{resource_id}", headers=team.nurse
            )
            assert json.loads(alone.text, parse_float=Decimal) == resource
    with reading(factory) as ctx:
        built = _by_id(_all(ctx, team.patient_id)["MedicationAdministration"])
    assert served.keys() == built.keys() and served
    for n in (1, 2, 3):
        assert (
            served[f"{sid}-{n}"]["dosage"]["dose"]["value"]
            == built[f"{sid}-{n}"]["dosage"]["dose"]["value"]
        )
