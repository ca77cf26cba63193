"""A provider adapter with a bug that puts its key into an exception, for the leak tests.

It is installed into a child daemon as a plug-in (entry-point group
`llmp.providers`) by `install_plugin`, so the real daemon process loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmp.daemon.providers.base import Forwarded
from llmp.daemon.providers.openai_compat import OpenAICompatibleProvider


class LeakyProvider(OpenAICompatibleProvider):
    type_name = "leaky"

    async def forward(self, operation: str, body: dict[str, Any], model: str, stream: bool) -> Forwarded:
        raise RuntimeError(f"adapter bug: could not sign with {self.key.value}")

    async def list_models(self) -> list[str]:
        raise RuntimeError(f"adapter bug: could not list models with {self.key.value}")


def install_plugin(folder: Path) -> Path:
    """Write dist-info metadata naming this adapter; put `folder` on the child's PYTHONPATH."""
    info = folder / "llmp_leaky-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: llmp-leaky\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[llmp.providers]\nleaky = tests.support.leaky_adapter:LeakyProvider\n"
    )
    return folder
