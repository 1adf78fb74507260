"""Alert rules: each edge follows the source's wording (">180" means 180 is quiet, 181 alerts)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.errors import InvalidInput
from ketaclinic.monitoring.alerts import (
    DEFAULT_RULES,
    Action,
    Alert,
    AlertRule,
    AlertSeverity,
    Comparison,
    Watch,
    evaluate,
)
from ketaclinic.monitoring.core import alerts_for
from ketaclinic.monitoring.side_effects import validate_assessment

CALM = {
    "systolic_mmhg": 122,
    "diastolic_mmhg": 78,
    "heart_rate_per_min": 72,
    "spo2_percent": 98,
    "resp_rate_per_min": 14,
    "moaa_s": 5,
    "side_effect_severity": 0,
}


def fired(reading: dict[str, int]) -> list[str]:
    return [a.rule_id for a in evaluate(DEFAULT_RULES, reading)]


@pytest.mark.parametrize(
    ("key", "quiet", "alerting", "rule_id"),
    [
        # BP >180/100 mmHg or HR >110 bpm (REFERENCE §4d, UNCONFIRMED attribution to Sanacora).
        ("systolic_mmhg", 180, 181, "systolic_high"),
        ("diastolic_mmhg", 100, 101, "diastolic_high"),
        ("heart_rate_per_min", 110, 111, "heart_rate_high"),
        # Clinic policy: SBP <90, SpO2 <92 and <90, RR <8 or >24.
        ("systolic_mmhg", 90, 89, "systolic_low"),
        ("resp_rate_per_min", 8, 7, "resp_rate_low"),
        ("resp_rate_per_min", 24, 25, "resp_rate_high"),
        # MOAA/S ≤2 is deep sedation; side-effect grade ≥3 (severe).
        ("moaa_s", 3, 2, "deep_sedation"),
        ("side_effect_severity", 2, 3, "severe_side_effect"),
    ],
)
def test_each_rule_is_quiet_at_its_edge_and_fires_just_past_it(
    key: str, quiet: int, alerting: int, rule_id: str
) -> None:
    assert fired({**CALM, key: quiet}) == []
    assert fired({**CALM, key: alerting}) == [rule_id]


def test_spo2_92_is_quiet_91_warns_and_89_is_urgent_with_stop() -> None:
    assert fired({"spo2_percent": 92}) == []
    assert fired({"spo2_percent": 91}) == ["spo2_low"]
    assert fired({"spo2_percent": 90}) == ["spo2_low"]
    alerts = evaluate(DEFAULT_RULES, {"spo2_percent": 89})
    assert [a.rule_id for a in alerts] == ["spo2_low", "spo2_very_low"]
    assert alerts[1].severity is AlertSeverity.URGENT
    assert alerts[1].action is Action.STOP


def test_an_alert_names_its_rule_value_threshold_unit_severity_action_and_source() -> None:
    (alert,) = evaluate(DEFAULT_RULES, {"systolic_mmhg": 181})
    assert alert == Alert(
        rule_id="systolic_high",
        watches=Watch.SYSTOLIC_MMHG,
        value=181,
        comparison=Comparison.GT,
        threshold=180,
        unit="mmHg",
        severity=AlertSeverity.URGENT,
        action=Action.PAUSE,
        source=alert.source,
    )
    assert "BP >180/100" in alert.source
    assert "Sanacora" in alert.source
    assert "UNCONFIRMED" in alert.source
    assert alert.message == "systolic BP 181 mmHg > 180 mmHg: urgent, suggested action pause"


def test_one_reading_can_raise_several_alerts_in_rule_order() -> None:
    reading = {"systolic_mmhg": 195, "diastolic_mmhg": 115, "heart_rate_per_min": 125, "moaa_s": 1}
    assert fired(reading) == ["systolic_high", "diastolic_high", "heart_rate_high", "deep_sedation"]


def test_an_empty_reading_raises_no_alerts() -> None:
    assert evaluate(DEFAULT_RULES, {}) == ()


def test_a_calm_full_reading_raises_no_alerts() -> None:
    assert evaluate(DEFAULT_RULES, CALM) == ()


def test_a_clinic_may_pass_its_own_rules() -> None:
    stricter = (
        AlertRule(
            "systolic_160",
            Watch.SYSTOLIC_MMHG,
            Comparison.GE,
            160,
            "mmHg",
            AlertSeverity.WARNING,
            Action.NONE,
            "clinic policy: our physicians' choice",
        ),
    )
    assert evaluate(stricter, {"systolic_mmhg": 159}) == ()
    (alert,) = evaluate(stricter, {"systolic_mmhg": 160})
    assert (alert.rule_id, alert.action, alert.severity) == (
        "systolic_160",
        Action.NONE,
        AlertSeverity.WARNING,
    )
    # The defaults are not consulted when a rule set is given: SpO2 80 raises nothing here.
    alerts = evaluate(stricter, {"systolic_mmhg": 200, "spo2_percent": 80})
    assert [(a.rule_id, a.value) for a in alerts] == [("systolic_160", 200)]


def test_no_rules_means_no_alerts() -> None:
    assert evaluate((), {"systolic_mmhg": 250}) == ()


def test_every_default_rule_cites_a_source_or_says_clinic_policy() -> None:
    for rule in DEFAULT_RULES:
        assert rule.is_clinic_policy or "[R" in rule.source, rule.id
    policy = {r.id for r in DEFAULT_RULES if r.is_clinic_policy}
    assert policy == {
        "systolic_low",
        "spo2_low",
        "spo2_very_low",
        "resp_rate_low",
        "resp_rate_high",
        "severe_side_effect",
    }
    assert len({r.id for r in DEFAULT_RULES}) == len(DEFAULT_RULES)


@pytest.mark.parametrize(
    ("reading", "field"),
    [
        ({"temperature_c": 37}, "temperature_c"),
        ({"spo2_percent": 140}, "spo2_percent"),
        ({"heart_rate_per_min": -5}, "heart_rate_per_min"),
        ({"moaa_s": 6}, "moaa_s"),
        ({"side_effect_severity": 4}, "side_effect_severity"),
        ({"systolic_mmhg": 181.0}, "systolic_mmhg"),
        ({"moaa_s": True}, "moaa_s"),
    ],
)
def test_it_refuses_unknown_keys_and_impossible_values_naming_the_field(
    reading: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        evaluate(DEFAULT_RULES, reading)  # type: ignore[arg-type]
    assert caught.value.loc == (field,)


@given(st.integers(min_value=50, max_value=300))
def test_systolic_alerts_exactly_above_180_or_below_90(systolic: int) -> None:
    ids = fired({"systolic_mmhg": systolic})
    assert ("systolic_high" in ids) == (systolic > 180)
    assert ("systolic_low" in ids) == (systolic < 90)


@given(st.sets(st.sampled_from(sorted(CALM))))
def test_a_rule_never_fires_for_a_value_the_reading_does_not_hold(keys: set[str]) -> None:
    alarming = {
        "systolic_mmhg": 200,
        "diastolic_mmhg": 120,
        "heart_rate_per_min": 130,
        "spo2_percent": 85,
        "resp_rate_per_min": 6,
        "moaa_s": 0,
        "side_effect_severity": 3,
    }
    reading = {k: alarming[k] for k in keys}
    watched = {a.watches for a in evaluate(DEFAULT_RULES, reading)}
    assert watched == set(keys)


def test_severe_side_effects_and_deep_sedation_feed_the_rules() -> None:
    assessments = [
        validate_assessment("nausea_vomiting", "mild"),
        validate_assessment("hallucinations", "severe"),
        validate_assessment("sedation", 2),
    ]
    alerts = alerts_for({"systolic_mmhg": 130}, assessments)
    assert [(a.rule_id, a.value) for a in alerts] == [
        ("deep_sedation", 2),
        ("severe_side_effect", 3),
    ]


def test_moderate_side_effects_and_moaa_s_3_raise_nothing() -> None:
    assessments = [
        validate_assessment("dissociation", "moderate"),
        validate_assessment("sedation", 3),
    ]
    assert alerts_for({}, assessments) == ()


def test_sedation_given_both_as_vital_and_assessment_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        alerts_for({"moaa_s": 5}, [validate_assessment("sedation", 1)])
    assert caught.value.loc == ("moaa_s",)
