"""One failing model never silences its provider, and no request waits silently for long.

A failure answered for one model (5xx, 404, a 429 for that deployment) counts
against that deployment alone; the provider's own circuit opens on evidence
about the provider (connections refused, auth, failures spread over two of its
models). When every target is held back the request waits for a probe only
up to `routing.max_wait`, else is answered at once with what is blocked, why,
and when it is retried.
"""

from __future__ import annotations

import json

import httpx
from aiohttp import web

from tests.daemon.routing_support import COMPLETION, MODELS_LIST, closed_port_url
from tests.support.clock import ManualClock
from tests.support.fake_upstream import Behaviour, FakeUpstream, fail, reply
from tests.support.gateway import Gateway

ISOLATION = """
retry: {attempts: 2, backoff: 0.1, max_backoff: 4}
circuit_breaker: {failure_threshold: 3, window: 60, recovery_time: 30, half_open_requests: 1}
health_check: {enabled: false}
"""


def per_model(failures: dict[str, Behaviour]) -> Behaviour:
    """An OpenAI upstream whose answer depends on the model asked for."""

    async def behaviour(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return await reply(MODELS_LIST)(request)
        body = await request.json()
        special = failures.get(body.get("model"))
        if special is not None:
            return await special(request)
        return await reply({**COMPLETION, "model": body.get("model")})(request)

    return behaviour


DEFAULTS = "".join(f"  {line}\n" for line in ISOLATION.strip().splitlines())


def config(url: str, *, routing: str = "", extra_models: str = "") -> str:
    return (f"routing: {{{routing}}}\n" if routing else "") + f"""
defaults:
{DEFAULTS}
providers:
  up:
    type: openai
    base_url: {url}/v1
    api_key: none
    models: [gpt-4o, fail-500, other-500{extra_models}]
"""


def chat(gateway: Gateway, model: str) -> httpx.Response:
    return httpx.post(gateway.base_url + "/chat/completions", timeout=30,
                      json={"model": model, "messages": [{"role": "user", "content": "x"}]})


def health(gateway: Gateway) -> dict:
    answer = httpx.get(gateway.url + "/admin/providers/health", headers=gateway.admin_headers())
    provider = answer.json()["providers"][0]
    return {"provider": provider["circuit"]["state"],
            **{d["model"]: d["circuit"]["state"] for d in provider["deployments"]}}


def test_a_model_failing_opens_its_own_circuit_not_the_providers(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(per_model({"fail-500": fail(500)}))
    clock = ManualClock()
    gateway = make_gateway(config(upstream.url), clock=clock, sleeper=clock.skip)
    for _ in range(3):
        assert chat(gateway, "up/fail-500").status_code in (500, 503)
    states = health(gateway)
    assert states["fail-500"] == "open"
    assert states["provider"] == "closed"

    waited = len(clock.slept)
    answer = chat(gateway, "up/gpt-4o")
    assert answer.status_code == 200
    assert answer.json()["model"] == "gpt-4o"
    assert len(clock.slept) == waited  # served at once: no wait for a probe, no backoff


def test_failures_spread_over_two_models_open_the_provider(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(per_model({"fail-500": fail(500), "other-500": fail(500)}))
    clock = ManualClock()
    gateway = make_gateway(config(upstream.url), clock=clock, sleeper=clock.skip)
    chat(gateway, "up/fail-500")  # three failures of one model: its own circuit only
    assert health(gateway)["provider"] == "closed"
    chat(gateway, "up/other-500")  # and now a second model fails: the provider is the problem
    assert health(gateway)["provider"] == "open"


def test_refused_connections_open_the_provider(make_gateway) -> None:
    clock = ManualClock()
    gateway = make_gateway(config(closed_port_url()), clock=clock, sleeper=clock.skip)
    assert chat(gateway, "up/gpt-4o").status_code == 502
    assert health(gateway)["provider"] == "open"


def rate_limited(make_gateway, make_upstream, message: str) -> tuple[Gateway, FakeUpstream]:
    """A gateway whose upstream has just answered `up/fail-500` with a 429 (Retry-After: 20)."""
    limited = fail(429, {"error": {"message": message, "type": "rate_limit_error", "param": None,
                                   "code": "rate_limit_exceeded"}}, {"Retry-After": "20"})
    upstream = make_upstream().always(per_model({"fail-500": limited}))
    clock = ManualClock()
    gateway = make_gateway(config(upstream.url, routing="max_wait: 0"),
                           clock=clock, sleeper=clock.skip)
    assert chat(gateway, "up/fail-500").status_code == 429
    return gateway, upstream


def test_retry_after_blocks_the_deployment_not_the_provider(make_gateway, make_upstream) -> None:
    gateway, upstream = rate_limited(make_gateway, make_upstream,
                                     "Rate limit reached for fail-500 on requests per min")
    calls = upstream.count("/chat/completions")
    held = chat(gateway, "up/fail-500")  # held back locally: the upstream is not asked again
    assert held.status_code == 429 and upstream.count("/chat/completions") == calls
    assert int(held.headers["Retry-After"]) == 20
    assert chat(gateway, "up/gpt-4o").status_code == 200


def test_an_account_wide_limit_blocks_the_whole_provider(make_gateway, make_upstream) -> None:
    gateway, upstream = rate_limited(make_gateway, make_upstream,
                                     "Your account has exceeded its rate limit")
    calls = upstream.count("/chat/completions")
    assert chat(gateway, "up/gpt-4o").status_code == 429
    assert upstream.count("/chat/completions") == calls


def test_every_target_blocked_answers_at_once_naming_each(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(per_model({"fail-500": fail(500), "other-500": fail(500)}))
    clock = ManualClock()
    gateway = make_gateway(config(upstream.url) + """
models:
  both:
    strategy: fallback
    targets: [up/fail-500, up/other-500]
""", clock=clock, sleeper=clock.skip)
    chat(gateway, "up/fail-500")
    clock.advance(1)
    held = chat(gateway, "both")
    assert held.status_code == 503
    # the circuit recovers in 29-30 s, past routing.max_wait (5 s by default): no wait at all
    assert not any(s >= 5 for s in clock.slept)
    message = held.json()["error"]["message"]
    assert "up/fail-500" in message and "up/other-500" in message
    assert "circuit open" in message and "retried in" in message
    assert 1 <= int(held.headers["Retry-After"]) <= 30


def test_a_probe_within_max_wait_is_waited_for(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(per_model({"fail-500": fail(500)}))
    clock = ManualClock()
    gateway = make_gateway(config(upstream.url, routing="max_wait: 40"),
                           clock=clock, sleeper=clock.skip)
    chat(gateway, "up/fail-500")
    upstream.always(per_model({}))
    answer = chat(gateway, "up/fail-500")  # the probe is due in 30 s, within max_wait
    assert answer.status_code == 200
    assert any(s >= 29 for s in clock.slept)


def test_max_wait_zero_never_waits(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(per_model({"fail-500": fail(500)}))
    clock = ManualClock()
    gateway = make_gateway(config(upstream.url, routing="max_wait: 0"),
                           clock=clock, sleeper=clock.skip)
    chat(gateway, "up/fail-500")
    clock.advance(29.5)
    slept = len(clock.slept)
    held = chat(gateway, "up/fail-500")
    assert held.status_code == 503 and len(clock.slept) == slept
    assert held.headers["Retry-After"] == "1"


def test_anthropic_client_hears_blocked_targets_in_its_own_shape(make_gateway, make_upstream) -> None:
    upstream = make_upstream().always(per_model({"fail-500": fail(500)}))
    clock = ManualClock()
    gateway = make_gateway(config(upstream.url), clock=clock, sleeper=clock.skip)
    chat(gateway, "up/fail-500")
    held = httpx.post(gateway.url + "/v1/messages", json={
        "model": "up/fail-500", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    assert held.status_code == 503
    body = held.json()
    assert body["type"] == "error" and "up/fail-500" in body["error"]["message"]
    assert "Retry-After" in held.headers


def test_a_client_mistake_never_counts_against_health(make_gateway, make_upstream) -> None:
    upstream = make_upstream()
    gateway = make_gateway(f"""
defaults:
  health_check: {{enabled: false}}
  circuit_breaker: {{failure_threshold: 2}}
providers:
  ant:
    type: anthropic
    base_url: {upstream.url}
    api_key: sk-ant-test
    models: [claude-x]
""")
    for _ in range(3):
        answer = httpx.post(gateway.base_url + "/embeddings",
                            json={"model": "ant/claude-x", "input": "hello"})
        assert answer.status_code == 400
        assert "does not support embeddings" in answer.json()["error"]["message"]
    report = httpx.get(gateway.url + "/admin/providers/health",
                       headers=gateway.admin_headers()).json()["providers"][0]
    assert report["circuit"]["state"] == "closed"
    assert report["state"] == "unknown", json.dumps(report)
    deployment = report["deployments"][0]
    assert deployment["circuit"]["state"] == "closed"
    assert deployment["error_rate_5m"] is None and deployment["last_error"] is None
    assert upstream.requests == []
