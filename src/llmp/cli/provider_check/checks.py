"""The checks `llmp test` runs on each provider, in the order a failure is best explained.

key -> reachable -> authenticated -> 1-token completion -> streamed completion
(time to first token) -> embeddings. The model listing answers "reachable" and
"authenticated" before any model is chosen: a refused connection means the
network or the URL, a 401 means the key. When one of those fails, the checks
that depend on it are skipped rather than failed again with the same cause.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from llmp.cli.chat.models import can_chat
from llmp.cli.provider_check.probe import Facts, Probe, ProbeError
from llmp.core.keys import missing_key_message

Status = Literal["ok", "fail", "skip"]
Clock = Callable[[], float]
CHECKS = ("key", "reachable", "authenticated", "completion", "stream", "embeddings")


@dataclass
class Check:
    name: str
    status: Status
    latency_ms: float | None = None
    detail: str = ""
    kind: str | None = None  # the error kind of a failed call


@dataclass
class ProviderReport:
    provider: str
    model: str | None = None
    checks: list[Check] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def add(self, name: str, status: Status, latency_ms: float | None = None,
            detail: str = "") -> None:
        self.checks.append(Check(name, status, latency_ms, detail))

    def failed(self, name: str, error: ProbeError) -> None:
        self.checks.append(Check(name, "fail", detail=error.message, kind=error.kind))

    def get(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def skip_rest(self, reason: str) -> None:
        done = {check.name for check in self.checks}
        for name in CHECKS:
            if name not in done:
                self.add(name, "skip", detail=reason)


@dataclass
class Options:
    embedding_model: str | None = None
    timeout: float = 30.0
    clock: Clock = time.perf_counter


class Runner:
    def __init__(self, probe: Probe, options: Options) -> None:
        self.probe = probe
        self.options = options

    async def run(self, providers: list[str], models: dict[str, str]) -> list[ProviderReport]:
        """Check `providers` concurrently; `models` names the model to test per provider."""
        return list(await asyncio.gather(
            *(self.provider(name, models.get(name)) for name in providers)))

    async def _timed(self, call: Awaitable[Any]) -> tuple[Any, float]:
        clock = self.options.clock
        started = clock()
        try:
            result = await asyncio.wait_for(call, self.options.timeout)
        except asyncio.TimeoutError:
            raise ProbeError("timeout", f"no answer within {self.options.timeout:g}s") from None
        return result, (clock() - started) * 1000

    async def provider(self, name: str, model: str | None) -> ProviderReport:
        report = ProviderReport(name)
        try:
            facts, latency = await self._timed(self.probe.facts(name))
        except ProbeError as error:
            report.failed("reachable", error)
            report.skip_rest("not reachable")
            return report
        report.secrets = facts.secrets
        if not facts.enabled:
            report.skip_rest("disabled in the config")
            return report
        self._key(report, facts)
        if facts.key_missing:
            report.skip_rest("no API key")
            return report
        if not self._reachable(report, facts, latency):
            return report
        report.model = model or _first(facts, chat=True)
        if report.model is None:
            report.add("completion", "fail", detail="no model to test: give one with --model")
            report.add("stream", "skip", detail="no model")
        else:
            await self._call(report, "completion",
                             self.probe.complete(report.provider, report.model), report.model)
            await self._stream(report, report.model)
        self._settle_auth(report)
        await self._embeddings(report, facts)
        return report

    def _key(self, report: ProviderReport, facts: Facts) -> None:
        if facts.key_missing:
            report.add("key", "fail", detail=missing_key_message(facts.name, facts.key_variable))
        else:
            report.add("key", "ok", detail=facts.key_state or facts.key_source)

    def _reachable(self, report: ProviderReport, facts: Facts, latency: float) -> bool:
        """Reachable and authenticated, as the model listing tells; False when nothing more can run."""
        error = facts.upstream_error
        if error is None:
            count = len(facts.upstream_models or [])
            report.add("reachable", "ok", latency, f"{count} model{'' if count == 1 else 's'} listed")
            report.add("authenticated", "ok")
            return True
        if error.kind in ("connection", "timeout"):
            report.add("reachable", "fail", latency, error.message)
            report.skip_rest("not reachable")
            return False
        report.add("reachable", "ok", latency)
        if error.kind == "auth":
            report.add("authenticated", "fail", detail=error.message)
            report.skip_rest("not authenticated")
            return False
        # The listing failed for another reason (some providers have none): the
        # completion will tell whether the key is accepted.
        report.add("authenticated", "skip", detail=f"model list unavailable: {error.message}")
        return True

    def _settle_auth(self, report: ProviderReport) -> None:
        """Authenticated, decided by the completion when the model listing could not say."""
        auth, completion = report.get("authenticated"), report.get("completion")
        if auth is None or auth.status != "skip" or completion is None:
            return
        if completion.status == "ok":
            auth.status, auth.detail = "ok", "the completion was accepted"
        elif completion.kind == "auth":
            auth.status, auth.detail = "fail", completion.detail

    async def _call(self, report: ProviderReport, check: str, call: Awaitable[Any],
                    detail: str) -> None:
        try:
            _, latency = await self._timed(call)
        except ProbeError as error:
            report.failed(check, error)
            return
        report.add(check, "ok", latency, detail)

    async def _stream(self, report: ProviderReport, model: str) -> None:
        clock = self.options.clock
        started = clock()
        first_event: float | None = None
        first_text: float | None = None

        async def consume() -> None:
            nonlocal first_event, first_text
            async for text in self.probe.stream(report.provider, model):
                now = clock()
                first_event = now if first_event is None else first_event
                first_text = now if text and first_text is None else first_text

        try:
            await self._timed(consume())
        except ProbeError as error:
            report.failed("stream", error)
            return
        first = first_text or first_event
        if first is None:
            report.add("stream", "fail", detail="the stream ended without any event")
            return
        report.add("stream", "ok", (first - started) * 1000, "time to first token")

    async def _embeddings(self, report: ProviderReport, facts: Facts) -> None:
        if any(c.name == "embeddings" for c in report.checks):
            return
        if "embeddings" not in facts.operations:
            report.add("embeddings", "skip", detail=f"{facts.type} has no embeddings")
            return
        model = self.options.embedding_model or _first(facts, chat=False)
        if model is None and facts.type == "mock":
            model = _first(facts, chat=True)  # the mock embeds with any of its models
        if model is None:
            report.add("embeddings", "skip", detail="no embedding model listed "
                       "(give one with --embedding-model)")
            return
        await self._call(report, "embeddings", self.probe.embed(report.provider, model), model)


def _first(facts: Facts, *, chat: bool) -> str | None:
    """The first configured model of the wanted kind, else the first the upstream listed."""
    for models in (facts.models, facts.upstream_models or []):
        for model in models:
            if model != "*" and can_chat(model) == chat:
                return model
    return None
