"""Physiologically possible ranges for recorded vital signs. Pure.

These bound what can be typed (a refusal, not an alert): values outside them are almost certainly
entry errors (SpO2 of 140, a negative heart rate). Alert thresholds are a separate, clinical matter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    low: int
    high: int
    unit: str


# Clinic policy bounds for plausibility, wide enough for any awake adult in an infusion chair.
PLAUSIBLE: dict[str, Range] = {
    "systolic_mmhg": Range(50, 300, "mmHg"),
    "diastolic_mmhg": Range(20, 200, "mmHg"),
    "heart_rate_per_min": Range(20, 250, "/min"),
    "spo2_percent": Range(50, 100, "%"),
    "resp_rate_per_min": Range(4, 60, "/min"),
}


def problem(name: str, value: int) -> str | None:
    """Why ``value`` cannot be a real reading of vital ``name``, or None."""
    bounds = PLAUSIBLE[name]
    if not bounds.low <= value <= bounds.high:
        return f"{value} {bounds.unit} is outside the possible range {bounds.low}–{bounds.high}"
    return None
