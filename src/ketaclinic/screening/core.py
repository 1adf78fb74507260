"""The screening decision: eligible, eligible with precautions, or ineligible, with every reason.

Pure. The software lists findings and their sources; the physician decides and signs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.errors import InvalidInput
from ketaclinic.indications import Indication, match
from ketaclinic.screening.contraindications import BY_ID, Contraindication, Severity

# Clinic policy, configurable: the Spravato label's example of an elevated baseline (>140/90,
# REFERENCE §2 [R21] [S]); no ketamine guideline gives a number (Sanacora wording UNCONFIRMED).
DEFAULT_SYSTOLIC_LIMIT_MMHG = 140
DEFAULT_DIASTOLIC_LIMIT_MMHG = 90
NO_INDICATION = Contraindication(
    "no_matching_indication",
    "None of the patient's diagnoses is a condition the clinic treats",
    Severity.RELATIVE,
    "Clinic policy: treatment outside the indication table needs a physician's written reason",
)


class Outcome(StrEnum):
    ELIGIBLE = "eligible"
    ELIGIBLE_WITH_PRECAUTIONS = "eligible_with_precautions"
    INELIGIBLE = "ineligible"


@dataclass(frozen=True)
class BloodPressure:
    systolic_mmhg: int
    diastolic_mmhg: int


@dataclass(frozen=True)
class BpThreshold:
    systolic_mmhg: int = DEFAULT_SYSTOLIC_LIMIT_MMHG
    diastolic_mmhg: int = DEFAULT_DIASTOLIC_LIMIT_MMHG

    def exceeded_by(self, bp: BloodPressure) -> bool:
        return bp.systolic_mmhg > self.systolic_mmhg or bp.diastolic_mmhg > self.diastolic_mmhg


@dataclass(frozen=True)
class Finding:
    contraindication: Contraindication
    override_reason: str | None = None

    @property
    def needs_override(self) -> bool:
        return self.contraindication.severity is Severity.RELATIVE and not self.override_reason


@dataclass(frozen=True)
class Assessment:
    outcome: Outcome
    matched: tuple[tuple[str, Indication], ...]
    findings: tuple[Finding, ...]

    @property
    def missing_overrides(self) -> tuple[str, ...]:
        return tuple(f.contraindication.id for f in self.findings if f.needs_override)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(
            f"{f.contraindication.severity.value}: {f.contraindication.label}"
            for f in self.findings
        )


def assess(
    *,
    diagnosis_codes: Sequence[str],
    present: Collection[str],
    baseline_bp: BloodPressure,
    bp_threshold: BpThreshold | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Assessment:
    """Match indications, collect every contraindication found, and derive the outcome."""
    unknown = sorted(set(present) - BY_ID.keys())
    if unknown:
        raise InvalidInput(f"unknown contraindication {unknown[0]!r}", loc=("body", "present"))
    ids = set(present)
    if (bp_threshold or BpThreshold()).exceeded_by(baseline_bp):
        ids.add("uncontrolled_hypertension")
    found = [BY_ID[i] for i in sorted(ids)]
    matched = match(tuple(diagnosis_codes))
    if not matched:
        found.append(NO_INDICATION)
    reasons = overrides or {}
    findings = tuple(
        Finding(c, (reasons.get(c.id) or "").strip() or None)
        for c in sorted(found, key=_by_severity)
    )
    return Assessment(_outcome(findings), matched, findings)


def require_complete(assessment: Assessment) -> None:
    """A screening is signed only when every relative finding has a written override."""
    if assessment.missing_overrides:
        first = assessment.missing_overrides[0]
        raise InvalidInput(
            f"{first} is a relative contraindication: a physician must write a reason to proceed",
            loc=("body", "overrides", first),
        )


def _outcome(findings: Sequence[Finding]) -> Outcome:
    severities = {f.contraindication.severity for f in findings}
    if Severity.ABSOLUTE in severities:
        return Outcome.INELIGIBLE
    if severities:
        return Outcome.ELIGIBLE_WITH_PRECAUTIONS
    return Outcome.ELIGIBLE


def _by_severity(c: Contraindication) -> tuple[int, str]:
    order = {Severity.ABSOLUTE: 0, Severity.RELATIVE: 1, Severity.CAUTION: 2}
    return order[c.severity], c.id
