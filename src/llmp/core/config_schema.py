"""The shape of `config.yaml`, validated with pydantic.

Every model forbids unknown keys so a typo is an error, not a silently ignored
option. Short forms the README promises (a bare number for `timeout`, a bare
list for an alias) are accepted by `mode="before"` validators, so the long form
is the only shape the rest of the code ever sees.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Strategy = Literal["fallback", "weighted", "round_robin", "least_busy", "lowest_latency"]
LogLevel = Literal["debug", "info", "warning", "error"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8484, ge=0, le=65535)


class TimeoutConfig(StrictModel):
    """Seconds. A bare number in YAML is the `total` budget."""

    connect: float = Field(10.0, gt=0)
    first_token: float = Field(60.0, gt=0)
    total: float = Field(600.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _bare_number_is_total(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"total": value, "first_token": min(float(value), 60.0)}
        return value


class MockConfig(StrictModel):
    """How the `mock` provider behaves; a request may override any of it with `mock: {...}`."""

    reply: str | None = Field(None, description="fixed reply; default echoes the last user message")
    delay: float = Field(0.0, ge=0, description="seconds before the first byte")
    chunk_delay: float = Field(0.0, ge=0, description="seconds between streamed chunks")
    chunk_words: int = Field(1, ge=1, description="words per streamed chunk")
    fail_status: int | None = Field(None, ge=400, le=599)
    fail_message: str = "mock failure"
    embedding_dimensions: int = Field(8, ge=1, le=4096)
    tool_calls: list[dict[str, Any]] | None = Field(
        None, description="answer with these tool calls: [{name, arguments}]"
    )


class ProviderConfig(StrictModel):
    type: str | None = None  # a built-in adapter or an installed `llmp.providers` plug-in
    preset: str | None = None
    base_url: str | None = None
    api_key: str = "keyring"
    models: list[str] = Field(default_factory=lambda: ["*"])
    timeout: TimeoutConfig = Field(default_factory=TimeoutConfig)
    headers: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    mock: MockConfig | None = None
    # Ask an OpenAI-compatible upstream for usage on streams (`stream_options.include_usage`)
    # and hide that extra chunk from a client that did not ask; false for servers that reject it.
    stream_usage: bool = True


class AliasConfig(StrictModel):
    """An alias a client can ask for. A bare list in YAML is its `targets`."""

    strategy: Strategy = "fallback"
    targets: list[str] = Field(min_length=1)
    context_fallback: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _bare_list_is_targets(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"targets": value}
        if isinstance(value, str):
            return {"targets": [value]}
        return value


class LoggingConfig(StrictModel):
    level: LogLevel = "info"
    max_bytes: int = Field(10_000_000, ge=10_000)
    backup_count: int = Field(5, ge=0)


class PriceConfig(StrictModel):
    """US dollars per million tokens; `cached_input` defaults to the `input` price."""

    input: float = Field(ge=0)
    output: float = Field(0.0, ge=0)
    cached_input: float | None = Field(None, ge=0)


class UsageConfig(StrictModel):
    """The usage and cost ledger (SQLite in the data dir)."""

    enabled: bool = True
    retention_days: int = Field(90, ge=0, description="0 keeps rows forever")
    log_bodies: bool = Field(False, description="store request/response bodies, redacted")


class Config(StrictModel):
    server: ServerConfig = Field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, AliasConfig] = Field(default_factory=dict)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)  # "provider/model" or "model"
