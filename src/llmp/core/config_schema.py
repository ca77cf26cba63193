"""The shape of `config.yaml`, validated with pydantic.

Every model forbids unknown keys so a typo is an error, not a silently ignored
option. Short forms the README promises (a bare number for `timeout`, a bare
list for an alias) are accepted by `mode="before"` validators, so the long form
is the only shape the rest of the code ever sees.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    # What an upstream may send: past either bound the answer ends with a 502 (or an error event).
    max_response_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="bytes of one upstream answer")
    max_event_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="bytes of one upstream stream event")
    max_connections: int | None = Field(
        None, ge=1, description="client connections at once; default: from the descriptor limit")


class ResponsesConfig(StrictModel):
    """The Responses API (`/v1/responses`): built-in tools, and the responses llmp stores."""

    unsupported_tools: Literal["drop", "reject"] = Field(
        "drop", description="built-in tools the provider cannot run: left out (and named in a "
        "header), or refused with a 400")
    store_max_age_days: float = Field(30.0, gt=0, description="stored responses older are forgotten")
    store_max_mb: float = Field(200.0, gt=0, description="the store's size; the oldest go first past it")


class ServerConfig(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8484, ge=0, le=65535)
    allowed_hosts: list[str] = Field(default_factory=list)  # Host names besides loopback; "*" = any
    cors_origins: list[str] = Field(default_factory=list)  # browser origins allowed to call /v1
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    responses: ResponsesConfig = Field(default_factory=ResponsesConfig)


class TimeoutConfig(StrictModel):
    """Seconds. A bare number in YAML is the `total` budget."""

    connect: float = Field(10.0, gt=0)
    first_token: float = Field(60.0, gt=0)
    idle: float = Field(60.0, gt=0, description="longest silence between two chunks of a stream")
    total: float = Field(600.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _bare_number_is_total(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"total": value, "first_token": min(float(value), 60.0), "idle": min(float(value), 60.0)}
        return value


class RetryConfig(StrictModel):
    """Retries of a transient failure on the same deployment, before moving to the next target."""

    attempts: int = Field(2, ge=0, le=10, description="retries after the first try")
    backoff: float = Field(0.5, ge=0, description="base seconds; doubles per retry, full jitter")
    max_backoff: float = Field(5.0, ge=0, description="longest wait, and longest Retry-After waited for")


class CircuitBreakerConfig(StrictModel):
    """When a deployment (or a whole provider) is taken out of rotation, and how it comes back."""

    failure_threshold: int = Field(5, ge=1, description="failures within `window` that open the circuit")
    window: float = Field(60.0, gt=0, description="seconds of history the breaker looks at")
    failure_rate: float | None = Field(
        None, gt=0, le=1, description="also open when this share of requests in the window failed"
    )
    min_requests: int = Field(10, ge=1, description="requests in the window before failure_rate applies")
    recovery_time: float = Field(30.0, gt=0, description="seconds open before a half-open probe")
    max_recovery_time: float = Field(300.0, gt=0, description="cap of the recovery time as it grows")
    half_open_requests: int = Field(1, ge=1, description="probes let through while half-open")


class HealthCheckConfig(StrictModel):
    """Active checks in the background: a cheap real call that feeds the circuit breaker."""

    enabled: bool = True
    interval: float = Field(60.0, gt=0)
    timeout: float = Field(10.0, gt=0)
    model: str | None = Field(None, description="model to probe; default: the first listed")


class RateLimitConfig(StrictModel):
    """The provider's own limits, kept locally so llmp never sends a request bound to get a 429."""

    rpm: int | None = Field(None, ge=1, description="requests per minute")
    tpm: int | None = Field(None, ge=1, description="tokens per minute (prompt estimate + max_tokens)")
    max_concurrent: int | None = Field(
        None, ge=1, description="requests in flight at once; also the connection pool's size")


class DefaultsConfig(StrictModel):
    """Settings every provider inherits; a provider's own values override them key by key."""

    timeout: TimeoutConfig = Field(default_factory=TimeoutConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)


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


class VertexConfig(StrictModel):
    """Where a `gemini` provider reaches Vertex AI instead of the Gemini API, and how it signs in.

    Vertex takes a short-lived OAuth access token, not an API key: from
    `token_env` when that variable is set, else from `token_command` (run
    without a shell, its output cached for `token_lifetime` seconds).
    """

    project: str = Field(min_length=1)
    location: str = Field("us-central1", min_length=1)
    token_env: str | None = Field(None, description="environment variable holding an access token")
    token_command: str | list[str] = Field(
        default_factory=lambda: ["gcloud", "auth", "print-access-token"],
        description="command printing an access token; a string is split like a shell would",
    )
    token_lifetime: float = Field(3000.0, gt=0, description="seconds a fetched token is reused")


class ProviderConfig(StrictModel):
    type: str | None = None  # a built-in adapter or an installed `llmp.providers` plug-in
    preset: str | None = None
    base_url: str | None = None
    api_key: str = "keyring"
    models: list[str] = Field(default_factory=lambda: ["*"])
    timeout: TimeoutConfig = Field(default_factory=TimeoutConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    weight: float = Field(1.0, gt=0, description="share of traffic under the weighted strategy")
    headers: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    mock: MockConfig | None = None
    # Azure OpenAI: the `api-version` query parameter (the classic deployments API), the
    # deployment serving each model (a model without one is its own deployment name), and
    # how the key is sent: `api-key` header, or an Entra ID token as `Authorization: Bearer`.
    api_version: str | None = None
    deployments: dict[str, str] = Field(default_factory=dict)
    azure_auth: Literal["api-key", "entra"] = "api-key"
    vertex: VertexConfig | None = None  # gemini type only: serve through Vertex AI
    # Ask an OpenAI-compatible upstream for usage on streams (`stream_options.include_usage`)
    # and hide that extra chunk from a client that did not ask; false for servers that reject it.
    stream_usage: bool = True
    # The upstream serves OpenAI's Responses API (`/responses`) itself: `/v1/responses`
    # requests are relayed untouched. Default: true for OpenAI's own API, false elsewhere.
    responses_api: bool | None = None
    #: Cache this provider's answers (true) or never (false); unset follows `cache.enabled`.
    cache: bool | None = None

    @field_validator("api_version", mode="before")
    @classmethod
    def _dated_version_is_text(cls, value: Any) -> Any:
        """YAML reads an unquoted `2024-10-21` as a date; Azure wants the text back."""
        return value.isoformat() if isinstance(value, datetime.date) else value


class AliasConfig(StrictModel):
    """An alias a client can ask for. A bare list in YAML is its `targets`."""

    strategy: Strategy = "fallback"
    targets: list[str] = Field(min_length=1)
    context_fallback: list[str] = Field(default_factory=list)
    #: Cache answers to this alias (true) or never (false); unset follows its providers.
    cache: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_list_is_targets(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"targets": value}
        if isinstance(value, str):
            return {"targets": [value]}
        return value


class RoutingConfig(StrictModel):
    """How requests are routed when targets are held back."""

    max_wait: float = Field(
        5.0, ge=0,
        description="seconds a request whose targets are all held back may wait for a probe; "
                    "0 never waits",
    )


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


class CacheConfig(StrictModel):
    """The response cache (SQLite in the data dir, a small memory front for hot entries).

    Off unless `enabled`, a provider or alias sets `cache: true`, or a request
    asks with `x-llmp-cache: on`.
    """

    enabled: bool = False
    ttl: float = Field(86_400.0, gt=0, description="seconds an answer is served from the cache")
    max_bytes: int = Field(512 * 1024 * 1024, ge=64 * 1024, description="size of the cache file, at most")
    max_entry_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="larger answers are not stored")
    memory_entries: int = Field(256, ge=0, description="hot entries also kept in memory")

    @model_validator(mode="before")
    @classmethod
    def _bare_bool_is_enabled(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


class Config(StrictModel):
    server: ServerConfig = Field(default_factory=ServerConfig)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, AliasConfig] = Field(default_factory=dict)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)  # "provider/model" or "model"
    cache: CacheConfig = Field(default_factory=CacheConfig)

    @model_validator(mode="after")
    def _providers_inherit_defaults(self) -> Config:
        """Merge `defaults` under each provider, so the rest of the code reads one resolved value."""
        for provider in self.providers.values():
            for section in _INHERITED:
                base: BaseModel = getattr(self.defaults, section)
                own: BaseModel = getattr(provider, section)
                written = own.model_dump(include=own.model_fields_set)
                setattr(provider, section, base.model_copy(update=written))
        return self


_INHERITED = ("timeout", "retry", "circuit_breaker", "health_check")
