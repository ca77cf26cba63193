"""The shipped price table covers the common models of every hosted provider llmp knows."""

from __future__ import annotations

import pytest

from llmp.core.config_schema import PriceConfig
from llmp.core.presets import PRESETS
from llmp.daemon.telemetry.prices import PriceTable
from llmp.daemon.telemetry.usage import Tokens

# A model each provider serves, named as that provider's API names it (dated, vendor-prefixed...).
COMMON = {
    "openai": ["gpt-4o-mini-2024-07-18", "gpt-5", "text-embedding-3-small"],
    "anthropic": ["claude-sonnet-4-5-20250929", "claude-haiku-4-5"],
    "gemini": ["gemini-2.5-flash", "gemini-embedding-001"],
    "azure": ["gpt-4o"],
    "cohere": ["command-a-03-2025", "embed-v4.0"],
    "openrouter": ["anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini", "google/gemini-2.5-pro"],
    "xai": ["grok-4"],
    "perplexity": ["sonar", "sonar-pro"],
    "groq": ["llama-3.3-70b-versatile", "openai/gpt-oss-120b"],
    "deepseek": ["deepseek-chat"],
    "mistral": ["mistral-large-2411", "mistral-small-latest"],
    "together": ["meta-llama/Llama-3.3-70B-Instruct-Turbo"],
    "fireworks": ["accounts/fireworks/models/llama-v3p3-70b-instruct"],
    "blackbox": ["blackboxai/openai/gpt-4o"],
}


def test_every_hosted_provider_is_listed() -> None:
    assert set(COMMON) == {name for name, preset in PRESETS.items() if not preset.local}


@pytest.mark.parametrize(("provider", "model"), [(p, m) for p, models in COMMON.items() for m in models])
def test_common_models_have_a_price(provider: str, model: str) -> None:
    price = PriceTable({}).price(provider, model)
    assert price is not None and price.input > 0


def test_a_dotted_version_finds_the_dashed_name_and_config_still_wins() -> None:
    table = PriceTable({"openrouter/anthropic/claude-3.5-sonnet": PriceConfig(input=1, output=1)})
    dashed = table.price("anthropic", "claude-sonnet-4-5")
    assert dashed is not None and table.price("openrouter", "anthropic/claude-sonnet-4.5") == dashed
    assert table.cost("openrouter", "anthropic/claude-3.5-sonnet", Tokens(1_000_000, 0, 0)) == 1.0
