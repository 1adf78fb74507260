"""Generated requests against the OpenAPI schema never get a 500 (schemathesis)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from ketaclinic.accounts.core import Role
from tests.conftest import Person, patient_body, token_for


@pytest.fixture
def fuzz_target(
    app: FastAPI, client: TestClient, make_person: Callable[..., Person]
) -> tuple[FastAPI, dict[str, str]]:
    headers = token_for(client, make_person(Role.PHYSICIAN))
    client.post("/api/v1/patients", json=patient_body(), headers=headers)
    return app, headers


def test_no_generated_request_gets_a_server_error(
    fuzz_target: tuple[FastAPI, dict[str, str]],
) -> None:
    app, headers = fuzz_target
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    assert failures == []
