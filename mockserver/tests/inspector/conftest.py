"""Fixtures for the inspector page's tests, in a real headless Chromium (Debian's package).

One browser per test module, one fresh context per test. (Not per session: Playwright's sync
API keeps an asyncio loop running on the main thread while it is started, and the other
modules' tests call asyncio.run. The page's tests are one module, kept on one xdist worker,
so one Chromium serves them all.) Every page is
watched: a request to a host outside 127.0.0.0/8 is refused and fails the test (the page must
fetch nothing from the internet), and so does a script error or a Content-Security-Policy
violation. Tests wait on the page's own elements (Playwright's `expect` polls the DOM) and on
the mock's clock, never on sleeps.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import inspector_screenshot  # tools/ (pyproject's pythonpath)
import pytest
from kiekit import Client
from kiekit_contract.clients import client_for
from kiekit_mock import MockServer
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

# generous for a loaded two-core machine; a passing test never waits this long
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def screenshot_tool() -> ModuleType:
    """tools/inspector_screenshot.py: the one place that knows how to launch Chromium."""
    return inspector_screenshot


@pytest.fixture(scope="module")
def browser(screenshot_tool: ModuleType) -> Iterator[Browser]:
    if not screenshot_tool.CHROMIUM.exists():
        pytest.fail(screenshot_tool.MISSING, pytrace=False)  # never a silent skip
    with sync_playwright() as playwright:
        launched: Browser = screenshot_tool.launch(playwright)
        yield launched
        launched.close()


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


OpenPage = Callable[[str], Page]
# the parent folder's make_mock fixture, as the tests here see it (mypy reads this conftest)
MakeMock = Callable[..., tuple[MockServer, Any]]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """open_page(url) -> a Page of this test's browser context, ready (the app has started)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    outside: list[str] = []
    problems: list[str] = []

    def guard(route: Route) -> None:
        if _loopback(route.request.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)

    def open_(url: str) -> Page:
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.goto(url)
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        return page

    yield open_
    context.close()
    assert outside == [], "the page asked for something outside this machine"
    assert problems == []


@pytest.fixture
def client_of() -> Iterator[Callable[..., Client]]:
    """client_of(mock, api_key="test-key"): kiekit's own blocking client on that mock."""
    clients: list[Client] = []

    def make(mock: MockServer, api_key: str = "test-key") -> Client:
        client = client_for(mock.base_url, api_key=api_key, upload_base_url=mock.upload_base_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
