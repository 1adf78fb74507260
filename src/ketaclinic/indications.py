"""The one vocabulary of indications: the conditions the clinic treats, each with its id, label,
ICD-10-CM codes and the evidence for IV ketamine. Screening (the indication a physician chooses)
and protocols (the indications a protocol is for) both use these ids, so a screened indication
finds its protocols.

Evidence comes from REFERENCE.md §1a (Cohen SP et al., Reg Anesth Pain Med 2018;43:521–546 [R1],
read through guideline digests [R3][R4][R5], tag [S]) and §2 (Sanacora G et al., JAMA Psychiatry
2017;74:399–405 [R14], digest [R18]). Code prefixes were checked against the CDC ICD-10-CM
April 2026 tabular shipped in ``simple-icd-10-cm`` (CODES.md §3). Pure: no I/O.

Until issue 11 protocols had their own list (``low_back_pain``, ``headache``,
``phantom_limb_pain``, ``postherpetic_neuralgia``); ``RENAMED`` maps those ids onto this table
(migration 0016 rewrote stored protocol versions with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar


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
    #: The wider indication a protocol may name instead (every pain condition is chronic pain).
    broader: str | None = None

    @property
    def label(self) -> str:
        """What pages, PDFs and CSVs call it."""
        return self.name


_COHEN_WEAK = (
    "Weak or no evidence, immediate improvement only; no evidence of intermediate- or long-term "
    "benefit"
)
_COHEN = "Cohen 2018 ASRA/AAPM/ASA consensus [R1], via digests [R3][R4][R5] [S]"
_CHRONIC = "chronic_pain"
_SANACORA = "Sanacora 2017 APA consensus [R14] (abstract [V]; digest [R18] [S])"
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
        _CHRONIC,
    ),
    Indication(
        "spinal_cord_injury_pain",
        "Spinal cord injury pain",
        ("S14.1", "S24.1", "S34.1", "G95.89"),
        Evidence.WEAK,
        "C",
        "Weak evidence of short-term improvement only",
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "fibromyalgia",
        "Fibromyalgia",
        ("M79.7",),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK,
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "migraine",
        "Migraine and refractory headache",
        ("G43",),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK,
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "neuropathic_pain",
        "Nerve (neuropathic) pain",
        ("M79.2", "B02.2", "E10.4", "E11.4", "G50", "G54.6", "M54.1"),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK + " (mixed neuropathic, phantom limb and postherpetic pain)",
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "cancer_pain",
        "Cancer pain",
        ("G89.3",),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK,
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "back_pain",
        "Back pain",
        ("M54.5", "M54.4", "M54.9"),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK + " (low-back/spinal pain)",
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "neck_pain",
        "Neck pain",
        ("M54.2",),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE,
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "arthritis",
        "Arthritis pain",
        ("M15", "M16", "M17", "M18", "M19", "M05", "M06"),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE,
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "pain_after_injury",
        "Pain after injury",
        ("G89.21", "G89.11"),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE,
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "post_operative_pain",
        "Chronic post-operative pain",
        ("G89.28", "G89.22", "G89.18"),
        Evidence.NOT_GRADED,
        None,
        _NOT_IN_GUIDELINE + "; acute peri-operative use has its own guideline (Schwenk 2018 [R8])",
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        "ischemic_pain",
        "Ischemic pain (rest pain of peripheral arterial disease)",
        ("I70.22", "I70.32", "I70.42", "I70.52", "I70.62", "I70.72"),
        Evidence.WEAK_OR_NONE,
        "D",
        _COHEN_WEAK,
        _COHEN,
        _CHRONIC,
    ),
    Indication(
        _CHRONIC,
        "Chronic pain",
        ("G89.29", "G89.4"),
        Evidence.NOT_GRADED,
        None,
        "Not graded as a whole by the Cohen 2018 guideline; for every condition but CRPS it found "
        "no evidence of intermediate- or long-term benefit",
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
        _SANACORA,
    ),
    Indication(
        "bipolar_depression",
        "Bipolar depression (current episode depressed)",
        ("F31.3", "F31.4", "F31.5"),
        Evidence.NOT_GRADED,
        None,
        "The strongest evidence is in non-psychotic major depressive episodes of major depressive "
        "disorder ([R18] [S]); the statement's position on bipolar depression was not read "
        "(UNCONFIRMED)",
        _SANACORA,
    ),
)

BY_ID = {indication.id: indication for indication in INDICATIONS}

#: The ids a protocol may name: exactly the screening's.
KNOWN_IDS = frozenset(BY_ID)

#: The protocol ids of before issue 11 that this table names differently. REFERENCE §1a groups
#: migraine with headache, and phantom limb pain and postherpetic neuralgia with mixed
#: neuropathic pain (one grade for them all); the back-pain codes are low-back codes.
RENAMED = {
    "low_back_pain": "back_pain",
    "headache": "migraine",
    "phantom_limb_pain": "neuropathic_pain",
    "postherpetic_neuralgia": "neuropathic_pain",
}

P = TypeVar("P")


def label(indication_id: str) -> str:
    """The indication's label, or the id itself when it is not in the table."""
    found = BY_ID.get(indication_id)
    return found.label if found else indication_id


def indications_for_code(code: str) -> tuple[Indication, ...]:
    """The indications an ICD-10-CM code falls under (a code matches a prefix it starts with)."""
    return tuple(i for i in INDICATIONS if any(code.startswith(p) for p in i.code_prefixes))


def match(codes: list[str] | tuple[str, ...]) -> tuple[tuple[str, Indication], ...]:
    """Each (diagnosis code, indication) pair, in the order the diagnoses were given."""
    return tuple((code, ind) for code in codes for ind in indications_for_code(code))


def fit(protocol_indications: Iterable[str], indication_id: str) -> int | None:
    """How well a protocol fits an indication: 0 when it names it, 1 when it names the wider
    indication (a chronic-pain protocol for back pain), ``None`` when it does not fit."""
    named = set(protocol_indications)
    if indication_id in named:
        return 0
    found = BY_ID.get(indication_id)
    if found is not None and found.broader is not None and found.broader in named:
        return 1
    return None


def best_protocol(
    wanted: Sequence[str], protocols: Sequence[tuple[P, Iterable[str]]]
) -> tuple[P, str] | None:
    """The protocol to offer first, and the indication it was chosen for.

    ``wanted`` is the patient's indications in order of preference (the screened one first, then
    the diagnoses'); ``protocols`` are (protocol, its indications) in the order the form lists
    them. The first wanted indication with any fitting protocol wins; among its protocols one
    naming it beats one naming its wider indication, then the list order. A suggestion only: the
    physician chooses.
    """
    for indication_id in dict.fromkeys(wanted):
        ranked = [
            (rank, position, protocol)
            for position, (protocol, named) in enumerate(protocols)
            if (rank := fit(named, indication_id)) is not None
        ]
        if ranked:
            return min(ranked, key=lambda r: (r[0], r[1]))[2], indication_id
    return None
