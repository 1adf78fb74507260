"""The concentrations page, ``GET /pk``: a schedule or a target in, curves and a dose table out.

A GET form (the page changes nothing, so a result can be bookmarked or shared). Plain ``def``
routes: the NumPy work blocks. Only roles holding ``pk.use`` (physicians and nurses) see it.

The shaded bands are the concentrations the literature links to effects, each cited on the page
(clinical reference §7c): analgesia 70–160 ng/mL (Zanos 2018, Table 1), analgesia at ≥100 ng/mL
(Herd 2007), dissociation 100–250 ng/mL (Zanos 2018 citing Krystal 1994), psychedelic effects rising
linearly over 50–200 ng/mL (Bowdle 1998).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ketaclinic.accounts.core import Actor, Permission
from ketaclinic.accounts.deps import require
from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import MODELS, Patient
from ketaclinic.pk.schedule import Bolus, Dose, Infusion, Schedule
from ketaclinic.pk.simulate import Simulation, simulate
from ketaclinic.pk.targets import Target, TciLimits
from ketaclinic.pk.tci import TciResult, plan
from ketaclinic.web.templating import render

router = APIRouter(include_in_schema=False)
PkUser = Annotated[Actor, Depends(require(Permission.PK_USE))]

ROWS = 5
#: A TCI pump plan has a rate every 10 s; the page lists this many and says how many more exist.
DOSE_ROWS_SHOWN = 200
MODES = {"schedule": "A dosing schedule", "pump": "Target: TCI pump", "manual": "Target: manual"}


@dataclass(frozen=True)
class Band:
    """A concentration range (ng/mL) the literature links to an effect, with its source."""

    low: float
    high: float
    label: str
    color: str
    source: str


BANDS = (
    Band(70, 160, "analgesia 70–160 ng/mL", "rgba(46,125,50,0.14)",
         "Zanos P et al. Pharmacol Rev 2018;70:621, Table 1 (IV ~0.15 mg/kg and similar)"),
    Band(100, 250, "dissociation 100–250 ng/mL", "rgba(106,27,154,0.12)",
         "Zanos 2018, citing Krystal 1994 (0.5 mg/kg over 40 min)"),
    Band(50, 200, "psychedelic effects rise linearly, 50–200 ng/mL", "rgba(239,108,0,0.10)",
         "Bowdle TA et al. Anesthesiology 1998;88:82 (healthy volunteers, steady state)"),
)  # fmt: skip
#: Drawn as a line rather than a band: an adult analgesic level, quoted by Herd 2007.
ANALGESIA_LINE = Band(100, 100, "≥100 ng/mL: analgesia in adults", "rgba(46,125,50,0.9)",
                      "Herd DW et al. Paediatr Anaesth 2007;17:622 (abstract)")  # fmt: skip
DEFAULTS = {
    "model": "domino", "weight_kg": "70", "age_years": "45", "ke0_per_min": "", "mode": "schedule",
    "until_min": "180", "site": "effect", "ng_per_ml": "150", "duration_min": "120",
    "max_pump_mg_per_h": "", "max_mg_per_h": "", "max_bolus_mg": "", "max_rate_changes": "4",
    "min_hold_min": "15",
    # 0.5 mg/kg over 40 min for 70 kg (the depression protocol, clinical reference §2).
    "row0_kind": "infusion", "row0_start_min": "0", "row0_end_min": "40", "row0_amount": "52.5",
}  # fmt: skip
ROW_FIELDS = ("kind", "start_min", "end_min", "amount")


class FormError(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid form")
        self.errors = errors


@router.get("/pk")
def pk_page(request: Request, actor: PkUser) -> Response:
    """The form; with ``compute`` in the query, the result under it."""
    query = request.query_params
    names = [*DEFAULTS, *(f"row{i}_{f}" for i in range(ROWS) for f in ROW_FIELDS)]
    asked = "compute" in query
    values = {n: str(query.get(n, "" if asked else DEFAULTS.get(n, ""))) for n in names}
    context: dict[str, Any] = {
        "values": values,
        "errors": {},
        "models": MODELS,
        "modes": MODES,
        "rows": range(ROWS),
        "bands": (*BANDS, ANALGESIA_LINE),
    }
    if not asked:
        return render(request, "pk/page.html", context)
    try:
        context.update(_compute(values))
    except FormError as error:
        context["errors"] = error.errors
        return render(request, "pk/page.html", context, status_code=422)
    return render(request, "pk/page.html", context)


def _optional(values: dict[str, str], name: str) -> float | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise FormError({name: f"{text!r} is not a number"}) from None


def _required(values: dict[str, str], name: str) -> float:
    number = _optional(values, name)
    if number is None:
        raise FormError({name: "required"})
    return number


def _whole(values: dict[str, str], name: str, default: int) -> int:
    number = _optional(values, name)
    if number is None:
        return default
    if not number.is_integer():
        raise FormError({name: "must be a whole number"})
    return int(number)


def _compute(values: dict[str, str]) -> dict[str, Any]:
    model = values["model"]
    if model not in MODELS:
        raise FormError({"model": f"unknown model {model!r}"})
    weight = _required(values, "weight_kg")
    age = _optional(values, "age_years")
    ke0 = _optional(values, "ke0_per_min")
    mode = values["mode"] if values["mode"] in MODES else "schedule"
    try:
        patient = Patient(weight, age)
        if mode == "schedule":
            schedule, until, result = _schedule(values), _required(values, "until_min"), None
        else:
            result = _target(values, model, patient, mode, ke0)
            schedule, until = result.schedule, result.duration_min
        grid = UniformGrid.until(until, max(until / 1200, 1 / 60))
        sim = simulate(model, patient, schedule, grid, ke0_per_min=ke0)
    except PkInputError as error:
        raise FormError({_FIELD_OF.get(error.parameter, error.parameter): error.msg}) from None
    doses = [d.as_dict() for d in sorted(schedule.doses, key=_start)]
    return {
        "sim": sim,
        "tci": result,
        "doses": doses[:DOSE_ROWS_SHOWN],
        "doses_total": len(doses),
        "chart": chart_data(sim),
    }


#: Engine parameter → form field, where their names differ.
_FIELD_OF = {"until_min": "until_min", "step_min": "until_min", "count": "until_min"}


def _schedule(values: dict[str, str]) -> Schedule:
    doses: list[Dose] = []
    renamed = {"at_min": "start_min", "mg": "amount", "mg_per_h": "amount"}
    for i in range(ROWS):
        kind = values.get(f"row{i}_kind", "")
        if not kind or not values.get(f"row{i}_amount", "").strip():
            continue
        start = _required(values, f"row{i}_start_min")
        amount = _required(values, f"row{i}_amount")
        try:
            if kind == "bolus":
                doses.append(Bolus(start, amount))
            else:
                doses.append(Infusion(start, _required(values, f"row{i}_end_min"), amount))
        except PkInputError as error:
            field = f"row{i}_{renamed.get(error.parameter, error.parameter)}"
            raise FormError({field: error.msg}) from None
    if not doses:
        raise FormError({"row0_amount": "enter at least one dose"})
    return Schedule(tuple(doses))


def _target(
    values: dict[str, str], model: str, patient: Patient, mode: str, ke0: float | None
) -> TciResult:
    """Limits left blank take the defaults for the patient's weight (``TciLimits.for_weight``)."""
    defaults = TciLimits.for_weight(patient.weight_kg)

    def limit(name: str) -> float:
        given = _optional(values, name)
        return float(getattr(defaults, name)) if given is None else given

    limits = TciLimits(
        limit("max_pump_mg_per_h"),
        limit("max_mg_per_h"),
        limit("max_bolus_mg"),
        _whole(values, "max_rate_changes", defaults.max_rate_changes),
        limit("min_hold_min"),
    )
    target = Target(values["site"], _required(values, "ng_per_ml"))
    duration = _required(values, "duration_min")
    return plan(model, patient, target, duration, limits, mode=mode, ke0_per_min=ke0)


def _start(dose: Dose) -> float:
    return dose.at_min if isinstance(dose, Bolus) else dose.start_min


def chart_data(sim: Simulation) -> dict[str, Any]:
    """The numbers the page's script hands to Plotly."""
    return {
        "times_min": sim.times_min.tolist(),
        "plasma": sim.plasma_ng_per_ml.tolist(),
        "effect": sim.effect_site_ng_per_ml.tolist(),
        "bands": [asdict(b) for b in BANDS],
        "line": asdict(ANALGESIA_LINE),
    }
