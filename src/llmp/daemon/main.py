"""The daemon process: settle its environment, then load config, listen and serve (`serve.py`).

This module stays light (no aiohttp, no pydantic) so the keyring's child
process starts reading before the heavy imports begin.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

from llmp.core import keyring_child
from llmp.core.paths import Paths, config_file_from_env, resolve_paths
from llmp.core.process_env import keep_for_own_binary, user_environment
from llmp.core.state import process_create_time
from llmp.core.unpacked import claim
from llmp.daemon.output import bound_output


def main(argv: list[str]) -> int:
    gc.disable()  # start-up's objects live as long as the process: no passes over them (heap.py)
    parser = argparse.ArgumentParser(prog="llmp __daemon__")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--config")
    parser.add_argument("--foreground", action="store_true")
    args = parser.parse_args(argv)
    bound_output()
    paths = resolve_paths()
    paths.ensure()
    owner = settle_process(paths, detached=not args.foreground)
    source = config_file_from_env(paths, args.config)
    explicit = bool(args.config or os.environ.get("LLMP_CONFIG"))
    keyring_child.read_for_this_process()
    # The keyring's child process loads it while the daemon imports. The built-in config's
    # names are known before anything heavy loads; a config file's once it is read.
    if not explicit and not source.exists():
        from llmp.core.builtin_config import keyring_names

        keyring_child.read_soon(keyring_names())
    else:
        keyring_child.read_soon(None)
    # pydantic looks for plugins in every installed package's metadata at its first model:
    # llmp's config has no use for them (about 20M instructions of start-up, more in a big venv).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from llmp.daemon.lean_aiohttp import import_aiohttp

    import_aiohttp()
    from llmp.daemon.serve import run  # pydantic and the rest load from here on

    gc.collect()  # the imports' garbage, once: left for later, it spreads the heap (+0.5 MiB RSS)

    try:
        return run(args, paths, source, explicit=explicit)
    finally:
        if owner is not None:
            owner.unlink(missing_ok=True)


def settle_process(paths: Paths, *, detached: bool) -> Path | None:
    """The user's environment (not a one-file bootloader's) for whatever the daemon starts.

    A detached daemon also claims its unpacked folder in llmp's cache (the owner
    file returned is removed at exit), so a later `llmp start` knows whose it is,
    and works from the state folder rather than holding open the folder `llmp
    start` was typed in.
    """
    bundle = getattr(sys, "_MEIPASS", None) if getattr(sys, "frozen", False) else None
    if bundle is not None:  # the keyring reader, this binary again, runs from the same folder
        keep_for_own_binary(os.environ, sys.executable)
    cleaned = user_environment(os.environ, bundle)
    os.environ.clear()
    os.environ.update(cleaned)
    if not detached:
        return None
    os.chdir(paths.state_dir)
    if bundle is None or Path(bundle).parent.resolve() != paths.unpack_dir.resolve():
        return None
    pid = os.getpid()
    try:
        return claim(Path(bundle), pid, process_create_time(pid) or time.time())
    except OSError:
        return None
