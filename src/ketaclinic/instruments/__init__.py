"""Validated questionnaires (NRS, PEG, PHQ-9, GAD-7, BPI-SF) as data, scored exactly."""

from ketaclinic.instruments.core import (
    Exact,
    InvalidAnswers,
    NamedScore,
    Score,
    UnknownInstrument,
    describe,
    exact_text,
    get_instrument,
    require_answer_count,
    rounded,
    score,
)
from ketaclinic.instruments.definitions import INSTRUMENTS, Instrument

__all__ = [
    "INSTRUMENTS",
    "Exact",
    "Instrument",
    "InvalidAnswers",
    "NamedScore",
    "Score",
    "UnknownInstrument",
    "describe",
    "exact_text",
    "get_instrument",
    "require_answer_count",
    "rounded",
    "score",
]
