"""Side-effect assessments during an infusion, as data, and their validation. Pure.

Each effect is graded on one scale: a four-step severity (none/mild/moderate/severe, clinic policy:
no published ketamine grading was found, REFERENCE §4a–4c) or, for sedation, the MOAA/S level 0–5
[R45][R46] [V]. Assessments feed the alert rules through :func:`reading_from_assessments`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from ketaclinic.errors import InvalidInput


class Severity(IntEnum):
    """Ordered so that "the worst" is the maximum; the value is what an alert rule compares."""

    NONE = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Scale(StrEnum):
    SEVERITY = "severity"
    MOAA_S = "moaa_s"


# MOAA/S levels, paraphrased from REFERENCE §4b; derived from Chernik 1990 OAA/S [R45][R46] [V].
MOAA_S_LEVELS: Mapping[int, str] = {
    5: "Responds readily to name spoken in a normal tone",
    4: "Lethargic response to name spoken in a normal tone",
    3: "Responds only after name is called loudly and/or repeatedly",
    2: "Responds only after mild prodding or shaking",
    1: "Responds only after painful trapezius squeeze",
    0: "No response to painful trapezius squeeze",
}


@dataclass(frozen=True)
class SideEffect:
    id: str
    label: str
    scale: Scale
    source: str


SIDE_EFFECTS: tuple[SideEffect, ...] = (
    SideEffect(
        "dissociation",
        "Dissociation",
        Scale.SEVERITY,
        "Measured in trials with the CADSS/CADSS-6 [R39]-[R41] [V]; no published alert threshold "
        "(UNCONFIRMED), so the bedside grade is clinic policy",
    ),
    SideEffect("sedation", "Sedation (MOAA/S)", Scale.MOAA_S, "MOAA/S 0–5 [R45][R46] [V]"),
    SideEffect(
        "hallucinations",
        "Hallucinations",
        Scale.SEVERITY,
        "Emergence reactions ~12% at anesthetic doses, Ketalar label [R13] [V]; "
        "grade: clinic policy",
    ),
    SideEffect(
        "nausea_vomiting",
        "Nausea / vomiting",
        Scale.SEVERITY,
        "4 of 101 in one infusion cohort [R52] [V]; grade: clinic policy",
    ),
    SideEffect("dizziness", "Dizziness", Scale.SEVERITY, "clinic policy"),
    SideEffect(
        "anxiety_agitation",
        "Anxiety / agitation",
        Scale.SEVERITY,
        "Psychomimetic effects [R27] [V]; grade: clinic policy",
    ),
    SideEffect("headache", "Headache", Scale.SEVERITY, "clinic policy"),
    SideEffect(
        "floating_tingling",
        "Floating or tingling sensations",
        Scale.SEVERITY,
        "clinic policy",
    ),
)

BY_ID: Mapping[str, SideEffect] = {e.id: e for e in SIDE_EFFECTS}


@dataclass(frozen=True)
class Assessment:
    """One observation: ``grade`` is a :class:`Severity`, or the MOAA/S level for sedation."""

    effect: str
    grade: int

    def __post_init__(self) -> None:
        # Guards direct construction too, so every Assessment in a reading is a valid one.
        definition = BY_ID.get(self.effect)
        if definition is None:
            raise InvalidInput(f"unknown side effect {self.effect!r}", loc=("effect",))
        valid = MOAA_S_LEVELS if definition.scale is Scale.MOAA_S else list(Severity)
        whole = isinstance(self.grade, int) and not isinstance(self.grade, bool)
        if not whole or self.grade not in valid:
            raise InvalidInput(
                f"{self.grade!r} is not a grade on the {definition.scale} scale",
                loc=(str(definition.scale),),
            )

    @property
    def description(self) -> str:
        if BY_ID[self.effect].scale is Scale.MOAA_S:
            return f"MOAA/S {self.grade}: {MOAA_S_LEVELS[self.grade]}"
        return Severity(self.grade).label


def validate_assessment(effect: str, grade: str | int) -> Assessment:
    """Check one assessment; ``grade`` is a severity name ("mild") or a MOAA/S level (0–5).

    Refuses with ``InvalidInput`` whose ``loc`` names the field: ``effect``, ``severity`` or
    ``moaa_s``. Nothing is guessed or rounded.
    """
    definition = BY_ID.get(effect)
    if definition is None:
        known = ", ".join(BY_ID)
        raise InvalidInput(f"unknown side effect {effect!r}; known: {known}", loc=("effect",))
    if definition.scale is Scale.MOAA_S:
        if isinstance(grade, bool) or not isinstance(grade, int) or grade not in MOAA_S_LEVELS:
            raise InvalidInput(
                f"MOAA/S level must be a whole number 0–5, not {grade!r}", loc=("moaa_s",)
            )
        return Assessment(effect, grade)
    names = {s.label: s for s in Severity}
    if not isinstance(grade, str) or grade not in names:
        known = ", ".join(names)
        raise InvalidInput(
            f"unknown severity {grade!r} for {effect}; known: {known}", loc=("severity",)
        )
    return Assessment(effect, int(names[grade]))


def reading_from_assessments(assessments: Iterable[Assessment]) -> dict[str, int]:
    """The alert-rule inputs these assessments give: ``moaa_s`` and ``side_effect_severity``.

    ``moaa_s`` is the deepest (lowest) level assessed; ``side_effect_severity`` is the worst grade
    among the other effects. A key is absent when nothing of that kind was assessed.
    """
    reading: dict[str, int] = {}
    for a in assessments:
        if BY_ID[a.effect].scale is Scale.MOAA_S:
            reading["moaa_s"] = min(a.grade, reading.get("moaa_s", a.grade))
        else:
            reading["side_effect_severity"] = max(
                a.grade, reading.get("side_effect_severity", a.grade)
            )
    return reading
