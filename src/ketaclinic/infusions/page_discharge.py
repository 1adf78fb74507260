"""The discharge form's checklist: every unmet criterion at once, before anything is sent.

A form with an empty box would otherwise stop at the validator ("pain: fill this in") and hide
that observation is not over and the escort not confirmed; the nurse would learn them one
refusal at a time. The judgement itself is ``discharge.discharge_problems``, the same rule the
service applies when the form is complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from starlette.datastructures import FormData

from ketaclinic.errors import InvalidInput
from ketaclinic.infusions.discharge import ALDRETE_ITEMS, NRS_MAX, discharge_problems
from ketaclinic.infusions.page_forms import mood, text
from ketaclinic.instruments.core import score
from ketaclinic.labels import label
from ketaclinic.web.forms import whole_number


@dataclass
class Checklist:
    """``problems`` in the order of the form; ``errors`` beside the boxes they are about."""

    problems: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _aldrete(form: FormData, found: Checklist) -> dict[str, int] | None:
    items: dict[str, int] = {}
    for item in ALDRETE_ITEMS:
        value = whole_number(text(form, f"aldrete_{item.name}"))
        if value is None or not 0 <= value <= 2:
            found.errors[f"aldrete_{item.name}"] = "choose a score"
        else:
            items[item.name] = value
    return items if len(items) == len(ALDRETE_ITEMS) else None


def _pain(form: FormData, found: Checklist) -> int | None:
    value = whole_number(text(form, "pain_nrs"))
    if value is None or value > NRS_MAX:
        found.errors["pain_nrs"] = f"enter a whole number 0–{NRS_MAX}"
        return None
    return value


def _mood_done(form: FormData, found: Checklist) -> bool:
    given = mood(form)
    try:
        answers = [whole_number(a) if isinstance(a, str) else None for a in given["answers"]]
        score(given["instrument"], answers)
    except InvalidInput as error:
        found.errors["mood"] = error.msg
        return False
    return True


def checklist(
    form: FormData,
    *,
    now: datetime,
    infusion_end: datetime,
    observation_min: int | None,
    escort_at_check_in: str | None,
    zone: tzinfo,
) -> Checklist:
    """Every criterion the posted form leaves unmet, in the clinic's words and clock."""
    found = Checklist()
    aldrete = _aldrete(form, found)
    pain = _pain(form, found)
    mood_done = _mood_done(form, found)
    escort_confirmed = form.get("escort_confirmed") == "on"
    problems = discharge_problems(
        now=now,
        infusion_end=infusion_end,
        observation_min=observation_min,
        aldrete_items=aldrete,
        post_pain_nrs=pain,
        post_mood_done=mood_done,
        escort_confirmed=escort_confirmed,
        no_driving_advice_given=form.get("no_driving_advice_given") == "on",
        zone=zone,
    )
    if aldrete is None:
        unscored = [i.label for i in ALDRETE_ITEMS if f"aldrete_{i.name}" in found.errors]
        problems = [
            f"modified Aldrete score not complete: {', '.join(unscored)} not scored"
            if p == "modified Aldrete score not recorded"
            else p
            for p in problems
        ]
    if escort_confirmed and not (text(form, "escort_name") or escort_at_check_in):
        found.errors["escort_name"] = "name the escort taking the patient home"
        problems.append(f"{label('escort_name')} not named")
    found.problems = problems
    return found
