"""The questionnaires as data: items, answer scales, scoring rules, bands, codes and sources.

Every number carries its source next to it. Reference tags ([R72] …) and confidence tags ([V]
verified, [S] secondary) are those of the clinical REFERENCE.md §6; LOINC codes are from CODES.md
§1. A code that neither document gives is ``None``: it is unknown, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Aggregate = Literal["sum", "mean"]


@dataclass(frozen=True)
class AnswerOption:
    """A labelled point on an answer scale, with its LOINC answer code when one is known."""

    value: int
    label: str
    loinc: str | None = None


@dataclass(frozen=True)
class AnswerScale:
    """Whole numbers ``low``..``high``; ``options`` labels all of them or only the anchors."""

    low: int
    high: int
    options: tuple[AnswerOption, ...]


@dataclass(frozen=True)
class Item:
    """One question. ``optional`` items may be left unanswered (``None``); only BPI interference."""

    id: str
    text: str
    loinc: str | None
    scale: AnswerScale
    optional: bool = False


@dataclass(frozen=True)
class Band:
    """A severity band: from the published cut point ``lowest`` up to the next band's cut point.

    Cut points rather than closed ranges, because that is how Kroenke 2001 and Spitzer 2006 state
    them ("cut points of 5, 10, 15 and 20"), and because a mean score can fall between "0–4" and
    "5–6": a BPI severity of 4.5 is below the cut point 5, so it is mild.
    """

    name: str
    label: str
    lowest: int


@dataclass(frozen=True)
class ScoreRule:
    """How one score is computed from some of the items, its range and (optionally) its bands."""

    name: str
    method: Aggregate
    item_ids: tuple[str, ...]
    min_answered: int
    lowest: int
    highest: int
    loinc: str | None
    source: str
    bands: tuple[Band, ...] = ()
    bands_source: str = ""
    bands_secondary: bool = False


@dataclass(frozen=True)
class FlagRule:
    """A flag raised when one item's answer is ``at_least`` a value, whatever the total."""

    name: str
    item_id: str
    at_least: int
    why: str
    source: str


@dataclass(frozen=True)
class Instrument:
    id: str
    name: str
    title: str
    recall_period: str
    stem: str
    items: tuple[Item, ...]
    scores: tuple[ScoreRule, ...]
    source: str
    licence: str
    panel_loinc: str | None = None
    flags: tuple[FlagRule, ...] = ()

    def item_index(self, item_id: str) -> int:
        return next(i for i, item in enumerate(self.items) if item.id == item_id)


# --- answer scales ------------------------------------------------------------------------------

# The PHQ/GAD frequency answers and their LOINC answer codes: CODES.md §1.2 [V] (HL7 US Core).
FREQUENCY_0_3 = AnswerScale(
    0,
    3,
    (
        AnswerOption(0, "Not at all", "LA6568-5"),
        AnswerOption(1, "Several days", "LA6569-3"),
        AnswerOption(2, "More than half the days", "LA6570-1"),
        AnswerOption(3, "Nearly every day", "LA6571-9"),
    ),
)

# 0 = no pain, 10 = worst imaginable: REFERENCE.md §6a [V] [R64]. LA6111-4 (0) and LA13942-0 (10)
# are the answer codes CODES.md §1.1 gives for 72514-3; the codes for 1–9 are not given there.
NRS_0_10 = AnswerScale(
    0,
    10,
    (
        AnswerOption(0, "No pain", "LA6111-4"),
        AnswerOption(10, "Worst pain imaginable", "LA13942-0"),
    ),
)

# PEG and BPI anchors (Krebs 2009 [R70]; Cleeland 2009 [R69]); no LOINC answer codes known.
PAIN_0_10 = AnswerScale(
    0, 10, (AnswerOption(0, "No pain"), AnswerOption(10, "Pain as bad as you can imagine"))
)
INTERFERENCE_0_10 = AnswerScale(
    0, 10, (AnswerOption(0, "Does not interfere"), AnswerOption(10, "Completely interferes"))
)


# --- NRS ----------------------------------------------------------------------------------------

NRS = Instrument(
    id="nrs",
    name="NRS",
    title="Numeric rating scale for pain intensity (0–10)",
    # 72514-3 fixes no recall period; the clinic asks about pain at the moment of asking.
    recall_period="now",
    stem="On a scale from 0 to 10, how much pain do you have right now?",
    # The single answer is the score, so the item and the score share 72514-3 (CODES.md §1.1 [V]).
    items=(Item("nrs_pain", "Pain intensity", "72514-3", NRS_0_10),),
    scores=(
        ScoreRule(
            name="total",
            method="sum",
            item_ids=("nrs_pain",),
            min_answered=1,
            lowest=0,
            highest=10,
            loinc="72514-3",
            source="11-point NRS, 0–10: Farrar 2001 [R64]; REFERENCE.md §6a [V]",
        ),
    ),
    source="Farrar JT et al. Pain 2001;94:149–158 [R64]",
    licence="public; no permission needed",
)


# --- PEG ----------------------------------------------------------------------------------------

PEG = Instrument(
    id="peg",
    name="PEG",
    title="PEG: Pain, Enjoyment of life, General activity (3 items)",
    recall_period="past week",  # Krebs 2009 [R70]; REFERENCE.md §6a [V]
    stem="Circle the one number that describes, over the past week:",
    # Item codes: CODES.md §1.1, secondary [S]; wording: Krebs 2009 [R70] (public domain).
    items=(
        Item(
            "peg_pain",
            "What number best describes your pain on average in the past week?",
            "75893-8",
            PAIN_0_10,
        ),
        Item(
            "peg_enjoyment",
            "What number best describes how, during the past week, pain has interfered with "
            "your enjoyment of life?",
            "91145-3",
            INTERFERENCE_0_10,
        ),
        Item(
            "peg_activity",
            "What number best describes how, during the past week, pain has interfered with "
            "your general activity?",
            "91146-1",
            INTERFERENCE_0_10,
        ),
    ),
    scores=(
        # The PEG score is the mean of the 3 items, 0–10 (Krebs 2009 [R70][R71], REFERENCE.md §6a
        # [V]); 91147-9 "Mean score [PEG]" (CODES.md §1.1 [V]). No bands: the 0–3.9/4–6.9/7–10
        # bands seen on one website are not in Krebs 2009 (REFERENCE.md §6a, UNCONFIRMED).
        ScoreRule(
            name="total",
            method="mean",
            item_ids=("peg_pain", "peg_enjoyment", "peg_activity"),
            min_answered=3,
            lowest=0,
            highest=10,
            loinc="91147-9",
            source="mean of 3 items, 0–10: Krebs 2009 [R70][R71]; REFERENCE.md §6a [V]",
        ),
    ),
    source="Krebs EE et al. J Gen Intern Med 2009;24(6):733–738 [R70]",
    licence="public domain (CODES.md §7)",
    panel_loinc="91148-7",  # CODES.md §1.1 [S]
)


# --- PHQ-9 --------------------------------------------------------------------------------------

_PHQ9_TEXTS = (
    ("44250-9", "Little interest or pleasure in doing things"),
    ("44255-8", "Feeling down, depressed, or hopeless"),
    ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
    ("44254-1", "Feeling tired or having little energy"),
    ("44251-7", "Poor appetite or overeating"),
    (
        "44258-2",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your "
        "family down",
    ),
    (
        "44252-5",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
    ),
    (
        "44253-3",
        "Moving or speaking so slowly that other people could have noticed; or the opposite — "
        "being so fidgety or restless that you have been moving around a lot more than usual",
    ),
    (
        "44260-8",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
)

PHQ9 = Instrument(
    id="phq9",
    name="PHQ-9",
    title="Patient Health Questionnaire, 9 items (depression)",
    recall_period="last 2 weeks",  # Kroenke 2001 [R72]; REFERENCE.md §6b [V]
    stem="Over the last 2 weeks, how often have you been bothered by any of the following "
    "problems?",
    # Item order and LOINC codes: CODES.md §1.2 [V] (HL7 US Core PHQ-9 example).
    items=tuple(
        Item(f"phq9_{n}", text, loinc, FREQUENCY_0_3)
        for n, (loinc, text) in enumerate(_PHQ9_TEXTS, start=1)
    ),
    scores=(
        ScoreRule(
            name="total",
            method="sum",
            item_ids=tuple(f"phq9_{n}" for n in range(1, 10)),
            min_answered=9,
            lowest=0,
            highest=27,  # 9 items × 0–3: Kroenke 2001 [R72]; REFERENCE.md §6b [V]
            loinc="44261-6",  # CODES.md §1.2 [V]
            source="sum of 9 items, 0–27: Kroenke 2001 [R72]; REFERENCE.md §6b [V]",
            # Cut points 5, 10, 15, 20: Kroenke 2001 [R72][R73]; REFERENCE.md §6b [V].
            bands=(
                Band("minimal", "minimal", 0),
                Band("mild", "mild", 5),
                Band("moderate", "moderate", 10),
                Band("moderately_severe", "moderately severe", 15),
                Band("severe", "severe", 20),
            ),
            bands_source="cut points 5, 10, 15, 20: Kroenke 2001 [R72][R73]; REFERENCE.md §6b [V]",
        ),
    ),
    flags=(
        FlagRule(
            name="suicide_risk",
            item_id="phq9_9",
            at_least=1,  # any answer above "not at all": [R74][R75][R76]; REFERENCE.md §6b [V]
            why="item 9 (thoughts of being better off dead or of self-harm) is above "
            '"not at all": do a structured suicide risk assessment (e.g. C-SSRS)',
            source="Simon 2013 [R74]; [R75][R76]; REFERENCE.md §6b [V]; CODES.md §1.2",
        ),
    ),
    source="Kroenke K, Spitzer RL, Williams JBW. J Gen Intern Med 2001;16:606–613 [R72]",
    licence="Pfizer copyright; free to reproduce, no permission needed (CODES.md §1.2, §7)",
    panel_loinc="44249-1",  # CODES.md §1.2 [V]
)


# --- GAD-7 --------------------------------------------------------------------------------------

_GAD7_TEXTS = (
    ("69725-0", "Feeling nervous, anxious, or on edge"),
    ("68509-9", "Not being able to stop or control worrying"),
    ("69733-4", "Worrying too much about different things"),
    ("69734-2", "Trouble relaxing"),
    ("69735-9", "Being so restless that it is hard to sit still"),
    ("69689-8", "Becoming easily annoyed or irritable"),
    ("69736-7", "Feeling afraid, as if something awful might happen"),
)

GAD7 = Instrument(
    id="gad7",
    name="GAD-7",
    title="Generalized Anxiety Disorder, 7 items",
    recall_period="last 2 weeks",  # the GAD-7 form's own stem (Spitzer 2006 [R77])
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    # Item order and LOINC codes: CODES.md §1.3 [V] (HL7 PHR IG, MII PRO IG).
    items=tuple(
        Item(f"gad7_{n}", text, loinc, FREQUENCY_0_3)
        for n, (loinc, text) in enumerate(_GAD7_TEXTS, start=1)
    ),
    scores=(
        ScoreRule(
            name="total",
            method="sum",
            item_ids=tuple(f"gad7_{n}" for n in range(1, 8)),
            min_answered=7,
            lowest=0,
            highest=21,  # 7 items × 0–3: Spitzer 2006 [R77][R78]; REFERENCE.md §6b [V]
            loinc="70274-6",  # CODES.md §1.3 [V]
            source="sum of 7 items, 0–21: Spitzer 2006 [R77][R78]; REFERENCE.md §6b [V]",
            # Cut points 5, 10, 15: Spitzer 2006 [R77][R78]; REFERENCE.md §6b [V].
            bands=(
                Band("minimal", "minimal", 0),
                Band("mild", "mild", 5),
                Band("moderate", "moderate", 10),
                Band("severe", "severe", 15),
            ),
            bands_source="cut points 5, 10, 15: Spitzer 2006 [R77][R78]; REFERENCE.md §6b [V]",
        ),
    ),
    source="Spitzer RL, Kroenke K, Williams JBW, Löwe B. Arch Intern Med 2006;166:1092–1097 [R77]",
    licence="Pfizer copyright; free to reproduce, no permission needed (CODES.md §1.2, §7)",
    panel_loinc="69737-5",  # CODES.md §1.3 [V]
)


# --- BPI short form -----------------------------------------------------------------------------

# Item descriptions are paraphrased (the BPI wording is copyrighted). No item LOINC codes are known
# (CODES.md §1.1 [U]); the panel code 77564-3 is unconfirmed there, so it is left out.
_BPI_SEVERITY = (
    ("bpi_worst", "Pain at its worst in the last 24 hours"),
    ("bpi_least", "Pain at its least in the last 24 hours"),
    ("bpi_average", "Pain on average"),
    ("bpi_now", "Pain right now"),
)
_BPI_INTERFERENCE = (
    ("bpi_general_activity", "How much pain has interfered with general activity"),
    ("bpi_mood", "How much pain has interfered with mood"),
    ("bpi_walking", "How much pain has interfered with walking ability"),
    ("bpi_normal_work", "How much pain has interfered with normal work, in and outside the home"),
    ("bpi_relations", "How much pain has interfered with relations with other people"),
    ("bpi_sleep", "How much pain has interfered with sleep"),
    ("bpi_enjoyment", "How much pain has interfered with enjoyment of life"),
)

BPI_SF = Instrument(
    id="bpi_sf",
    name="BPI-SF",
    title="Brief Pain Inventory, short form (severity and interference)",
    # 24 h in the short form; some versions use the past week (REFERENCE.md §6a [V] [R67]–[R69]).
    recall_period="last 24 hours",
    stem="Rate your pain, and how much it has interfered with your life, from 0 to 10.",
    items=(
        *(Item(item_id, text, None, PAIN_0_10) for item_id, text in _BPI_SEVERITY),
        *(
            Item(item_id, text, None, INTERFERENCE_0_10, optional=True)
            for item_id, text in _BPI_INTERFERENCE
        ),
    ),
    scores=(
        ScoreRule(
            name="severity",
            method="mean",
            item_ids=tuple(item_id for item_id, _ in _BPI_SEVERITY),
            # All 4 required: mean of the 4 severity items [R67][R68][R69], REFERENCE.md §6a [V].
            min_answered=4,
            lowest=0,
            highest=10,
            loinc=None,  # no code for the severity score in CODES.md
            source="mean of the 4 severity items: [R67][R68][R69]; REFERENCE.md §6a [V]",
            # ePPOC usage 0–4 mild, 5–6 moderate, 7–10 severe, read as cut points 5 and 7.
            bands=(
                Band("mild", "mild", 0),
                Band("moderate", "moderate", 5),
                Band("severe", "severe", 7),
            ),
            bands_source="ePPOC usage, 0–4 / 5–6 / 7–10: [R67]; REFERENCE.md §6a, secondary [S]",
            bands_secondary=True,
        ),
        ScoreRule(
            name="interference",
            method="mean",
            item_ids=tuple(item_id for item_id, _ in _BPI_INTERFERENCE),
            # Mean of the answered items, valid when ≥4 of 7 are answered: [R67][R68][R69] [V].
            min_answered=4,
            lowest=0,
            highest=10,
            loinc="77565-0",  # CODES.md §1.1 [V]
            source="mean of answered interference items, ≥4 of 7: [R67][R68][R69]; "
            "REFERENCE.md §6a [V]",
        ),
    ),
    source="Cleeland CS. The Brief Pain Inventory User Guide, 2009 [R69]; ePPOC [R67]; "
    "NINDS CDE [R68]",
    licence="COPYRIGHTED (Cleeland / MD Anderson): a licence is needed to administer the BPI; "
    "item wording here is paraphrased (CODES.md §1.1, §7)",
)


INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType(
    {instrument.id: instrument for instrument in (NRS, PEG, PHQ9, GAD7, BPI_SF)}
)
