"""`llmp ui` against the real daemon process: the link it hands the browser, once, until a restart."""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import httpx
import pytest

from llmp.core.audit import audit_path
from tests.support.cli import run_llmp
from tests.support.daemon_process import running_daemon, write_config

MOCK = "  mock:\n    type: mock\n    models: [mock-1]\n"
LINK = re.compile(r"^(http://127\.0\.0\.1:\d+)/ui/#code=([\w-]+)$", re.M)


def sign_in(link: str) -> httpx.Response:
    found = LINK.search(link)
    assert found, link
    return httpx.post(found.group(1) + "/ui/api/session", json={"code": found.group(2)})


def assert_audited(event: str, timeout: float = 5.0) -> None:
    """The daemon appends audit lines from a background thread, so the line may land a moment later."""
    deadline = time.monotonic() + timeout
    wanted = f'"event":"{event}"'
    while not (audit_path().exists() and wanted in audit_path().read_text()):
        assert time.monotonic() < deadline, f"{event} never reached {audit_path()}"
        time.sleep(0.02)


def test_ui_opens_a_one_time_link_and_a_restart_ends_the_session(
        isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(isolated_env, MOCK)
    opener = isolated_env / "browser.sh"  # stands in for the default browser: notes the URL it gets
    opener.write_text(f'#!/bin/sh\necho "$1" > "{isolated_env}/opened"\n')
    opener.chmod(opener.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BROWSER", f"{opener} %s")
    with running_daemon(isolated_env) as state:
        opened = run_llmp("ui")
        assert opened.code == 0, opened.err
        assert "opened the dashboard" in opened.err
        assert state.token not in opened.out + opened.err
        session = sign_in(opened.out)
        assert session.status_code == 200
        cookie = session.cookies["llmp_ui"]
        assert_audited("dashboard_signed_in")

        printed = run_llmp("ui", "--no-browser")
        assert printed.code == 0 and "open this link" in printed.err
        browser_url = (isolated_env / "opened").read_text().strip()
        assert browser_url == LINK.search(opened.out).group(0)  # the browser got the same link
        assert sign_in(browser_url).status_code == 401  # and it works once
        base = LINK.search(printed.out).group(1)
        assert httpx.get(base + "/ui/api/config", cookies={"llmp_ui": cookie}).status_code == 200
    with running_daemon(isolated_env) as state:
        again = httpx.get(state.base_url + "/ui/api/config", cookies={"llmp_ui": cookie})
        assert again.status_code == 401  # a restart ends every session


def test_ui_without_a_daemon_says_so(isolated_env: Path) -> None:
    result = run_llmp("ui", "--no-browser")
    assert result.code == 1
    assert "llmp is not running" in result.err
