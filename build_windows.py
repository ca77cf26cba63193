"""Build the single-file llmp.exe for Windows, then smoke-test it.

    py -3.11 build_windows.py              -> dist\\llmp-<version>-windows-<arch>.exe and its .sha256
    py -3.11 build_windows.py --no-smoke   build only

The Windows twin of build_unix.sh, in Python because no shell can be assumed
there: a clean venv (build\\venv) gets llmp from this checkout (no test
extras) and a pinned PyInstaller; the build is reproducible (fixed
PYTHONHASHSEED and SOURCE_DATE_EPOCH, no absolute paths in the bundle) and
carries a version resource and an icon. Environment knobs:
  LLMP_BUILD_PLUGINS     extra pip requirements to bundle, e.g. provider plug-ins
  LLMP_SIGNTOOL_SHA1     thumbprint of a code-signing certificate in the user's store:
                         the exe is then signed with signtool (SHA-256, timestamped at
                         LLMP_TIMESTAMP_URL, default http://timestamp.digicert.com)
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

PYINSTALLER_VERSION = "6.22.3"
ROOT = Path(__file__).resolve().parent


class BuildError(Exception):
    pass


def run(*command: str | Path, env: dict[str, str] | None = None, what: str) -> None:
    print(f"\n== {what}", flush=True)
    if subprocess.run([str(part) for part in command], cwd=ROOT, env=env).returncode != 0:
        raise BuildError(f"{what} failed (its messages are above)")


def source_date_epoch() -> str:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        return subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(int((ROOT / "pyproject.toml").stat().st_mtime))


def arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "arm64", "aarch64": "arm64"}.get(machine, machine)


def build(smoke: bool) -> Path:
    venv = ROOT / "build" / "venv"
    run(sys.executable, "-m", "venv", "--clear", venv, what=f"clean build venv in {venv}")
    python = venv / "Scripts" / "python.exe"
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, "--upgrade", "pip", what="pip")
    # A regular (not editable) install: the bundle must not point back into this folder.
    run(*pip, ".", f"pyinstaller=={PYINSTALLER_VERSION}", what="install llmp and PyInstaller")
    plugins = os.environ.get("LLMP_BUILD_PLUGINS", "").split()
    if plugins:
        run(*pip, *plugins, what="install LLMP_BUILD_PLUGINS")

    env = dict(os.environ, PYTHONHASHSEED="0", SOURCE_DATE_EPOCH=source_date_epoch(),
               PYTHONDONTWRITEBYTECODE="1")
    shutil.rmtree(ROOT / "build" / "pyinstaller", ignore_errors=True)
    run(python, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", "dist", "--workpath", ROOT / "build" / "pyinstaller", "pyinstaller/llmp.spec",
        env=env, what=f"PyInstaller {PYINSTALLER_VERSION}")

    version = subprocess.run([python, "-c", "from importlib.metadata import version; print(version('llmp'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    binary = ROOT / "dist" / f"llmp-{version}-windows-{arch()}.exe"
    if not binary.is_file():
        raise BuildError(f"PyInstaller finished but {binary} is not there")

    thumbprint = os.environ.get("LLMP_SIGNTOOL_SHA1")
    if thumbprint:
        stamp = os.environ.get("LLMP_TIMESTAMP_URL", "http://timestamp.digicert.com")
        run("signtool", "sign", "/sha1", thumbprint, "/fd", "SHA256", "/tr", stamp, "/td", "SHA256",
            binary, what="signtool")

    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    binary.with_name(binary.name + ".sha256").write_text(f"{digest}  {binary.name}\n", encoding="ascii")
    print(f"\n{digest}  {binary.name}\n{binary}: {binary.stat().st_size} bytes")

    if smoke:
        run(python, "pyinstaller/smoke.py", binary, what="smoke test")
    return binary


def main(argv: list[str]) -> int:
    if argv not in ([], ["--no-smoke"]):
        print("usage: build_windows.py [--no-smoke]", file=sys.stderr)
        return 2
    if sys.platform != "win32":
        print("build_windows.py builds on Windows; use ./build_unix.sh here", file=sys.stderr)
        return 2
    try:
        binary = build(smoke=not argv)
    except BuildError as exc:
        print(f"build_windows.py: {exc}", file=sys.stderr)
        return 1
    print(f"built {binary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
