"""Shared path parameters: record ids are positive and fit a 32-bit database integer, so a huge
number is a 422 rather than an overflow deep in the database driver."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2_147_483_647

RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="A record id")]
