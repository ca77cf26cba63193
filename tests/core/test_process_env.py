"""The environment llmp gives the daemon, and the daemon what it starts: the user's, not a
one-file bootloader's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llmp.core import process_env
from llmp.core.process_env import SAVED_TEMP, daemon_environment, user_environment

BUNDLE = "/home/u/.cache/llmp/unpacked/_MEIabc123"
FROZEN_CHILD = {  # what a Linux one-file bootloader hands its Python child
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/u",
    "LD_LIBRARY_PATH": f"{BUNDLE}:/opt/cuda/lib64",
    "LD_LIBRARY_PATH_ORIG": "/opt/cuda/lib64",
    "_PYI_APPLICATION_HOME_DIR": BUNDLE,
    "_PYI_ARCHIVE_FILE": "/usr/local/bin/llmp",
    "_PYI_PARENT_PROCESS_LEVEL": "1",
    "_MEIPASS2": BUNDLE,
}


def test_the_bootloader_library_path_is_restored_and_its_variables_dropped() -> None:
    env = user_environment(FROZEN_CHILD, BUNDLE)
    assert env == {"PATH": "/usr/bin:/bin", "HOME": "/home/u", "LD_LIBRARY_PATH": "/opt/cuda/lib64"}


def test_a_library_path_the_user_did_not_have_is_removed() -> None:
    child = {"PATH": "/usr/bin", "LD_LIBRARY_PATH": BUNDLE, "_PYI_ARCHIVE_FILE": "/x/llmp"}
    assert user_environment(child, BUNDLE) == {"PATH": "/usr/bin"}


def test_without_a_saved_value_only_the_bundle_entries_go() -> None:
    child = {"DYLD_LIBRARY_PATH": os.pathsep.join([BUNDLE, f"{BUNDLE}/lib", "/opt/brew/lib"])}
    assert user_environment(child, BUNDLE) == {"DYLD_LIBRARY_PATH": "/opt/brew/lib"}


def test_not_frozen_the_user_library_path_is_left_alone() -> None:
    env = {"LD_LIBRARY_PATH": "/opt/cuda/lib64", "PATH": "/usr/bin"}
    assert user_environment(env, None) == env


def test_the_daemon_unpacks_into_the_cache_and_gives_the_user_temp_back(tmp_path: Path) -> None:
    unpack = tmp_path / "cache" / "unpacked"
    cli = {**FROZEN_CHILD, "TMPDIR": "/tmp/mine", "LLMP_HOME": "relative-home"}
    for_daemon = daemon_environment(cli, BUNDLE, unpack, os_name="posix")
    assert for_daemon["TMPDIR"] == str(unpack)
    assert for_daemon["PYINSTALLER_RESET_ENVIRONMENT"] == "1"
    assert for_daemon["LD_LIBRARY_PATH"] == "/opt/cuda/lib64"
    assert not any(name.startswith(("_PYI_", "_MEIPASS")) for name in for_daemon)
    assert for_daemon["LLMP_HOME"] == os.path.abspath("relative-home")
    assert json.loads(for_daemon[SAVED_TEMP]) == {"TMPDIR": "/tmp/mine"}

    # The daemon's own bootloader then adds its variables; the daemon undoes them all.
    daemon_bundle = f"{unpack}/_MEIdef456"
    seen_by_daemon = {**for_daemon, "LD_LIBRARY_PATH": f"{daemon_bundle}:/opt/cuda/lib64",
                      "LD_LIBRARY_PATH_ORIG": "/opt/cuda/lib64", "_PYI_ARCHIVE_FILE": "/x/llmp"}
    for_token_command = user_environment(seen_by_daemon, daemon_bundle)
    assert for_token_command["TMPDIR"] == "/tmp/mine"
    assert for_token_command["LD_LIBRARY_PATH"] == "/opt/cuda/lib64"
    assert SAVED_TEMP not in for_token_command and "PYINSTALLER_RESET_ENVIRONMENT" not in for_token_command


def test_on_windows_tmp_and_temp_move_and_an_unset_one_is_unset_again(tmp_path: Path) -> None:
    for_daemon = daemon_environment({"TEMP": r"C:\Users\u\AppData\Local\Temp"}, None, tmp_path,
                                    os_name="nt")
    assert for_daemon["TMP"] == for_daemon["TEMP"] == str(tmp_path)
    restored = user_environment(for_daemon, None)
    assert restored == {"TEMP": r"C:\Users\u\AppData\Local\Temp"}


def test_a_detached_daemon_hands_its_children_the_user_environment(tmp_path: Path) -> None:
    """Through the real daemon entry point: a process it starts sees no bootloader variable,
    and runs in llmp's state folder, not the folder `llmp start` was typed in."""
    probe = (
        "import os, sys, json\n"
        "from llmp.core.paths import resolve_paths\n"
        "from llmp.daemon.main import settle_process\n"
        "paths = resolve_paths()\npaths.ensure()\nsettle_process(paths, detached=True)\n"
        "import subprocess\n"
        "child = subprocess.run([sys.executable, '-c', 'import os, json; "
        "print(json.dumps({\"env\": dict(os.environ), \"cwd\": os.getcwd()}))'],"
        " capture_output=True, text=True, check=True)\n"
        "print(child.stdout)\n"
    )
    home = tmp_path / "home"
    env = {**os.environ, "LLMP_HOME": str(home), "_PYI_ARCHIVE_FILE": "/x/llmp",
           "PYINSTALLER_RESET_ENVIRONMENT": "1", SAVED_TEMP: json.dumps({"TMPDIR": None}),
           "TMPDIR": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         cwd=tmp_path, check=True, timeout=60).stdout
    seen = json.loads(out)
    assert "_PYI_ARCHIVE_FILE" not in seen["env"] and "PYINSTALLER_RESET_ENVIRONMENT" not in seen["env"]
    assert "TMPDIR" not in seen["env"] and SAVED_TEMP not in seen["env"]
    assert Path(seen["cwd"]) == home


def test_only_a_child_of_the_same_binary_gets_the_bootloader_variables_back(tmp_path: Path) -> None:
    """The keyring reader (this binary again) reuses the daemon's unpacked folder; anything
    else the daemon starts sees the user's environment."""
    binary = tmp_path / "llmp"
    binary.write_bytes(b"one build")
    seen_by_daemon = {**FROZEN_CHILD, "_PYI_ARCHIVE_FILE": str(binary)}
    try:
        process_env.keep_for_own_binary(seen_by_daemon, str(binary))
        cleaned = user_environment(seen_by_daemon, BUNDLE)
        own = process_env.own_binary_environment(cleaned)
        assert own == seen_by_daemon
        assert "_PYI_ARCHIVE_FILE" not in cleaned and cleaned["LD_LIBRARY_PATH"] == "/opt/cuda/lib64"

        # An upgrade in place: the new archive must not run against the old folder's libraries.
        binary.write_bytes(b"the next build, longer")
        assert process_env.own_binary_environment(cleaned) is None
        process_env.keep_for_own_binary(seen_by_daemon, str(binary))
        binary.unlink()  # moved or removed: the child cannot start, and says so
        assert process_env.own_binary_environment(cleaned) is None
    finally:
        process_env._own_binary = None


def test_a_loader_variable_the_bootloader_left_unset_stays_unset_for_its_child(tmp_path: Path) -> None:
    binary = tmp_path / "llmp"
    binary.write_bytes(b"build")
    try:  # macOS: the bootloader unsets DYLD_LIBRARY_PATH; the user's comes back for others only
        process_env.keep_for_own_binary({"_PYI_ARCHIVE_FILE": str(binary)}, str(binary))
        own = process_env.own_binary_environment({"DYLD_LIBRARY_PATH": "/opt/brew/lib", "HOME": "/h"})
        assert own == {"_PYI_ARCHIVE_FILE": str(binary), "HOME": "/h"}
    finally:
        process_env._own_binary = None


def test_not_frozen_a_child_inherits_the_environment_as_it_is() -> None:
    assert process_env.own_binary_environment({"PATH": "/usr/bin"}) is None
