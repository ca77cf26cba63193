"""`llmp keys set / list / rm / test`: provider and client keys, kept out of files.

A key goes to the OS keyring (service `llmp`, username = the name) unless the
user explicitly asks for the key file with `--file`; with no usable keyring
`set` says so and stops rather than writing plain text on its own. A running
daemon is told to re-read the key, so a change takes effect without a restart.
Names: a provider's name, `client:NAME` for a client key, `jwt-secret`.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import typer

from llmp.cli.command_table import command_help
from llmp.cli.completion import complete_key_name, complete_provider
from llmp.cli.console import console, fail, print_json
from llmp.core.paths import resolve_paths
from llmp.core.presets import PRESETS

keys_app = typer.Typer(
    help=command_help("keys"),
    no_args_is_help=True,
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_FAILED = {"invalid", "unreachable", "error", "no_key"}


def _load_config() -> Any:
    from llmp.core.config_loader import ConfigError, load_config
    from llmp.core.paths import config_file_from_env

    explicit = bool(os.environ.get("LLMP_CONFIG"))
    try:
        return load_config(config_file_from_env(resolve_paths()), explicit=explicit).config
    except ConfigError as exc:
        fail(str(exc))


def _env_vars(name: str, config: Any) -> tuple[str, ...]:
    from llmp.core.config_schema import ProviderConfig
    from llmp.core.keys import key_env_vars
    from llmp.daemon.security.client_auth import JWT_SECRET_ENV, client_key_env

    if name.startswith("client:"):
        return (client_key_env(name.removeprefix("client:")),)
    if name == "jwt-secret":
        return (JWT_SECRET_ENV,)
    return key_env_vars(name, config.providers.get(name) or ProviderConfig())


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        fail(f"'{name}' is not a valid key name (letters, digits, '_', '-', '.', ':')")


def _notify_daemon(name: str, removed: bool = False) -> str:
    """Ask a running daemon to re-read the key; a sentence saying what it now uses.

    "Now uses it" only when the daemon says the stored key is the one in use: a
    key in the daemon's environment or written in its config wins over the keyring.
    """
    from llmp.cli.admin_client import DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state

    state = live_state(resolve_paths())
    if state is None:
        return "the daemon is not running; it will read the key when it starts"
    try:
        answer = admin_request(state, "POST", "/admin/keys/reload", json={"name": name})
    except DaemonUnreachable as exc:
        return f"the running daemon could not be told ({exc}); restart it with llmp stop && llmp start"
    used = (answer.get("keys") or {}).get(name)
    if not isinstance(used, dict):  # client keys, the JWT secret: read again as they are
        return "the running daemon has read it again"
    source = used.get("source")
    if source in ("keyring", "file"):
        return "the running daemon now uses it" if not removed else \
            "the running daemon now uses the other stored copy"
    if source in ("environment", "config"):
        return f"the running daemon does not use it: {used.get('advice', '')}"
    return "the running daemon no longer has a key for it" if removed else \
        "the running daemon has read it again"


@keys_app.command("set")
def set_key(
    name: str = typer.Argument(..., help="Provider name, client:NAME, or jwt-secret.",
                               autocompletion=complete_key_name),
    from_stdin: bool = typer.Option(False, "--stdin", help="Read the key from standard input."),
    to_file: bool = typer.Option(
        False, "--file", help="Store it in a file only you can read (mode 0600) instead of the keyring."
    ),
) -> None:
    """Store a key (asked for without echo, or read from --stdin)."""
    from llmp.core import key_file, keyring_store
    from llmp.core.audit import audit
    from llmp.core.redact import mask, register_secret

    _check_name(name)
    config = _load_config()
    variables = _env_vars(name, config)
    if not to_file:  # say so before the user types a secret that cannot be kept
        backend = keyring_store.status()
        if not backend.usable:
            fail(f"no usable OS keyring ({backend.reason}); nothing was asked or stored. Either keep "
                 f"the key in a file only you can read: llmp keys set {name} --file, or set "
                 f"{variables[0]} in the environment.")
    secret = sys.stdin.read() if from_stdin else typer.prompt(f"Key for {name}", hide_input=True)
    secret = secret.strip()
    if not secret:
        fail("the key is empty; nothing was stored")
    register_secret(secret)
    if to_file:
        where = f"the key file {key_file.put(name, secret)}"
        keyring_store.delete(name)  # the keyring is read first: an old entry there would win
        store = "file"
    else:
        try:
            keyring_store.put(name, secret)
        except keyring_store.KeyringUnavailable as exc:
            fail(f"{exc}. Either keep the key in a file only you can read: "
                 f"llmp keys set {name} --file, or set {variables[0]} in the environment.")
        key_file.delete(name)
        where = f"the OS keyring ({keyring_store.status().backend})"
        store = "keyring"
    audit("key_set", name=name, store=store)
    out = console()
    out.print(f"[green]✓[/] stored the key for {name} ({mask(secret)}) in {where}", highlight=False)
    out.print(f"  {_notify_daemon(name)}", highlight=False)
    known = name in config.providers or name in PRESETS  # built-in defaults add presets with a key
    if not known and not name.startswith("client:") and name != "jwt-secret":
        out.print(f"  note: no provider named {name} is configured yet", highlight=False)
    for variable in variables:
        if os.environ.get(variable):
            out.print(f"  note: {variable} is set in this environment and takes precedence",
                      highlight=False)


@keys_app.command("rm")
def remove_key(name: str = typer.Argument(..., help="Provider name, client:NAME, or jwt-secret.",
                                          autocompletion=complete_key_name)) -> None:
    """Remove a stored key from the keyring and the key file."""
    from llmp.core import key_file, keyring_store
    from llmp.core.audit import audit

    _check_name(name)
    removed = [store for store, gone in (("keyring", keyring_store.delete(name)),
                                          ("file", key_file.delete(name))) if gone]
    if not removed:
        fail(f"no stored key for {name}")
    audit("key_removed", name=name, stores=removed)
    out = console()
    out.print(f"[green]✓[/] removed the key for {name} from the {' and the '.join(removed)}",
              highlight=False)
    out.print(f"  {_notify_daemon(name, removed=True)}", highlight=False)


def _rows(config: Any) -> list[dict[str, Any]]:
    from llmp.core.keys import resolve_key, resolve_secret
    from llmp.daemon.security.client_auth import (
        JWT_SECRET_ENV,
        JWT_SECRET_USERNAME,
        client_key_env,
        client_key_username,
    )

    found = [(name, resolve_key(name, spec)) for name, spec in config.providers.items()]
    auth = config.server.auth
    found += [(f"client:{name}", resolve_secret(spec.key, client_key_username(name), (client_key_env(name),)))
              for name, spec in auth.keys.items()]
    if auth.jwt is not None:
        found.append((JWT_SECRET_USERNAME, resolve_secret(auth.jwt.secret, JWT_SECRET_USERNAME,
                                                          (JWT_SECRET_ENV,))))
    return [{"name": name, "source": key.source, "state": key.state, "present": key.present,
             "key": key.masked, **({"problem": key.problem} if key.problem else {})}
            for name, key in found]


@keys_app.command("list")
def list_keys(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    wide: bool = typer.Option(False, "--wide", help="Show whole values, however wide."),
) -> None:
    """Every configured key: where it comes from (or that it is missing), masked."""
    from llmp.core import key_file, keyring_store

    rows = _rows(_load_config())
    backend = keyring_store.status()
    key_path = key_file.path()
    info = {
        "keyring": {"backend": backend.backend, "usable": backend.usable, "reason": backend.reason},
        "key_file": str(key_path) if key_path.exists() else None,
        "keys": rows,
    }
    if json_output:
        print_json(info)
        return
    from llmp.cli.tables import Column, Styled, render

    out = console()
    state = "[green]usable[/]" if backend.usable else f"[red]not usable[/]: {escape(backend.reason)}"
    out.print(f"keyring backend: {escape(backend.backend)} ({state})", highlight=False)
    if info["key_file"]:
        out.print(f"key file: {escape(info['key_file'])}", highlight=False)
    table = [[row["name"], Styled(row["state"], "red" if row["state"] == "missing" else ""),
              row["key"]] for row in rows]
    render(out, [Column("name"), Column("key"), Column("value (masked)")], table, wide=wide)
    for row in rows:
        if row.get("problem"):
            out.print(f"[red]{escape(row['name'])}[/]: {escape(row['problem'])}", highlight=False,
                      soft_wrap=True)


def escape(text: str | None) -> str:
    from llmp.cli.tables import cell

    return cell(text)


async def _test_directly(config: Any, name: str | None) -> list[dict[str, Any]]:
    """No daemon running: build the providers here and check through their adapters."""
    import asyncio

    from llmp.daemon.providers.registry import adapter_for
    from llmp.daemon.security.key_check import check_key

    chosen = {n: s for n, s in config.providers.items() if name is None or n == name}
    providers = [adapter_for(spec.type or "openai")(n, spec) for n, spec in chosen.items()]
    for provider in providers:
        await provider.start()
    try:
        return list(await asyncio.gather(*(check_key(p) for p in providers)))
    finally:
        for provider in providers:
            await provider.close()


@keys_app.command("test")
def test_keys(
    name: str | None = typer.Argument(None, help="One provider (default: all).",
                                      autocompletion=complete_provider),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    wide: bool = typer.Option(False, "--wide", help="Show whole values, however wide."),
) -> None:
    """Check keys with a real authenticated call, as llmp test does: valid, invalid, unreachable."""
    import asyncio

    from llmp.cli.admin_client import DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state

    state = live_state(resolve_paths())
    if state is not None:
        try:
            results = admin_request(state, "POST", "/admin/keys/test", json={"provider": name},
                                    timeout=60.0)["results"]
        except DaemonUnreachable as exc:
            fail(str(exc))
        via = "daemon"
    else:
        config = _load_config()
        if name is not None and name not in config.providers:
            fail(f"no provider named '{name}' in the configuration")
        results = asyncio.run(_test_directly(config, name))
        via = "direct"
    if json_output:
        print_json({"via": via, "results": results})
    else:
        _print_results(results, wide)
    if any(r["result"] in _FAILED for r in results):
        raise typer.Exit(1)


def _print_results(results: list[dict[str, Any]], wide: bool) -> None:
    from llmp.cli.tables import Column, Styled, render

    colours = {"valid": "green", "invalid": "red", "unreachable": "yellow", "error": "red",
               "no_key": "red"}
    rows = [[r["provider"], Styled(r["result"].replace("_", " "), colours.get(r["result"], "dim")),
             r.get("state") or r.get("source"), r["key"], r.get("detail")] for r in results]
    render(console(), [Column("provider"), Column("result"), Column("key"), Column("value"),
                       Column("detail", kind="text")], rows, wide=wide)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
