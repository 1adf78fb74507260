"""``ketaclinic fhir import`` and ``export``: exit codes, what they write, and the round trip
(export a demo patient, import the bundle into another clinic, export again: the same record)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ketaclinic.accounts.core import Role
from ketaclinic.accounts.models import Clinic
from ketaclinic.audit.models import AuditEvent
from ketaclinic.cli import app
from ketaclinic.config import Settings
from ketaclinic.db import transaction
from ketaclinic.demo.clinic import synthetic_patients
from ketaclinic.interop.fhir_base import validated
from ketaclinic.interop.fhir_exchange import transaction_from
from ketaclinic.patients import service as patients
from ketaclinic.patients.models import Diagnosis, Patient
from tests.conftest import Person, cli_env
from tests.interop.fhir_bundles import changed, referral
from tests.interop.test_fhir_care import _seeded
from tests.interop.test_fhir_import import actor_of, row_counts

runner = CliRunner()
Resource = dict[str, Any]
#: What the round trip carries; everything else of ``$everything`` is the clinic's own care.
RECORD_TYPES = ("Patient", "Condition", "AllergyIntolerance", "MedicationStatement")
TODAY = date(2026, 12, 1)


@pytest.fixture
def north(make_person: Callable[..., Person]) -> Person:
    return make_person(Role.NURSE)


def fhir(settings: Settings, *args: str) -> Any:
    return runner.invoke(app, ["fhir", *args], env=cli_env(settings))


def write(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def test_import_registers_the_patient_and_exits_0(
    settings: Settings, factory: sessionmaker[Session], north: Person, tmp_path: Path
) -> None:
    result = fhir(settings, "import", str(write(tmp_path / "in.json", referral())))
    assert result.exit_code == 0, result.output
    assert "registered patient REF-1001" in result.output
    again = fhir(settings, "import", str(tmp_path / "in.json"), "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["type"] == "transaction-response"
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 1
        actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("patient.import") == 2


def test_a_refused_bundle_exits_2_naming_each_problem_and_writes_nothing(
    settings: Settings, factory: sessionmaker[Session], north: Person, tmp_path: Path
) -> None:
    bad_code = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.5"}]}
    bundle = changed(changed(referral(), "Condition", code=bad_code), "Patient", identifier=None)
    before = row_counts(factory)
    result = fhir(settings, "import", str(write(tmp_path / "bad.json", bundle)))
    assert result.exit_code == 2, result.output
    assert "Bundle.entry[1].resource.code.coding[0].code" in result.stderr
    assert "Bundle.entry[0].resource.identifier" in result.stderr
    assert row_counts(factory) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [("{nope", "not JSON"), (json.dumps({"resourceType": "Patient"}), "not a FHIR Bundle")],
)
def test_what_is_not_a_bundle_exits_2(
    settings: Settings, north: Person, tmp_path: Path, content: str, words: str
) -> None:
    (tmp_path / "x.json").write_text(content)
    result = fhir(settings, "import", str(tmp_path / "x.json"))
    assert result.exit_code == 2
    assert words in result.stderr


def test_a_missing_file_or_an_unknown_clinic_exits_2(
    settings: Settings, north: Person, tmp_path: Path
) -> None:
    assert fhir(settings, "import", str(tmp_path / "none.json")).exit_code == 2
    path = write(tmp_path / "in.json", referral())
    result = fhir(settings, "import", str(path), "--clinic", "NOWHERE")
    assert result.exit_code == 2
    assert "NOWHERE" in result.stderr


def test_with_two_clinics_the_clinic_must_be_named(
    settings: Settings, make_person: Callable[..., Person], tmp_path: Path
) -> None:
    make_person(Role.NURSE, clinic="NORTH")
    make_person(Role.NURSE, clinic="SOUTH")
    path = write(tmp_path / "in.json", referral())
    assert fhir(settings, "import", str(path)).exit_code == 2
    assert fhir(settings, "import", str(path), "--clinic", "SOUTH").exit_code == 0


# --- export ---------------------------------------------------------------------------------


def _demo_patients(
    factory: sessionmaker[Session], person: Person, count: int
) -> list[tuple[str, int]]:
    """Demo patients (the demo's own generator), each with an allergy and a medication."""
    actor = actor_of(factory, person)
    made = []
    with transaction(factory) as session:
        for data in synthetic_patients(TODAY, count=count):
            data = data.model_copy(
                update={
                    "allergies": data.allergies or ["latex"],
                    "medications": data.medications or ["Sertraline 50 mg"],
                }
            )
            patient = patients.create(session, actor=actor, data=data, today=TODAY)
            made.append((patient.mrn, len(patient.diagnoses)))
    return made


def test_export_writes_one_patients_everything_bundle(
    settings: Settings, factory: sessionmaker[Session], north: Person, tmp_path: Path
) -> None:
    (mrn, diagnoses), *_ = _demo_patients(factory, north, 2)
    result = fhir(settings, "export", "--patient", mrn, "--out", str(tmp_path / "p.json"))
    assert result.exit_code == 0, result.output
    bundle = validated(json.loads((tmp_path / "p.json").read_text()))
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Patient") == 1
    assert kinds.count("Condition") == diagnoses
    with transaction(factory) as session:
        assert "patient.export" in session.scalars(select(AuditEvent.action)).all()


def test_export_refuses_an_unknown_mrn_or_both_modes(
    settings: Settings, north: Person, tmp_path: Path
) -> None:
    assert fhir(settings, "export", "--patient", "NO-SUCH").exit_code == 2
    assert fhir(settings, "export").exit_code == 2
    both = fhir(settings, "export", "--patient", "X", "--all", str(tmp_path))
    assert both.exit_code == 2


def test_bulk_export_writes_one_ndjson_file_per_type_with_every_resource(
    settings: Settings, factory: sessionmaker[Session], north: Person, tmp_path: Path
) -> None:
    made = _demo_patients(factory, north, 5)
    result = fhir(settings, "export", "--all", str(tmp_path / "bulk"))
    assert result.exit_code == 0, result.output
    files = {p.name: p.read_text().splitlines() for p in (tmp_path / "bulk").iterdir()}
    for name, lines in files.items():
        kinds = {json.loads(line)["resourceType"] for line in lines}
        assert kinds == {name.removesuffix(".ndjson")}
        for line in lines:
            validated(json.loads(line))
    assert len(files["Patient.ndjson"]) == len(made)
    with transaction(factory) as session:
        assert len(files["Condition.ndjson"]) == session.scalar(
            select(func.count()).select_from(Diagnosis)
        )
        allergies = sum(len(a) for a in session.scalars(select(Patient.allergies)))
    assert len(files["AllergyIntolerance.ndjson"]) == allergies


# --- the round trip -------------------------------------------------------------------------


def _comparable(value: Any) -> Any:
    """A resource without what belongs to the clinic holding it: ids, meta, references, when it
    was recorded there, and the clinic's own identifier system."""
    if isinstance(value, dict):
        return {
            key: _comparable(child)
            for key, child in value.items()
            if key not in ("id", "meta", "recordedDate", "dateAsserted", "system")
            or (key == "system" and not str(child).endswith(":mrn"))
            if not (isinstance(child, dict) and "reference" in child)
        }
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def _record(bundle: Resource) -> dict[str, list[Resource]]:
    found: dict[str, list[Resource]] = {kind: [] for kind in RECORD_TYPES}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in found:
            found[resource["resourceType"]].append(_comparable(resource))
    return found


def _clinic(session: Session, code: str) -> int:
    found = session.scalar(select(Clinic.id).where(Clinic.code == code))
    assert found is not None
    return found


def _weights(factory: sessionmaker[Session], mrn: str, clinic: str) -> list[tuple[Any, ...]]:
    with transaction(factory) as session:
        patient = session.scalars(
            select(Patient).where(Patient.mrn == mrn, Patient.clinic_id == _clinic(session, clinic))
        ).one()
        # FHIR instants carry whole seconds (fhir_base.instant).
        return sorted((w.measured_at.replace(microsecond=0), w.weight_kg) for w in patient.weights)


def test_a_record_exported_and_imported_into_another_clinic_exports_the_same(
    settings: Settings,
    factory: sessionmaker[Session],
    make_person: Callable[..., Person],
    tmp_path: Path,
) -> None:
    north = make_person(Role.NURSE, clinic="NORTH")
    make_person(Role.NURSE, clinic="SOUTH")
    made = _demo_patients(factory, north, 6)
    assert any(diagnoses > 1 for _, diagnoses in made), "no demo patient with two diagnoses"
    for mrn, _ in made:
        first = tmp_path / f"{mrn}-north.json"
        exported = fhir(
            settings, "export", "--patient", mrn, "--out", str(first), "--clinic", "NORTH"
        )
        assert exported.exit_code == 0, exported.output
        original = json.loads(first.read_text())
        assert any(e["resource"]["resourceType"] == "Observation" for e in original["entry"])
        moved = transaction_from(original)
        imported = fhir(settings, "import", str(write(tmp_path / f"{mrn}-in.json", moved)),
                        "--clinic", "SOUTH")  # fmt: skip
        assert imported.exit_code == 0, imported.stderr
        second = tmp_path / f"{mrn}-south.json"
        again = fhir(
            settings, "export", "--patient", mrn, "--out", str(second), "--clinic", "SOUTH"
        )
        assert again.exit_code == 0, again.output
        assert _record(json.loads(second.read_text())) == _record(original)
        assert _weights(factory, mrn, "SOUTH") == _weights(factory, mrn, "NORTH")
        home = fhir(settings, "import", str(tmp_path / f"{mrn}-in.json"), "--clinic", "NORTH")
        assert home.exit_code == 0, home.stderr
        assert _weights(factory, mrn, "NORTH") == _weights(factory, mrn, "SOUTH")
        carried = _record(original)
        assert carried["Condition"] and carried["AllergyIntolerance"] and carried["Patient"]
        assert carried["MedicationStatement"]


def test_export_writes_a_treated_patients_doses_with_every_digit(
    settings: Settings,
    client: TestClient,
    make_person: Callable[..., Person],
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    """A session stopped early (a bolus, a rate change, a pause): its administrations hold
    Decimals, which plain ``json.dumps`` refuses."""
    seeded = _seeded(client, make_person, ("stopped_early",))
    with transaction(factory) as session:
        patient = session.get(Patient, seeded.team.patient_id)
        assert patient is not None
        mrn = patient.mrn
    one = fhir(settings, "export", "--patient", mrn, "--out", str(tmp_path / "p.json"))
    assert one.exit_code == 0, one.output
    bundle = json.loads((tmp_path / "p.json").read_text(), parse_float=Decimal)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "MedicationAdministration" in kinds
    bulk = fhir(settings, "export", "--all", str(tmp_path / "bulk"))
    assert bulk.exit_code == 0, bulk.output
    given = (tmp_path / "bulk" / "MedicationAdministration.ndjson").read_text().splitlines()
    in_bundle = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationAdministration"
    ]
    assert len(given) == len(in_bundle)
