"""The published scoring rules, written out by hand so tests never derive expectations from the code.

Sources: REFERENCE.md §6 (Kroenke 2001 [R72], Spitzer 2006 [R77], Krebs 2009 [R70], BPI [R67]–[R69])
and CODES.md §1.
"""

from __future__ import annotations

# (band, lowest total, highest total), inclusive, as printed in the sources.
PHQ9_BANDS = [
    ("minimal", 0, 4),
    ("mild", 5, 9),
    ("moderate", 10, 14),
    ("moderately_severe", 15, 19),
    ("severe", 20, 27),
]  # Kroenke 2001 [R72][R73]
GAD7_BANDS = [
    ("minimal", 0, 4),
    ("mild", 5, 9),
    ("moderate", 10, 14),
    ("severe", 15, 21),
]  # Spitzer 2006 [R77][R78]
BPI_SEVERITY_BANDS = [("mild", 0, 4), ("moderate", 5, 6), ("severe", 7, 10)]  # ePPOC [R67], [S]

TOTAL_LOINC = {
    "phq9": "44261-6",
    "gad7": "70274-6",
    "peg": "91147-9",
    "nrs": "72514-3",
}
BPI_INTERFERENCE_LOINC = "77565-0"
PHQ9_ITEM_LOINC = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
GAD7_ITEM_LOINC = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
FREQUENCY_ANSWER_LOINC = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}


def published_band(table: list[tuple[str, int, int]], total: int) -> str:
    matches = [name for name, low, high in table if low <= total <= high]
    assert len(matches) == 1, (total, matches)
    return matches[0]


def answers_with_total(total: int, items: int, highest: int) -> list[int]:
    """Answers adding up to ``total``, filled from item 1 (so the last items stay 0 when they can)."""
    answers = []
    left = total
    for _ in range(items):
        answers.append(min(highest, left))
        left -= answers[-1]
    assert left == 0, "total out of reach"
    return answers
