"""Side-effect assessments: the scales as data, and refusals that name the field."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import InvalidInput
from ketaclinic.monitoring.side_effects import (
    MOAA_S_LEVELS,
    SIDE_EFFECTS,
    Assessment,
    Severity,
    reading_from_assessments,
    validate_assessment,
)

SEVERITY_EFFECTS = [
    "dissociation",
    "hallucinations",
    "nausea_vomiting",
    "dizziness",
    "anxiety_agitation",
    "headache",
    "floating_tingling",
]


def test_the_clinic_assesses_these_effects() -> None:
    assert [e.id for e in SIDE_EFFECTS] == [
        "dissociation",
        "sedation",
        "hallucinations",
        "nausea_vomiting",
        "dizziness",
        "anxiety_agitation",
        "headache",
        "floating_tingling",
    ]


def test_moaa_s_has_six_levels_worded_as_in_the_reference() -> None:
    # REFERENCE §4b, MOAA/S [R45][R46].
    assert sorted(MOAA_S_LEVELS) == [0, 1, 2, 3, 4, 5]
    assert MOAA_S_LEVELS[5] == "Responds readily to name spoken in a normal tone"
    assert MOAA_S_LEVELS[2] == "Responds only after mild prodding or shaking"
    assert MOAA_S_LEVELS[0] == "No response to painful trapezius squeeze"


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4, 5])
def test_every_moaa_s_level_is_accepted_for_sedation(level: int) -> None:
    assessment = validate_assessment("sedation", level)
    assert assessment == Assessment("sedation", level)
    assert assessment.description.startswith(f"MOAA/S {level}: ")


@pytest.mark.parametrize("effect", SEVERITY_EFFECTS)
@pytest.mark.parametrize(
    ("name", "grade"), [("none", 0), ("mild", 1), ("moderate", 2), ("severe", 3)]
)
def test_every_other_effect_takes_the_four_step_severity(
    effect: str, name: str, grade: int
) -> None:
    assessment = validate_assessment(effect, name)
    assert assessment.grade == grade
    assert assessment.description == name


@pytest.mark.parametrize(
    ("effect", "grade", "field"),
    [
        ("euphoria", "mild", "effect"),
        ("Nausea", "mild", "effect"),
        ("headache", "extreme", "severity"),
        ("headache", "Mild", "severity"),
        ("headache", 2, "severity"),
        ("sedation", 6, "moaa_s"),
        ("sedation", -1, "moaa_s"),
        ("sedation", "deep", "moaa_s"),
        ("sedation", True, "moaa_s"),
    ],
)
def test_it_refuses_an_unknown_effect_or_grade_naming_the_field(
    effect: str, grade: str | int, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_assessment(effect, grade)
    assert caught.value.loc == (field,)


def test_an_assessment_built_directly_is_checked_too() -> None:
    with pytest.raises(InvalidInput) as caught:
        Assessment("headache", 4)
    assert caught.value.loc == ("severity",)
    with pytest.raises(InvalidInput) as caught:
        Assessment("sedation", 9)
    assert caught.value.loc == ("moaa_s",)


def test_the_reading_takes_the_deepest_sedation_and_the_worst_other_effect() -> None:
    assessments = [
        validate_assessment("sedation", 4),
        validate_assessment("sedation", 3),
        validate_assessment("headache", "moderate"),
        validate_assessment("dizziness", "mild"),
    ]
    assert reading_from_assessments(assessments) == {"moaa_s": 3, "side_effect_severity": 2}


def test_no_assessments_give_an_empty_reading() -> None:
    assert reading_from_assessments([]) == {}


@given(st.lists(st.tuples(st.sampled_from(SEVERITY_EFFECTS), st.sampled_from(list(Severity)))))
def test_side_effect_severity_is_the_maximum_grade(pairs: list[tuple[str, Severity]]) -> None:
    assessments = [validate_assessment(e, s.label) for e, s in pairs]
    reading = reading_from_assessments(assessments)
    if pairs:
        assert reading == {"side_effect_severity": max(int(s) for _, s in pairs)}
    else:
        assert reading == {}
