"""The instruments as data: codes as CODES.md gives them, sources next to numbers, coherent rules."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ketaclinic.instruments import INSTRUMENTS, Instrument

from .published import (
    BPI_INTERFERENCE_LOINC,
    FREQUENCY_ANSWER_LOINC,
    GAD7_ITEM_LOINC,
    PHQ9_ITEM_LOINC,
    TOTAL_LOINC,
)

ALL = list(INSTRUMENTS.values())
REFERENCE_TAG = re.compile(r"\[R\d+\]")


def _loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (the Luhn scheme), which catches a mistyped code."""
    body, check = code.split("-")
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10 == int(check)


def _codes(instrument: Instrument) -> list[str]:
    codes = [instrument.panel_loinc]
    codes += [item.loinc for item in instrument.items]
    codes += [rule.loinc for rule in instrument.scores]
    return [code for code in codes if code is not None]


def test_the_five_instruments_of_the_issue_are_defined() -> None:
    assert list(INSTRUMENTS) == ["nrs", "peg", "phq9", "gad7", "bpi_sf"]


@pytest.mark.parametrize(("instrument", "code"), TOTAL_LOINC.items())
def test_each_total_carries_the_loinc_code_codes_md_gives(instrument: str, code: str) -> None:
    assert INSTRUMENTS[instrument].scores[0].loinc == code


def test_bpi_interference_carries_77565_0_and_severity_has_no_known_code() -> None:
    rules = {rule.name: rule for rule in INSTRUMENTS["bpi_sf"].scores}
    assert rules["interference"].loinc == BPI_INTERFERENCE_LOINC
    assert rules["severity"].loinc is None


def test_phq9_and_gad7_items_carry_their_loinc_codes_in_form_order() -> None:
    assert [item.loinc for item in INSTRUMENTS["phq9"].items] == PHQ9_ITEM_LOINC
    assert [item.loinc for item in INSTRUMENTS["gad7"].items] == GAD7_ITEM_LOINC
    assert INSTRUMENTS["phq9"].panel_loinc == "44249-1"
    assert INSTRUMENTS["gad7"].panel_loinc == "69737-5"


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_frequency_answers_carry_the_la_codes_for_0_to_3(instrument: str) -> None:
    for item in INSTRUMENTS[instrument].items:
        assert {o.value: o.loinc for o in item.scale.options} == FREQUENCY_ANSWER_LOINC
        assert [o.label for o in item.scale.options] == [
            "Not at all",
            "Several days",
            "More than half the days",
            "Nearly every day",
        ]


def test_no_bpi_item_code_is_invented_and_its_licence_is_stated() -> None:
    bpi = INSTRUMENTS["bpi_sf"]
    assert all(item.loinc is None for item in bpi.items)
    assert bpi.panel_loinc is None  # 77564-3 is unconfirmed in CODES.md
    assert "licence is needed" in bpi.licence


@pytest.mark.parametrize("instrument", ALL, ids=lambda i: i.id)
def test_every_loinc_code_is_well_formed_with_a_valid_check_digit(instrument: Instrument) -> None:
    for code in _codes(instrument):
        assert re.fullmatch(r"\d{4,5}-\d", code), code
        assert _loinc_check_digit_ok(code), code
    for item in instrument.items:
        for option in item.scale.options:
            assert option.loinc is None or re.fullmatch(r"LA\d{4,5}-\d", option.loinc)


@pytest.mark.parametrize("instrument", ALL, ids=lambda i: i.id)
def test_every_score_rule_and_flag_cites_a_reference_next_to_its_numbers(
    instrument: Instrument,
) -> None:
    assert (
        instrument.recall_period and instrument.licence and REFERENCE_TAG.search(instrument.source)
    )
    for rule in instrument.scores:
        assert REFERENCE_TAG.search(rule.source), rule.name
        assert not rule.bands or REFERENCE_TAG.search(rule.bands_source), rule.name
    for flag in instrument.flags:
        assert REFERENCE_TAG.search(flag.source), flag.name


@pytest.mark.parametrize("instrument", ALL, ids=lambda i: i.id)
def test_every_rule_uses_real_items_and_its_range_follows_from_them(instrument: Instrument) -> None:
    ids = [item.id for item in instrument.items]
    assert len(set(ids)) == len(ids)
    for rule in instrument.scores:
        items = [instrument.items[ids.index(item_id)] for item_id in rule.item_ids]
        assert 1 <= rule.min_answered <= len(items)
        lows = [item.scale.low for item in items]
        highs = [item.scale.high for item in items]
        if rule.method == "sum":
            assert (rule.lowest, rule.highest) == (sum(lows), sum(highs))
        else:
            assert (rule.lowest, rule.highest) == (min(lows), max(highs))
    for flag in instrument.flags:
        assert flag.item_id in ids


@pytest.mark.parametrize("instrument", ALL, ids=lambda i: i.id)
def test_bands_start_at_the_lowest_score_and_rise_within_the_range(instrument: Instrument) -> None:
    for rule in instrument.scores:
        if not rule.bands:
            continue
        cuts = [band.lowest for band in rule.bands]
        assert cuts[0] == rule.lowest
        assert cuts == sorted(set(cuts))
        assert cuts[-1] <= rule.highest


def test_only_bpi_interference_items_may_be_left_unanswered() -> None:
    optional = [item.id for i in ALL for item in i.items if item.optional]
    interference = next(r for r in INSTRUMENTS["bpi_sf"].scores if r.name == "interference")
    assert optional == list(interference.item_ids)


def test_only_the_bpi_bands_are_marked_as_from_a_secondary_source() -> None:
    secondary = [(i.id, r.name) for i in ALL for r in i.scores if r.bands_secondary]
    assert secondary == [("bpi_sf", "severity")]


def test_definitions_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        INSTRUMENTS["phq9"].items[0].scale.high = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        INSTRUMENTS["nope"] = INSTRUMENTS["phq9"]  # type: ignore[index]
