"""The environment of the processes llmp starts, free of what a one-file build changed.

A PyInstaller one-file build runs as two processes: a bootloader that unpacks
the bundle into a temporary folder, and the Python child it starts there. On
Linux the bootloader points `LD_LIBRARY_PATH` into that folder (keeping the
user's value in `LD_LIBRARY_PATH_ORIG`) and leaves `_PYI_*` variables for its
own use. Passed on as they are, a program the daemon runs (a Vertex
`token_command` such as gcloud) would load the bundle's libssl and libcrypto,
and the daemon would inherit paths into the CLI's folder, deleted as soon as
the CLI exits. So the CLI gives the daemon the user's environment, and the
daemon, once running, restores its own for whatever it starts.

The daemon also unpacks into llmp's cache folder rather than the system's
temporary one (a `noexec` /tmp, or a cleaner deleting files of a daemon that
runs for weeks, would break it): the CLI points the daemon's temporary folder
there and remembers the user's in `LLMP_SAVED_TEMP`, which the daemon puts back.

One kind of child is the exception: the daemon's own binary run again (the
keyring reader). Given the bootloader's variables, its bootloader runs Python
straight from the daemon's unpacked folder, which lives as long as the daemon's
bootloader does, instead of unpacking the whole bundle once more. The daemon
keeps those variables aside for it alone (`keep_for_own_binary`), and only while
the binary on disk is still the one it started from: a binary replaced in place
(an upgrade) must not run its new archive against the old folder's libraries.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The bootloader's run-time loader variables, each saved as NAME_ORIG when it changes them.
LOADER_VARIABLES = ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "DYLD_FRAMEWORK_PATH", "LIBPATH")
BOOTLOADER_PREFIXES = ("_PYI_", "_MEIPASS")
RESET_VARIABLE = "PYINSTALLER_RESET_ENVIRONMENT"
SAVED_TEMP = "LLMP_SAVED_TEMP"
PATH_VARIABLES = ("LLMP_HOME", "LLMP_CONFIG")  # relative ones would move with the daemon's cwd


@dataclass(frozen=True)
class _OwnBinary:
    path: str
    identity: tuple[int, ...]
    variables: dict[str, str | None]  # None: the bootloader left it unset


_own_binary: _OwnBinary | None = None


def keep_for_own_binary(environ: Mapping[str, str], executable: str) -> None:
    """Remember, before the environment is cleaned, what a child of this binary needs to reuse
    its unpacked folder: the bootloader's `_PYI_*` variables and library paths."""
    global _own_binary
    identity = _identity(executable)
    if identity is None:
        return
    names = [*LOADER_VARIABLES, *(f"{name}_ORIG" for name in LOADER_VARIABLES)]
    variables: dict[str, str | None] = {name: environ.get(name) for name in names}
    variables.update((name, value) for name, value in environ.items() if name.startswith(BOOTLOADER_PREFIXES))
    _own_binary = _OwnBinary(executable, identity, variables)


def own_binary_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The environment for a child of this same binary that reuses the unpacked folder, or
    None (the child then unpacks for itself): not frozen, or the binary has changed since."""
    kept = _own_binary
    if kept is None or _identity(kept.path) != kept.identity:
        return None
    env = dict(environ)
    for name, value in kept.variables.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _identity(path: str) -> tuple[int, ...] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def temp_variables(os_name: str = os.name) -> tuple[str, ...]:
    """The variables the bootloader reads to choose where it unpacks."""
    return ("TMP", "TEMP") if os_name == "nt" else ("TMPDIR",)


def user_environment(environ: Mapping[str, str], bundle_dir: str | None) -> dict[str, str]:
    """`environ` as the user had it before a one-file bootloader (and llmp) changed it.

    `bundle_dir` is the running build's unpacked folder (`sys._MEIPASS`), None
    when not frozen: then only what llmp itself added is undone.
    """
    env = dict(environ)
    for name in LOADER_VARIABLES:
        original = env.pop(f"{name}_ORIG", None)
        if original is not None:
            env[name] = original
        elif bundle_dir and name in env:
            kept = [part for part in env[name].split(os.pathsep)
                    if part and not _inside(part, bundle_dir)]
            if kept:
                env[name] = os.pathsep.join(kept)
            else:
                del env[name]
    for name in list(env):
        if name.startswith(BOOTLOADER_PREFIXES) or name == RESET_VARIABLE:
            del env[name]
    saved = env.pop(SAVED_TEMP, None)
    if saved is not None:
        env = _restore_temp(env, saved)
    return env


def daemon_environment(
    environ: Mapping[str, str], bundle_dir: str | None, unpack_dir: Path | None,
    os_name: str = os.name,
) -> dict[str, str]:
    """What the CLI starts the daemon with: the user's environment, with absolute llmp paths,
    a bootloader told to unpack afresh, and (frozen) a temporary folder in llmp's cache."""
    env = user_environment(environ, bundle_dir)
    for name in PATH_VARIABLES:
        if env.get(name):
            env[name] = os.path.abspath(os.path.expanduser(env[name]))
    env[RESET_VARIABLE] = "1"
    if unpack_dir is not None:
        names = temp_variables(os_name)
        env[SAVED_TEMP] = json.dumps({name: env.get(name) for name in names})
        for name in names:
            env[name] = str(unpack_dir)
    return env


def _restore_temp(env: dict[str, str], saved: str) -> dict[str, str]:
    try:
        values = json.loads(saved)
    except ValueError:
        return env
    if not isinstance(values, dict):
        return env
    for name, value in values.items():
        if isinstance(value, str):
            env[name] = value
        elif value is None:
            env.pop(name, None)
    return env


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)
    except ValueError:  # different drives on Windows
        return False
