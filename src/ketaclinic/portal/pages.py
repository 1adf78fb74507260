"""The patient portal: the patient's own questionnaires, chart, sessions and information.

Every route is for the ``patient`` role only, and the record shown is always the one the account
is linked to (``Actor.patient_id``); no patient id is ever read from the URL or a form.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Role
from ketaclinic.accounts.deps import SessionDep, SettingsDep, require_csrf, require_role
from ketaclinic.instruments.core import get_instrument, rounded
from ketaclinic.instruments.definitions import Instrument
from ketaclinic.outcomes.service import URGENT_FLAGS
from ketaclinic.portal import service
from ketaclinic.portal.core import PORTAL_INSTRUMENTS, due_now
from ketaclinic.web.forms import whole_number
from ketaclinic.web.templating import render

router = APIRouter(prefix="/portal", dependencies=[Depends(require_csrf)], include_in_schema=False)

PortalUser = Annotated[Actor, Depends(require_role(Role.PATIENT))]
#: An unknown instrument in the path is a 422 from FastAPI; must match ``PORTAL_INSTRUMENTS``.
PortalInstrument = Literal["nrs", "phq9", "gad7", "peg"]

# The clinic MUST localise this before go-live: emergency number, crisis line and its own phone.
# 988 is the US Suicide & Crisis Lifeline (call or text); elsewhere it does not connect.
CRISIS_RESOURCES = (
    "If you are in danger now, or might act on thoughts of hurting yourself, call your local "
    "emergency number or go to the nearest emergency department.",
    "In the US you can call or text 988 (Suicide & Crisis Lifeline), any time, day or night.",
    "You can also call the clinic during opening hours and say it is urgent.",
)

# Plain-language names; the validated titles stay on the clinician side.
FRIENDLY_TITLES = {
    "nrs": "Pain today",
    "phq9": "Mood (PHQ-9)",
    "gad7": "Worry and anxiety (GAD-7)",
    "peg": "Pain and daily life (PEG)",
}


@dataclass(frozen=True)
class Question:
    number: int
    text: str
    choices: tuple[tuple[int, str], ...]  # (value, label); label "" for an unlabelled point
    anchors: str  # e.g. "0 = No pain, 10 = Worst pain imaginable"; "" when every point is named

    @property
    def compact(self) -> bool:
        """A 0–10 scale is shown as a row of number buttons rather than a list."""
        return bool(self.anchors)


def questions(instrument: Instrument) -> list[Question]:
    result = []
    for number, item in enumerate(instrument.items, start=1):
        named = {o.value: o.label for o in item.scale.options}
        values = range(item.scale.low, item.scale.high + 1)
        every_named = all(v in named for v in values)
        anchors = "" if every_named else ", ".join(f"{v} = {lbl}" for v, lbl in named.items())
        text = instrument.stem if instrument.id == "nrs" else item.text
        choices = tuple((v, named.get(v, "")) for v in values)
        result.append(Question(number, text, choices, anchors))
    return result


def read_answers(
    instrument: Instrument, form: dict[str, str]
) -> tuple[list[int | None], list[int]]:
    """Answers by item (``None`` if missing or not one of the offered values), and the item
    numbers (from 1) still to answer."""
    answers: list[int | None] = []
    for number, item in enumerate(instrument.items, start=1):
        raw = form.get(f"q{number}", "").strip()
        value = whole_number(raw)
        if value is not None and not item.scale.low <= value <= item.scale.high:
            value = None
        answers.append(value)
    missing = [n for n, a in enumerate(answers, start=1) if a is None]
    return answers, missing


def missing_message(missing: list[int]) -> str:
    if len(missing) == 1:
        return f"Please answer question {missing[0]} before sending."
    listed = ", ".join(str(n) for n in missing[:-1]) + f" and {missing[-1]}"
    return f"Please answer questions {listed} before sending."


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as plain strings (files are never expected here)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


FormFields = Annotated[dict[str, str], Depends(form_fields)]


@router.get("")
def portal_home(
    request: Request, actor: PortalUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """A patient sees their own record only: the account is linked to exactly one patient."""
    zone = settings.timezone
    with session.begin():
        patient = service.own_patient(session, actor=actor)
        if patient is None:
            return render(request, "portal/home.html", {"patient": None})
        service.audit_read(session, actor=actor, patient=patient, page="home")
        statuses = service.due(session, patient=patient, zone=zone)
        context = {
            "patient": patient,
            "statuses": statuses,
            "due": due_now(statuses),
            "others": [i for i in PORTAL_INSTRUMENTS if i not in due_now(statuses)],
            "titles": FRIENDLY_TITLES,
            "upcoming": service.upcoming_sessions(session, patient=patient, zone=zone),
            "chart": service.chart(session, patient=patient, zone=zone).as_json(),
            "crisis": service.open_suicide_risk(session, patient=patient),
            "crisis_resources": CRISIS_RESOURCES,
        }
    return render(request, "portal/home.html", context)


@router.get("/questionnaires/{instrument}")
def questionnaire_page(
    request: Request,
    instrument: PortalInstrument,
    actor: PortalUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    with session.begin():
        patient = service.require_own_patient(session, actor=actor)
        service.audit_read(
            session, actor=actor, patient=patient, page=f"questionnaire:{instrument}"
        )
        status = next(
            (
                s
                for s in service.due(session, patient=patient, zone=settings.timezone)
                if s.instrument == instrument
            ),
            None,
        )
    return _form(request, get_instrument(instrument), status=status)


@router.post("/questionnaires/{instrument}")
def questionnaire_submit(
    request: Request,
    instrument: PortalInstrument,
    actor: PortalUser,
    session: SessionDep,
    form: FormFields,
) -> Response:
    """Only a complete answer is stored; a partial one comes back naming what is missing, and
    nothing (not even an audit line) is written."""
    definition = get_instrument(instrument)
    answers, missing = read_answers(definition, form)
    if missing:
        return _form(request, definition, answers=answers, missing=missing, status_code=422)
    with session.begin():
        patient = service.require_own_patient(session, actor=actor)
        complete = [a for a in answers if a is not None]
        measurement = service.complete(
            session, actor=actor, patient=patient, instrument=instrument, answers=complete
        )
        total = measurement.scores.get("total")
        context = {
            "instrument": definition,
            "title": FRIENDLY_TITLES[instrument],
            "total": _shown(total),
            "highest": definition.scores[0].highest,
            "crisis": bool(URGENT_FLAGS & set(measurement.flags)),
            "crisis_resources": CRISIS_RESOURCES,
        }
    return render(request, "portal/done.html", context)


@router.get("/information")
def information(request: Request, actor: PortalUser) -> Response:
    """General information only: it reads nothing of the patient's record, so it is not audited."""
    return render(request, "portal/information.html", {"crisis_resources": CRISIS_RESOURCES})


def _form(
    request: Request,
    instrument: Instrument,
    *,
    answers: list[int | None] | None = None,
    missing: list[int] | None = None,
    status: object = None,
    status_code: int = 200,
) -> Response:
    context = {
        "instrument": instrument,
        "title": FRIENDLY_TITLES[instrument.id],
        "questions": questions(instrument),
        "answers": answers or [None] * len(instrument.items),
        "missing": missing or [],
        "missing_message": missing_message(missing) if missing else "",
        "status": status,
    }
    return render(request, "portal/questionnaire.html", context, status_code=status_code)


def _shown(exact: str | None) -> str:
    """A score as the patient reads it: whole numbers as such, a PEG mean to 2 places."""
    if exact is None:
        return ""
    value = Fraction(exact)
    return str(value.numerator) if value.denominator == 1 else str(rounded(value))
