"""A screenshot of the mock's inspector page, taken in headless Chromium.

    python3 -m uv run python tools/inspector_screenshot.py [--out mockserver/docs/inspector.png]

It starts a mock, drives a short session through it with kiekit's own client (tasks that
succeed, fail, are flagged and wait; a rule; a fault the client retries; a callback to a
receiver on loopback), opens the inspector, picks a status answer and saves a PNG. Chromium is
Debian's (``python3 tools/services.py install``); Playwright only drives it.

The browser tests of the page (mockserver/tests/inspector/) launch Chromium with ``launch``
from here, and one of them takes this screenshot into a temporary folder, so it cannot rot.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiekit_mock import MockServer
    from playwright.sync_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "mockserver" / "docs" / "inspector.png"
CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet on the network: no QUIC, no first-run pages, no background updates or
# sync — Chromium would otherwise try to reach Google's hosts from a test machine.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
MISSING = (
    f"Chromium is missing ({CHROMIUM}): the inspector's browser tests drive Debian's chromium "
    "package. Install it with: python3 tools/services.py install"
)


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless. Playwright's launch gives it a fresh, temporary
    --user-data-dir of its own each time (passing one here would be refused)."""
    if not CHROMIUM.exists():
        raise RuntimeError(MISSING)
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
    )


class _Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that says thanks, as an application's would."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"received": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    """A callback receiver on 127.0.0.1; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/kie/callback"
    finally:
        server.shutdown()
        server.server_close()


def stage(mock: MockServer, callback_url: str) -> None:
    """A session worth looking at, sent by kiekit's client through the mock's HTTP API."""
    from kiekit import Client, KieError, PollPolicy
    from kiekit_mock import FaultRule, Lifecycle, Outcome, Rule

    mock.add_rule(Rule(outcome=Outcome("moderation"), prompt_contains="poster"))
    mock.add_rule(Rule(lifecycle=Lifecycle(manual=True), model="veo3_fast"))
    mock.faults.add(FaultRule("kie", code=455, path="/api/v1/jobs/recordInfo", times=1))
    poll = PollPolicy(initial=0.005, growth=0.01, maximum=0.05, timeout=10.0)
    with Client(
        "demo-key",
        base_url=mock.base_url,
        upload_base_url=mock.upload_base_url,
        poll=poll,
        rate_limits=None,
        journal=None,
    ) as client:
        sent = [
            client.submit(
                "grok-imagine/text-to-image",
                prompt="a lighthouse at dawn, oil on canvas",
                callback_url=callback_url,
            ),
            client.submit("flux-kontext-pro", prompt="a red bicycle, watercolour"),
            client.submit("grok-imagine/text-to-image", prompt="a film poster"),
            client.submit("flux-kontext-pro", prompt="a storm [mock:fail]"),
        ]
        for task in sent:
            with contextlib.suppress(KieError):  # the flagged and the failed one end so
                client.wait(task)
        waiting = client.submit("veo3_fast", prompt="waves on black rocks, slow motion")
        client.status(waiting)
    mock.callbacks()  # wait for the delivery to the receiver


def show(page: Page, url: str, seq: int) -> None:
    """Open the page on its journal and select request `seq`."""
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(url)
    page.locator(f"#requests-rows tr[data-seq='{seq}']").click()
    page.locator("#request-detail .json").first.wait_for()


def take(out: Path, browser: Browser) -> Path:
    """Stage a session on a fresh mock and save the screenshot to `out`."""
    from kiekit_mock import MockConfig, MockServer

    out.parent.mkdir(parents=True, exist_ok=True)
    with receiver() as callback_url, MockServer(MockConfig(polls_to_complete=2)) as mock:
        stage(mock, callback_url)
        first = mock.journal.creates()[0].task_id  # the lighthouse: its last poll has results
        assert first is not None
        page = browser.new_page()
        try:
            show(page, mock.inspector_url, mock.journal.polls(first)[-1].seq)
            page.screenshot(path=str(out))
        finally:
            page.close()
    return out


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SCREENSHOT, help="where to write the PNG")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            print(take(args.out, browser))
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
