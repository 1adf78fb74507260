"""Scoring the validated questionnaires exactly. Pure: answers in, a ``Score`` out.

Exactness: a summed score is an ``int``; a mean is a ``fractions.Fraction`` and never a float, so a
PEG of (6, 6, 7) is exactly 19/3. For display, ``rounded`` gives a 2-place ``Decimal`` (half away
from zero, computed exactly) and ``exact_text`` the fraction in lowest terms ("19/3", or "6" when
whole). ``Score.as_json`` writes sums as JSON integers and means as
``{"exact": "19/3", "rounded": "6.33"}``, both strings, so no reader meets a binary float.

Items are numbered from 1 in messages, as on the paper form; ``loc`` holds the 0-based index into
the answers, FastAPI-style: ``("answers", 2)`` is item 3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TypeAlias

from ketaclinic.errors import InvalidInput
from ketaclinic.instruments.definitions import (
    INSTRUMENTS,
    Aggregate,
    Instrument,
    ScoreRule,
)

Exact: TypeAlias = int | Fraction
DISPLAY_PLACES = 2


class InvalidAnswers(InvalidInput):
    """Answers that cannot be scored. The message names the item; ``loc`` is its index."""


class UnknownInstrument(InvalidInput):
    """An instrument id that is not defined."""


@dataclass(frozen=True)
class NamedScore:
    """One score of an instrument (``total``, or BPI ``severity`` / ``interference``)."""

    name: str
    value: Exact
    loinc: str | None
    answered: int  # how many items went into it (BPI interference may use 4–7)


@dataclass(frozen=True)
class Score:
    """A scored questionnaire. ``band`` is that of the instrument's banded score, if it has one."""

    instrument: str
    answers: tuple[int | None, ...]
    scores: tuple[NamedScore, ...]
    band: str | None
    flags: tuple[str, ...]

    @property
    def total(self) -> Exact | None:
        """The single score of NRS, PEG (its mean), PHQ-9 and GAD-7; None for the BPI."""
        return next((s.value for s in self.scores if s.name == "total"), None)

    def __getitem__(self, name: str) -> Exact:
        for named in self.scores:
            if named.name == name:
                return named.value
        raise KeyError(name)

    def as_json(self) -> dict[str, object]:
        """``{"instrument", "total", "band", "flags"}``; the BPI has ``"scores"``, no total."""
        result: dict[str, object] = {"instrument": self.instrument}
        if [s.name for s in self.scores] == ["total"]:
            result["total"] = _json_value(self.scores[0].value)
        else:
            result["scores"] = {s.name: _json_value(s.value) for s in self.scores}
        result["band"] = self.band
        result["flags"] = list(self.flags)
        return result


def get_instrument(instrument_id: str) -> Instrument:
    try:
        return INSTRUMENTS[instrument_id]
    except KeyError:
        known = ", ".join(INSTRUMENTS)
        raise UnknownInstrument(
            f"unknown instrument {instrument_id!r}; known: {known}", loc=("instrument",)
        ) from None


def score(instrument_id: str, answers: Sequence[int | None]) -> Score:
    """Score ``answers`` (one per item, in the instrument's order; ``None`` = unanswered).

    Raises ``UnknownInstrument`` or ``InvalidAnswers``; never returns a partial score.
    """
    instrument = get_instrument(instrument_id)
    checked = _checked_answers(instrument, answers)
    named = tuple(_apply(rule, instrument, checked) for rule in instrument.scores)
    banded = zip(instrument.scores, named, strict=True)
    band = next((_band(rule, s.value) for rule, s in banded if rule.bands), None)
    flags = tuple(
        flag.name
        for flag in instrument.flags
        if (answer := checked[instrument.item_index(flag.item_id)]) is not None
        and answer >= flag.at_least
    )
    return Score(instrument.id, checked, named, band, flags)


def require_answer_count(instrument: Instrument, count: int) -> None:
    """Refuse a wrong number of answers (one per item, ``None`` included)."""
    if count != len(instrument.items):
        raise InvalidAnswers(
            f"{instrument.name} needs {len(instrument.items)} answers, got {count}",
            loc=("answers",),
        )


def rounded(value: Exact, places: int = DISPLAY_PLACES) -> Decimal:
    """``value`` to ``places`` decimals, half away from zero; exact (no float, no context)."""
    scaled = Fraction(value) * 10**places
    magnitude = math.floor(abs(scaled) + Fraction(1, 2))
    return Decimal(-magnitude if scaled < 0 else magnitude).scaleb(-places)


def exact_text(value: Exact) -> str:
    """Lowest-terms fraction, e.g. "19/3"; a whole value is written as an integer, e.g. "6"."""
    return str(Fraction(value))


def describe(result: Score) -> str:
    """One human line, e.g. "PHQ-9 total 12: moderate; flags: suicide_risk"."""
    instrument = get_instrument(result.instrument)
    parts = ", ".join(f"{s.name} {_human_value(s.value)}" for s in result.scores)
    line = f"{instrument.name} {parts}"
    banded = next((rule for rule in instrument.scores if rule.bands), None)
    if banded is not None and result.band is not None:
        label = next(b.label for b in banded.bands if b.name == result.band)
        line += f": {banded.name} {label}" if len(instrument.scores) > 1 else f": {label}"
        if banded.bands_secondary:
            line += " (band from a secondary source)"
    if result.flags:
        line += "; flags: " + ", ".join(result.flags)
    return line


# --- the work -----------------------------------------------------------------------------------


def _mean(values: Sequence[int]) -> Fraction:
    return Fraction(sum(values), len(values))


def _sum(values: Sequence[int]) -> int:
    return sum(values)


_AGGREGATES: dict[Aggregate, Callable[[Sequence[int]], Exact]] = {"sum": _sum, "mean": _mean}


def _checked_answers(
    instrument: Instrument, answers: Sequence[int | None]
) -> tuple[int | None, ...]:
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise InvalidAnswers(
            f"{instrument.name} answers must be a list of whole numbers", loc=("answers",)
        )
    require_answer_count(instrument, len(answers))
    for index, (item, answer) in enumerate(zip(instrument.items, answers, strict=True)):
        where = f"item {index + 1} ({item.id})"
        if answer is None:
            if not item.optional:
                raise InvalidAnswers(
                    f"{where} is unanswered; {instrument.name} needs it", loc=("answers", index)
                )
            continue
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise InvalidAnswers(
                f"{where}: {answer!r} is not a whole number", loc=("answers", index)
            )
        if not item.scale.low <= answer <= item.scale.high:
            raise InvalidAnswers(
                f"{where}: {answer} is outside {item.scale.low}–{item.scale.high}",
                loc=("answers", index),
            )
    return tuple(answers)


def _apply(rule: ScoreRule, instrument: Instrument, answers: tuple[int | None, ...]) -> NamedScore:
    indices = [instrument.item_index(item_id) for item_id in rule.item_ids]
    given = [a for i in indices if (a := answers[i]) is not None]
    if len(given) < rule.min_answered:
        missing = ", ".join(str(i + 1) for i in indices if answers[i] is None)
        raise InvalidAnswers(
            f"{instrument.name} {rule.name} needs at least {rule.min_answered} of its "
            f"{len(indices)} items answered, got {len(given)} (unanswered: items {missing})",
            loc=("answers",),
        )
    return NamedScore(rule.name, _AGGREGATES[rule.method](given), rule.loinc, len(given))


def _band(rule: ScoreRule, value: Exact) -> str:
    """The last band whose cut point the value reaches (bands are listed from the lowest)."""
    return [band.name for band in rule.bands if value >= band.lowest][-1]


def _json_value(value: Exact) -> object:
    if isinstance(value, int):
        return value
    return {"exact": exact_text(value), "rounded": str(rounded(value))}


def _human_value(value: Exact) -> str:
    if isinstance(value, int):
        return str(value)
    if value.denominator == 1:
        return str(rounded(value))
    return f"{rounded(value)} (exactly {exact_text(value)})"
