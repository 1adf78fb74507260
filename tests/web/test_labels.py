"""The one table of labels (issue 11 item 7): every identifier a person can meet has the
clinic's word for it, and validator jargon becomes an instruction."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from ketaclinic.accounts.core import Role
from ketaclinic.courses.core import Phase
from ketaclinic.dosing.core import CAP_NAME, FindingKind
from ketaclinic.dosing.protocol import (
    BOLUS_LIMIT_NAME,
    DOSE_LIMIT_NAMES,
    DURATION_LIMIT_NAME,
    KNOWN_INDICATIONS,
    RATE_LIMIT_NAME,
    TOTAL_LIMIT_NAME,
    DoseMode,
)
from ketaclinic.infusions import schemas as session_schemas
from ketaclinic.infusions.core import Move, State
from ketaclinic.labels import has_label, label, labelled, message
from ketaclinic.monitoring.alerts import Watch
from ketaclinic.outcomes.schemas import Context
from ketaclinic.protocols.schemas import DoseCalculationIn
from ketaclinic.screening.contraindications import CONTRAINDICATIONS
from ketaclinic.screening.core import Outcome
from ketaclinic.screening.indications import INDICATIONS


def _request_fields() -> set[str]:
    """Every field of the chairside request models and of the dose calculation."""
    models = [
        m
        for name in dir(session_schemas)
        if isinstance(m := getattr(session_schemas, name), type)
        and issubclass(m, BaseModel)
        and name.endswith("In")
    ]
    return {f for m in [*models, DoseCalculationIn] for f in m.model_fields}


#: How many ids of each kind exist today; a new one must get its label (and this count).
KINDS = {
    "request fields": (_request_fields, 53),
    "indications": (lambda: set(KNOWN_INDICATIONS) | {i.id for i in INDICATIONS}, 15),
    "states": (lambda: {s.value for s in State}, 9),
    "moves": (lambda: {m.value for m in Move}, 9),
    "contraindications": (lambda: {c.id for c in CONTRAINDICATIONS}, 10),
    "dose modes": (lambda: {d.value for d in DoseMode}, 3),
    "limit names": (
        lambda: {
            *DOSE_LIMIT_NAMES.values(),
            RATE_LIMIT_NAME,
            TOTAL_LIMIT_NAME,
            BOLUS_LIMIT_NAME,
            DURATION_LIMIT_NAME,
            CAP_NAME,
        },
        7,
    ),
    "alert readings": (lambda: {w.value for w in Watch}, 7),
    "finding kinds": (lambda: {k.value for k in FindingKind}, 3),
    "screening outcomes": (lambda: {o.value for o in Outcome}, 3),
    "questionnaire contexts": (lambda: {c.value for c in Context}, 5),
    "course phases": (lambda: {p.value for p in Phase}, 3),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_known_id_of_each_kind_has_a_label(kind: str) -> None:
    enumerate_ids, expected = KINDS[kind]
    ids = enumerate_ids()
    assert len(ids) == expected, f"{kind}: found {sorted(ids)}"
    assert sorted(i for i in ids if not has_label(i)) == []
    assert all("_" not in label(i) for i in ids)


def test_the_issues_examples_read_as_the_clinic_says_them() -> None:
    assert label("dose_mg_per_kg") == "dose (mg/kg)"
    assert label("systolic_mmhg") == "systolic BP"
    assert label("mg_per_kg_over_min") == "mg/kg over N min"
    assert label("chronic_pain") == "chronic pain"
    assert label(State.NO_SHOW) == "no-show"  # an enum member reads as its value
    assert labelled(["blood_pressure", "new_contraindication"]) == (
        "high blood pressure, new contraindication"
    )


def test_an_unknown_or_nested_id_still_reads_as_words() -> None:
    assert label("brand_new_field") == "brand new field"
    assert label("dose_limit.soft_max") == "dose limit: soft maximum"
    assert Role.NURSE.value == label(Role.NURSE)  # a plain word is its own label


def _pydantic_message(model: type[BaseModel], **values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(values)
    return str(caught.value.errors()[0]["msg"])


class _Boolean(BaseModel):
    answer: bool


class _Whole(BaseModel):
    count: int


def test_validator_messages_become_instructions() -> None:
    # The messages as pydantic writes them today, so a new pydantic wording shows up here.
    assert message(_pydantic_message(_Boolean, answer="maybe")) == "choose yes or no"
    assert message(_pydantic_message(_Boolean)) == "fill this in"
    assert message(_pydantic_message(_Whole, count="many")) == "enter a whole number"
    assert message("Input should be greater than or equal to 0") == "enter 0 or more"
    assert message("Input should be 'phq9' or 'gad7'") == "choose one of 'phq9' or 'gad7'"
    # Our own messages already say what to do and pass unchanged.
    own = "140 % is outside the possible range 50–100"
    assert message(own) == own
    assert message("Value error, say why") == "say why"
