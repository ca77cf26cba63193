"""What llmp knows about each provider before the user says anything.

A preset fills the adapter type, the documented API root and the environment
variables a key is usually kept in, so `providers: {groq: {}}` is a complete
provider. Every base URL is the provider's documented API root: the adapter
appends the operation's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmp.core.config_schema import ProviderConfig


@dataclass(frozen=True)
class Preset:
    type: str
    base_url: str | None
    key_env: tuple[str, ...] = ()
    needs_key: bool = True
    local: bool = False


PRESETS: dict[str, Preset] = {
    "openai": Preset("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",)),
    "anthropic": Preset("anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",)),
    "gemini": Preset(
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    ),
    "azure": Preset("azure", None, ("AZURE_OPENAI_API_KEY",)),
    "cohere": Preset("cohere", "https://api.cohere.com", ("COHERE_API_KEY", "CO_API_KEY")),
    "openrouter": Preset("openai", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
    "xai": Preset("openai", "https://api.x.ai/v1", ("XAI_API_KEY",)),
    "perplexity": Preset(
        "openai", "https://api.perplexity.ai", ("PERPLEXITY_API_KEY", "PPLX_API_KEY")
    ),
    "groq": Preset("openai", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
    "deepseek": Preset("openai", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",)),
    "mistral": Preset("openai", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
    "together": Preset("openai", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
    "fireworks": Preset(
        "openai", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",)
    ),
    "blackbox": Preset("openai", "https://api.blackbox.ai", ("BLACKBOX_API_KEY",)),
    "ollama": Preset("openai", "http://127.0.0.1:11434/v1", (), needs_key=False, local=True),
    "vllm": Preset("openai", "http://127.0.0.1:8000/v1", ("VLLM_API_KEY",), False, True),
    "lmstudio": Preset("openai", "http://127.0.0.1:1234/v1", (), needs_key=False, local=True),
    "mock": Preset("mock", None, (), needs_key=False, local=True),
}

ADAPTER_TYPES = ("openai", "azure", "anthropic", "gemini", "cohere", "mock")


def apply_preset(name: str, provider: ProviderConfig) -> None:
    """Fill a provider's type and base URL from its preset (named, or implied by its name)."""
    preset = PRESETS.get(provider.preset or name)
    if preset is None:
        return
    if provider.type is None:
        provider.type = preset.type  # type: ignore[assignment]
    if provider.base_url is None and provider.type == preset.type:
        provider.base_url = preset.base_url
