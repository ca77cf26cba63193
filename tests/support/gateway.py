"""The daemon's application served in-process, for fast HTTP tests.

It is the same `build_app` the daemon process runs, over real loopback HTTP;
only the process boundary is skipped (the lifecycle tests cover that).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from llmp.core.config_loader import LoadedConfig, parse_config
from llmp.daemon.app import build_app
from llmp.daemon.protocol_errors import Runner
from llmp.daemon.runtime import Runtime
from llmp.daemon.security.limits import runner_options
from llmp.daemon.telemetry.hub import TELEMETRY
from tests.support.threaded import ThreadedServer

TEST_TOKEN = "test-admin-token"


class Gateway:
    def __init__(self, config_yaml: str, config_file: Path | None = None, **runtime_options: Any) -> None:
        """`runtime_options` go to `Runtime` (e.g. `clock=`, `sleeper=`); `config_file`: the file
        `config_yaml` was written to, which a reload reads again."""
        config = parse_config(config_yaml)
        self.runtime = Runtime(
            LoadedConfig(config, config_file or Path("config.yaml")), TEST_TOKEN, **runtime_options
        )
        limits = runner_options(config.server.limits)  # header limits, as the daemon sets them
        self.server = ThreadedServer(build_app(self.runtime), runner=Runner, **limits).start()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def openai(self, **options: Any) -> Any:
        import openai

        options = {"api_key": "unused", **options}  # a test may send a client key
        return openai.OpenAI(base_url=self.base_url, max_retries=0, **options)

    def async_openai(self, **options: Any) -> Any:
        import openai

        return openai.AsyncOpenAI(
            base_url=self.base_url, api_key="unused", max_retries=0, **options
        )

    def anthropic(self, **options: Any) -> Any:
        """The official `anthropic` SDK, whose base_url is the daemon root (it adds `/v1/...`)."""
        import anthropic

        return anthropic.Anthropic(base_url=self.url, api_key="unused", max_retries=0, **options)

    def async_anthropic(self, **options: Any) -> Any:
        import anthropic

        return anthropic.AsyncAnthropic(base_url=self.url, api_key="unused", max_retries=0, **options)

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TEST_TOKEN}"}

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every request has been recorded: a streaming client is done when it
        reads the last event, a moment before the daemon's handler finishes the request."""
        deadline = time.monotonic() + timeout
        while self.runtime.in_flight:
            assert time.monotonic() < deadline, "a request never finished"
            time.sleep(0.005)
        self.server.app[TELEMETRY].settler.settle()  # telemetry counts finished requests in batches

    def stop(self) -> None:
        """Stop serving (again is a no-op: a test may stop a gateway to see what outlives it)."""
        if not self.server.loop.is_closed():
            self.server.stop()
