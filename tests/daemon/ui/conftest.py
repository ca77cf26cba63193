"""A real headless Chromium (Debian's `chromium`, driven by Playwright) for the dashboard tests.

No browser is downloaded: Playwright drives the system's executable. One
browser serves a whole module; each test gets a fresh context (its own
cookies). Every console message of type error and every uncaught page error
is collected, and `Dashboard.close` fails the test if there was any.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateway import Gateway

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("LLMP_UI_SCREENSHOTS")
                   or Path(__file__).resolve().parents[3] / "build" / "ui-screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Dashboard:
    """One browser context on one gateway's dashboard."""

    def __init__(self, browser: Any, gateway: Gateway, *, color_scheme: str = "light",
                 width: int = 1280, height: int = 800) -> None:
        self.gateway = gateway
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           color_scheme=color_scheme)
        self.context.set_default_timeout(8000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self, page: str = "overview") -> Any:
        """Open the dashboard the way `llmp ui` does: a one-time code in the URL's fragment."""
        code = httpx.post(self.gateway.url + "/admin/ui/code", headers=self.gateway.admin_headers())
        assert code.status_code == 200
        self.page.goto(f"{self.gateway.url}/ui/#code={code.json()['code']}")
        self.page.wait_for_selector("[data-testid=connection]:has-text('live')")
        if page != "overview":
            self.go(page)
        return self.page

    def go(self, page: str) -> None:
        self.page.click(f"nav a[href='#/{page}']")
        self.page.wait_for_selector(f"#{page}-title")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture
def open_dashboard(browser: Any, make_gateway: Any) -> Iterator[Callable[..., Dashboard]]:
    """Pages are closed before any gateway stops (this depends on `make_gateway`, so it is
    torn down first): a page still open would log its stream's lost connection."""
    opened: list[Dashboard] = []

    def make(gateway: Gateway, **options: Any) -> Dashboard:
        dashboard = Dashboard(browser, gateway, **options)
        opened.append(dashboard)
        return dashboard

    yield make
    for dashboard in opened:
        dashboard.close()
