"""The chairside forms: what each posted form becomes for the service, and where a refusal's
message goes back on the page.

A form's fields are plain strings; the request models (``infusions.schemas``) do the validation,
so a page and the API refuse the same things with the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.datastructures import FormData

from ketaclinic.infusions.discharge import ALDRETE_ITEMS
from ketaclinic.instruments.definitions import INSTRUMENTS
from ketaclinic.monitoring.side_effects import SIDE_EFFECTS

VITALS = (
    "systolic_mmhg",
    "diastolic_mmhg",
    "heart_rate_per_min",
    "spo2_percent",
    "resp_rate_per_min",
)
MOOD_INSTRUMENTS = ("phq9", "gad7")
Payload = Callable[[FormData], dict[str, Any]]


def text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _or_none(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def values_of(form: FormData) -> dict[str, str]:
    """Everything typed, to put back into the form when it is refused."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def version_only(form: FormData) -> dict[str, Any]:
    return {"version": _or_none(form, "version")}


def reason(form: FormData) -> dict[str, Any]:
    return {**version_only(form), "reason": text(form, "reason")}


def observed_at(form: FormData) -> dict[str, Any]:
    """A late entry's clock time ("15:30") on the clinic's day and UTC offset as the page was
    drawn (hidden fields); the service checks the window, so a tampered day is refused there."""
    clock_time = text(form, "observed_at")
    if not clock_time:
        return {}
    return {"observed_at": f"{text(form, 'clinic_day')}T{clock_time}{text(form, 'clinic_offset')}"}


def correction(form: FormData) -> dict[str, Any]:
    """Marking an entry entered in error: the reason alone (no version: an observation)."""
    return {"reason": text(form, "reason")}


def vital_values(form: FormData) -> dict[str, Any]:
    # A blank box is "missing", not 0: the model says "Field required" next to it.
    return {**version_only(form), **{n: v for n in VITALS if (v := text(form, n))}}


def vitals(form: FormData) -> dict[str, Any]:
    return {
        **vital_values(form),
        **observed_at(form),
        "confirm_implausible": form.get("confirm_implausible") == "on",
    }


def mood(form: FormData) -> dict[str, Any]:
    instrument = text(form, "mood_instrument") or "phq9"
    items = INSTRUMENTS[instrument].items if instrument in INSTRUMENTS else ()
    answers = [_or_none(form, item.id) for item in items]
    return {"instrument": instrument, "answers": answers}


def yes_no(form: FormData, name: str) -> bool | None:
    return {"yes": True, "no": False}.get(text(form, name))


def check_in(form: FormData) -> dict[str, Any]:
    return {
        **vital_values(form),
        "weight_kg": _or_none(form, "weight_kg"),
        "pain_nrs": _or_none(form, "pain_nrs"),
        "mood": mood(form),
        "pregnancy_status": _or_none(form, "pregnancy_status"),
        "contraindications_changed": yes_no(form, "contraindications_changed"),
        "contraindication_note": _or_none(form, "contraindication_note"),
        "escort_name": _or_none(form, "escort_name"),
        "confirm_implausible": form.get("confirm_implausible") == "on",
    }


def side_effects(form: FormData) -> dict[str, Any]:
    """Only the effects the nurse graded; sedation is graded as a MOAA/S level."""
    assessments = [
        {"effect": e.id, "grade": int(g) if g.isdigit() else g}
        for e in SIDE_EFFECTS
        if (g := text(form, f"se_{e.id}"))
    ]
    return {**version_only(form), "assessments": assessments, **observed_at(form)}


def adjunct(form: FormData) -> dict[str, Any]:
    return {
        **version_only(form),
        "drug": text(form, "drug"),
        "dose": _or_none(form, "dose"),
        "unit": "mg",
        "route": text(form, "route"),
        "reason": text(form, "reason"),
        **observed_at(form),
    }


def rate(form: FormData) -> dict[str, Any]:
    """The new rate in whichever unit the nurse filled in (both or neither is refused)."""
    return {
        **version_only(form),
        "rate_ml_per_h": _or_none(form, "rate_ml_per_h"),
        "rate_mg_per_h": _or_none(form, "rate_mg_per_h"),
        "reason": _or_none(form, "reason"),
    }


def verify(form: FormData) -> dict[str, Any]:
    """What the verifier read on the pump; a blank box is missing, never a default."""
    names = ("drug", "concentration_mg_per_ml", "rate_ml_per_h", "volume_to_be_infused_ml")
    return {**version_only(form), **{n: v for n in names if (v := text(form, n))}}


def stop(form: FormData) -> dict[str, Any]:
    return {
        **version_only(form),
        "reason_category": _or_none(form, "reason_category"),
        "reason": _or_none(form, "reason"),
    }


def confirmed(form: FormData) -> bool:
    """The second step of an irreversible action: only its form posts ``confirm=yes``."""
    return text(form, "confirm") == "yes"


def order(form: FormData) -> dict[str, Any]:
    reasons = {
        k.removeprefix("override_"): v.strip()
        for k, v in form.items()
        if k.startswith("override_") and isinstance(v, str) and v.strip()
    }
    return {
        **version_only(form),
        "weight_kg": _or_none(form, "weight_kg"),
        "dose": _or_none(form, "dose"),
        "duration_min": _or_none(form, "duration_min"),
        "weight_basis": text(form, "weight_basis") or "actual",
        "override_reasons": reasons,
    }


def bolus(form: FormData) -> dict[str, Any]:
    return {
        **version_only(form),
        "dose_mg": _or_none(form, "dose_mg"),
        "reason": text(form, "reason"),
        "override_reason": _or_none(form, "override_reason"),
    }


def discharge(form: FormData) -> dict[str, Any]:
    return {
        **version_only(form),
        "aldrete": {i.name: v for i in ALDRETE_ITEMS if (v := text(form, f"aldrete_{i.name}"))},
        "pain_nrs": _or_none(form, "pain_nrs"),
        "mood": mood(form),
        "escort_confirmed": form.get("escort_confirmed") == "on",
        "escort_name": _or_none(form, "escort_name"),
        "no_driving_advice_given": form.get("no_driving_advice_given") == "on",
    }


def field_of(loc: Sequence[str | int], fields: Sequence[str]) -> str:
    """The form field a refusal is about (``("body", "spo2_percent")`` → ``spo2_percent``), or
    ``__all__`` for the form as a whole."""
    parts = [str(p) for p in loc if p != "body"]
    if parts and parts[0] in fields:
        return parts[0]
    return "__all__"


def fields_of(errors: Mapping[str, str], fields: Sequence[str]) -> dict[str, str]:
    """Validation messages keyed by field; any the form has no box for go to the form as a whole."""
    placed: dict[str, str] = {}
    for name, message in errors.items():
        placed.setdefault(name if name in fields else "__all__", message)
    return placed
