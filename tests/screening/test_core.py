import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import InvalidInput
from ketaclinic.patients.icd10cm import lookup
from ketaclinic.screening.contraindications import CONTRAINDICATIONS, Severity
from ketaclinic.screening.core import (
    BloodPressure,
    BpThreshold,
    Outcome,
    assess,
    require_complete,
)
from ketaclinic.screening.indications import INDICATIONS, Evidence, indications_for_code

CALM = BloodPressure(122, 78)


def test_every_indication_prefix_is_a_real_icd10cm_code() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm
    for indication in INDICATIONS:
        for prefix in indication.code_prefixes:
            assert cm.is_valid_item(prefix), (indication.id, prefix)


@pytest.mark.parametrize(
    ("code", "indication", "evidence"),
    [
        ("G90.511", "crps", Evidence.MODERATE),
        ("G56.40", "crps", Evidence.MODERATE),
        ("M79.7", "fibromyalgia", Evidence.WEAK_OR_NONE),
        ("G43.709", "migraine", Evidence.WEAK_OR_NONE),
        ("M54.50", "back_pain", Evidence.WEAK_OR_NONE),
        ("M54.2", "neck_pain", Evidence.NOT_GRADED),
        ("F33.1", "depression", Evidence.MODERATE),
        ("G89.3", "cancer_pain", Evidence.WEAK_OR_NONE),
        ("E11.42", "neuropathic_pain", Evidence.WEAK_OR_NONE),
    ],
)
def test_a_diagnosis_matches_its_indication_with_the_evidence(
    code: str, indication: str, evidence: Evidence
) -> None:
    assert lookup(code).code == code
    matched = indications_for_code(code)
    assert [i.id for i in matched] == [indication]
    assert matched[0].evidence is evidence
    assert matched[0].source


def test_a_patient_with_a_treated_condition_and_no_findings_is_eligible() -> None:
    result = assess(diagnosis_codes=["G90.50"], present=[], baseline_bp=CALM)
    assert result.outcome is Outcome.ELIGIBLE
    assert result.findings == ()
    require_complete(result)


def test_a_ketamine_allergy_makes_the_patient_ineligible_whatever_else() -> None:
    result = assess(
        diagnosis_codes=["G90.50"],
        present=["ketamine_allergy", "pregnancy"],
        baseline_bp=CALM,
        overrides={"pregnancy": "discussed"},
    )
    assert result.outcome is Outcome.INELIGIBLE
    assert result.reasons[0] == "absolute: Known hypersensitivity to ketamine"


def test_a_relative_finding_needs_a_written_override_before_signing() -> None:
    result = assess(diagnosis_codes=["M79.7"], present=["psychosis"], baseline_bp=CALM)
    assert result.outcome is Outcome.ELIGIBLE_WITH_PRECAUTIONS
    with pytest.raises(InvalidInput, match="psychosis is a relative contraindication"):
        require_complete(result)
    blank = assess(
        diagnosis_codes=["M79.7"],
        present=["psychosis"],
        baseline_bp=CALM,
        overrides={"psychosis": "   "},
    )
    assert blank.missing_overrides == ("psychosis",)
    signed = assess(
        diagnosis_codes=["M79.7"],
        present=["psychosis"],
        baseline_bp=CALM,
        overrides={"psychosis": "Remote single episode 2009, stable; psychiatrist agrees"},
    )
    require_complete(signed)


def test_moderate_hepatic_disease_is_a_caution_without_an_override() -> None:
    result = assess(
        diagnosis_codes=["M79.7"], present=["moderate_hepatic_disease"], baseline_bp=CALM
    )
    assert result.outcome is Outcome.ELIGIBLE_WITH_PRECAUTIONS
    assert result.missing_overrides == ()


@pytest.mark.parametrize(
    ("bp", "flagged"),
    [((140, 90), False), ((141, 90), True), ((140, 91), True), ((120, 70), False)],
)
def test_blood_pressure_above_the_threshold_is_flagged(bp: tuple[int, int], flagged: bool) -> None:
    result = assess(diagnosis_codes=["M79.7"], present=[], baseline_bp=BloodPressure(*bp))
    ids = [f.contraindication.id for f in result.findings]
    assert ("uncontrolled_hypertension" in ids) is flagged


def test_the_blood_pressure_threshold_is_configurable() -> None:
    result = assess(
        diagnosis_codes=["M79.7"],
        present=[],
        baseline_bp=BloodPressure(150, 85),
        bp_threshold=BpThreshold(160, 100),
    )
    assert result.outcome is Outcome.ELIGIBLE


def test_no_matching_indication_needs_a_physicians_reason() -> None:
    result = assess(diagnosis_codes=["J45.909"], present=[], baseline_bp=CALM)
    assert result.missing_overrides == ("no_matching_indication",)


def test_an_unknown_finding_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown contraindication"):
        assess(diagnosis_codes=["M79.7"], present=["bad_vibes"], baseline_bp=CALM)


@given(st.sets(st.sampled_from([c.id for c in CONTRAINDICATIONS])))
def test_the_outcome_follows_the_worst_severity(present: set[str]) -> None:
    result = assess(diagnosis_codes=["M79.7"], present=present, baseline_bp=CALM)
    severities = {c.severity for c in CONTRAINDICATIONS if c.id in present}
    if Severity.ABSOLUTE in severities:
        assert result.outcome is Outcome.INELIGIBLE
    elif severities:
        assert result.outcome is Outcome.ELIGIBLE_WITH_PRECAUTIONS
    else:
        assert result.outcome is Outcome.ELIGIBLE
    assert len(result.findings) == len(present)
