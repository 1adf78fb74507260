"""``ketaclinic score INSTRUMENT --answers 1,0,2,...``: score a questionnaire from the command line.

Prints one human line, or with ``--json`` exactly ``{"instrument", "total", "band", "flags"}``
(the BPI has ``"scores": {"severity", "interference"}`` instead of ``"total"``). Summed scores are
JSON integers; means are ``{"exact": "19/3", "rounded": "6.33"}`` (strings: the lowest-terms
fraction, and the value half-up to 2 places). Bad input exits 2 with the reason on stderr.

The command is registered under the name ``score``, so the main app mounts it with
``app.add_typer(score_app)`` (no name: Typer then adds the command itself, not a group holding it).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from ketaclinic.errors import InvalidInput
from ketaclinic.instruments.core import (
    InvalidAnswers,
    describe,
    get_instrument,
    require_answer_count,
    score,
)
from ketaclinic.instruments.definitions import Instrument

app = typer.Typer(add_completion=False)
err = Console(stderr=True)
out = Console()

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def refuse(message: str) -> NoReturn:
    """Bad input: one line on stderr, exit 2."""
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def parse_answers(instrument: Instrument, text: str) -> list[int | None]:
    """Comma-separated whole numbers; an empty entry is an unanswered item (``None``)."""
    entries = [part.strip() for part in text.split(",")]
    require_answer_count(instrument, len(entries))
    answers: list[int | None] = []
    for index, (item, entry) in enumerate(zip(instrument.items, entries, strict=True)):
        if not entry:
            answers.append(None)
        elif _WHOLE_NUMBER.fullmatch(entry):
            answers.append(int(entry))
        else:
            raise InvalidAnswers(
                f"item {index + 1} ({item.id}): {entry!r} is not a whole number",
                loc=("answers", index),
            )
    return answers


@app.command("score")
def score_command(
    instrument: Annotated[str, typer.Argument(help="nrs, peg, phq9, gad7 or bpi_sf.")],
    answers: Annotated[
        str,
        typer.Option(
            help="Answers in item order, comma-separated; leave an entry empty for an "
            "unanswered BPI interference item (e.g. 5,3,4,4,,2,3,,1,,6)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON.")] = False,
) -> None:
    """Score a questionnaire (NRS, PEG, PHQ-9, GAD-7, BPI short form) exactly."""
    try:
        result = score(instrument, parse_answers(get_instrument(instrument), answers))
    except InvalidInput as error:
        refuse(error.msg)
    if as_json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        out.print(describe(result), markup=False, highlight=False, soft_wrap=True)
