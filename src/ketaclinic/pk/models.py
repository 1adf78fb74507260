"""Racemic-ketamine compartment models, their sources, and the patient they are applied to.

Cross-checks (2025, by the ketaclinic PK work):

* Domino: the same constants are coded in two independent repositories, opentiva
  (``opentiva/ketamine.py``, commit 4c6b38c) and fus_anes (``tci/ketamine.py``, commit 9778dc1,
  which rounds them to 0.438/0.592/0.590/0.247/0.0146). Neither gives the primary paper's table;
  the usual attribution is Domino EF et al., Clin Pharmacol Ther 1984;36:645 (opentiva cites PMID
  7198883).
* Clements 250: opentiva only; not checked against the paper. Its derived clearance, 19.1 mL/kg/min,
  is that of shared clinical reference §7a.
* Hijazi: opentiva's constants give CL = 1.08 × 0.0333 = 0.0360 L/kg/min and a terminal half-life
  of 4.95 h, matching the published abstract (CL 36.0 mL/min/kg, t½ 4.9 h).
* Herd: V1 38.7 L, V2 102 L, CL 90 L/h, Q 215 L/h per 70 kg, read in the PubMed abstract of Herd
  2007 and identical in opentiva.

ke0: no effect-site rate constant has been measured for racemic ketamine in adults. opentiva derived
its ke0 values by assuming the effect site peaks 1 min after a bolus (they are not published
estimates). We use those values for the adult models, flagged as such, because a ke0 belongs to the
PK model it was fitted with and that assumption is at least specific to each model; our tests
confirm each gives an effect-site peak 1 min after a bolus in our engine. For Herd we use the one
measured value, Herd 2008 (Paediatr Anaesth 18:36): equilibration half-time 11 s (95% CI
0.07–20 s) in children, so ke0 = ln 2 / (11/60 min) ≈ 3.78 /min. Every call accepts
``ke0_per_min`` to override.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from ketaclinic.pk import _checks
from ketaclinic.pk.engine import RateArrays
from ketaclinic.pk.errors import PkInputError

#: What the adult models accept (kg), unchanged from before models had their own ranges: below
#: 30 kg no adult model applies, and above 300 kg per-kg scaling stops meaning anything. Between
#: this and the nominal validated range (50–100 kg) the result carries a warning.
ADULT_WEIGHT_LIMITS_KG = (30.0, 300.0)
#: ketaclinic's engineering margin, not from the literature: a model whose validated weight range
#: was published accepts weights up to 20 % beyond it at either end, with a warning; further out,
#: extrapolating a fitted model is a guess and the weight is refused.
VALIDATED_MARGIN = 0.2
AGE_LIMITS_YEARS = (0.0, 120.0)
#: Allometric reference weight (kg) of the paediatric models.
REFERENCE_WEIGHT_KG = 70.0
_TPEAK_NOTE = (
    "assumed effect-site peak 1 min after a bolus; back-calculated by opentiva, not measured"
)


@dataclass(frozen=True)
class ValidatedPopulation:
    """Who a model was fitted in; a patient outside these ranges gets a warning.

    ``accepted_weight_kg`` is what the model takes at all: a weight outside it is refused.
    """

    description: str
    age_years: tuple[float, float]
    weight_kg: tuple[float, float]
    ranges_source: str
    accepted_weight_kg: tuple[float, float]
    accepted_source: str


def _adults(description: str, ages: tuple[float, float], source: str) -> ValidatedPopulation:
    return ValidatedPopulation(
        description, ages, (50.0, 100.0), source, ADULT_WEIGHT_LIMITS_KG,
        "ketaclinic's adult limits (see ADULT_WEIGHT_LIMITS_KG)",
    )  # fmt: skip


def _with_margin(low: float, high: float) -> tuple[float, float]:
    """The validated range widened by ``VALIDATED_MARGIN`` at either end."""
    return (round(low * (1 - VALIDATED_MARGIN), 2), round(high * (1 + VALIDATED_MARGIN), 2))


@dataclass(frozen=True)
class PkParameters:
    """One patient's parameters: volumes in L, rate constants in 1/min.

    ``k13_per_min`` and ``k31_per_min`` are 0 for a two-compartment model.
    """

    compartments: int
    v1_l: float
    k10_per_min: float
    k12_per_min: float
    k21_per_min: float
    k13_per_min: float
    k31_per_min: float
    ke0_per_min: float

    @property
    def v2_l(self) -> float:
        return self.v1_l * self.k12_per_min / self.k21_per_min

    @property
    def v3_l(self) -> float:
        return self.v1_l * self.k13_per_min / self.k31_per_min if self.compartments == 3 else 0.0

    @property
    def cl_l_per_min(self) -> float:
        return self.v1_l * self.k10_per_min

    def as_dict(self) -> dict[str, float]:
        """All rate constants (``*_per_min``) and volumes (``*_l``) for the JSON answer."""
        out = {
            "k10_per_min": self.k10_per_min,
            "k12_per_min": self.k12_per_min,
            "k21_per_min": self.k21_per_min,
        }
        if self.compartments == 3:
            out |= {"k13_per_min": self.k13_per_min, "k31_per_min": self.k31_per_min}
        out |= {"v1_l": self.v1_l, "v2_l": self.v2_l}
        if self.compartments == 3:
            out["v3_l"] = self.v3_l
        return out | {"cl_l_per_min": self.cl_l_per_min, "ke0_per_min": self.ke0_per_min}

    def rate_arrays(self) -> RateArrays:
        """The engine's form: arrays of one patient."""
        values = (self.v1_l, self.k10_per_min, self.k12_per_min, self.k21_per_min)
        rest = (self.k13_per_min, self.k31_per_min, self.ke0_per_min)
        return RateArrays(
            self.compartments, *(np.array([v], dtype=np.float64) for v in values + rest)
        )


@dataclass(frozen=True)
class RateConstantModel:
    """A model published (or coded) as V1 per kg and micro rate constants (1/min)."""

    key: str
    name: str
    citation: str
    parameter_source: str
    population: ValidatedPopulation
    v1_l_per_kg: float
    k10_per_min: float
    k12_per_min: float
    k21_per_min: float
    ke0_per_min: float
    ke0_source: str
    k13_per_min: float = 0.0
    k31_per_min: float = 0.0

    @property
    def compartments(self) -> int:
        return 3 if self.k13_per_min > 0 else 2

    def parameters(self, weight_kg: float) -> PkParameters:
        return PkParameters(
            self.compartments,
            self.v1_l_per_kg * weight_kg,
            self.k10_per_min,
            self.k12_per_min,
            self.k21_per_min,
            self.k13_per_min,
            self.k31_per_min,
            self.ke0_per_min,
        )


@dataclass(frozen=True)
class AllometricModel:
    """A two-compartment model given per 70 kg.

    Volumes scale with weight, clearances with weight^0.75 (allometric, as Herd 2007 fitted them).
    """

    key: str
    name: str
    citation: str
    parameter_source: str
    population: ValidatedPopulation
    v1_l_per_70kg: float
    v2_l_per_70kg: float
    cl_l_per_h_per_70kg: float
    q_l_per_h_per_70kg: float
    ke0_per_min: float
    ke0_source: str
    clearance_exponent: float = 0.75

    @property
    def compartments(self) -> int:
        return 2

    def parameters(self, weight_kg: float) -> PkParameters:
        size = weight_kg / REFERENCE_WEIGHT_KG
        v1, v2 = self.v1_l_per_70kg * size, self.v2_l_per_70kg * size
        flow = size**self.clearance_exponent / 60.0  # L/h → L/min
        cl, q = self.cl_l_per_h_per_70kg * flow, self.q_l_per_h_per_70kg * flow
        return PkParameters(2, v1, cl / v1, q / v1, q / v2, 0.0, 0.0, self.ke0_per_min)


PkModel = RateConstantModel | AllometricModel

_ADULTS_NOMINAL = (
    "the paper's age and weight ranges were not retrieved; ketaclinic applies a nominal adult "
    "range (18–65 years, 50–100 kg) so that patients far from the studied volunteers are flagged"
)

DOMINO = RateConstantModel(
    key="domino",
    name="Domino",
    citation=(
        "Domino EF et al. Clin Pharmacol Ther 1984;36:645 (usual attribution; "
        "opentiva cites PMID 7198883)"
    ),
    parameter_source=(
        "opentiva ketamine.py @4c6b38c; fus_anes tci/ketamine.py @9778dc1 (same values)"
    ),
    population=_adults("adult volunteers", (18.0, 65.0), _ADULTS_NOMINAL),
    v1_l_per_kg=0.063,
    k10_per_min=0.4381,
    k12_per_min=0.5921,
    k13_per_min=0.5900,
    k21_per_min=0.2470,
    k31_per_min=0.0146,
    ke0_per_min=0.652,  # opentiva; see module docstring
    ke0_source=_TPEAK_NOTE,
)

CLEMENTS = RateConstantModel(
    key="clements",
    name="Clements 250",
    citation=(
        "Clements JA, Nimmo WS. Br J Anaesth 1981;53:27 (doi:10.1093/bja/53.1.27, PMID 7459184)"
    ),
    parameter_source="opentiva ketamine.py @4c6b38c (250 µg/kg bolus data); no second source found",
    population=_adults("adult volunteers", (18.0, 65.0), _ADULTS_NOMINAL),
    v1_l_per_kg=1.7522,
    k10_per_min=0.0109,
    k12_per_min=0.0186,
    k21_per_min=0.0137,
    ke0_per_min=5.2,  # opentiva; see module docstring
    ke0_source=_TPEAK_NOTE,
)

HIJAZI = RateConstantModel(
    key="hijazi",
    name="Hijazi",
    citation="Hijazi Y et al. Br J Anaesth 2003;90:155 (doi:10.1093/bja/aeg028, PMID 12538370)",
    parameter_source="opentiva ketamine.py @4c6b38c; CL and t½ agree with the published abstract",
    population=_adults(
        "12 adult intensive-care patients with brain or spinal-cord injury",
        (18.0, 80.0),
        "the abstract gives no ranges; ketaclinic applies a nominal adult range "
        "(18–80 years, 50–100 kg)",
    ),
    v1_l_per_kg=1.08,
    k10_per_min=0.0333,
    k12_per_min=0.0088,
    k21_per_min=0.0030,
    ke0_per_min=4.773,  # opentiva; see module docstring
    ke0_source=_TPEAK_NOTE,
)

HERD = AllometricModel(
    key="herd",
    name="Herd",
    citation="Herd DW et al. Paediatr Anaesth 2007;17:622 (doi:10.1111/j.1460-9592.2006.02145.x)",
    parameter_source="PubMed abstract of Herd 2007 (PMID 17564643); opentiva ketamine.py @4c6b38c",
    population=ValidatedPopulation(
        "54 children, mean 8.3 (SD 3.5) years, 32.5 (SD 15.6) kg, emergency-department sedation",
        (1.0, 14.0),
        (10.8, 74.8),
        "children 1–14 years (Herd 2007, clinical reference §7a [R85]); weight 10.8–74.8 kg and "
        "age 1–14 years as opentiva codes the model's validated values (ketamine.py @4c6b38c, "
        "[R82]); the ke0 was measured in the same kind of children (Herd 2008, [R91])",
        _with_margin(10.8, 74.8),
        "the validated weights widened by ketaclinic's 20 % margin (VALIDATED_MARGIN)",
    ),
    v1_l_per_70kg=38.7,
    v2_l_per_70kg=102.0,
    cl_l_per_h_per_70kg=90.0,
    q_l_per_h_per_70kg=215.0,
    ke0_per_min=math.log(2) / (11.0 / 60.0),  # Herd 2008: t½ke0 = 11 s
    ke0_source="measured: Herd 2008 (Paediatr Anaesth 18:36), t½ke0 11 s in children",
)

#: Dispatch table: model key → model.
MODELS: Mapping[str, PkModel] = MappingProxyType(
    {m.key: m for m in (DOMINO, CLEMENTS, HIJAZI, HERD)}
)


def get_model(key: object) -> PkModel:
    """The model named ``key``; an unknown name is a ``PkInputError`` listing the known ones."""
    model = MODELS.get(key) if isinstance(key, str) else None
    if model is None:
        known = ", ".join(MODELS)
        raise PkInputError("model", f"unknown model {key!r}; known models: {known}")
    return model


#: Weights any model accepts (kg): a ``Patient`` outside these is refused outright; each model
#: then refuses what lies outside its own ``accepted_weight_kg`` (see ``resolve``).
WEIGHT_LIMITS_KG = (
    min(m.population.accepted_weight_kg[0] for m in MODELS.values()),
    max(m.population.accepted_weight_kg[1] for m in MODELS.values()),
)


@dataclass(frozen=True)
class Patient:
    """Weight (kg, within ``WEIGHT_LIMITS_KG``, else an error; each model narrows it, see
    ``resolve``) and age (years, optional; used only for warnings)."""

    weight_kg: float
    age_years: float | None = None

    def __post_init__(self) -> None:
        low, high = WEIGHT_LIMITS_KG
        object.__setattr__(
            self, "weight_kg", _checks.within("weight_kg", self.weight_kg, "kg", low, high)
        )
        if self.age_years is not None:
            age = _checks.within("age_years", self.age_years, "years", *AGE_LIMITS_YEARS)
            object.__setattr__(self, "age_years", age)


def population_warnings(model: PkModel, patient: Patient) -> tuple[str, ...]:
    """One sentence per way the patient lies outside the model's validated population."""
    found: list[str] = []
    pop = model.population
    low, high = pop.weight_kg
    if not low <= patient.weight_kg <= high:
        found.append(
            f"weight {patient.weight_kg:g} kg is outside the {model.name} model's validated "
            f"range {low:g}–{high:g} kg ({pop.description})"
        )
    low, high = pop.age_years
    if patient.age_years is None:
        found.append(f"age not given: the {model.name} model's age range was not checked")
    elif not low <= patient.age_years <= high:
        found.append(
            f"age {patient.age_years:g} years is outside the {model.name} model's validated "
            f"range {low:g}–{high:g} years ({pop.description})"
        )
    return tuple(found)


def accepted(model: PkModel, patient: Patient) -> None:
    """Refuse a weight outside what ``model`` accepts, naming the model and its limits."""
    low, high = model.population.accepted_weight_kg
    if not low <= patient.weight_kg <= high:
        raise PkInputError(
            "weight_kg",
            f"weight_kg must be between {low:g} and {high:g} kg for the {model.name} model, "
            f"got {patient.weight_kg:g}",
        )


def resolve(
    model_key: object, patient: Patient, ke0_per_min: float | None = None
) -> tuple[PkModel, PkParameters, tuple[str, ...]]:
    """Model, this patient's parameters (ke0 overridden if given, 1/min) and warnings; a weight
    the model does not accept is refused (``PkInputError``)."""
    model = get_model(model_key)
    accepted(model, patient)
    params = model.parameters(patient.weight_kg)
    if ke0_per_min is not None:
        ke0 = _checks.within("ke0_per_min", ke0_per_min, "1/min", 1e-3, 100.0)
        params = replace(params, ke0_per_min=ke0)
    return model, params, population_warnings(model, patient)
