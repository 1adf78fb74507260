"""The conditions the clinic treats, their ICD-10-CM codes, and the evidence for IV ketamine.

Evidence comes from REFERENCE.md §1a (Cohen SP et al., Reg Anesth Pain Med 2018;43:521–546 [R1],
read through guideline digests [R3][R4][R5], tag [S]) and §2 (Sanacora G et al., JAMA Psychiatry
2017;74:399–405 [R14], digest [R18]). Code prefixes were checked against the CDC ICD-10-CM
April 2026 tabular shipped in ``simple-icd-10-cm`` (CODES.md §3). Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Evidence(StrEnum):
    MODERATE = "moderate"
    WEAK = "weak"
    WEAK_OR_NONE = "weak_or_none"
    NOT_GRADED = "not_graded"


@dataclass(frozen=True)
class Indication:
    id: str
    name: str
    code_prefixes: tuple[str, ...]
    evidence: Evidence
    grade: str | None
    benefit: str
    source: str


_COHEN_WEAK = (
    "Weak or no evidence, immediate improvement only; no evidence of intermediate- or long-term "
    "benefit"
)
_COHEN = "Cohen 2018 ASRA/AAPM/ASA consensus [R1], via digests [R3][R4][R5] [S]"
_NOT_IN_GUIDELINE = (
    "Not graded by the Cohen 2018 guideline; off-label use rests on the physician's judgement"
)

INDICATIONS: tuple[Indication, ...] = (
    Indication(
        "crps",
        "Complex regional pain syndrome",
        ("G90.5", "G56.4", "G57.7"),
        Evidence.MODERATE,
        "B",
        "Moderate evidence of pain improvement lasting up to 12 weeks",
        _COHEN,
    ),
    Indication(
        "spinal_cord_injury_pain",
        "Spinal cord injury pain",
        ("S14.1", "S24.1", "S34.1", "G95.89"),
        Evidence.WEAK,
        "C",
        "Weak evidence of short-term improvement only",
        _COHEN,
    ),
    Indication(
        "fibromyalgia",
        "Fibromyalgia",
        ("M79.7",),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK,
        _COHEN,
    ),
    Indication(
        "migraine",
        "Migraine and refractory headache",
        ("G43",),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK,
        _COHEN,
    ),
    Indication(
        "neuropathic_pain",
        "Nerve (neuropathic) pain",
        ("M79.2", "B02.2", "E10.4", "E11.4", "G50", "G54.6", "M54.1"),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK + " (mixed neuropathic, phantom limb and postherpetic pain)",
        _COHEN,
    ),
    Indication(
        "cancer_pain",
        "Cancer pain",
        ("G89.3",),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK,
        _COHEN,
    ),
    Indication(
        "back_pain",
        "Back pain",
        ("M54.5", "M54.4", "M54.9"),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK + " (low-back/spinal pain)",
        _COHEN,
    ),
    Indication(
        "neck_pain",
        "Neck pain",
        ("M54.2",),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE,
        _COHEN,
    ),
    Indication(
        "arthritis",
        "Arthritis pain",
        ("M15", "M16", "M17", "M18", "M19", "M05", "M06"),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE,
        _COHEN,
    ),
    Indication(
        "pain_after_injury",
        "Pain after injury",
        ("G89.21", "G89.11"),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE,
        _COHEN,
    ),
    Indication(
        "post_operative_pain",
        "Chronic post-operative pain",
        ("G89.28", "G89.22", "G89.18"),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE + "; acute peri-operative use has its own guideline (Schwenk 2018 [R8])",
        _COHEN,
    ),
    Indication(
        "depression",
        "Depression (major depressive disorder)",
        ("F32", "F33"),
        Evidence.MODERATE,
        None,
        "Rapid antidepressant effect in non-psychotic major depressive episodes, mostly in the "
        "first week after one infusion; limited long-term and safety data",
        "Sanacora 2017 APA consensus [R14] (abstract [V]; digest [R18] [S])",
    ),
)

BY_ID = {indication.id: indication for indication in INDICATIONS}


def indications_for_code(code: str) -> tuple[Indication, ...]:
    """The indications an ICD-10-CM code falls under (a code matches a prefix it starts with)."""
    return tuple(i for i in INDICATIONS if any(code.startswith(p) for p in i.code_prefixes))


def match(codes: list[str] | tuple[str, ...]) -> tuple[tuple[str, Indication], ...]:
    """Each (diagnosis code, indication) pair, in the order the diagnoses were given."""
    return tuple((code, ind) for code in codes for ind in indications_for_code(code))
