"""What every command-line module shares: refusing bad input with exit code 2, and settings."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from ketaclinic.config import Settings

err = Console(stderr=True, soft_wrap=True)


def refuse(message: str) -> NoReturn:
    """Bad input: say why on stderr and exit 2."""
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(2)


def load_settings() -> Settings:
    """The settings from the environment; a bad one exits 2 naming its variable."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        where = f"KETACLINIC_{str(first['loc'][0]).upper()}" if first["loc"] else "settings"
        refuse(f"setting {where}: {first['msg']}")
