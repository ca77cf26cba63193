"""Azure OpenAI: OpenAI's wire format behind Azure's URLs, deployments and key header.

Azure serves two URL shapes. The classic one names the deployment in the path
and a dated `api-version` in the query
(`{base}/openai/deployments/{deployment}/chat/completions?api-version=...`);
the v1 API (a base URL ending in `/openai/v1`) uses OpenAI's own paths with the
deployment as `model`. Only the URL, the key header and the model differ from
OpenAI, so an OpenAI client's body and stream pass through untouched, Azure's
extra `prompt_filter_results` / `content_filter_results` fields included (the
openai SDK tolerates them). Content-filter refusals (400, `code: content_filter`)
are classified as content-policy errors by the shared error parser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from llmp.daemon.providers.openai_compat import PATHS, OpenAICompatibleProvider
from llmp.daemon.providers.urls import path_segment
from llmp.daemon.types import ChatChunk

# The latest generally available data-plane inference version when this was written;
# `api_version` in the provider's config overrides it.
DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIProvider(OpenAICompatibleProvider):
    type_name = "azure"

    @property
    def base_url(self) -> str:
        """The resource root; a configured `.../openai` (the path Azure's portal shows) means it too."""
        return super().base_url.removesuffix("/openai")

    @property
    def v1_api(self) -> bool:
        return self.base_url.endswith("/openai/v1")

    def deployment(self, model: str) -> str:
        return self.config.deployments.get(model, model)

    def build_headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        if self.key.value:
            if self.config.azure_auth == "entra":
                headers["Authorization"] = f"Bearer {self.key.value}"
            else:
                headers["api-key"] = self.key.value
        return headers

    def _query(self) -> str:
        version = self.config.api_version or ("" if self.v1_api else DEFAULT_API_VERSION)
        return f"?api-version={quote(version, safe='')}" if version else ""

    def url_for(self, operation: str, model: str) -> str:
        if operation == "responses" and not self.v1_api:  # not per deployment: the body names it
            return f"{self.base_url}/openai/responses{self._query()}"
        if self.v1_api:
            return self.base_url + PATHS[operation] + self._query()
        deployment = path_segment(self.deployment(model), self.name)
        return f"{self.base_url}/openai/deployments/{deployment}{PATHS[operation]}{self._query()}"

    def models_url(self) -> str:
        if self.v1_api:
            return self.base_url + "/models" + self._query()
        return self.base_url + "/openai/models" + self._query()

    def body_model(self, model: str) -> str:
        return self.deployment(model)

    async def _chunks(self, response: Any) -> AsyncIterator[ChatChunk]:
        """Canonical chunks without Azure's filter-only annotations.

        Azure opens a stream with a chunk whose `choices` is empty and which only
        carries `prompt_filter_results`, and may annotate choices with filter
        results and no `delta`. Other wire formats have no place for either.
        """
        async for chunk in super()._chunks(response):
            choices = [c for c in chunk.get("choices") or [] if "delta" in c]
            if choices or chunk.get("usage"):
                yield {**chunk, "choices": choices}  # type: ignore[typeddict-item]
