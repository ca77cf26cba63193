"""Smoke-test a built llmp binary as a new user would run it, in a clean environment.

    python pyinstaller/smoke.py dist/llmp-<version>-<os>-<arch>[.exe]

Every command runs with nothing of this shell's environment (`env -i` on POSIX)
but a private LLMP_HOME and TMPDIR, with the mock provider on port 0: --version,
--help, start, status --json, a chat, providers health, usage, logs, keys list,
keys test, keys set --file, test --json, stop. The daemon reads keys through its
keyring child (this binary again), which finds no keyring here and must say so
cleanly: the key is missing, with the advice to set it; a key in the environment
is used; a key stored while the daemon runs is read by a child that runs from
the daemon's unpacked folder (nothing unpacked in TMPDIR meanwhile). Then no
llmp process may be left, and no unpacked folder: neither the daemon's in llmp's
cache nor any in the private TMPDIR. A stale folder of a "killed" daemon,
planted before `start`, must be gone after it.
Exits non-zero with the failing step named. Needs psutil (a dependency of llmp,
so any venv that built llmp has it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

CONFIG = """\
server:
  port: 0
providers:
  mock:
    type: mock
    models: [mock-1]
  vault:  # its key only from the keyring, which a clean environment does not have
    type: openai
    base_url: https://vault.invalid/v1  # never called: no key
    models: [vault-1]
  fromenv:  # its key in FROMENV_API_KEY
    type: openai
    base_url: http://127.0.0.1:9/v1
    models: [fromenv-1]
"""
ENV_KEY = "sk-smoke-from-the-environment-0001"
STEP_TIMEOUT = 60.0


class SmokeFailure(Exception):
    pass


class Smoke:
    def __init__(self, binary: Path, root: Path) -> None:
        self.binary = binary
        self.home = root / "home"
        self.tmp = root / "tmp"
        self.home.mkdir()
        self.tmp.mkdir()
        (self.home / "config.yaml").write_text(CONFIG, encoding="utf-8")
        self.unpack_dir = self.home / "cache" / "unpacked"

    def clean_env(self, tmp: Path | None = None) -> dict[str, str]:
        tmp = tmp or self.tmp
        env = {"LLMP_HOME": str(self.home), "TMPDIR": str(tmp), "FROMENV_API_KEY": ENV_KEY}
        if os.name == "nt":  # what Windows itself needs to start a process at all
            env.update({name: os.environ[name] for name in ("SYSTEMROOT", "SYSTEMDRIVE", "WINDIR")
                        if name in os.environ})
            env.update(TEMP=str(tmp), TMP=str(tmp), USERPROFILE=str(self.home))
        return env

    def run(self, *args: str, expect: int = 0, binary: Path | None = None, tmp: Path | None = None,
            stdin: str = "") -> str:
        command = [str(binary or self.binary), *args]
        env = self.clean_env(tmp)
        if os.name != "nt":
            command = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *command]
        started = time.monotonic()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=STEP_TIMEOUT,
                                  env=env if os.name == "nt" else None,
                                  input=stdin)
        except subprocess.TimeoutExpired:
            raise SmokeFailure(f"llmp {' '.join(args)} did not finish within {STEP_TIMEOUT:g}s") from None
        took = time.monotonic() - started
        print(f"  llmp {' '.join(args):<28} exit {done.returncode}  {took:5.2f}s")
        if done.returncode != expect:
            raise SmokeFailure(f"llmp {' '.join(args)} exited {done.returncode} (expected {expect})\n"
                               f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
        return done.stdout

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            raise SmokeFailure(message)

    def unpacked(self) -> list[Path]:
        folders = [*self.unpack_dir.glob("_MEI*"), *self.tmp.glob("_MEI*")]
        return [folder for folder in folders if folder.is_dir()]

    def llmp_processes(self) -> list[psutil.Process]:
        mine = []
        for process in psutil.process_iter(["exe", "cmdline"]):
            with_binary = process.info["exe"] == str(self.binary.resolve()) or any(
                str(self.binary) in part for part in process.info["cmdline"] or ())
            if with_binary and process.pid != os.getpid():
                mine.append(process)
        return mine

    def wait_for(self, condition, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SmokeFailure(f"still waiting after {timeout:g}s: {what}")
            time.sleep(0.1)

    def all_steps(self) -> None:
        version = self.run("--version")
        self.check(version.startswith("llmp "), f"--version printed {version!r}")
        self.check("start" in self.run("--help"), "--help does not list `start`")

        stale = self.unpack_dir / "_MEIdead00"  # a daemon whose bootloader was killed
        (stale / "lib").mkdir(parents=True)
        (self.unpack_dir / "_MEIdead00.owner").write_text(json.dumps({"pid": 1, "create_time": 0.0}))

        self.run("start")
        status = json.loads(self.run("status", "--json"))
        self.check(status.get("running") is True and status.get("port"), f"status --json: {status}")
        self.check(not stale.exists(), "llmp start left the unpacked folder of a dead daemon")
        daemon_folders = [folder for folder in self.unpack_dir.glob("_MEI*") if folder.is_dir()]
        owned = len(daemon_folders) == 1 and (self.unpack_dir / f"{daemon_folders[0].name}.owner").exists()
        self.check(owned, f"the daemon did not unpack into llmp's cache: {daemon_folders}")

        reply = json.loads(self.run("chat", "-m", "mock-1", "--json", "hello from the smoke test"))
        content = reply["choices"][0]["message"]["content"]
        self.check("hello from the smoke test" in content, f"the mock's reply: {content!r}")
        self.run("providers", "health")
        self.run("usage")
        self.run("logs")
        self.run("keys", "list")
        self.key_steps()
        tested = json.loads(self.run("test", "mock", "--json"))
        self.check(all(p.get("ok") for p in tested.get("providers", [])), f"test --json: {tested}")
        self.run("stop")

        pid = status["pid"]
        self.wait_for(lambda: not psutil.pid_exists(pid), f"the daemon (pid {pid}) to exit")
        self.wait_for(lambda: not self.llmp_processes(), "every llmp process to exit")
        self.wait_for(lambda: not self.unpacked(), "the unpacked folders to be removed")
        leftovers = [p.name for p in self.unpack_dir.iterdir()] if self.unpack_dir.exists() else []
        self.check(not leftovers, f"left in llmp's unpack folder: {leftovers}")

    def key_test(self, name: str, **options: Path) -> dict:  # type: ignore[type-arg]
        answer = json.loads(self.run("keys", "test", name, "--json", expect=1, **options))
        self.check(answer.get("via") == "daemon", f"keys test {name} did not ask the daemon: {answer}")
        return answer["results"][0]

    def key_steps(self) -> None:
        vault = self.key_test("vault")
        self.check(vault["source"] == "missing" and vault["result"] == "no_key"
                   and "llmp keys set vault" in vault.get("detail", ""),
                   f"the daemon's keyring child did not answer 'no key' cleanly: {vault}")
        fromenv = self.key_test("fromenv")
        self.check(fromenv["source"] == "environment" and fromenv["key"] != "-",
                   f"the key in FROMENV_API_KEY was not used: {fromenv}")

        # Storing a key makes the daemon read it again. The CLI unpacks elsewhere meanwhile: a
        # folder in the daemon's TMPDIR would be its keyring child unpacking the bundle once more.
        cli_tmp = self.tmp.parent / "cli-tmp"
        cli_tmp.mkdir(exist_ok=True)
        seen: list[str] = []
        watching = threading.Event()

        def watch() -> None:
            while not watching.is_set():
                seen.extend(p.name for p in self.tmp.glob("_MEI*"))
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            stored = self.run("keys", "set", "vault", "--file", "--stdin", tmp=cli_tmp,
                              stdin="sk-smoke-file-key-0002")
        finally:
            watching.set()
            watcher.join()
        self.check("the running daemon now uses it" in stored, f"keys set vault --file: {stored!r}")
        self.check(not seen, f"the keyring child unpacked the bundle again: {sorted(set(seen))}")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    binary = Path(argv[0]).resolve()
    if not binary.is_file():
        print(f"smoke: no binary at {binary}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="llmp-smoke-"))
    smoke = Smoke(binary, root)
    started = time.monotonic()
    try:
        smoke.all_steps()
    except (SmokeFailure, ValueError, KeyError) as exc:
        print(f"smoke: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        log = smoke.home / "logs" / "daemon.out"
        if log.exists():
            print(f"--- {log}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        for process in smoke.llmp_processes():  # leave nothing running behind a failure
            process.kill()
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"smoke: all steps passed in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
