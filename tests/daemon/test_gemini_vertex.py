"""Gemini through Vertex AI: the project/location URL shape and a bearer token from a command."""

from __future__ import annotations

import sys
from pathlib import Path

import openai
import pytest

from llmp.core.config_schema import ProviderConfig, VertexConfig
from llmp.daemon.errors import UpstreamError
from llmp.daemon.providers.gemini import GeminiProvider
from llmp.daemon.providers.google_auth import TokenSource
from tests.daemon.gemini_fixtures import events, load
from tests.support.fake_upstream import FakeUpstream, fail, reply, stream

VERTEX_PATH = "/v1/projects/llmp-test/locations/europe-west4/publishers/google/models"


def token_script(tmp_path: Path, exit_code: int = 0) -> tuple[list[str], Path]:
    """A stand-in for `gcloud auth print-access-token` that counts its runs."""
    runs = tmp_path / "runs.txt"
    script = tmp_path / "print_token.py"
    script.write_text(
        "import pathlib, sys\n"
        f"runs = pathlib.Path({str(runs)!r})\n"
        "runs.write_text(runs.read_text() + 'x' if runs.exists() else 'x')\n"
        "n = len(runs.read_text())\n"
        f"if {exit_code}:\n"
        "    print('ERROR: (gcloud.auth) You do not currently have an active account selected.',"
        " file=sys.stderr)\n"
        f"    sys.exit({exit_code})\n"
        "print(f'ya29.token-number-{n}')\n"
    )
    return [sys.executable, str(script)], runs


def vertex_config(url: str, command: list[str], extra: str = "") -> str:
    return f"""
providers:
  vertex:
    type: gemini
    base_url: {url}
    models: [gemini-2.0-flash, text-embedding-005]
    vertex:
      project: llmp-test
      location: europe-west4
      token_command: {command!r}
{extra}
"""


def test_vertex_url_shape_and_cached_bearer_token(
    make_gateway, upstream: FakeUpstream, tmp_path: Path
) -> None:
    command, runs = token_script(tmp_path)
    upstream.then(reply(load("text_response.json")), stream(events("stream_text.sse")))
    client = make_gateway(vertex_config(upstream.url, command)).openai()
    answer = client.chat.completions.create(
        model="vertex/gemini-2.0-flash", messages=[{"role": "user", "content": "sky?"}])
    assert answer.choices[0].message.content.startswith("The sky looks blue")
    text = "".join(
        e.choices[0].delta.content or "" for e in client.chat.completions.create(
            model="vertex/gemini-2.0-flash", stream=True,
            messages=[{"role": "user", "content": "joke?"}]) if e.choices)
    assert text.startswith("Why did the scarecrow")
    first, second = upstream.requests
    assert first.path == f"{VERTEX_PATH}/gemini-2.0-flash:generateContent"
    assert second.path == f"{VERTEX_PATH}/gemini-2.0-flash:streamGenerateContent"
    assert second.query == {"alt": "sse"}
    assert first.headers["Authorization"] == "Bearer ya29.token-number-1"
    assert second.headers["Authorization"] == "Bearer ya29.token-number-1"
    assert "x-goog-api-key" not in first.headers
    assert runs.read_text() == "x"  # one run served both requests


def test_a_refused_token_is_fetched_again(
    make_gateway, upstream: FakeUpstream, tmp_path: Path
) -> None:
    command, runs = token_script(tmp_path)
    upstream.then(fail(401, load("error_unauthenticated.json")), reply(load("text_response.json")))
    client = make_gateway(vertex_config(upstream.url, command)).openai()
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="vertex/gemini-2.0-flash",
                                       messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["message"] == load("error_unauthenticated.json")["error"]["message"]
    client.chat.completions.create(model="vertex/gemini-2.0-flash",
                                   messages=[{"role": "user", "content": "x"}])
    assert upstream.requests[-1].headers["Authorization"] == "Bearer ya29.token-number-2"
    assert runs.read_text() == "xx"


def test_failing_token_command_is_a_clear_401_without_secrets(
    make_gateway, upstream: FakeUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    command, _ = token_script(tmp_path, exit_code=1)
    client = make_gateway(vertex_config(upstream.url, command)).openai()
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="vertex/gemini-2.0-flash",
                                       messages=[{"role": "user", "content": "x"}])
    message = caught.value.body["message"]
    assert "exited with status 1" in message
    assert "You do not currently have an active account selected" in message
    assert upstream.requests == []


def test_token_from_the_environment(
    make_gateway, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    command, runs = token_script(tmp_path)
    monkeypatch.setenv("VERTEX_TOKEN", "ya29.from-env")
    upstream.always(reply(load("text_response.json")))
    config = vertex_config(upstream.url, command).replace(
        "      project:", "      token_env: VERTEX_TOKEN\n      project:")
    client = make_gateway(config).openai()
    client.chat.completions.create(model="vertex/gemini-2.0-flash",
                                   messages=[{"role": "user", "content": "x"}])
    assert upstream.requests[-1].headers["Authorization"] == "Bearer ya29.from-env"
    assert not runs.exists()


def test_vertex_embeddings_use_predict(
    make_gateway, upstream: FakeUpstream, tmp_path: Path
) -> None:
    command, _ = token_script(tmp_path)
    upstream.always(reply(load("vertex_predict_embeddings_response.json")))
    client = make_gateway(vertex_config(upstream.url, command)).openai()
    result = client.embeddings.create(model="vertex/text-embedding-005", input=["a", "bb"],
                                      encoding_format="float")
    assert [d.embedding for d in result.data] == [[0.0243, -0.0117, 0.0532, 0.0118],
                                                  [-0.0312, 0.0051, 0.0407, -0.0224]]
    assert result.usage.prompt_tokens == 10
    sent = upstream.requests[-1]
    assert sent.path == f"{VERTEX_PATH}/text-embedding-005:predict"
    assert sent.json == {"instances": [{"content": "a"}, {"content": "bb"}]}


def test_default_vertex_endpoint() -> None:
    regional = GeminiProvider("v", ProviderConfig(
        type="gemini", vertex=VertexConfig(project="p", location="us-east5")))
    assert regional.root == ("https://us-east5-aiplatform.googleapis.com/v1/projects/p"
                             "/locations/us-east5/publishers/google")
    worldwide = GeminiProvider("v", ProviderConfig(
        type="gemini", vertex=VertexConfig(project="p", location="global")))
    assert worldwide.root.startswith("https://aiplatform.googleapis.com/v1/projects/p/")


async def test_token_is_reused_until_its_lifetime_runs_out(tmp_path: Path) -> None:
    command, runs = token_script(tmp_path)
    now = [1000.0]
    source = TokenSource("v", VertexConfig(project="p", token_command=command,
                                           token_lifetime=300), clock=lambda: now[0])
    assert await source.token() == "ya29.token-number-1"
    now[0] += 299
    assert await source.token() == "ya29.token-number-1"
    now[0] += 2
    assert await source.token() == "ya29.token-number-2"
    assert runs.read_text() == "xx"


async def test_missing_token_command_names_it() -> None:
    source = TokenSource("v", VertexConfig(project="p", token_command="no-such-gcloud auth"))
    with pytest.raises(UpstreamError) as caught:
        await source.token()
    assert "no-such-gcloud" in caught.value.message and caught.value.status == 401


async def test_list_models_reads_the_gemini_catalogue(upstream: FakeUpstream) -> None:
    upstream.always(reply(load("models_list_response.json")))
    provider = GeminiProvider("g", ProviderConfig(type="gemini", base_url=upstream.url + "/v1beta",
                                                  api_key="AIza-list-key-123456"))
    await provider.start()
    try:
        assert await provider.list_models() == [
            "gemini-2.0-flash", "gemini-2.5-flash", "text-embedding-004"]
    finally:
        await provider.close()
    assert upstream.requests[-1].path == "/v1beta/models"
    assert upstream.requests[-1].headers["x-goog-api-key"] == "AIza-list-key-123456"


def test_example_config_gemini_providers() -> None:
    from llmp.core.config_loader import parse_config
    from llmp.core.starter_config import example_text

    providers = parse_config(example_text()).providers
    gemini = GeminiProvider("gemini", providers["gemini"])
    assert gemini.root == "https://generativelanguage.googleapis.com/v1beta"
    vertex = GeminiProvider("vertex", providers["vertex"])
    assert vertex.root == ("https://us-central1-aiplatform.googleapis.com/v1/projects/"
                           "my-gcp-project/locations/us-central1/publishers/google")
    assert vertex.tokens is not None and vertex.tokens.command == [
        "gcloud", "auth", "print-access-token"]
    # A provider named after the gemini preset gets the Gemini API root filled in;
    # with a vertex section it must still go to Vertex.
    named = parse_config("providers:\n  gemini:\n    vertex: {project: p, location: global}\n")
    assert GeminiProvider("gemini", named.providers["gemini"]).root.startswith(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/")
