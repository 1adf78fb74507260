"""DESIGN §2: pure modules (every domain's ``core.py``, the labels and indications tables, the
alert rules) import nothing from the web or the database, so they can be tested and reused alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ketaclinic"
#: Import prefixes a pure module must not use.
IMPURE = ("ketaclinic.web", "sqlalchemy", "fastapi", "starlette", "jinja2", "alembic")
NAMED = (
    "labels.py",
    "indications.py",
    "monitoring/alerts.py",
    "interop/hl7_core.py",
    "interop/device_codes.py",
    "interop/fhir_search.py",
    "interop/fhir_checks.py",
)
#: Domains with a core.py today; a new one must be counted here (so the walk cannot go empty).
CORE_MODULES = 15


def pure_modules() -> list[Path]:
    return sorted(SRC.glob("*/core.py")) + [SRC / name for name in NAMED]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_walk_finds_every_pure_module() -> None:
    found = pure_modules()
    assert len(found) == CORE_MODULES + len(NAMED)
    assert all(path.is_file() for path in found)


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_a_pure_module_imports_nothing_from_the_web_or_the_database(path: Path) -> None:
    bad = sorted(n for n in imported(path) if n.startswith(IMPURE))
    assert bad == [], f"{path.relative_to(SRC)} imports {bad}"
