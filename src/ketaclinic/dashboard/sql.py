"""SQL helpers shared by the dashboard's queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CTE, Select


def materialized(query: Select[Any], name: str) -> CTE:
    """``query`` as a CTE the database computes once (``AS MATERIALIZED``: PostgreSQL 12+,
    SQLite 3.35+).

    Both engines otherwise inline a subquery into the outer query, copying each correlated
    subquery in it to every place the outer query names its column: the overdue list's latest
    scores were looked up 14 times per patient, and the chair time's check-in and discharge
    three times per session (EXPLAIN on both engines, bench/pages_bench.py data)."""
    return query.cte(name).prefix_with("MATERIALIZED")
