"""Run real coding agents (Claude Code, Codex CLI) through llmp against a fake model.

What it does, all on loopback:
  1. installs `@anthropic-ai/claude-code` and `@openai/codex` from npm into a
     temporary folder (or uses `--agents-dir`, a folder with node_modules/.bin/);
  2. starts `fake_model.py` (OpenAI chat, Anthropic messages and Gemini
     generateContent in one server) and llmp (its own LLMP_HOME, a free port)
     with one provider per upstream format, each behind an alias;
  3. runs each agent non-interactively, once per upstream format: a plain
     prompt, then a prompt that makes it call its shell tool and finish after
     reading the result (the fake model's last answer quotes what the shell
     printed, which only a shell that ran the command can produce);
  4. prints one row per agent x upstream format and exits non-zero if any failed.

With `--cache` llmp's response cache is on and each step runs twice: the
second run must answer as well, and says how many of its calls the cache
served (an agent's second request may differ from its first, a hit is not
required, but every answer replayed from the cache must work for the agent).

Each agent gets its own HOME and config folder, and runs with telemetry and
other non-essential traffic off, so nothing leaves the machine.

Usage:
  python benchmarks/agents/run_agents.py                      # install into a temp folder
  python benchmarks/agents/run_agents.py --agents-dir /work/agents --agents claude
  python benchmarks/agents/run_agents.py --agents-dir /work/agents --cache
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fake_model import FINAL_PREFIX, GREETING, TOOL_OUTPUT, TOOL_TRIGGER  # noqa: E402

PACKAGES = {"claude": "@anthropic-ai/claude-code", "codex": "@openai/codex"}
FORMATS = ("openai", "anthropic", "gemini")
#: The path each upstream format's requests arrive on at the fake model.
UPSTREAM_PATHS = {"openai": ("/v1/chat/completions",), "anthropic": ("/v1/messages",),
                  "gemini": (":generateContent", ":streamGenerateContent")}
KINDS = ("plain", "tool", "plain-again", "tool-again")
KIND_TITLES = {"plain": "plain prompt", "tool": "tool round trip",
               "plain-again": "plain, again", "tool-again": "tool, again"}
PLAIN_PROMPT = "Say hi."
LEDGER_LAG = 1.0  # seconds until llmp's usage ledger holds a finished request (it commits in batches)
TOOL_PROMPT = f"Run the {TOOL_TRIGGER} with your shell tool, then report what it printed."


@dataclass
class Step:
    ok: bool
    detail: str
    seconds: float


@dataclass
class Row:
    agent: str
    version: str
    upstream: str
    steps: dict[str, Step] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps.values())


# -- processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)  # loopback only
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status: something answers
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing answered at {url}") from None
            time.sleep(0.1)


def install(folder: Path, agents: list[str]) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to install the agents (or pass --agents-dir)")
    packages = [PACKAGES[agent] for agent in agents]
    print(f"installing {' '.join(packages)} into {folder} ...", flush=True)
    subprocess.run([npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--loglevel=error",
                    *packages], check=True)
    return folder


def version_of(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    return (done.stdout.strip() or done.stderr.strip()).splitlines()[0] if done.returncode == 0 else "?"


def llmp_config(model_port: int, cache: bool = False) -> str:
    root = f"http://127.0.0.1:{model_port}"
    return f"""
cache: {{enabled: {str(cache).lower()}}}
providers:
  fake-openai:
    type: openai
    base_url: {root}/v1
    api_key: sk-fake-openai-key
  fake-anthropic:
    type: anthropic
    base_url: {root}
    api_key: sk-ant-fake-anthropic-key
  fake-gemini:
    type: gemini
    base_url: {root}/v1beta
    api_key: fake-gemini-key
models:
  agent-openai: [fake-openai/fake-model]
  agent-anthropic: [fake-anthropic/fake-model]
  agent-gemini: [fake-gemini/gemini-3-flash]
"""


class Stack:
    """The fake model and llmp in front of it, started once for every run."""

    def __init__(self, work: Path, llmp_port: int, model_port: int, cache: bool = False) -> None:
        self.work, self.llmp_port, self.model_port, self.cache = work, llmp_port, model_port, cache
        self.record = work / "upstream-requests.jsonl"
        self.record.touch()
        self.llmp_home = work / "llmp-home"
        self.llmp_home.mkdir()
        self.env = {**os.environ, "LLMP_HOME": str(self.llmp_home)}
        self.model: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.llmp_port}"

    def start(self) -> None:
        log = (self.work / "fake-model.log").open("wb")
        self.model = subprocess.Popen(
            [sys.executable, str(HERE / "fake_model.py"), "--port", str(self.model_port),
             "--record", str(self.record)], stdout=log, stderr=subprocess.STDOUT)
        wait_for(f"http://127.0.0.1:{self.model_port}/")
        config = self.llmp_home / "config.yaml"
        config.write_text(llmp_config(self.model_port, self.cache))
        subprocess.run([sys.executable, "-m", "llmp", "start", "--port", str(self.llmp_port),
                        "--config", str(config)], env=self.env, check=True)
        wait_for(self.url + "/healthz")

    def stop(self) -> None:
        subprocess.run([sys.executable, "-m", "llmp", "stop"], env=self.env, capture_output=True)
        if self.model is not None:
            self.model.terminate()
            self.model.wait(10)

    def upstream_paths(self, since: int) -> list[str]:
        """Paths of the requests the fake model has seen, from line `since` of its record on."""
        lines = self.record.read_text(encoding="utf-8").splitlines()[since:]
        return [json.loads(line)["path"] for line in lines]

    def seen(self) -> int:
        return len(self.record.read_text(encoding="utf-8").splitlines())

    def cache_hits(self) -> int:
        """Requests llmp has answered from its response cache so far (its usage ledger's count,
        once the rows of the requests just made are committed)."""
        time.sleep(LEDGER_LAG)
        done = subprocess.run([sys.executable, "-m", "llmp", "cache", "stats", "--json"],
                              env=self.env, capture_output=True, text=True, check=True)
        return int(json.loads(done.stdout)["hits"])


# -- the agents --------------------------------------------------------------------


def claude_command(bin_dir: Path, stack: Stack, fmt: str, home: Path, prompt: str
                   ) -> tuple[list[str], dict[str, str]]:
    alias = f"agent-{fmt}"
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": stack.url,  # the root: Claude Code adds /v1/messages itself
        "ANTHROPIC_API_KEY": "sk-ant-any-value",  # llmp holds the real keys
        "ANTHROPIC_MODEL": alias, "ANTHROPIC_DEFAULT_OPUS_MODEL": alias,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": alias, "ANTHROPIC_DEFAULT_HAIKU_MODEL": alias,
        "CLAUDE_CODE_SUBAGENT_MODEL": alias,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    # As root Claude Code refuses --dangerously-skip-permissions; allowing the one tool is enough.
    return [str(bin_dir / "claude"), "-p", prompt, "--allowedTools", "Bash"], env


def codex_command(bin_dir: Path, stack: Stack, fmt: str, home: Path, prompt: str
                  ) -> tuple[list[str], dict[str, str]]:
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(f"""
model = "agent-{fmt}"
model_provider = "llmp"

[model_providers.llmp]
name = "llmp"
base_url = "{stack.url}/v1"
env_key = "LLMP_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false

[analytics]
enabled = false
""")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEX_HOME": str(codex_home),
           "LLMP_API_KEY": "any-value"}
    return [str(bin_dir / "codex"), "exec", "--skip-git-repo-check", "--color", "never",
            "--dangerously-bypass-approvals-and-sandbox", prompt], env


COMMANDS = {"claude": claude_command, "codex": codex_command}


def run_step(agent: str, bin_dir: Path, stack: Stack, fmt: str, home: Path, kind: str,
             timeout: float, again: bool = False) -> Step:
    prompt = PLAIN_PROMPT if kind == "plain" else TOOL_PROMPT
    command, env = COMMANDS[agent](bin_dir, stack, fmt, home, prompt)
    workdir = home / "project"
    workdir.mkdir(parents=True, exist_ok=True)
    before = stack.seen()
    hits_before = stack.cache_hits() if again else 0
    started = time.monotonic()
    try:
        done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        output, code = f"{exc.stdout or ''}{exc.stderr or ''}", -1
    seconds = time.monotonic() - started
    name = f"{agent}-{fmt}-{kind}{'-again' if again else ''}"
    (stack.work / f"{name}.log").write_text(f"$ {' '.join(command)}\nexit {code}\n{output}")
    paths = stack.upstream_paths(before)
    hits = stack.cache_hits() - hits_before if again else None
    return judge(fmt, kind, code, output, paths, seconds, hits)


def answered(kind: str, output: str) -> bool:
    """The agent printed the fake model's final answer: the greeting, or for the tool round
    trip a final answer that quotes the tool's result (Codex wraps that result in a header of
    its own, so the output follows the prefix rather than standing right after it)."""
    if kind == "plain":
        return GREETING in output
    _, found, answer = output.rpartition(FINAL_PREFIX)
    return bool(found) and TOOL_OUTPUT in answer


def judge(fmt: str, kind: str, code: int, output: str, paths: list[str], seconds: float,
          hits: int | None = None) -> Step:
    """A run passes when the agent printed the expected answer and its calls reached the
    upstream; a repeat with the cache on (`hits`: calls the cache served) may be served by
    either."""
    reached = [p for p in paths if any(tail in p for tail in UPSTREAM_PATHS[fmt])]
    if code == -1:
        return Step(False, "timed out", seconds)
    if code != 0 or not answered(kind, output):
        last = " ".join(output.strip().splitlines()[-2:])[-160:]
        return Step(False, f"exit {code}: {last or 'no output'}", seconds)
    if hits is None:
        if not reached:
            return Step(False, f"no request reached the {fmt} upstream", seconds)
        return Step(True, f"{len(reached)} upstream call(s)", seconds)
    if not reached and not hits:
        return Step(False, "neither the upstream nor the cache answered", seconds)
    return Step(True, f"{hits} from the cache, {len(reached)} upstream", seconds)


# -- the report --------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    kinds = [kind for kind in KINDS if any(kind in row.steps for row in rows)]
    head = ("agent", "version", "upstream", *(KIND_TITLES[kind] for kind in kinds), "result")
    lines = [head]
    for row in rows:
        cells = []
        for kind in kinds:
            step = row.steps.get(kind)
            cells.append("-" if step is None else
                         f"{'ok' if step.ok else 'FAIL'} {step.seconds:.1f}s, {step.detail}")
        lines.append((row.agent, row.version, row.upstream, *cells, "PASS" if row.ok else "FAIL"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents-dir", type=Path, help="reuse an install holding node_modules/.bin/")
    parser.add_argument("--agents", default="claude,codex", help="comma-separated: claude,codex")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated upstream formats")
    parser.add_argument("--port", type=int, default=0, help="llmp's port (default: a free one)")
    parser.add_argument("--model-port", type=int, default=0, help="the fake model's port (default: free)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per agent run")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, requests)")
    parser.add_argument("--cache", action="store_true",
                        help="turn llmp's response cache on and run each step a second time")
    args = parser.parse_args()
    agents = [a for a in args.agents.split(",") if a]
    formats = [f for f in args.formats.split(",") if f]
    work = Path(tempfile.mkdtemp(prefix="llmp-agents-"))
    stack = Stack(work, args.port or free_port(), args.model_port or free_port(), args.cache)
    rows: list[Row] = []
    try:
        bin_dir = (args.agents_dir or install(work / "agents", agents)) / "node_modules" / ".bin"
        stack.start()
        print(f"llmp at {stack.url}, fake model at 127.0.0.1:{stack.model_port}, work folder {work}",
              flush=True)
        for agent in agents:
            version = version_of(bin_dir / agent)
            for fmt in formats:
                row = Row(agent, version, fmt)
                home = work / f"home-{agent}-{fmt}"
                for kind in ("plain", "tool"):
                    runs = (False, True) if args.cache else (False,)
                    for again in runs:
                        name = f"{kind}-again" if again else kind
                        row.steps[name] = run_step(agent, bin_dir, stack, fmt, home, kind,
                                                   args.timeout, again)
                        print(f"  {agent} / {fmt} / {name}: {row.steps[name].detail}", flush=True)
                rows.append(row)
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(rows))
    if args.keep:
        print(f"\nlogs and recorded upstream requests: {work}")
    return 0 if rows and all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
