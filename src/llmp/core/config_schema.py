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


class ClientLimits(StrictModel):
    """What one client may do: models it may ask for (glob patterns) and its rate limits."""

    models: list[str] = Field(default_factory=lambda: ["*"])
    rpm: int | None = Field(None, ge=1, description="requests per minute")
    tpm: int | None = Field(None, ge=1, description="tokens per minute")


class ClientKeyConfig(ClientLimits):
    # keyring: LLMP_CLIENT_KEY_<NAME>, then the keyring entry `client:<name>` | env:VAR
    key: str = "keyring"


class JWTConfig(ClientLimits):
    """HS256 bearer tokens for teams; the client id is the token's `sub`."""

    # keyring: LLMP_JWT_SECRET, then the keyring entry `jwt-secret` | env:VAR
    secret: str = "keyring"
    audience: str = Field(min_length=1)
    issuer: str | None = None
    leeway: float = Field(0.0, ge=0, description="seconds of clock skew allowed on exp")


class AuthConfig(StrictModel):
    keys: dict[str, ClientKeyConfig] = Field(default_factory=dict)
    jwt: JWTConfig | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.keys) or self.jwt is not None


class LimitsConfig(StrictModel):
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)  # fits several base64 images
    max_json_depth: int = Field(64, ge=2, le=1000)
    max_header_bytes: int = Field(16384, ge=1024)  # one header line
    max_headers: int = Field(128, ge=8)
    read_timeout: float = Field(60.0, gt=0, description="seconds to receive headers, and the body")


class ServerConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8484, ge=0, le=65535)
    allowed_hosts: list[str] = Field(default_factory=list)  # Host names besides loopback; "*" = any
    cors_origins: list[str] = Field(default_factory=list)  # browser origins allowed to call /v1
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)


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


class Config(StrictModel):
    server: ServerConfig = Field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, AliasConfig] = Field(default_factory=dict)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
