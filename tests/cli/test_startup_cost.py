"""The short-lived CLI stays light: the daemon's imports never load for `--help` or `status`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llmp import __version__
from tests.support.cli import llmp_env, run_llmp

# The daemon's server and client, the OS keyring, the metrics library: each costs 100 ms or more.
DAEMON_ONLY = ("aiohttp", "keyring", "prometheus_client", "llmp.daemon")


def run_with_import_report(*args: str) -> subprocess.CompletedProcess[str]:
    process = subprocess.run([sys.executable, "-X", "importtime", "-m", "llmp", *args],
                             capture_output=True, text=True, timeout=60, env=llmp_env())
    assert "Traceback" not in process.stderr
    return process


def modules_in(report: str) -> set[str]:
    """Every module in Python's own import-time report."""
    return {line.rsplit("|", 1)[1].strip() for line in report.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def imported(*args: str) -> set[str]:
    """Every module `llmp ARGS` imports."""
    return modules_in(run_with_import_report(*args).stderr)


@pytest.mark.parametrize("args", [["--help"], ["status"], ["status", "--json"],
                                  ["stop"], ["logs", "-n", "1"], ["usage"], ["start", "--help"]])
def test_cli_commands_leave_the_daemons_imports_alone(args: list[str]) -> None:
    modules = imported(*args)
    assert "llmp.cli.app" in modules  # the report is real: the CLI itself shows up
    heavy = sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in DAEMON_ONLY))
    assert heavy == []


def test_help_does_not_load_the_http_client() -> None:
    assert not {m for m in imported("--help") if m.split(".")[0] in ("httpx", "httpcore")}


# Every command's module (`--help` lists them all).
COMMAND_MODULES = ("llmp.cli.cache", "llmp.cli.chat", "llmp.cli.config_cmd", "llmp.cli.keys",
                   "llmp.cli.lifecycle", "llmp.cli.logs", "llmp.cli.provider_check",
                   "llmp.cli.providers", "llmp.cli.ui", "llmp.cli.usage")


def test_help_lists_the_commands_without_loading_their_modules() -> None:
    modules = imported("--help")
    assert "llmp.cli.app" in modules  # the report is real
    assert sorted(m for m in modules if m.startswith(COMMAND_MODULES)) == []


def test_help_leaves_the_markdown_parser_and_traceback_printer_alone() -> None:
    """Typer's help module imports both at its top; llmp's help is Rich markup and prints no traceback."""
    for args in (["--help"], ["keys", "set", "--help"], ["keys", "set"]):  # the last: a usage error
        modules = imported(*args)
        assert "typer.rich_utils" in modules  # Typer's help and error panels did load
        assert sorted(m for m in modules if m.split(".")[0] in ("markdown_it", "pygments", "attr")
                      or m in ("rich.markdown", "rich.traceback")) == []


def test_version_answers_without_loading_the_cli() -> None:
    process = run_with_import_report("--version")
    assert process.returncode == 0
    assert process.stdout == f"llmp {__version__}\n"
    modules = modules_in(process.stderr)
    assert "llmp.entry" in modules  # the report is real
    assert not {m for m in modules if m.split(".")[0] in ("typer", "click", "rich") or m == "llmp.cli.app"}


def test_start_and_status_talk_to_the_daemon_without_an_http_library(isolated_env) -> None:
    """`llmp start` waits for the daemon and `llmp status` asks it over loopback with the
    standard library: an HTTP library's import would be most of what they cost."""
    heavy = ("httpx", "httpcore", "aiohttp", "anyio", "llmp.daemon")
    try:
        started = imported("start", "--port", "0")
        assert (isolated_env / "daemon.json").exists()  # it did start, and waited for the daemon
        for modules in (started, imported("status"), imported("status", "--json")):
            assert "llmp.cli.admin_client" in modules
            assert sorted(m for m in modules if m.split(".")[0] in heavy or m.startswith(heavy)) == []
    finally:
        run_llmp("stop")


def test_a_plain_start_spawns_the_daemon_without_loading_typer(isolated_env) -> None:
    """`llmp start` with only --host / --port / --config runs before the CLI loads: the daemon
    is spawned a Typer-and-click import sooner, and says the same."""
    try:
        process = run_with_import_report("start", "--host=127.0.0.1", "--port", "0")
        assert process.returncode == 0, process.stderr
        assert "running at http://127.0.0.1:" in process.stdout
        modules = modules_in(process.stderr)
        assert "llmp.cli.background_start" in modules  # the report is real
        assert sorted(m for m in modules if m.split(".")[0] in ("typer", "click")) == []
        again = run_llmp("start", "--port", "0")
        assert again.code == 0 and "already running" in again.out
    finally:
        run_llmp("stop")


@pytest.mark.parametrize(("args", "expected"), [
    (["--port", "abc"], "Invalid value for '--port'"),  # Typer's own usage error
    (["--port"], "requires an argument"),
    (["--colour"], "No such option"),
])
def test_a_start_the_shortcut_cannot_read_goes_to_the_cli(args: list[str], expected: str,
                                                          isolated_env) -> None:
    try:
        result = run_llmp("start", *args)
        assert result.code != 0
        assert expected in result.err
    finally:
        run_llmp("stop")


# Every command's module but `status`'s own (`llmp.cli.lifecycle`).
OTHER_COMMANDS = ("llmp.cli.cache", "llmp.cli.chat", "llmp.cli.config_cmd", "llmp.cli.keys",
                  "llmp.cli.logs", "llmp.cli.provider_check", "llmp.cli.providers",
                  "llmp.cli.ui", "llmp.cli.usage")


def test_status_loads_no_other_commands_module() -> None:
    """`llmp status` is what scripts and prompts poll: it pays for its own module only."""
    modules = imported("status")
    assert "llmp.cli.lifecycle" in modules  # the report is real
    assert sorted(m for m in modules if m.startswith(OTHER_COMMANDS)) == []


def test_status_with_nothing_to_convert_leaves_pydantic_alone() -> None:
    """Typer converts values through pydantic; flags not given and defaults need no converting."""
    modules = imported("status")
    assert "llmp.cli.lifecycle" in modules  # the report is real
    assert sorted(m for m in modules if m.split(".")[0] in ("pydantic", "pydantic_core")) == []


@pytest.mark.parametrize(("value", "problem"), [
    ("abc", "Input should be a valid number"), ("0.01", "greater than or equal to 0.1")])
def test_a_value_given_is_still_converted_and_checked(value: str, problem: str) -> None:
    result = run_llmp("status", "--interval", value)
    assert result.code == 2
    assert "Invalid value for '--interval'" in result.err and problem in result.err
