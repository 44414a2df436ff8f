"""No input gets a 5xx (docs/security.md, HTTP input limits): schemathesis generates requests from
Cumulocity's own OpenAPI specification (cumulocity-openapi-10.15.0.json beside this file) for every operation
Tether implements, and every answer must be below 500, on both storage backends.

An operation counts as implemented when an unauthenticated call answers anything but 404 or 405 (Tether
asks for credentials before it looks anything up). Each gets a bounded number of examples (derandomized, so
a run is repeatable), valid ones and, in schemathesis' negative mode, ones that break the schema (wrong types,
values out of range); every 5xx is collected and reported together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from tests.support import ADMIN_PASSWORD, ServerThread

SPEC = Path(__file__).with_name("cumulocity-openapi-10.15.0.json")
# Per operation and mode, ~90 operations x 2 modes: the embedded default gets 25; PostgreSQL the first 12 of
# the same derandomized cases (the boundaries, where its own refusals, e.g. of integer range, show), which
# keeps the two passes near three minutes here.
EXAMPLES = {"sqlite": 25, "postgresql": 12}


def _sample_path(template: str) -> str:
    """A concrete path for probing a path template: every `{parameter}` becomes `1`."""
    out, depth = [], 0
    for char in template:
        if char == "{":
            depth += 1
            if depth == 1:
                out.append("1")
        elif char == "}":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def implemented(server: ServerThread, operations: list[Any]) -> list[Any]:
    found = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for operation in operations:
            path = _sample_path(operation.path).split("?", 1)[0]
            status = client.request(operation.method.upper(), path).status_code
            if status not in (404, 405):
                found.append(operation)
    return found


def test_no_server_errors_for_the_cumulocity_spec(
    server: ServerThread, request: pytest.FixtureRequest
) -> None:
    examples = EXAMPLES[request.node.callspec.params["server"]]
    schema = schemathesis.openapi.from_path(SPEC)
    operations = [result.ok() for result in schema.get_all_operations() if hasattr(result, "ok")]
    chosen = implemented(server, operations)
    assert len(chosen) >= 40, [f"{o.method} {o.path}" for o in chosen]  # the spec and the probe still meet
    session = requests.Session()
    session.auth = ("t1/admin", ADMIN_PASSWORD)
    failures: list[str] = []

    for mode, operation in [(m, o) for m in GenerationMode for o in chosen]:

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.url, session=session, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.200} -> "
                    f"{response.status_code} {response.text[:200]}"
                )

        check()
    assert not failures, "\n".join(failures[:20])
