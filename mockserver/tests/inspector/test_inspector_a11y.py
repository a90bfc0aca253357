"""The inspector page for a keyboard or screen-reader user, and at 320 px or 200 % zoom: the
lists keep a height to scroll in, live updates and actions never drop the focus to <body>, a
skip link gets past a page of rows, the field the API refused is marked for assistive tech, and
the current row keeps a mark in forced colours (WCAG 2.2 AA; from an outside a11y report)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from kiekit import Client
from kiekit_mock import Lifecycle, RequestRecord, Rule, account_id
from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from conftest import MakeMock, OpenPage

pytestmark = pytest.mark.xdist_group("browser")
T2I = "grok-imagine/text-to-image"
KEY = "test-key"
MANUAL = (Rule(lifecycle=Lifecycle(manual=True)),)

ClientOf = Callable[..., Client]

FOCUSED = "document.activeElement === document.body ? 'BODY' : document.activeElement.id"


def focused_task(page: Page) -> str | None:
    task: str | None = page.evaluate("document.activeElement.dataset.task ?? null")
    return task


def _poll(n: int) -> RequestRecord:
    return RequestRecord(
        method="GET",
        path="/api/v1/jobs/recordInfo",
        query={"taskId": f"t-{n}"},
        body=None,
        task_id=f"t-{n}",
        authorization="Bearer ***",
        status=200,
        code=200,
        account_id=account_id(KEY),
    )


def test_at_320_px_the_lists_keep_their_height_and_the_page_scrolls_down_not_sideways(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    """The lists were squeezed to 2–4 px under the header and the detail, on a page that did
    not scroll; the tab bar did not wrap (WCAG 1.4.10)."""
    mock, _ = make_mock(rules=MANUAL)
    client = client_of(mock)
    tasks = [client.submit(T2I, prompt=f"task {n}") for n in range(12)]
    page = open_page(f"{mock.inspector_url}#tasks/{tasks[0].id}")
    page.set_viewport_size({"width": 320, "height": 640})
    expect(page.locator("#task-detail-id")).to_have_text(tasks[0].id)

    for view, body in (("tasks", "#tasks-rows"), ("requests", "#requests-rows")):
        page.goto(f"{mock.inspector_url}#{view}")
        expect(page.locator(f"{body} tr").first).to_be_visible()
        wrap = page.locator(f"#view-{view} .table-wrap")
        assert (wrap.bounding_box() or {"height": 0})["height"] >= 200
        size = page.evaluate(
            "({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})"
        )
        assert size["w"] <= 320  # nothing to scroll sideways for
        assert size["h"] > 640  # the page itself scrolls
        for tab in page.locator("nav.tabs a").all():
            box = tab.bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= 320
        page.locator(f"{body} tr").nth(1).click()  # no sticky header in the way
    expect(page.locator("#request-detail h2")).to_be_visible()


def test_a_focused_task_row_keeps_the_focus_when_a_poll_changes_it(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(polls_to_complete=3)
    client = client_of(mock)
    task, other = client.submit(T2I, prompt="one"), client.submit(T2I, prompt="two")
    page = open_page(f"{mock.inspector_url}#tasks")
    row = page.locator(f"#tasks-rows tr[data-task='{task.id}']")
    row.focus()

    client.status(task)  # the row is drawn anew with its poll
    expect(row).to_contain_text("1 polls")
    assert focused_task(page) == task.id
    for _ in range(5):  # it ends: state, badge and progress change
        if client.status(task).state.finished:
            break
    expect(row).to_have_attribute("data-state", "success")
    assert focused_task(page) == task.id
    assert other.id != task.id


def test_a_focused_request_row_pushed_off_the_page_hands_the_focus_to_the_last_row(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    for n in range(100):
        mock.journal.add(_poll(n))
    page = open_page(mock.inspector_url)
    rows = page.locator("#requests-rows tr[data-seq]")
    expect(rows).to_have_count(100)
    rows.last.focus()

    for n in range(100, 105):  # five new requests push the focused row off the page
        kie.get(f"/api/v1/jobs/recordInfo?taskId=t-{n}")
    expect(rows.first).to_contain_text("t-104")
    expect(rows).to_have_count(100)
    expect(rows.last).to_be_focused()


def test_task_actions_from_the_keyboard_keep_the_focus_and_the_outcome_waits_for_its_button(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    """Advance, Complete and Fail dropped the focus to <body> (the detail is drawn anew), and
    each arrow key on the planned-outcome select changed the task on the mock at once."""
    mock, _ = make_mock(rules=MANUAL)
    client = client_of(mock)
    task, doomed = client.submit(T2I, prompt="one"), client.submit(T2I, prompt="two")
    page = open_page(f"{mock.inspector_url}#tasks/{task.id}")
    badge = page.locator("#task-detail h2 .badge")
    expect(badge).to_have_text("waiting")
    outcomes: list[str | None] = []
    page.on(
        "request",
        lambda r: outcomes.append(r.post_data) if r.url.endswith("/outcome") else None,
    )

    page.locator("#task-advance").focus()
    page.keyboard.press("Enter")
    expect(badge).to_have_text("queuing")
    expect(page.locator("#task-advance")).to_be_focused()

    outcome = page.locator("#task-outcome")
    outcome.focus()
    page.keyboard.press("ArrowDown")  # success -> fail, on the page only
    expect(outcome).to_have_value("fail")
    page.keyboard.press("Tab")
    expect(page.locator("#task-outcome-set")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#task-detail dt:text-is('outcome') + dd")).to_have_text("fail")
    assert outcomes == ['"fail"']  # one change, when confirmed
    assert mock.task(task.id).outcome.kind == "fail"
    expect(page.locator("#task-outcome-set")).to_be_focused()

    page.locator("#task-complete").focus()
    page.keyboard.press("Space")
    expect(badge).to_have_text("fail")
    # every button is disabled on an ended task: the focus goes to its heading
    expect(page.locator("#task-detail h2")).to_be_focused()
    expect(page.locator("#task-detail h2")).to_have_attribute("tabindex", "-1")

    page.goto(f"{mock.inspector_url}#tasks/{doomed.id}")
    expect(page.locator("#task-detail-id")).to_have_text(doomed.id)
    page.locator("#task-fail").focus()
    page.keyboard.press("Space")
    expect(badge).to_have_text("fail")
    expect(page.locator("#task-detail h2")).to_be_focused()
    assert page.evaluate(FOCUSED) != "BODY"


def test_the_open_task_is_marked_for_screen_readers_and_in_forced_colours(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(rules=MANUAL)
    task = client_of(mock).submit(T2I, prompt="one")
    page = open_page(f"{mock.inspector_url}#tasks/{task.id}")
    page.emulate_media(forced_colors="active")
    row = page.locator(f"#tasks-rows tr[data-task='{task.id}']")
    expect(row).to_have_attribute("aria-current", "true")
    expect(page.locator("#task-detail .stepper li[aria-current='step']")).to_have_text("waiting")
    # forced colours drop the row's background and box shadow: an outline stays
    assert row.evaluate("r => getComputedStyle(r).outlineStyle") == "solid"
    current = page.locator("nav.tabs a[aria-current='page']")
    assert current.evaluate("a => getComputedStyle(a).borderBottomWidth") == "3px"


def test_a_skip_link_gets_past_the_rows_and_the_last_page_keeps_the_focus(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    for n in range(150):
        mock.journal.add(_poll(n))
    page = open_page(mock.inspector_url)
    expect(page.locator("#requests-rows tr[data-seq]")).to_have_count(100)

    page.locator("#view-requests input[name=account_id]").focus()
    page.keyboard.press("Tab")  # the first stop after the filters: not 100 rows and their links
    skip = page.locator("#view-requests a.skip")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#requests-pager")).to_be_focused()
    assert page.evaluate("location.hash") == ""  # the route stays
    page.keyboard.press("Tab")
    older = page.locator("#requests-older")
    expect(older).to_be_focused()

    page.keyboard.press("Enter")  # the last page: Older is disabled, Newer takes the focus
    expect(page.locator("#requests-rows tr[data-seq]")).to_have_count(50)
    expect(older).to_be_disabled()
    expect(page.locator("#requests-newer")).to_be_focused()

    kie.get("/api/v1/jobs/recordInfo?taskId=t-150")  # an older page stays still, and says so
    expect(page.locator("#requests-banner")).to_be_visible()
    expect(page.locator("#announce")).to_have_text("Newer requests arrived.")


def test_the_field_the_api_refused_is_marked_invalid_and_takes_the_focus(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, _ = make_mock()
    page = open_page(f"{mock.inspector_url}#rules")
    form = page.locator("#rule-form")
    regex = form.locator("input[name=prompt_regex]")
    form.locator("select[name=outcome_kind]").select_option("fail")
    regex.fill("(unclosed")
    button = form.locator("button[type=submit]")
    button.focus()
    page.keyboard.press("Space")

    error = page.locator("#rule-form-error")
    expect(error).to_contain_text("prompt_regex: is not a valid regular expression")
    expect(regex).to_have_attribute("aria-invalid", "true")
    expect(regex).to_have_attribute("aria-describedby", "rule-form-error")
    expect(regex).to_be_focused()  # to fix it, its description saying why

    form.locator("select[name=outcome_kind]").select_option("fail")
    regex.fill("^ok")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rules-rows")).to_contain_text("prompt matches /^ok/")
    expect(regex).not_to_have_attribute("aria-invalid", "true")
    expect(button).to_be_focused()  # not dropped to <body> while the answer was awaited


def test_advance_clock_takes_a_number_with_an_exponent_as_set_speed_does(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, _ = make_mock(time_scale=1e-6)
    page = open_page(mock.inspector_url)
    before = mock.clock.now()
    page.locator("#clock-seconds").fill("1e3")
    page.locator("#clock-advance").click()
    expect(page.locator("#toast")).to_have_text("Mock clock advanced by 1e3 s")
    assert mock.clock.now() >= before + 1000
