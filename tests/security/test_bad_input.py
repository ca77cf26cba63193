"""Bad input gets a 4xx in the client's wire format naming the parameter, and hurts nothing."""

from __future__ import annotations

import httpx
import pytest

MOCK = """
providers:
  mock:
    type: mock
    models: [mock-1]
server:
  limits: {max_body_bytes: 2000000}
"""
OK_MESSAGES = '[{"role": "user", "content": "hi"}]'


def chat(extra: str = "", messages: str = OK_MESSAGES, model: str = '"mock-1"') -> bytes:
    return f'{{"model": {model}, "messages": {messages}{extra}}}'.encode()


CHAT_CASES = [
    (b'{"model": "mock-1", "messages": [', 400, None, "not valid JSON"),
    (b"", 400, None, "empty"),
    (b"[1, 2]", 400, None, "JSON object"),
    (b'{"model": "mock-1", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400, None, "UTF-8"),
    (chat(', "temperature": 1e400'), 400, None, "not valid JSON"),
    (chat(messages='[{"role": "user", "content": "\\ud800"}]'), 400, None, "not valid JSON"),
    (chat(model="5"), 400, "model", "non-empty string"),
    (chat(model='""'), 400, "model", "non-empty string"),
    (chat(model='"' + "m" * 1_000_000 + '"'), 400, "model", "at most 512 characters"),
    (b'{"model": "mock-1"}', 400, "messages", "non-empty array"),
    (chat(messages="[]"), 400, "messages", "non-empty array"),
    (chat(messages='"hi"'), 400, "messages", "non-empty array"),
    (chat(messages="[5]"), 400, "messages[0]", "object"),
    (chat(messages='[{"role": "wizard", "content": "hi"}]'), 400, "messages[0].role", "wizard"),
    (chat(messages='[{"content": "hi"}]'), 400, "messages[0].role", "None"),
    (chat(messages='[{"role": "user", "content": 5}]'), 400, "messages[0].content", "string"),
    (chat(messages='[{"role": "user", "content": [{"text": "x"}]}]'), 400, "messages[0].content[0]",
     "'type'"),
    (chat(messages='[{"role": "user", "content": "x", "name": 7}]'), 400, "messages[0].name", "string"),
    (chat(', "max_tokens": 1e30'), 400, "max_tokens", "integer"),
    (chat(', "n": 123456789012345678901234567890'), 400, "n", "integer"),
    (chat(', "n": true'), 400, "n", "integer"),
    (chat(', "temperature": 5'), 400, "temperature", "from 0 to 2"),
    (chat(', "temperature": "hot"'), 400, "temperature", "number"),
    (chat(', "stream": "yes"'), 400, "stream", "boolean"),
    (chat(', "stream": 1'), 400, "stream", "boolean"),
    (chat(', "stream_options": "x"'), 400, "stream_options", "object"),
    (chat(', "tools": {}'), 400, "tools", "array"),
    (chat(', "stop": 5'), 400, "stop", "string or an array"),
    (chat(', "seed": 1e3'), 400, "seed", "integer"),
    (chat(', "response_format": "json"'), 400, "response_format", "object"),
    (chat(model='"no-such-model"'), 404, "model", "does not exist"),
    (chat(', "padding": "' + "x" * 2_000_001 + '"'), 413, None, "too large"),
]


@pytest.fixture
def gateway(make_gateway):
    return make_gateway(MOCK)


@pytest.mark.parametrize(("body", "status", "param", "fragment"), CHAT_CASES,
                         ids=[str(i) for i in range(len(CHAT_CASES))])
def test_bad_chat_requests(gateway, body: bytes, status: int, param: str | None, fragment: str) -> None:
    response = httpx.post(gateway.base_url + "/chat/completions", content=body,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param
    assert fragment in error["message"]


@pytest.mark.parametrize(("path", "body", "param"), [
    ("/embeddings", {"model": "mock-1", "input": ""}, "input"),
    ("/embeddings", {"model": "mock-1", "input": 5}, "input"),
    ("/embeddings", {"model": "mock-1", "input": "x", "stream": True}, "stream"),
    ("/embeddings", {"model": "mock-1", "input": "x", "dimensions": 0}, "dimensions"),
    ("/completions", {"model": "mock-1", "prompt": 5}, "prompt"),
    ("/completions", {"model": "mock-1", "prompt": "x", "stream": "no"}, "stream"),
    ("/completions", {"model": "mock-1", "prompt": "x", "stop": True}, "stop"),
    ("/completions", {"model": "mock-1", "prompt": "x", "n": 0}, "n"),
    ("/completions", {"model": "mock-1", "prompt": "x", "top_p": "high"}, "top_p"),
])
def test_bad_other_requests(gateway, path: str, body: dict, param: str) -> None:
    response = httpx.post(gateway.base_url + path, json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def message(extra: str = "", messages: str = OK_MESSAGES, model: str = '"mock-1"',
            max_tokens: str = ', "max_tokens": 5') -> bytes:
    return f'{{"model": {model}, "messages": {messages}{max_tokens}{extra}}}'.encode()


# Anthropic's errors have no `param`: the message names the field, as Anthropic's own do.
MESSAGES_CASES = [
    (b'{"model": "mock-1", "messages": [', 400, "not valid JSON"),
    (b"", 400, "empty"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"model": "mock-1", "max_tokens": 5, "messages": [{"role": "user", "content": "\xff"}]}', 400,
     "UTF-8"),
    (message(', "temperature": 1e400'), 400, "not valid JSON"),
    (message(model="5"), 400, "'model'"),
    (message(model='"' + "m" * 1_000_000 + '"'), 400, "'model' must be at most 512"),
    (message(messages="[]"), 400, "messages: must be a non-empty array"),
    (message(messages='"hi"'), 400, "messages: must be a non-empty array"),
    (message(messages="[5]"), 400, "messages.0: must be an object"),
    (message(max_tokens=""), 400, "max_tokens: Field required"),
    (message(max_tokens=', "max_tokens": "5"'), 400, "'max_tokens'"),
    (message(max_tokens=', "max_tokens": 123456789012345678901234567890'), 400, "'max_tokens'"),
    (message(messages='[{"role": "wizard", "content": "hi"}]'), 400, "messages.0.role"),
    (message(messages='[{"role": "user"}]'), 400, "messages.0.content"),
    (message(messages='[{"role": "user", "content": 5}]'), 400, "messages.0.content"),
    (message(messages='[{"role": "user", "content": [{"text": "x"}]}]'), 400, "messages.0.content.0"),
    (message(messages='[{"role": "user", "content": [{"type": "text", "text": 5}]}]'), 400,
     "messages.0.content.0.text"),
    (message(', "stream": "yes"'), 400, "'stream' must be a boolean"),
    (message(', "temperature": 3'), 400, "'temperature'"),
    (message(', "top_k": 1e30'), 400, "'top_k'"),
    (message(', "stop_sequences": "x"'), 400, "stop_sequences"),
    (message(', "tools": {}'), 400, "tools"),
    (message(', "tool_choice": {"type": []}'), 400, "tool_choice"),
    (message(', "system": 5'), 400, "system"),
    (message(', "metadata": []'), 400, "metadata"),
    (message(model='"no-such-model"'), 404, "does not exist"),
    (message(', "padding": "' + "x" * 2_000_001 + '"'), 413, "too large"),
]


@pytest.mark.parametrize(("body", "status", "fragment"), MESSAGES_CASES,
                         ids=[str(i) for i in range(len(MESSAGES_CASES))])
def test_bad_anthropic_requests(gateway, body: bytes, status: int, fragment: str) -> None:
    response = httpx.post(gateway.url + "/v1/messages", content=body,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["type"] == "error" and set(answer["error"]) == {"type", "message"}
    assert fragment in answer["error"]["message"]


def test_bad_input_leaves_the_daemon_whole(gateway) -> None:
    for body, *_ in CHAT_CASES:
        httpx.post(gateway.base_url + "/chat/completions", content=body)
    for body, *_ in MESSAGES_CASES:
        httpx.post(gateway.url + "/v1/messages", content=body)
    status = httpx.get(gateway.url + "/admin/status", headers=gateway.admin_headers()).json()
    assert status["requests"] == len(CHAT_CASES) + len(MESSAGES_CASES)  # each refusal counts too
    assert status["in_flight"] == 0
    answer = gateway.openai().chat.completions.create(
        model="mock-1", messages=[{"role": "user", "content": "still here"}])
    assert answer.choices[0].message.content == "still here"
    reply = gateway.anthropic().messages.create(
        model="mock-1", max_tokens=5, messages=[{"role": "user", "content": "and here"}])
    assert reply.content[0].text == "and here"
    models = httpx.get(gateway.base_url + "/models").json()
    assert "mock-1" in {m["id"] for m in models["data"]}
