"""Contraindications as data: which finding is absolute, relative or a caution, and why.

REFERENCE.md §1c (Cohen 2018 [R1] via digests [R4][R5], tag [S]) grades them all as relative or
"avoid"; the Ketalar label [R12] contraindicates known hypersensitivity. The clinic may make a
relative finding absolute by editing this table, not the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ABSOLUTE = "absolute"  # ineligible
    RELATIVE = "relative"  # eligible only with a physician's written override
    CAUTION = "caution"  # eligible; a precaution is listed, no override needed


@dataclass(frozen=True)
class Contraindication:
    id: str
    label: str
    severity: Severity
    source: str


CONTRAINDICATIONS: tuple[Contraindication, ...] = (
    Contraindication(
        "ketamine_allergy",
        "Known hypersensitivity to ketamine",
        Severity.ABSOLUTE,
        "Ketalar US prescribing information, contraindications [R12] [V]",
    ),
    Contraindication(
        "uncontrolled_hypertension",
        "Blood pressure above the clinic's threshold before treatment",
        Severity.RELATIVE,
        "Poorly controlled cardiovascular disease: relative contraindication, Cohen 2018 grade B "
        "[S]; baseline >140/90 example from the Spravato label [R21] [S]",
    ),
    Contraindication(
        "unstable_cardiovascular_disease",
        "Unstable or poorly controlled cardiovascular disease",
        Severity.RELATIVE,
        "Cohen 2018, grade B, low certainty [R4][R5] [S]",
    ),
    Contraindication(
        "pregnancy",
        "Pregnancy",
        Severity.RELATIVE,
        "Cohen 2018, grade B, low certainty [R5] [S]",
    ),
    Contraindication(
        "psychosis",
        "Active psychosis or a history of psychosis",
        Severity.RELATIVE,
        "Cohen 2018: avoid in poorly controlled psychosis, grade B [R4][R5] [S]",
    ),
    Contraindication(
        "severe_hepatic_disease",
        "Severe hepatic disease",
        Severity.RELATIVE,
        "Cohen 2018: avoid, grade C [R4][R5] [S]; drug-induced liver injury on the label [R11]",
    ),
    Contraindication(
        "moderate_hepatic_disease",
        "Moderate hepatic disease",
        Severity.CAUTION,
        "Cohen 2018: may be used with caution and monitoring, grade C [R4][R5] [S]; consider "
        "baseline and post-infusion liver tests [R5]",
    ),
    Contraindication(
        "raised_intracranial_pressure",
        "Raised intracranial pressure",
        Severity.RELATIVE,
        "Cohen 2018: do not use, or only low doses with extreme caution, grade C [R4][R5] [S]",
    ),
    Contraindication(
        "raised_intraocular_pressure",
        "Raised intraocular pressure",
        Severity.RELATIVE,
        "Cohen 2018: do not use, or only low doses with extreme caution, grade C [R4][R5] [S]",
    ),
    Contraindication(
        "active_substance_use_disorder",
        "Active substance use disorder",
        Severity.RELATIVE,
        "Cohen 2018: no serial infusions; universal precautions, grade C [R4][R5] [S]",
    ),
)

BY_ID = {c.id: c for c in CONTRAINDICATIONS}
