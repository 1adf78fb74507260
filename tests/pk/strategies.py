"""Hypothesis strategies for the PK tests: doses as a pump or a chart holds them."""

from __future__ import annotations

from hypothesis import strategies as st

from ketaclinic.pk.models import MODELS
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule


def _grains(high: float, grain: float) -> st.SearchStrategy[float]:
    """Numbers as a pump or a chart holds them: whole multiples of ``grain`` up to ``high``."""
    return st.integers(0, round(high / grain)).map(lambda n: n * grain)


minutes = _grains(300.0, 0.001)
boluses = st.builds(Bolus, at_min=minutes, mg=_grains(100.0, 0.01))
infusions = st.builds(
    lambda start, length, rate: Infusion(start, start + length, rate),
    start=minutes,
    length=_grains(240.0, 0.01).map(lambda x: x + 0.01),
    rate=_grains(500.0, 0.01),
)
schedules = st.lists(st.one_of(boluses, infusions), min_size=1, max_size=6).map(Schedule.of)
model_keys = st.sampled_from(sorted(MODELS))
weights_kg = st.floats(min_value=30.0, max_value=300.0)
