"""`llmp config path / init / show / validate / edit`: find, write, read and check the config.

Every command reads the same file `llmp start` would (`LLMP_CONFIG`, else the
config dir) and reports problems in the daemon's own words
(`file:line: option: problem`), so what `validate` accepts, `start` and
`reload` accept too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from llmp.cli.command_table import command_help
from llmp.cli.config_target import check, config_file
from llmp.cli.console import console, fail, print_error, print_json
from llmp.core.paths import UnwritableHome, resolve_paths

config_app = typer.Typer(help=command_help("config"), no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
_SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "x-goog-api-key"}


def file_listing() -> list[dict[str, Any]]:
    """Every file llmp uses: what it is for, where it is, and whether it exists yet."""
    from llmp.cli.chat.line_input import history_file
    from llmp.core import key_file
    from llmp.core.audit import audit_path

    paths = resolve_paths()
    chosen, explicit = config_file()
    files = [
        ("config", chosen, "LLMP_CONFIG" if explicit else "default location"),
        ("keys file", key_file.path(), "only with llmp keys set NAME --file"),
        ("daemon state", paths.state_file, "while the daemon runs"),
        ("log", paths.log_file, "llmp logs"),
        ("daemon output", paths.daemon_output_file, "start-up errors"),
        ("audit log", audit_path(), "key changes"),
        ("usage ledger", paths.usage_db, "llmp usage"),
        ("chat history", history_file(paths.data_dir), "llmp chat"),
    ]
    return [{"name": name, "path": str(path), "exists": path.exists(), "note": note}
            for name, path, note in files]


@config_app.command("path")
def path_command(json_output: bool = JSON) -> None:
    """Every file llmp uses, and which of them exist."""
    listing = file_listing()
    if json_output:
        print_json({"files": listing, "home": os.environ.get("LLMP_HOME")})
        return
    from llmp.cli.tables import Column, render

    rows = [[f["name"], f["path"], "yes" if f["exists"] else "no", f["note"]] for f in listing]
    render(console(), [Column("file"), Column("path", kind="path"), Column("exists"),
                       Column("used by", kind="text")], rows)


@config_app.command("init")
def init(
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config file."),
    full: bool = typer.Option(
        False, "--full", help="Write the complete example: every option, commented, with its default."),
    to: str | None = typer.Option(
        None, "--to", help="Write here instead of the config path (see llmp config path)."),
) -> None:
    """Write a commented starting config: the mock, and every provider whose key is already set."""
    from llmp.core.private_file import write_private
    from llmp.core.starter_config import example_text, providers_with_keys, starter_text

    target = Path(to).expanduser() if to else config_file()[0]
    if target.exists() and not force:
        fail(f"{target} exists already; keep it, check it with `llmp config validate`, "
             "or overwrite it with `llmp config init --force`")
    found = [] if full else providers_with_keys()
    text = example_text() if full else starter_text(found)
    try:
        write_private(target, text)  # 0600: a config may hold a literal key
    except UnwritableHome:
        raise  # the entry point says which path and what to do
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    out = console()
    out.print(f"[green]✓[/] wrote {target}", highlight=False, soft_wrap=True)
    if full:
        out.print("  the complete example: every option with its default, most commented out",
                  highlight=False)
    else:
        out.print("  providers: mock (no key needed)", highlight=False)
        for provider in found:
            out.print(f"             {provider.name} (key: {provider.key_state})", highlight=False)
        if not found:
            out.print("  no provider keys found in the environment or the keyring; add one with "
                      "llmp keys set NAME, then uncomment it", highlight=False)
    if to is None or target == config_file()[0]:
        out.print("  next: llmp config validate, then llmp start", highlight=False)
    else:
        out.print(f"  use it with: LLMP_CONFIG={target} llmp start", highlight=False, soft_wrap=True)


@config_app.command("show")
def show(json_output: bool = JSON) -> None:
    """The effective config: defaults, presets and ${VAR} applied, keys masked."""
    from llmp.core.config_loader import ConfigError, apply_overrides, load_config

    chosen, explicit = config_file()
    try:
        loaded = load_config(chosen, explicit=explicit)
        apply_overrides(loaded.config)
    except ConfigError as exc:
        fail(str(exc))
    data = masked(loaded.config.model_dump(mode="json"))
    source = str(loaded.source) if loaded.source else None
    if json_output:
        print_json({"source": source, "config": data})
        return
    import sys

    from ruamel.yaml import YAML

    where = source or f"built-in defaults (no file at {chosen})"
    sys.stdout.write(f"# effective config from {where}\n# keys are masked; LLMP_* variables applied\n")
    yaml = YAML(typ="rt")  # keeps the schema's order: server first, as in the example
    yaml.default_flow_style = False
    yaml.dump(data, sys.stdout)


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """Every literal key in the config shown as `sk-…abcd`; `keyring`, `none`, `env:VAR` stay."""
    for provider in data.get("providers", {}).values():
        provider["api_key"] = _mask_spec(provider.get("api_key", ""))
        provider["headers"] = {name: _mask(value) if name.lower() in _SECRET_HEADERS else value
                               for name, value in (provider.get("headers") or {}).items()}
    auth = data.get("server", {}).get("auth", {})
    for client in (auth.get("keys") or {}).values():
        client["key"] = _mask_spec(client.get("key", ""))
    if auth.get("jwt"):
        auth["jwt"]["secret"] = _mask_spec(auth["jwt"].get("secret", ""))
    return data


def _mask_spec(spec: str) -> str:
    if spec.strip().lower() in ("keyring", "none") or spec.startswith("env:"):
        return spec
    return _mask(spec)


def _mask(value: str) -> str:
    from llmp.core.redact import mask

    return mask(value)


@config_app.command("validate")
def validate(
    file: str | None = typer.Argument(None, help="Config file to check (default: the one llmp reads)."),
    json_output: bool = JSON,
) -> None:
    """Check a config file the way `llmp start` and `llmp reload` do; exit 1 on a problem."""
    chosen, explicit = config_file()
    target = Path(file).expanduser() if file else chosen
    if not target.exists() and file is None and not explicit:
        message = (f"no config file at {target}: llmp runs on its built-in defaults "
                   "(write a config with llmp config init)")
        if json_output:
            print_json({"file": str(target), "valid": False, "errors": [message]})
            raise typer.Exit(1)
        fail(message)
    problems = check(target)
    if json_output:
        print_json({"file": str(target), "valid": not problems, "errors": problems})
        if problems:
            raise typer.Exit(1)
        return
    if problems:
        for line in problems:
            print_error(line)
        raise typer.Exit(1)
    from llmp.core.config_loader import load_config

    config = load_config(target, explicit=True).config
    aliases = len(config.models)
    console().print(
        f"[green]✓[/] {target} is valid: {len(config.providers)} provider"
        f"{'' if len(config.providers) == 1 else 's'} ({', '.join(config.providers)}), "
        f"{aliases} alias{'' if aliases == 1 else 'es'}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    from llmp.cli.config_edit import edit

    config_app.command("edit")(edit)
    app.add_typer(config_app, name="config")
