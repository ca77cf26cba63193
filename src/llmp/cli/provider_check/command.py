"""`llmp test`: is each provider usable right now, and if not, why?

Through the daemon by default (starting it if needed), since that is the path
every client takes; `--direct` runs the same checks from this process with the
daemon's adapters, so a user can tell a proxy problem from a provider problem.
Exit code 1 when any check failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from llmp.cli.command_table import command_help
from llmp.cli.completion import complete_model, complete_provider

if TYPE_CHECKING:
    from llmp.cli.provider_check.checks import Options, ProviderReport
    from llmp.cli.provider_check.probe import Probe


class SelectionError(Exception):
    """The providers or model asked for do not match the configuration."""


PROVIDERS = typer.Argument(None, autocompletion=complete_provider,
                           help="Providers to check (default: every configured provider).")


def test(
    providers: list[str] | None = PROVIDERS,
    model: str | None = typer.Option(
        None, "--model", "-m", autocompletion=complete_model,
        help="Model to test: NAME for every provider checked, or "
        "PROVIDER/NAME for that provider (default: its first listed model)."),
    embedding_model: str | None = typer.Option(
        None, "--embedding-model", help="Embedding model (default: the first listed "
        "model with 'embed' in its name)."),
    direct: bool = typer.Option(
        False, "--direct", help="Bypass the daemon: call the providers from this process."),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds each check may take."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    wide: bool = typer.Option(False, "--wide", help="Show whole values, however wide."),
) -> None:
    import asyncio

    from llmp.cli.console import console, fail, print_json
    from llmp.cli.provider_check.checks import Options
    from llmp.cli.provider_check.probe import ProbeError
    from llmp.cli.provider_check.report import as_json, print_table

    options = Options(embedding_model=embedding_model, timeout=timeout)
    try:
        if direct:
            reports, where = asyncio.run(_direct(providers or [], model, options)), "direct"
        else:
            reports, where = _through_daemon(providers or [], model, options)
    except (SelectionError, ProbeError) as error:
        fail(str(error))
    if json_output:
        print_json(as_json(reports, "direct" if direct else "daemon"))
    else:
        print_table(console(), reports, where, wide)
    if not all(report.ok for report in reports):
        raise typer.Exit(1)


def _through_daemon(
    requested: list[str], model: str | None, options: Options
) -> tuple[list[ProviderReport], str]:
    import asyncio

    from llmp.cli.autostart import ensure_daemon
    from llmp.cli.provider_check.daemon_probe import DaemonProbe

    state = ensure_daemon()

    async def run() -> list[ProviderReport]:
        probe = DaemonProbe(state, options.timeout)
        try:
            return await _check(probe, requested, model, options)
        finally:
            await probe.close()

    return asyncio.run(run()), f"through the daemon at {state.base_url}"


async def _direct(requested: list[str], model: str | None, options: Options) -> list[ProviderReport]:
    import os

    from llmp.cli.console import fail
    from llmp.core.config_loader import ConfigError, load_config
    from llmp.core.paths import config_file_from_env, resolve_paths

    try:
        loaded = load_config(config_file_from_env(resolve_paths()),
                             explicit=bool(os.environ.get("LLMP_CONFIG")))
        from llmp.cli.provider_check.direct_probe import DirectProbe

        probe = DirectProbe(loaded.config)
    except (ConfigError, LookupError) as error:
        fail(str(error))
    await probe.start()
    try:
        return await _check(probe, requested, model, options)
    finally:
        await probe.close()


async def _check(
    probe: Probe, requested: list[str], model: str | None, options: Options
) -> list[ProviderReport]:
    from llmp.cli.provider_check.checks import Runner

    selected, models = select(await probe.names(), requested, model)
    return await Runner(probe, options).run(selected, models)


def select(
    known: list[str], requested: list[str], model: str | None
) -> tuple[list[str], dict[str, str]]:
    """Which providers to check and which model each: `--model p/m` picks `p` too."""
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise SelectionError(f"unknown provider '{unknown[0]}' "
                             f"(configured: {', '.join(known) or 'none'})")
    owner, _, qualified = (model or "").partition("/")
    if model and qualified and owner in known:
        if requested and owner not in requested:
            raise SelectionError(f"--model {model} names provider '{owner}', "
                                 "which is not among the providers to check")
        return requested or [owner], {owner: qualified}
    selected = requested or known
    return selected, {name: model for name in selected} if model else {}


def register(app: typer.Typer) -> None:
    app.command(name="test", help=command_help("test"))(test)
