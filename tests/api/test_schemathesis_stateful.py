"""The API as sequences of calls: schemathesis follows the OpenAPI links from a creation to
the new record's read, change and deletion (its state machine), on SQLite and PostgreSQL; no
step answers a 5xx and every answer is as documented."""
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.generation.modes import GenerationMode

from app.extensions import db, limiter
from tests.api.test_schemathesis import CHECKS, _document

STEPS = 6
SCENARIOS = 25  # per backend: a few seconds, enough to create, read, change and delete

# The record collections a client chains calls on; the other operations have their
# stateless test.
schema = schemathesis.openapi.from_dict(_document()).include(
    path_regex=r"^/api/v1/(partners|accounts|contacts|deals|invoices)(/\{record_id\})?$")
# Valid requests only: the scenarios are about what follows a creation (the stateless test
# already sends invalid input to every operation).
schema.config.generation.update(modes=[GenerationMode.POSITIVE])


def test_links_lead_from_each_creation_to_the_record(app: Flask) -> None:
    document = _document()
    created = document["paths"]["/api/v1/invoices"]["post"]["responses"]["201"]
    assert set(created["links"]) == {"GetCreated", "ChangeCreated", "DeleteCreated"}


CALLS: list[tuple[str, str, int]] = []
KEPT = {"tenants", "users", "api_tokens", "alembic_version"}


def _forget_records() -> None:
    db.session.rollback()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in KEPT:
                conn.execute(table.delete())


@pytest.fixture
def state_machine(app: Flask, make_token: Any, queued_jobs: list) -> type:
    _token, secret = make_token(name="schemathesis-stateful")
    headers = {"Authorization": f"Bearer {secret}"}
    CALLS.clear()

    class APIWorkflows(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Each scenario starts from the same state, so that Hypothesis can replay it.
            _forget_records()
            limiter.reset()

        def before_call(self, case: Any) -> None:
            # Custom-field keys are the tenant's own: random ones are always refused.
            if isinstance(case.body, dict):
                case.body.pop("custom", None)

        def call(self, case: Any, **kwargs: Any) -> Any:
            response = case.call(app=app, headers=headers, **kwargs)
            CALLS.append((case.method.upper(), case.path, response.status_code))
            return response

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    return APIWorkflows


def test_sequences_of_calls_answer_as_documented(state_machine: type) -> None:
    state_machine.run(settings=settings(
        max_examples=SCENARIOS, stateful_step_count=STEPS, deadline=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    # The links were followed: some record created was then read, changed or deleted by id.
    followed = {method for method, path, status in CALLS
                if path.endswith("{record_id}") and status < 300}
    assert any(status == 201 for _m, _p, status in CALLS)
    assert followed & {"GET", "PATCH", "DELETE"}, CALLS[:20]
