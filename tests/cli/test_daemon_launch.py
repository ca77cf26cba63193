"""How `llmp start` detaches the daemon on each OS, and the cleanup of unpacked folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from llmp.cli.daemon_control import launch_options
from llmp.core.unpacked import STARTING_GRACE, claim, remove_stale


def test_windows_gets_a_hidden_console_and_its_own_process_group_never_detached() -> None:
    flags = launch_options("nt")["creationflags"]
    assert isinstance(flags, int)
    # The values winbase.h gives these flags.
    assert flags == 0x08000000 | 0x00000200
    # DETACHED_PROCESS would leave the one-file bootloader without a console, and its
    # Python child (started with flags 0) would open a visible console window.
    assert not flags & 0x00000008
    assert "start_new_session" not in launch_options("nt")


def test_posix_gets_a_new_session() -> None:
    assert launch_options("posix") == {"start_new_session": True}


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "libpython.so").write_bytes(b"\0" * 64)
    return folder


def test_folders_of_gone_daemons_are_removed_and_live_or_starting_ones_kept(tmp_path: Path) -> None:
    tmp_path = tmp_path / "unpacked"
    tmp_path.mkdir()
    me = psutil.Process()
    live = _folder(tmp_path, "_MEIlive01")
    claim(live, me.pid, me.create_time())
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    gone = _folder(tmp_path, "_MEIgone01")
    claim(gone, finished.pid, time.time() - 3600)
    starting = _folder(tmp_path, "_MEIstart1")  # unpacked, owner file not written yet
    abandoned = _folder(tmp_path, "_MEIold001")  # never got an owner file
    old = time.time() - STARTING_GRACE - 60
    os.utime(abandoned, (old, old))
    (tmp_path / "_MEIorphan.owner").write_text(json.dumps({"pid": me.pid, "create_time": 0}))
    unrelated = _folder(tmp_path, "notes")

    removed = remove_stale(tmp_path)

    assert sorted(p.name for p in removed) == ["_MEIgone01", "_MEIold001"]
    assert live.exists() and starting.exists() and unrelated.exists()
    assert not gone.exists() and not abandoned.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_MEIlive01", "_MEIlive01.owner", "_MEIstart1", "notes"]


def test_a_missing_unpack_folder_is_nothing_to_clean(tmp_path: Path) -> None:
    assert remove_stale(tmp_path / "absent") == []
