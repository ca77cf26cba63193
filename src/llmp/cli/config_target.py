"""The config file the CLI's config commands work on, and whether `llmp start` would take it.

Shared by `config_cmd` (path, show, validate) and `config_edit` (which checks
what the user saved), so neither imports the other.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmp.core.paths import config_file_from_env, resolve_paths


def config_file() -> tuple[Path, bool]:
    """The file llmp reads (or would read), and whether it was named explicitly (LLMP_CONFIG)."""
    return config_file_from_env(resolve_paths()), bool(os.environ.get("LLMP_CONFIG"))


def check(target: Path) -> list[str]:
    """The problems `llmp start` would refuse `target` for, one `file:line: option: problem` each."""
    from llmp.core.config_loader import ConfigError, apply_overrides, load_config
    from llmp.daemon.security.exposure import check_exposure

    try:
        config = load_config(target, explicit=True).config
        apply_overrides(config)
        check_exposure(config.server)
    except ConfigError as exc:
        from llmp.core.redact import redact

        return redact(str(exc)).splitlines()
    return []
