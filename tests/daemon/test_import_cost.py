"""The daemon loads what its config uses, and nothing of the CLI or the keyring's libraries.

Each test runs a real daemon (`llmp.daemon.main`) in a child Python, which
lists its own modules once the daemon listens, then stops it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import llmp_env
from tests.support.keyring_backend import BACKEND as TEST_KEYRING

pytestmark = pytest.mark.timeout(120)

# Run in the child: the daemon in the foreground, and beside it a thread that waits for the
# state file (the daemon listens), prints every loaded module and the providers it serves
# (from the admin API, with the token in the state file), then stops it.
PROBE = """
import json, os, signal, sys, threading, time, urllib.request
from llmp.core.paths import resolve_paths
from llmp.daemon.main import main

def report():
    state_file = resolve_paths().state_file
    while not state_file.exists():
        time.sleep(0.01)
    modules = sorted(sys.modules)
    state = json.loads(state_file.read_text())
    ask = urllib.request.Request(f"http://127.0.0.1:{state['port']}/admin/status",
                                 headers={"Authorization": "Bearer " + state["token"]})
    with urllib.request.urlopen(ask) as answer:
        providers = json.load(answer)["providers"]
    print(json.dumps({"modules": modules, "providers": providers}), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=report, daemon=True).start()
sys.exit(main(["--port", "0", "--foreground"]))
"""

# Never in the daemon: the CLI's libraries, the keyring and what its backends load.
NEVER = ("typer", "rich", "prompt_toolkit", "httpx", "keyring", "keyrings", "secretstorage",
         "jeepney", "cryptography", "jwt")
ADAPTERS = {"anthropic": "llmp.daemon.providers.anthropic", "gemini": "llmp.daemon.providers.gemini",
            "cohere": "llmp.daemon.providers.cohere", "azure": "llmp.daemon.providers.azure",
            "openai": "llmp.daemon.providers.openai_compat"}


def run_daemon(env_extra: dict[str, str] | None = None) -> tuple[set[str], list[str]]:
    env = {**llmp_env(), **(env_extra or {})}
    process = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             timeout=90, env=env)
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout.strip().splitlines()[-1])
    return set(report["modules"]), report["providers"]


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in packages)


def unused_adapters(modules: set[str], types: tuple[str, ...]) -> list[str]:
    return sorted(ADAPTERS[t] for t in types if ADAPTERS[t] in modules)


def test_the_built_in_defaults_load_no_keyring_yaml_or_unused_adapter(isolated_env: Path) -> None:
    """No config file, a keyring holding an OpenAI key: the key is read (the provider is
    served), but by a child process, so none of the keyring's libraries stay in the daemon."""
    (isolated_env / "test-keyring.json").write_text(json.dumps({"llmp/openai": "sk-in-the-keyring-0001"}))
    modules, providers = run_daemon({"PYTHON_KEYRING_BACKEND": TEST_KEYRING})
    assert providers == ["mock", "openai"]
    assert loaded(modules, (*NEVER, "ruamel")) == []
    assert unused_adapters(modules, ("anthropic", "gemini", "cohere", "azure")) == []
    assert "llmp.daemon.cache.service" not in modules  # the cache is off by default
    assert loaded(modules, ("prometheus_client",)) == []  # loaded by the first /metrics scrape
    if sys.platform.startswith("linux"):  # its own start time comes from /proc, not psutil
        assert loaded(modules, ("psutil",)) == []


def test_a_config_loads_the_adapters_of_its_provider_types_only(isolated_env: Path) -> None:
    (isolated_env / "config.yaml").write_text("""
providers:
  mock: {type: mock, models: [mock-1]}
  claude: {type: anthropic, api_key: none, base_url: "http://127.0.0.1:9", models: [c-1]}
""")
    modules, providers = run_daemon()
    assert providers == ["mock", "claude"]
    assert ADAPTERS["anthropic"] in modules
    assert unused_adapters(modules, ("gemini", "cohere", "azure", "openai")) == []
    assert loaded(modules, NEVER) == []


GUESSES = "*(mimetypes.guess_type('a' + s)[0] for s in ('.webp', '.png', '.heic'))"


def test_aiohttp_loads_without_reading_the_system_mime_tables_until_they_are_asked_for() -> None:
    """aiohttp's import made the global MIME table read the system's files (idle memory for a
    table only a Gemini image URL consults); it is read on first use instead, same answers."""
    lean = (
        "import mimetypes\n"
        "from llmp.daemon.lean_aiohttp import import_aiohttp\n"
        "import_aiohttp()\n"
        "import aiohttp.web\n"
        f"print(mimetypes.inited, {GUESSES})\n"
    )
    plain = f"import mimetypes\nprint({GUESSES})\n"
    lean_out = subprocess.run([sys.executable, "-c", lean], capture_output=True, text=True, check=True)
    plain_out = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True, check=True)
    inited, *answers = lean_out.stdout.split()
    assert inited == "False"
    assert answers == plain_out.stdout.split()


def test_a_pydantic_plugin_installed_beside_llmp_is_not_run_by_the_daemon(
        isolated_env: Path, tmp_path: Path) -> None:
    """pydantic would scan every installed package's metadata for plugins at the daemon's first
    model, and run any it finds on llmp's config: the daemon asks it not to."""
    site = tmp_path / "site"
    info = site / "fake_pydantic_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-pydantic-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nfake = fake_pydantic_plugin:plugin\n")
    marker = tmp_path / "plugin-ran"
    (site / "fake_pydantic_plugin.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(os.environ['FAKE_PLUGIN_MARKER']).write_text('loaded')\n"
        "class _Plugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = _Plugin()\n")
    _, providers = run_daemon({"PYTHONPATH": str(site), "FAKE_PLUGIN_MARKER": str(marker)})
    assert providers  # the daemon did start and serve
    assert not marker.exists()
