"""The dashboard in a real headless Chromium, against a gateway with fake upstreams.

Each page loads without a console error (the strict CSP would report any
inline script or remote asset there), in light and dark, with screenshots
saved under build/ui-screenshots (or $LLMP_UI_SCREENSHOTS). Live figures move
while traffic flows; a failing provider's circuit opens and closes on screen;
the buttons act; a failed-over request shows its attempts; a browser without
a session is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.daemon.routing_support import MODEL, healthy, two_providers
from tests.daemon.ui.conftest import SCREENSHOTS
from tests.support.clock import ManualClock
from tests.support.fake_upstream import fail
from tests.support.gateway import Gateway

BREAKER = """
retry: {attempts: 0}
circuit_breaker: {failure_threshold: 3, window: 60, recovery_time: 30, half_open_requests: 1}
health_check: {interval: 3600}
"""
NO_VALUE = "\u2013"  # the en dash the page shows before a figure is known
PAGES = ("overview", "providers", "requests", "usage", "config")


def ask(gateway: Gateway, model: str = "smart") -> str:
    answer = gateway.openai().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}])
    return answer.choices[0].message.content or ""


@pytest.fixture
def failing_then_good(make_gateway, make_upstream) -> Iterator[tuple[Gateway, object, object]]:
    bad, good = make_upstream().always(fail(500)), make_upstream().always(healthy())
    clock = ManualClock()
    gateway = make_gateway(two_providers(bad.url, good.url, defaults=BREAKER) + "usage: {log_bodies: true}\n",
                           clock=clock, sleeper=clock.skip)
    yield gateway, bad, good


@pytest.fixture
def traffic(failing_then_good) -> Iterator[threading.Event]:
    """A load script: requests through the healthy provider until the test is done."""
    gateway = failing_then_good[0]
    done = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=gateway.base_url) as client:
            while not done.is_set():
                client.post("/chat/completions", json={
                    "model": f"good/{MODEL}", "messages": [{"role": "user", "content": "hi"}]})

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    yield done
    done.set()
    thread.join(10)


def test_every_page_loads_without_errors_while_live_numbers_move(
        open_dashboard, failing_then_good, traffic) -> None:
    gateway = failing_then_good[0]
    for scheme in ("light", "dark"):
        dashboard = open_dashboard(gateway, color_scheme=scheme)
        page = dashboard.sign_in()
        total = page.get_by_test_id("requests-total")
        expect(total).not_to_have_text(NO_VALUE)
        if not traffic.is_set():
            seen = total.inner_text()
            expect(total).not_to_have_text(seen)  # the next tick counts the load script's requests
            expect(page.get_by_test_id("rps")).not_to_have_text("0.00")
            expect(page.get_by_test_id("tokens-today")).not_to_have_text(NO_VALUE)
            traffic.set()  # the load script stops: the pages are looked at in peace
        for name in PAGES:
            dashboard.go(name)
            expect(page.locator("main")).not_to_contain_text("Loading")
            dashboard.screenshot(f"{name}-{scheme}")
        dashboard.close()
    phone = open_dashboard(gateway, color_scheme="light", width=390, height=844)
    page = phone.sign_in()
    for name in ("overview", "providers", "requests"):
        phone.go(name)
        expect(page.locator("main")).not_to_contain_text("Loading")
        phone.screenshot(f"{name}-phone")
    # Readable on a phone: the page itself never scrolls sideways (wide tables scroll in their panel).
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    print(f"\nscreenshots: {SCREENSHOTS}")


def test_circuit_opens_and_closes_on_screen_and_the_buttons_act(open_dashboard, failing_then_good) -> None:
    gateway, bad, _ = failing_then_good
    dashboard = open_dashboard(gateway)
    page = dashboard.sign_in("providers")
    circuit = page.get_by_test_id("circuit-bad")
    expect(circuit).to_have_text("closed")
    assert [ask(gateway) for _ in range(3)] == ["fine"] * 3  # bad fails each time; good answers
    expect(circuit).to_have_text("open · probe in 30s")
    expect(page.get_by_test_id("state-bad")).to_have_text("down")
    dashboard.screenshot("providers-circuit-open")

    bad.always(healthy())  # it recovers; a check now probes through the open circuit
    page.get_by_role("button", name="check bad now").click()
    expect(circuit).to_have_text("closed")
    expect(page.get_by_test_id("state-bad")).to_have_text("degraded")  # recent errors still count

    page.get_by_role("button", name="disable good").click()
    expect(page.get_by_test_id("state-good")).to_have_text("disabled")
    assert gateway.runtime.router.disabled == {"good"}
    page.get_by_role("button", name="enable good").click()
    expect(page.get_by_test_id("state-good")).not_to_have_text("disabled")
    assert gateway.runtime.router.disabled == set()


def test_request_detail_shows_the_attempts_of_a_failed_over_request(
        open_dashboard, failing_then_good) -> None:
    gateway = failing_then_good[0]
    dashboard = open_dashboard(gateway)
    page = dashboard.sign_in("requests")
    assert ask(gateway) == "fine"
    row = page.locator("tr[data-request]").first
    expect(row).to_contain_text("good")
    page.keyboard.press("Tab")  # keyboard: focus reaches the rows; Enter opens one
    row.focus()
    page.keyboard.press("Enter")
    attempts = page.get_by_test_id("attempts").locator("tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("bad")
    expect(attempts.nth(0)).to_contain_text("failed: server_error")
    expect(attempts.nth(1)).to_contain_text("good")
    expect(attempts.nth(1)).to_contain_text("answered")
    expect(page.get_by_test_id("answered-by")).to_have_text(f"good / {MODEL}")
    detail = page.get_by_test_id("request-detail")
    expect(detail).to_contain_text('"content": "hi"')  # the stored request body (usage.log_bodies)
    dashboard.screenshot("request-detail")


def test_reload_from_the_page_shows_what_changed_or_the_error(
        open_dashboard, make_gateway, make_upstream, tmp_path: Path) -> None:
    upstream = make_upstream().always(healthy())
    config = tmp_path / "config.yaml"
    first = two_providers(upstream.url, upstream.url)
    config.write_text(first)
    gateway = make_gateway(first, config_file=config)
    dashboard = open_dashboard(gateway)
    page = dashboard.sign_in("config")
    expect(page.get_by_test_id("config")).to_contain_text('"bad"')

    config.write_text(first.replace("  good:", "  better:").replace("good/", "better/"))
    page.get_by_role("button", name="Reload config file").click()
    result = page.get_by_test_id("reload-result")
    expect(result).to_contain_text("providers added: better")
    expect(result).to_contain_text("providers removed: good")
    expect(page.get_by_test_id("config")).to_contain_text('"better"')

    config.write_text(first + "nonsense_option: 1\n")
    page.get_by_role("button", name="Reload config file").click()
    expect(page.get_by_test_id("reload-error")).to_contain_text("config not reloaded")
    assert "better" in gateway.runtime.providers  # the running config stayed
    # The browser notes the refused reload's 400 in its console; that is the only error.
    assert dashboard.errors == ["Failed to load resource: the server responded with a status of 400 "
                                "(Bad Request)"]
    dashboard.errors.clear()


def test_without_a_session_or_from_elsewhere_the_dashboard_is_refused(
        browser, open_dashboard, failing_then_good) -> None:
    gateway = failing_then_good[0]
    stranger = open_dashboard(gateway)
    page = stranger.page
    page.goto(gateway.url + "/ui/")
    expect(page.get_by_role("alert")).to_contain_text("Not signed in")
    assert page.request.get(gateway.url + "/ui/api/config").status == 401
    stranger.errors.clear()  # the refused sign-in is logged by the browser, as it should be

    used = httpx.post(gateway.url + "/admin/ui/code", headers=gateway.admin_headers()).json()["code"]
    assert httpx.post(gateway.url + "/ui/api/session", json={"code": used}).status_code == 200
    page.goto(f"{gateway.url}/ui/#code={used}")  # a code works once
    expect(page.get_by_role("alert")).to_contain_text("Not signed in")
    stranger.errors.clear()

    signed = open_dashboard(gateway)
    signed.sign_in()
    request = signed.page.request
    csrf = signed.page.evaluate("fetch('/ui/api/session').then(r => r.json()).then(b => b.csrf)")
    headers = {"X-CSRF-Token": csrf}
    # Another Host (a DNS-rebinding page) or another Origin is refused even with the session.
    assert request.get(gateway.url + "/ui/api/config", headers={"Host": "evil.example"}).status == 403
    assert request.post(gateway.url + "/ui/api/providers/good/disable",
                        headers={**headers, "Origin": "http://evil.example"}).status == 403
    assert request.post(gateway.url + "/ui/api/providers/good/disable").status == 403  # no CSRF token
    assert gateway.runtime.router.disabled == set()
    keys = signed.page
    keys.keyboard.press("2")  # keyboard navigation between pages
    expect(keys.locator("#providers-title")).to_be_visible()
    keys.keyboard.press("5")
    expect(keys.locator("#config-title")).to_be_visible()
