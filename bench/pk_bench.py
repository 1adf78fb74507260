"""Speed of the PK engine, each figure with the ratio it is judged by. Run:

    PYTHONPATH=src .venv/bin/python bench/pk_bench.py

1. One patient, 5 h on a 1-s grid, plasma and effect site: against scipy's solve_ivp (LSODA,
   rtol 1e-10) on the same problem; the goal is at least 20× faster.
2. 10,000 patients × 18,001 times, both sites, float64: against the machine's memory-write floor
   (``ndarray.fill`` of the same 2.88 GB, measured in the same run), first the kernel alone
   (``concentrations_into`` into reused buffers), then the call a user makes
   (``simulate_population`` with its defaults: curves, peaks, time above a threshold and exact
   5th/50th/95th percentile curves of both sites); goal: the user's call within 3× the floor.
   Also the call's peak memory (tracemalloc, one more call), against the 2.88 GB the curves
   themselves would take.
3. An effect-site TCI plan for 5 h with 10-s updates (planning plus judging the plan on its 0.1-s
   grid): goal under 150 ms.

Each timing is the best of a few repeats (the least disturbed by other work on the machine); the
load average is printed, since other work on a shared machine slows every figure.
"""

from __future__ import annotations

import os
import platform
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

from ketaclinic.pk.grid import UniformGrid
from ketaclinic.pk.models import MODELS, Patient
from ketaclinic.pk.population import Variability, sample_parameters, simulate_population
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import concentrations_into, simulate
from ketaclinic.pk.targets import Target
from ketaclinic.pk.tci import plan

PROTOCOL = Schedule((Bolus(0, 24.5), Infusion(0, 240, 35)))
PATIENT = Patient(70, 45)
FIVE_HOURS_1S = UniformGrid.until(300, 1 / 60)


def best_of(repeats: int, job: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return min(times)


def ode_reference() -> None:
    """The same problem for solve_ivp: amounts (mg) and effect site, bolus as the initial state."""
    p = MODELS["domino"].parameters(PATIENT.weight_kg)
    times = FIVE_HOURS_1S.times()

    def rhs(rate: float) -> Callable[[float, np.ndarray], np.ndarray]:
        def f(_t: float, y: np.ndarray) -> np.ndarray:
            x1, x2, x3, ce = y
            return np.array([
                rate - (p.k10_per_min + p.k12_per_min + p.k13_per_min) * x1
                + p.k21_per_min * x2 + p.k31_per_min * x3,
                p.k12_per_min * x1 - p.k21_per_min * x2,
                p.k13_per_min * x1 - p.k31_per_min * x3,
                p.ke0_per_min * (x1 / p.v1_l - ce),
            ])  # fmt: skip

        return f

    on = times <= 240
    first = solve_ivp(rhs(35 / 60), (0, 240), [24.5, 0, 0, 0], method="LSODA", rtol=1e-10,
                      atol=1e-12, t_eval=times[on])  # fmt: skip
    solve_ivp(rhs(0.0), (240, 300), first.y[:, -1], method="LSODA", rtol=1e-10, atol=1e-12,
              t_eval=times[~on])  # fmt: skip


def one_patient() -> tuple[float, float]:
    ours = best_of(20, lambda: simulate("domino", PATIENT, PROTOCOL, FIVE_HOURS_1S))
    ode = best_of(3, ode_reference)
    return ours, ode


def many_patients(n: int = 10_000) -> tuple[float, float, int]:
    grid = FIVE_HOURS_1S
    plasma, effect = np.empty((n, grid.count)), np.empty((n, grid.count))
    plasma.fill(0.0)  # touch every page once, so neither timing pays for page faults
    effect.fill(0.0)
    rates = sample_parameters(MODELS["domino"].parameters(70), Variability(), n, seed=1)

    def fill() -> None:
        plasma.fill(1.0)
        effect.fill(1.0)

    floor = best_of(3, fill)
    ours = best_of(3, lambda: concentrations_into(rates, PROTOCOL, grid, plasma, effect))
    return ours, floor, plasma.nbytes + effect.nbytes


def population_call(n: int = 10_000) -> tuple[float, float, str]:
    """The whole call as a user makes it (its own buffers, statistics and all): best wall time
    and best CPU time (the process's, which other work on a shared machine disturbs less)."""
    method = ""
    cpu: list[float] = []

    def call() -> None:
        nonlocal method
        start = time.process_time()
        result = simulate_population(
            "domino", PATIENT, PROTOCOL, FIVE_HOURS_1S, n=n, seed=1, threshold_ng_per_ml=150
        )
        cpu.append(time.process_time() - start)
        method = result.percentile_method

    return best_of(3, call), min(cpu), method


def population_peak_bytes(n: int = 10_000) -> int:
    """Peak traced memory of one call as a user makes it (numpy's buffers are traced)."""
    tracemalloc.start()
    try:
        simulate_population(
            "domino", PATIENT, PROTOCOL, FIVE_HOURS_1S, n=n, seed=1, threshold_ng_per_ml=150
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def effect_tci() -> float:
    return best_of(5, lambda: plan("domino", PATIENT, Target("effect", 150), 300, mode="pump"))


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")  # fmt: skip
    ours, ode = one_patient()
    print(f"1 patient, 5 h at 1 s (18,001 times), both sites: {ours * 1e3:.2f} ms; "
          f"solve_ivp LSODA rtol 1e-10: {ode * 1e3:.1f} ms; "
          f"{ode / ours:.0f}× faster (goal ≥ 20×)")  # fmt: skip
    ours, floor, size = many_patients()
    print(f"10,000 patients × 18,001 times, both sites ({size / 1e9:.2f} GB): {ours:.3f} s; "
          f"memory-write floor {floor:.3f} s ({size / floor / 1e9:.1f} GB/s); "
          f"{ours / floor:.2f}× the floor")  # fmt: skip
    call, cpu, method = population_call()
    print(f"simulate_population, 10,000 patients × 18,001 times, as a user calls it "
          f"(percentiles: {method}): {call:.3f} s ({cpu:.3f} CPU s); {call / floor:.2f}× the "
          f"floor (goal ≤ 3×); {call / ours:.2f}× the kernel")  # fmt: skip
    peak = population_peak_bytes()
    print(f"  its peak memory (tracemalloc): {peak / 1e6:.0f} MB, "
          f"{peak / size:.3f}× the {size / 1e9:.2f} GB of all the curves")  # fmt: skip
    took = effect_tci()
    print(f"effect-site TCI, 5 h, 10-s updates: {took * 1e3:.1f} ms "
          f"({took / 0.150:.2f} of the 150 ms budget)")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
