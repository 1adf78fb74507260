"""``ketaclinic pk``: simulate, target-controlled schedules and populations from JSON.

Each command reads FILE (a path, or ``-`` for stdin) and prints a short summary, or with ``--json``
exact JSON on stdout (floats as Python writes them, which read back to the same number). Bad input
(malformed JSON, a field of the wrong type, an unknown model, a negative dose, a weight the model
does not accept …) exits 2 with a one-line reason on stderr. The JSON shapes are in the README
(section "Pharmacokinetics", "Command line").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import numpy as np
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ketaclinic.pk.errors import PkInputError
from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.population import PERCENTILES, PopulationResult, SiteSummary, Variability
from ketaclinic.pk.population import simulate_population as run_population
from ketaclinic.pk.schedule import Bolus
from ketaclinic.pk.schemas import PopulationIn, SimulateIn, TciIn, schedule_of
from ketaclinic.pk.simulate import Simulation
from ketaclinic.pk.simulate import simulate as run_simulation
from ketaclinic.pk.tci import TciResult, plan

app = typer.Typer(
    help="Pharmacokinetics: concentrations, target-controlled schedules, populations.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)
out = Console()
FileArg = Annotated[str, typer.Argument(help="JSON input: a path, or - for stdin.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exact JSON on stdout.")]


# --- reading and refusing -------------------------------------------------------------------

Model = TypeVar("Model", bound=BaseModel)


def refuse(message: str) -> NoReturn:
    """Bad input: one line on stderr, exit 2."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def read_input(file: str, schema: type[Model]) -> Model:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        refuse(f"cannot read {file}: {getattr(error, 'strerror', None) or error}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        refuse(f"{file} is not valid JSON: {error}")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "input"
        refuse(f"{where}: {first['msg']}")


@contextmanager
def engine_refusals() -> Iterator[None]:
    """Turn the engine's input errors into exit 2 with its message (which names the unit)."""
    try:
        yield
    except PkInputError as error:
        refuse(str(error))


def emit(answer: dict[str, Any]) -> None:
    """Exact JSON: every float written with repr, so it reads back bit for bit."""
    sys.stdout.write(json.dumps(answer, allow_nan=False) + "\n")


def _floats(values: np.ndarray[Any, Any]) -> list[float]:
    return [float(v) for v in values]


# --- answers --------------------------------------------------------------------------------


def simulation_answer(sim: Simulation) -> dict[str, Any]:
    return {
        "model": sim.model,
        "parameters": sim.parameters.as_dict(),
        "times_min": _floats(sim.times_min),
        "plasma_ng_per_ml": _floats(sim.plasma_ng_per_ml),
        "effect_site_ng_per_ml": _floats(sim.effect_site_ng_per_ml),
        "warnings": list(sim.warnings),
    }


def tci_answer(result: TciResult, curves: Simulation) -> dict[str, Any]:
    """The plan, its judgement, and its curves at the asked ``step_min``."""
    return {
        "model": result.model,
        "mode": result.mode,
        "parameters": result.parameters.as_dict(),
        "target": asdict(result.target),
        "duration_min": result.duration_min,
        "limits": asdict(result.limits),
        "doses": result.schedule.as_dicts(),
        "reached": result.reached,
        "held": result.held,
        "time_to_target_min": result.time_to_target_min,
        "shortfall_ng_per_ml": result.shortfall_ng_per_ml,
        "max_overshoot_ng_per_ml": result.max_overshoot_ng_per_ml,
        "max_deviation_after_target_ng_per_ml": result.max_deviation_after_target_ng_per_ml,
        "rate_limited": result.rate_limited,
        "bolus_limited": result.bolus_limited,
        "verdict": result.verdict,
        "notes": list(result.notes),
        "warnings": list(result.warnings),
        "times_min": _floats(curves.times_min),
        "plasma_ng_per_ml": _floats(curves.plasma_ng_per_ml),
        "effect_site_ng_per_ml": _floats(curves.effect_site_ng_per_ml),
    }


def _site_answer(site: SiteSummary) -> dict[str, Any]:
    return {
        "percentiles_ng_per_ml": [_floats(row) for row in site.percentiles_ng_per_ml],
        "fraction_peak_above_threshold": site.fraction_peak_above_threshold,
        "peak_percentiles_ng_per_ml": _floats(np.percentile(site.peak_ng_per_ml, PERCENTILES)),
        "time_above_threshold_percentiles_min": list(site.time_above_threshold_percentiles_min),
        "mean_time_above_threshold_min": float(np.mean(site.time_above_threshold_min)),
    }


def population_answer(result: PopulationResult, cv: Variability) -> dict[str, Any]:
    return {
        "model": result.model,
        "n": result.n,
        "seed": result.seed,
        "threshold_ng_per_ml": result.threshold_ng_per_ml,
        "parameters": result.typical.as_dict(),
        "cv": asdict(cv),
        "percentiles": list(PERCENTILES),
        "percentile_method": result.percentile_method,
        "percentile_accuracy": result.percentile_accuracy,
        "times_min": _floats(result.times_min),
        "plasma": _site_answer(result.plasma),
        "effect_site": _site_answer(result.effect_site),
        "warnings": list(result.warnings),
    }


# --- commands -------------------------------------------------------------------------------


@app.command()
def simulate(file: FileArg, json_out: JsonOpt = False) -> None:
    """Plasma and effect-site concentrations of a dosing schedule."""
    given = read_input(file, SimulateIn)
    with engine_refusals():
        sim = run_simulation(
            given.model, given.patient(), schedule_of(given.doses), given.times(),
            ke0_per_min=given.ke0_per_min,
        )  # fmt: skip
    if json_out:
        emit(simulation_answer(sim))
        return
    table = Table("", "peak (ng/mL)", "at (min)", "last (ng/mL)", title=f"{sim.model} model")
    for name, curve in (
        ("plasma", sim.plasma_ng_per_ml),
        ("effect site", sim.effect_site_ng_per_ml),
    ):
        top = int(np.argmax(curve))
        table.add_row(name, f"{curve[top]:.1f}", f"{sim.times_min[top]:g}", f"{curve[-1]:.1f}")
    out.print(table)
    _print_warnings(sim.warnings)


@app.command()
def tci(file: FileArg, json_out: JsonOpt = False) -> None:
    """A schedule that reaches and holds a target concentration (TCI pump or manual)."""
    given = read_input(file, TciIn)
    with engine_refusals():
        patient = given.patient()
        result = plan(
            given.model, patient, given.target_(), given.duration_min,
            given.limits.limits(patient.weight_kg), mode=given.mode,
            ke0_per_min=given.ke0_per_min,
        )  # fmt: skip
        grid = UniformGrid.until(result.duration_min, given.step_min)
        curves = run_simulation(
            given.model, patient, result.schedule, grid, ke0_per_min=given.ke0_per_min
        )
    if json_out:
        emit(tci_answer(result, curves))
        return
    _print_tci(result)


@app.command()
def population(file: FileArg, json_out: JsonOpt = False) -> None:
    """Percentile curves and threshold statistics over N virtual patients."""
    given = read_input(file, PopulationIn)
    with engine_refusals():
        cv = given.cv.variability()
        grid = UniformGrid.until(given.until_min, given.step_min)
        with _progress(given.n * grid.count > 5_000_000) as tick:
            result = run_population(
                given.model, given.patient(), schedule_of(given.doses), grid,
                n=given.n, seed=given.seed, threshold_ng_per_ml=given.threshold_ng_per_ml,
                variability=cv, ke0_per_min=given.ke0_per_min,
                percentile_method=given.percentile_method, progress=tick,
            )  # fmt: skip
    if json_out:
        emit(population_answer(result, cv))
        return
    _print_population(result)


# --- human summaries ------------------------------------------------------------------------


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr for runs long enough to need one."""
    if not show:
        yield None
        return
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("virtual patients", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _print_warnings(warnings: tuple[str, ...]) -> None:
    for warning in warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _print_tci(result: TciResult) -> None:
    target = result.target
    verdict = result.verdict.replace("not reached", "NOT reached")
    out.print(f"{target.site} target {target.ng_per_ml:g} ng/mL ({result.mode}): {verdict}")
    table = Table("kind", "from (min)", "to (min)", "dose", title="doses")
    shown = result.schedule.doses[:40]
    for dose in shown:
        if isinstance(dose, Bolus):
            table.add_row("bolus", f"{dose.at_min:g}", "", f"{dose.mg:g} mg")
        else:
            table.add_row(
                "infusion", f"{dose.start_min:g}", f"{dose.end_min:g}", f"{dose.mg_per_h:.4g} mg/h"
            )
    out.print(table)
    if len(result.schedule.doses) > len(shown):
        out.print(f"… and {len(result.schedule.doses) - len(shown)} more rate changes (see --json)")
    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
    _print_warnings(result.warnings)


def _print_population(result: PopulationResult) -> None:
    above = f"peak > {result.threshold_ng_per_ml:g}"
    title = f"{result.n} virtual patients, {result.model}"
    table = Table("site", "peak p5/p50/p95 (ng/mL)", above, "minutes above p5/p50/p95", title=title)
    for name, site in (("plasma", result.plasma), ("effect site", result.effect_site)):
        peaks = np.percentile(site.peak_ng_per_ml, PERCENTILES)
        table.add_row(
            name,
            "/".join(f"{p:.0f}" for p in peaks),
            f"{site.fraction_peak_above_threshold:.1%}",
            "/".join(f"{m:.0f}" for m in site.time_above_threshold_percentiles_min),
        )
    out.print(table)
    out.print(f"percentiles: {result.percentile_accuracy}", highlight=False)
    _print_warnings(result.warnings)
