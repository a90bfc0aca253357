"""The inspector page follows the mock it shows, in a real headless Chromium (an outside
tester's findings): a restarted mock is read afresh, not mixed with the old one; a large body
opens at once, as a preview; upload-host requests show up live with their answer and account;
an open callback follows its delivery, and rows open from the keyboard; a per-account reset
takes its requests off the list; empty lists and unknown tasks say why; the rule form refuses a
timed lifecycle with no time and starts afresh after an add; a replayed task shows what its
client was answered; a recorded SVG cannot run script on the mock's origin; and the families an
extension adds can be chosen. Tests wait on the page's elements and the mock's events, never on
sleeps."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import re
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer, RequestRecord, account_id
from kiekit_mock.extension import ENTRY_POINT_GROUP
from playwright.sync_api import Browser, Dialog, Locator, Page, Response, expect

if TYPE_CHECKING:
    from conftest import MakeMock, OpenPage

pytestmark = pytest.mark.xdist_group("browser")  # one worker, one Chromium (pyproject.toml)
T2I = "grok-imagine/text-to-image"
KEY = "test-key"
BASE64 = "/api/file-base64-upload"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)">'
    b'<rect width="10" height="10"/></svg>'
)


def rows(page: Page) -> Locator:
    return page.locator("#requests-rows tr[data-seq]")


def upload(mock: MockServer, kie: Any, body: dict[str, Any]) -> dict[str, Any]:
    """A base64 upload to the mock's upload host, with the test's key."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    data = json.dumps(body).encode()
    answer = kie.fetch(mock.upload_base_url + BASE64, method="POST", data=data, headers=headers)
    payload: dict[str, Any] = answer.json()
    return payload


def _record(n: int, marker: str) -> RequestRecord:
    return RequestRecord(
        method="GET",
        path="/api/v1/jobs/recordInfo",
        query={"taskId": f"{marker}-{n}"},
        body=None,
        task_id=f"{marker}-{n}",
        authorization="Bearer ***",
        status=200,
        code=200,
        account_id=account_id(KEY),
    )


def test_a_restarted_mock_is_read_afresh_not_mixed_with_the_old_ones_journal(
    open_page: OpenPage,
) -> None:
    old = MockServer(MockConfig())
    old.start()
    try:
        for n in range(30):
            old.journal.add(_record(n, "old"))
        port = int(old.base_url.rsplit(":", 1)[1])
        page = open_page(old.inspector_url)
        expect(rows(page)).to_have_count(30)
        rows(page).first.click()
        expect(page.locator("#request-detail")).to_contain_text("old-29")
    finally:
        old.stop()
    expect(page.locator("#live")).to_have_attribute("data-state", "offline")
    # said once to a screen reader (#live is rewritten at every answer: no live region)
    expect(page.locator("#announce")).to_have_text("The mock is unreachable.")

    # a new mock on the same port, holding more requests than the old one did before the
    # page gets through to it: its seqs 0-39 run past the old page's last seq (29)
    new = MockServer(MockConfig(), port=port)
    for n in range(40):
        new.journal.add(_record(n, "new"))
    new.start()
    try:
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        expect(page.locator("#announce")).to_have_text("The mock answers again.")
        expect(page.locator("#requests-summary")).to_contain_text("holds 40 requests")
        expect(rows(page)).to_have_count(40)
        expect(page.locator("#requests-rows")).not_to_contain_text("old-")
        expect(rows(page).first).to_contain_text("new-39")
        # the old mock's request is no longer open beside the new one's list
        expect(page.locator("#request-detail")).to_contain_text("The mock restarted")
        expect(page.locator("#request-detail")).not_to_contain_text("old-29")
    finally:
        new.stop()


def test_a_large_body_opens_at_once_as_a_preview_and_lists_carry_no_bodies(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    data = "data:image/png;base64," + base64.b64encode(bytes(3 * 1024 * 1024)).decode()
    assert upload(mock, kie, {"base64Data": data, "uploadPath": "big"})["code"] == 200
    page = open_page(mock.inspector_url)
    listed: list[Response] = []
    page.on("response", lambda r: listed.append(r) if "/_mock/journal?" in r.url else None)
    page.locator("#view-requests select[name=kind]").select_option("other")  # a list reload
    row = page.locator("#requests-rows tr[data-kind='other']")
    expect(row).to_have_count(1)
    row.click()
    detail = page.locator("#request-detail")
    expect(detail.locator("#request-body-note")).to_contain_text("only a preview is kept")
    expect(detail).to_contain_text('"uploadPath": "big"')
    expect(detail).to_contain_text("data:image/png;base64,… [truncated: 4,194,326 characters")
    assert len(detail.inner_text()) < 20_000  # not megabytes in a <pre>
    assert listed
    assert all(len(response.body()) < 50_000 for response in listed)


def test_an_upload_shows_up_live_with_its_answer_and_account(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    page = open_page(mock.inspector_url)
    expect(page.locator("#requests-rows")).to_contain_text("No requests yet")

    body = {"base64Data": base64.b64encode(b"hello").decode(), "uploadPath": "u"}
    assert upload(mock, kie, body)["success"] is True
    # at once: the page's idle long-poll lasts 25 s, far past this wait
    row = page.locator("#requests-rows tr[data-kind='other']")
    expect(row).to_have_count(1, timeout=10_000)
    mine = account_id(KEY)
    expect(row.locator(f".id[title='{mine}']")).to_have_count(1)
    row.click()
    detail = page.locator("#request-detail")
    expect(detail).to_contain_text('"success": true')
    expect(detail).to_contain_text(f"kieai/{mine}/u/")
    expect(detail).not_to_contain_text("Nothing was sent back")

    page.locator("#view-requests input[name=account_id]").fill(mine)
    page.locator("#view-requests input[name=account_id]").press("Enter")
    expect(rows(page)).to_have_count(1)  # the account filter covers uploads
    expect(page.locator("#requests-summary")).to_contain_text("1 of the journal's 1 requests")


class _SlowReceiver(http.server.BaseHTTPRequestHandler):
    release: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.release.wait(30)  # answers once the test says so
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"thanks")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def slow_receiver() -> Iterator[tuple[str, threading.Event]]:
    release = threading.Event()
    handler = type("Handler", (_SlowReceiver,), {"release": release})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cb", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_an_open_callback_follows_its_delivery_and_rows_open_from_the_keyboard(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    page = open_page(f"{mock.inspector_url}#callbacks")
    with slow_receiver() as (url, release):
        body = {"model": T2I, "input": {"prompt": "p"}, "callBackUrl": url}
        task = kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"]
        kie.record(task)  # it ends: the callback goes out, and the receiver holds it
        row = page.locator("#callbacks-rows tr[data-index='0']")
        expect(row).to_contain_text("in flight")
        row.focus()
        row.press("Enter")
        detail = page.locator("#callback-detail")
        expect(detail).to_contain_text("in flight")
        release.set()
        expect(row).to_contain_text("delivered")
        expect(detail).to_contain_text("delivered · HTTP 200")  # without a second click
        expect(detail).to_contain_text("thanks")

    # every filter box has a name a screen reader says
    page.locator("nav a[data-view='requests']").click()
    for name in ("path or glob", "task id", "account id"):
        expect(page.locator("#view-requests").get_by_label(name, exact=True)).to_be_visible()
    page.locator("nav a[data-view='tasks']").click()
    expect(page.locator("#view-tasks").get_by_label("account id", exact=True)).to_be_visible()


def test_a_per_account_reset_takes_its_requests_off_the_list(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    for n in range(6):
        mock.journal.add(_record(n, "earlier"))
    for key in ("job-A-key", "job-B-key", "job-A-key", "job-B-key", "job-A-key", "job-B-key"):
        mock.journal.add(
            RequestRecord(
                "GET",
                "/api/v1/chat/credit",
                {},
                None,
                None,
                "Bearer ***",
                200,
                200,
                account_id=account_id(key),
            )
        )
    page = open_page(mock.inspector_url)
    expect(rows(page)).to_have_count(12)

    reset = kie.fetch(
        mock.base_url + "/_mock/reset",
        method="POST",
        data=json.dumps({"api_key": "job-A-key"}).encode(),
    )
    assert reset.json()["account"]["requests"] == 3
    expect(rows(page)).to_have_count(9)  # live, without a reload
    expect(page.locator("#requests-summary")).to_contain_text("holds 9 requests")
    expect(page.locator("#requests-rows")).not_to_contain_text(account_id("job-A-key"))


def test_empty_lists_and_unknown_tasks_say_why(make_mock: MakeMock, open_page: OpenPage) -> None:
    mock, kie = make_mock(task_limit=1)
    first = kie.create(T2I, prompt="let go")
    kie.record(first)
    kie.record(kie.create(T2I, prompt="kept"))  # past task_limit: the finished first is let go
    kie.get("/api/v1/jobs/recordInfo?taskId=never-made")
    page = open_page(f"{mock.inspector_url}#requests/path=/api/v1/nothing")
    expect(page.locator("#requests-rows")).to_contain_text(
        "No request matches these filters (the journal holds 5)"
    )
    expect(page.locator("#requests-summary")).to_contain_text("0 of the journal's 5 requests")

    page.goto(f"{mock.inspector_url}#tasks/never-made")
    missing = page.locator("#task-missing")
    expect(missing).to_contain_text("its journal holds no create of it")
    page.goto(f"{mock.inspector_url}#tasks/{first}")
    expect(missing).to_contain_text("no longer holds task")
    expect(missing).to_contain_text("created by request #0")

    # a toast sits over the header, not over a list or its pager, and a click puts it away
    page.locator("#clock-seconds").fill("soon")
    page.locator("#clock-advance").click()
    toast = page.locator("#toast")
    expect(toast).to_be_visible()
    box, nav = toast.bounding_box(), page.locator("nav.tabs").bounding_box()
    assert box is not None
    assert nav is not None
    assert box["y"] + box["height"] <= nav["y"] + nav["height"]
    toast.click()
    expect(toast).to_be_hidden()


def test_the_rule_form_refuses_a_timed_lifecycle_without_a_time_and_starts_afresh(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, _ = make_mock()
    page = open_page(f"{mock.inspector_url}#rules")
    form = page.locator("#rule-form")
    form.locator("select[name=outcome_kind]").select_option("fail")
    form.locator("input[name=prompt_contains]").fill("fail me")
    form.locator("button[type=submit]").click()
    expect(page.locator("#rules-rows tr[data-rule='1']")).to_contain_text("fail me")
    # every field is back to its default: nothing of this rule goes into the next one
    expect(form.locator("select[name=outcome_kind]")).to_have_value("")

    form.locator("select[name=outcome_kind]").select_option("fail")
    form.locator("select[name=lifecycle]").select_option("timed")
    form.locator("button[type=submit]").click()  # polls and seconds left empty
    expect(form.locator(".form-error")).to_contain_text(
        "lifecycle.polls: a timed lifecycle needs polls or seconds"
    )
    expect(form.locator("input[name=polls]")).to_have_class(re.compile("invalid"))
    assert len(mock.rules()) == 2  # the built-in one and "fail me": no catch-all was added

    form.locator("input[name=seconds]").fill("30")
    form.locator("button[type=submit]").click()
    expect(page.locator("#rules-rows tr[data-rule='2']")).to_contain_text("lifecycle 30 s")


def test_a_replayed_task_shows_what_its_client_was_answered(
    make_mock: MakeMock, open_page: OpenPage, recorded_task: Callable[..., dict[str, Any]]
) -> None:
    mock, kie = make_mock()
    task_id = "f" * 32
    recorded = recorded_task(task_id, "https://tempfile.aiquickdraw.com/r/a.png", "image/png", b"x")
    assert kie.post("/_mock/scenarios", recorded).status == 200
    assert kie.create(T2I, prompt="replayed") == task_id
    seen = [kie.record(task_id)["state"] for _ in range(3)]
    assert seen == ["generating", "success", "success"]
    link = json.loads(kie.record(task_id)["resultJson"])["resultUrls"][0]

    page = open_page(f"{mock.inspector_url}#tasks/{task_id}")
    row = page.locator(f"#tasks-rows tr[data-task='{task_id}']")
    expect(row).to_have_attribute("data-state", "success")
    expect(row).to_contain_text("4 polls")  # the client's, answered by the recording
    expect(row).to_contain_text("replay")
    detail = page.locator("#task-detail")
    expect(detail).to_contain_text("answered from a loaded recording (HAR)")
    results = page.locator("#task-results a")
    expect(results).to_have_count(1)
    expect(results).to_have_text(link)  # the link the client got, not the twin's /files/ one


def test_a_recorded_svg_runs_no_script_on_the_mocks_origin(
    make_mock: MakeMock, browser: Browser, recorded_task: Callable[..., dict[str, Any]]
) -> None:
    mock, kie = make_mock()
    task_id = "e" * 32
    recorded = recorded_task(
        task_id, "https://tempfile.aiquickdraw.com/r/a.svg", "image/svg+xml", SVG
    )
    assert kie.post("/_mock/scenarios", recorded).status == 200
    kie.create(T2I, prompt="svg")
    kie.record(task_id)
    link = json.loads(kie.record(task_id)["resultJson"])["resultUrls"][0]
    assert link.startswith(mock.base_url + "/_mock/har-files/")

    context = browser.new_context()
    try:
        page = context.new_page()
        dialogs: list[str] = []

        def seen(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", seen)
        opened = page.goto(link)  # waits for its load event, when an onload script would run
        assert opened is not None
        assert opened.status == 200
        assert dialogs == []
    finally:
        context.close()


FAMILY = '''
"""A family from another package, with nothing but its name (the inspector lists it)."""
from aiohttp import web
from kiekit_mock.extension import FamilyExtension

EXTENSION = FamilyExtension(
    name="acme-brush", routes=web.RouteTableDef(), callback_payload=lambda transition: {}
)
'''


@pytest.fixture
def acme_brush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """acme-brush 1.0 on sys.path: a distribution declaring a mock family."""
    (tmp_path / "acme_brush_mock.py").write_text(textwrap.dedent(FAMILY))
    info = tmp_path / "acme_brush_mock-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-brush-mock\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nacme-brush = acme_brush_mock:EXTENSION\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("acme_brush_mock", None)


def test_a_family_an_extension_adds_can_be_chosen_in_filters_and_rules(
    acme_brush: None, make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, _ = make_mock()
    page = open_page(f"{mock.inspector_url}#tasks")
    family = page.locator("#view-tasks select[name=family] option[value='acme-brush']")
    expect(family).to_have_count(1)
    page.locator("nav a[data-view='rules']").click()
    form = page.locator("#rule-form")
    expect(form.locator("select[name=family] option[value='acme-brush']")).to_have_count(1)
    form.locator("select[name=family]").select_option("acme-brush")
    form.locator("select[name=lifecycle]").select_option("manual")
    form.locator("button[type=submit]").click()
    expect(page.locator("#rules-rows tr[data-rule='1']")).to_contain_text("family acme-brush")
