"""Ketamine pharmacokinetics: exact compartment-model concentrations, TCI plans, populations.

Pure NumPy (no database, web or clock). The command line (``cli``) and the page (``pages``) are
separate modules and are not imported here.
"""

from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import MODELS, Patient, PkParameters, get_model
from ketaclinic.pk.population import PopulationResult, Variability, simulate_population
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import Simulation, amounts, concentrations_into, simulate
from ketaclinic.pk.targets import Target, TciLimits
from ketaclinic.pk.tci import TciResult, plan

__all__ = [
    "MODELS",
    "Bolus",
    "Infusion",
    "Patient",
    "PkInputError",
    "PkParameters",
    "PopulationResult",
    "Schedule",
    "Simulation",
    "Target",
    "TciLimits",
    "TciResult",
    "UniformGrid",
    "Variability",
    "amounts",
    "concentrations_into",
    "get_model",
    "plan",
    "simulate",
    "simulate_population",
]
