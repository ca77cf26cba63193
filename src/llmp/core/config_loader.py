"""Reading `config.yaml`: interpolation, validation, and errors a person can act on.

Every error names the file, the line and the option, and says what was expected;
an unknown key suggests the closest known one. The YAML is read with ruamel's
round-trip loader only because it remembers where each key was written.
"""

from __future__ import annotations

import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from llmp.core.config_schema import Config
from llmp.core.presets import ADAPTER_TYPES, PRESETS, apply_preset
from llmp.core.suggest import close_matches

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


class ConfigError(Exception):
    """A config problem, already phrased for the person who wrote the file."""


@dataclass
class LoadedConfig:
    config: Config
    source: Path | None  # None: built-in defaults, no file was read


def load_config(path: Path, *, explicit: bool = False) -> LoadedConfig:
    """Load `path`; a missing default file means built-in defaults, a missing explicit one is an error."""
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        from llmp.core.builtin_config import builtin_config

        return LoadedConfig(builtin_config(), None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from exc
    return LoadedConfig(parse_config(text, str(path)), path)


def parse_config(text: str, filename: str = "config.yaml") -> Config:
    """The config `text` holds, checked; a `ConfigError` naming `filename` when it is wrong.

    The YAML reader, the copy into plain containers and the checks all recurse: a file
    nested deeper than Python's recursion limit is a config error like any other, not a crash.
    """
    try:
        return _parse(text, filename)
    except RecursionError:
        raise ConfigError(f"{filename}: the YAML is nested too deeply to read (a config is a "
                          "few levels deep: look for runaway brackets or braces)") from None


def _parse(text: str, filename: str) -> Config:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        tree = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{filename}{where}: invalid YAML: {problem}") from exc
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{filename}:1: the config must be a mapping of options")
    data = _interpolate(tree, (), tree, filename)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, tree, filename)) from None
    _resolve_providers(config, tree, filename)
    _check_alias_targets(config, tree, filename)
    return config


def _interpolate(node: Any, loc: tuple[Any, ...], tree: Any, filename: str) -> Any:
    """Copy the YAML tree into plain containers, expanding `${VAR}` and `${VAR:-default}`."""
    if isinstance(node, dict):
        return {str(k): _interpolate(v, (*loc, k), tree, filename) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, (*loc, i), tree, filename) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        if "${" in _VARIABLE.sub("", node):  # `${KEY` or `${1X}`: a typo, never meant literally
            raise ConfigError(
                f"{filename}:{_line_of(tree, loc)}: {_dotted(loc)}: malformed variable in {node!r} "
                "(write ${NAME} or ${NAME:-default})"
            )

        def expand(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = os.environ.get(name)
            if value is None or (value == "" and default is not None):
                if default is None:
                    raise ConfigError(
                        f"{filename}:{_line_of(tree, loc)}: {_dotted(loc)}: environment "
                        f"variable {name} is not set (write ${{{name}:-default}} for a fallback)"
                    )
                return default
            return value

        return _VARIABLE.sub(expand, node)
    return node


def _describe(exc: ValidationError, tree: Any, filename: str) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not _is_validator_tag(part))
        line = _line_of(tree, loc)
        option = _dotted(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            message = f"unknown option '{loc[-1]}'"
            known = _known_fields(loc[:-1])
            close = close_matches(str(loc[-1]), known)
            if close:
                message += f" (did you mean '{close[0]}'?)"
            elif known:
                message += f"; expected one of: {', '.join(sorted(known))}"
        else:
            message = error["msg"]
            if "input" in error and error["type"] != "missing":
                message += f", got {error['input']!r}"
        lines.append(f"{filename}:{line}: {option}: {message}")
    return "\n".join(lines)


def _is_validator_tag(part: Any) -> bool:
    """Pydantic adds union-member and function tags to `loc`; they are not keys in the file."""
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """The option names allowed at `loc`, found by walking the schema along the path."""
    annotation: Any = Config
    for part in loc:
        model = _model_in(annotation)
        if model is not None:
            field = model.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[-1] if args else None
    model = _model_in(annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def _line_of(tree: Any, loc: tuple[Any, ...]) -> int:
    """1-based line where the deepest existing part of `loc` is written."""
    line = 1
    node = tree
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _resolve_providers(config: Config, tree: Any, filename: str) -> None:
    """Fill each provider's type and base URL from its preset (named, or implied by its name)."""
    for name, provider in config.providers.items():
        loc = ("providers", name)
        where = f"{filename}:{_line_of(tree, loc)}: providers.{name}"
        if provider.preset is not None and provider.preset not in PRESETS:
            close = close_matches(provider.preset, list(PRESETS))
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{where}.preset: unknown preset '{provider.preset}'{hint}")
        apply_preset(name, provider)
        if provider.type is None:
            raise ConfigError(
                f"{where}: 'type' is required for a provider named '{name}' "
                "(openai, azure, anthropic, gemini, cohere or mock)"
            )
        if provider.type not in ADAPTER_TYPES and provider.type not in _plugin_types():
            raise ConfigError(
                f"{where}.type: unknown provider type '{provider.type}' "
                f"(expected one of: {', '.join(ADAPTER_TYPES)}, or an installed plug-in)"
            )
        if provider.base_url is None and provider.type in ("openai", "azure"):
            raise ConfigError(f"{where}: 'base_url' is required for a {provider.type} provider")


def _plugin_types() -> set[str]:
    from importlib.metadata import entry_points

    return {entry.name for entry in entry_points(group="llmp.providers")}


def _check_alias_targets(config: Config, tree: Any, filename: str) -> None:
    served = {m for p in config.providers.values() for m in p.models if m != "*"}
    for alias, spec in config.models.items():
        for field in ("targets", "context_fallback"):
            for index, target in enumerate(getattr(spec, field)):
                provider = target.split("/", 1)[0]
                if "/" in target and provider in config.providers:
                    continue
                if target in served:
                    continue
                line = _line_of(tree, ("models", alias, field, index))
                known = ", ".join(config.providers) or "none"
                raise ConfigError(
                    f"{filename}:{line}: models.{alias}: target '{target}' names no configured "
                    f"provider or served model (write provider/model; providers: {known})"
                )


def apply_overrides(config: Config, *, host: str | None = None, port: int | None = None) -> None:
    """Flags beat `LLMP_*` variables, which beat the file, which beats the defaults."""
    env_host = os.environ.get("LLMP_HOST")
    env_port = os.environ.get("LLMP_PORT")
    env_level = os.environ.get("LLMP_LOG_LEVEL")
    if env_port is not None and not env_port.isdigit():
        raise ConfigError(f"LLMP_PORT must be a port number, got {env_port!r}")
    config.server.host = host or env_host or config.server.host
    chosen_port = port if port is not None else (int(env_port) if env_port else None)
    if chosen_port is not None:
        if not 0 <= chosen_port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, got {chosen_port}")
        config.server.port = chosen_port
    if env_level:
        level = env_level.lower()
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"LLMP_LOG_LEVEL must be debug, info, warning or error, got {env_level!r}")
        config.logging.level = level  # type: ignore[assignment]
