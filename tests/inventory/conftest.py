"""The inventory tests' shared fixture: a clinic with ketamine on its shelf."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Person
from tests.infusions.test_api import Team
from tests.inventory.helpers import Stock


@pytest.fixture
def stock(client: TestClient, make_person: Callable[..., Person]) -> Stock:
    return Stock(Team(client, make_person), make_person)
