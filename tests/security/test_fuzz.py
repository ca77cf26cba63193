"""Fuzzing the daemon: from its own OpenAPI document, and with arbitrary bodies.

The OpenAPI run drives the real daemon process (every endpoint but shutdown,
with the admin token); the body and byte runs drive the same app in-process.
Whatever arrives, the daemon answers below 500 (the mock provider never fails
unless told to), in its error shape, and keeps serving. Example counts are
bounded so the suite stays fast on two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmp.core.state import DaemonState, is_alive
from tests.support.gateway import Gateway

pytestmark = pytest.mark.timeout(240)
MOCK = """
providers:
  mock:
    type: mock
    models: [mock-1]
"""


@pytest.fixture
def gateway(make_gateway) -> Gateway:
    return make_gateway(MOCK)


@pytest.fixture
def daemon(start_daemon) -> Iterator[DaemonState]:
    """The real daemon process; after the fuzzing it must still be alive and well."""
    state = start_daemon(MOCK)
    yield state
    assert is_alive(state)
    status = httpx.get(state.base_url + "/admin/status", headers=admin_headers(state)).json()
    assert status["running"] is True and status["in_flight"] == 0 and status["requests"] > 0


def admin_headers(state: DaemonState) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.token}"}


@pytest.fixture
def api_schema(daemon: DaemonState):
    return schemathesis.openapi.from_url(daemon.base_url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/admin/shutdown")


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_operations_never_fail_on_the_daemons_side(case, daemon: DaemonState) -> None:
    # With the admin token, so the admin endpoints are exercised rather than refused.
    response = case.call(headers=admin_headers(daemon), timeout=10)
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"
    if response.status_code >= 400 and case.path.startswith("/v1"):
        assert set(response.json()["error"]) >= {"message", "type"}


def test_the_document_lists_every_endpoint(gateway: Gateway) -> None:
    served = {(route.method, route.resource.canonical) for route in gateway.server.app.router.routes()
              if route.method not in ("HEAD", "*") and route.resource is not None}  # "*": no route's
    document = httpx.get(gateway.url + "/openapi.json").json()
    listed = {(method.upper(), path) for path, operations in document["paths"].items()
              for method in operations}
    assert served == listed


JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.text(max_size=20)
               | st.floats(allow_nan=False, allow_infinity=False))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
ROLES = st.sampled_from(["user", "system", "assistant", "tool", "developer", "wizard"])
MESSAGES = st.lists(st.fixed_dictionaries({"role": ROLES}, optional={"content": JSON_VALUES}), max_size=3)
CHAT_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["mock-1", "mock/mock-1", "", "nope"]) | JSON_LEAVES,
        "messages": MESSAGES | JSON_VALUES,
        "stream": st.booleans() | JSON_LEAVES,
        "n": st.integers(min_value=-5, max_value=200) | JSON_LEAVES,
        "max_tokens": JSON_LEAVES,
        "temperature": JSON_LEAVES,
        "tools": JSON_VALUES,
        "stream_options": JSON_VALUES,
    },
)


def fuzz_bodies(gateway: Gateway, path: str, bodies: st.SearchStrategy[dict], examples: int,
                answered: Callable[[dict, httpx.Response], None] | None = None) -> None:
    """Post each generated body: an answer, or a 4xx in OpenAI's shape naming the problem."""
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies)
        def check(body: dict) -> None:
            response = client.post(path, json=body)
            assert response.status_code in (200, 400, 404), response.text
            if response.status_code != 200:
                assert response.json()["error"]["message"]
            elif answered is not None:
                answered(body, response)

        check()


def test_arbitrary_chat_bodies(gateway: Gateway) -> None:
    fuzz_bodies(gateway, "/chat/completions", CHAT_BODIES, 100)


ITEM_TYPES = st.sampled_from(
    ["message", "function_call", "function_call_output", "reasoning", "web_search_call"])
PARTS = st.lists(st.fixed_dictionaries({"type": st.sampled_from(
    ["input_text", "output_text", "input_image", "input_file", "refusal", "nope"])},
    optional={"text": JSON_LEAVES, "image_url": JSON_LEAVES, "file_data": JSON_LEAVES}), max_size=3)
ITEMS = st.lists(st.fixed_dictionaries({}, optional={
    "type": ITEM_TYPES | JSON_LEAVES, "role": ROLES | JSON_LEAVES, "content": PARTS | JSON_VALUES,
    "call_id": JSON_LEAVES, "name": JSON_LEAVES, "arguments": JSON_LEAVES, "output": JSON_VALUES,
    "namespace": JSON_LEAVES}), max_size=4)
TOOLS = st.lists(st.fixed_dictionaries({"type": st.sampled_from(
    ["function", "namespace", "web_search", "custom"]) | JSON_LEAVES}, optional={
    "name": JSON_LEAVES, "parameters": JSON_VALUES, "tools": JSON_VALUES}), max_size=3)
RESPONSES_BODIES = st.fixed_dictionaries(
    {"model": st.sampled_from(["mock-1", "mock/mock-1"]) | JSON_LEAVES},
    optional={
        "input": ITEMS | JSON_VALUES, "instructions": JSON_LEAVES, "tools": TOOLS | JSON_VALUES,
        "tool_choice": JSON_VALUES, "stream": st.booleans(), "text": JSON_VALUES,
        "reasoning": JSON_VALUES, "max_output_tokens": JSON_LEAVES, "store": JSON_LEAVES,
        "previous_response_id": JSON_LEAVES,
    },
)


def test_arbitrary_responses_bodies(gateway: Gateway) -> None:
    def answered(body: dict, response: httpx.Response) -> None:
        if body.get("stream"):
            assert b"event: response.completed" in response.content, response.text
        else:
            assert response.json()["object"] == "response"

    fuzz_bodies(gateway, "/responses", RESPONSES_BODIES, 150, answered)


def test_arbitrary_bytes(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
        def check(raw: bytes) -> None:
            for path in ("/chat/completions", "/embeddings", "/completions", "/responses"):
                response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
                assert 400 <= response.status_code < 500, response.text
                assert response.json()["error"]["type"] == "invalid_request_error"

        check()
        answer = gateway.openai().chat.completions.create(
            model="mock-1", messages=[{"role": "user", "content": "alive"}])
        assert answer.choices[0].message.content == "alive"
