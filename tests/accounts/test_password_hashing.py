"""The password hasher the application ships with. The other tests hash with argon2id at its
smallest cost (tests/conftest.py, ``TEST_HASHER``) to stay fast; this one checks what production
uses, and hashes with it."""

from __future__ import annotations

import pytest
from argon2 import Type, extract_parameters, profiles

from ketaclinic.accounts import security
from tests.conftest import PRODUCTION_HASHER, TEST_HASHER

#: RFC 9106 section 4, the second recommended option (64 MiB of memory, three passes), which
#: argon2-cffi names its low-memory profile.
EXPECTED = profiles.RFC_9106_LOW_MEMORY


def test_the_shipped_hasher_is_argon2id_with_the_rfc_9106_low_memory_profile() -> None:
    shipped = PRODUCTION_HASHER
    assert EXPECTED.type is Type.ID
    assert (shipped.type, shipped.time_cost, shipped.memory_cost, shipped.parallelism) == (
        EXPECTED.type,
        EXPECTED.time_cost,
        EXPECTED.memory_cost,
        EXPECTED.parallelism,
    )
    assert (shipped.hash_len, shipped.salt_len) == (EXPECTED.hash_len, EXPECTED.salt_len)


def test_a_password_hashed_in_production_carries_those_parameters_and_verifies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(security, "_hasher", PRODUCTION_HASHER)
    stored = security.hash_password("correct horse battery")
    assert extract_parameters(stored) == EXPECTED
    assert security.verify_password(stored, "correct horse battery")
    assert not security.verify_password(stored, "correct horse batterz")


def test_the_tests_hash_with_a_cheaper_hasher_than_production() -> None:
    """So that the suite's speed does not depend on production's cost, and production's cost
    is never lowered to make the suite fast."""
    assert security._hasher is TEST_HASHER
    assert TEST_HASHER.memory_cost < PRODUCTION_HASHER.memory_cost
    assert extract_parameters(security.hash_password("x")).memory_cost == TEST_HASHER.memory_cost
