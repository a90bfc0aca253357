"""The inspector page (GET /_mock/ui) in a real headless Chromium, driven as a user would while
kiekit's own client talks to the same mock: requests show up live, a click fails a task and
the waiting client gets the typed failure; the clock, rules, faults, reset, accounts and two
tabs at once; thousands of journal entries; the key never on the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest
from kiekit import Client, State, TaskFailedError
from kiekit_mock import (
    AccountSettings,
    Lifecycle,
    MockConfig,
    RequestRecord,
    Rule,
    account_id,
)
from playwright.sync_api import Browser, Locator, Page, Route, expect

if TYPE_CHECKING:
    from conftest import MakeMock, OpenPage

# one worker runs them all, with one Chromium (pyproject.toml: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("browser")
T2I = "grok-imagine/text-to-image"
KEY = "test-key"
MANUAL = MockConfig(rules=(Rule(lifecycle=Lifecycle(manual=True)),))
FROZEN = 1e-6  # time_scale: the mock clock moves only when a test (or the page) moves it

ClientOf = Callable[..., Client]


def rows(page: Page, kind: str | None = None) -> Locator:
    selector = "#requests-rows tr[data-seq]" + (f"[data-kind='{kind}']" if kind else "")
    return page.locator(selector)


def test_requests_appear_live_and_a_click_fails_the_task_the_client_waits_for(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(rules=MANUAL.rules)
    client = client_of(mock)
    page = open_page(mock.inspector_url)
    expect(page.locator("#requests-rows")).to_contain_text("No requests yet")

    task = client.submit(T2I, prompt="a lighthouse at dawn")
    create = page.locator("#requests-rows tr[data-kind='create']")
    expect(create).to_have_count(1)
    expect(create).to_contain_text("POST /api/v1/jobs/createTask")
    assert client.status(task).state is State.QUEUED  # manual: it waits for a click
    expect(page.locator("#requests-rows tr[data-kind='poll']")).to_have_count(1)

    create.locator(f"a[href='#tasks/{task.id}']").click()  # the request's task, one click away
    expect(page.locator("#task-detail-id")).to_have_text(task.id)
    expect(page.locator("#task-detail h2 .badge")).to_have_text("waiting")
    page.locator("#task-fail").click()
    expect(page.locator("#task-detail h2 .badge")).to_have_text("fail")
    expect(page.locator(f"#tasks-rows tr[data-task='{task.id}']")).to_have_attribute(
        "data-state", "fail"
    )

    with pytest.raises(TaskFailedError) as failed:
        client.wait(task)
    assert failed.value.task_id == task.id
    assert failed.value.fail_code == "500"  # the market's documented generation failure
    # the poll that told the client is in the task's own list of requests
    expect(page.locator("#task-detail")).to_contain_text("Requests naming this task (3)")


def test_a_request_opens_to_what_was_sent_and_answered_with_json_strings_unfolded(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(polls_to_complete=1)
    client = client_of(mock)
    sneaky = "<img src=x onerror=window.pwned=1>"
    client.wait(client.submit(T2I, prompt=f"a lighthouse {sneaky}"))
    page = open_page(mock.inspector_url)
    final = mock.journal.polls(mock.tasks()[0].task_id)[-1]

    page.locator(f"#requests-rows tr[data-seq='{final.seq}']").click()
    detail = page.locator("#request-detail")
    expect(detail).to_contain_text("Bearer ***")
    expect(detail).to_contain_text('"resultUrls"')
    # param (a JSON string), its input (encoded once more) and resultJson, each unfolded
    expect(detail.locator(".j-unfolded")).to_have_count(3)
    expect(detail).to_contain_text(sneaky)  # a prompt is text on the page, never markup
    assert page.evaluate("window.pwned") is None

    page.locator("#requests-rows tr[data-kind='create']").click()
    expect(detail).to_contain_text('"model": "grok-imagine/text-to-image"')
    expect(detail).to_contain_text("application/json")
    for view in ("requests", "tasks", "callbacks", "rules", "accounts"):
        page.goto(f"{mock.inspector_url}#{view}")
        expect(page.locator(f"#view-{view}")).to_be_visible()
        assert KEY not in page.content()


def test_the_journal_filters_and_a_task_links_to_its_requests(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(polls_to_complete=2)
    client = client_of(mock)
    first, second = (client.submit(T2I, prompt=p) for p in ("one", "two"))
    for task in (first, second):
        client.wait(task)
    page = open_page(mock.inspector_url)
    expect(rows(page)).to_have_count(len(mock.requests()))

    filters = page.locator("#view-requests .toolbar")
    filters.locator("select[name=kind]").select_option("create")
    expect(rows(page)).to_have_count(2)
    expect(rows(page, "poll")).to_have_count(0)
    filters.locator("select[name=kind]").select_option("")
    filters.locator("input[name=path]").fill("/api/v1/jobs/record*")
    filters.locator("input[name=path]").press("Enter")
    expect(rows(page)).to_have_count(len(mock.journal.query(kind="poll")))

    page.goto(f"{mock.inspector_url}#tasks/{first.id}")
    page.locator("#task-detail a", has_text="Open them in Requests").click()
    expect(filters.locator("input[name=task_id]")).to_have_value(first.id)
    mine = mock.journal.query(task_id=first.id)
    expect(rows(page)).to_have_count(len(mine))
    expect(rows(page).first).to_have_attribute("data-seq", str(mine[-1].seq))


def test_a_filter_changed_while_the_journal_is_read_shows_the_new_filters_rows(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    """The read for a filter, answered after the filter had changed again, was shown as the
    new filter's, and the page then only caught up: the old filter's rows stayed (seen as a
    flaky count under load). Here that read is held until the next change is made."""
    mock, _ = make_mock(polls_to_complete=2)
    client = client_of(mock)
    client.wait(client.submit(T2I, prompt="one"))
    page = open_page(mock.inspector_url)
    expect(rows(page)).to_have_count(len(mock.requests()))
    held: list[Route] = []

    def hold_the_polls_read(route: Route) -> None:
        if "kind=poll" in route.request.url and not held:
            held.append(route)  # answered below, once the filter has changed again
            return
        route.continue_()

    page.route("**/_mock/journal?*", hold_the_polls_read)
    kind = page.locator("#view-requests .toolbar select[name=kind]")
    with page.expect_request(lambda request: "kind=poll" in request.url):
        kind.select_option("poll")
    # the driver hands over the held route before it answers the next call
    kind.select_option("create")
    assert len(held) == 1
    held[0].continue_()
    expect(rows(page)).to_have_count(1)
    expect(rows(page, "create")).to_have_count(1)


def test_the_advance_clock_button_moves_the_mock_clock_and_tasks_on_it(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(seconds_to_complete=30, time_scale=FROZEN)
    client = client_of(mock)
    task = client.submit(T2I, prompt="slow")
    assert not client.status(task).state.finished
    page = open_page(mock.inspector_url)
    before = mock.clock.now()

    page.locator("#clock-seconds").fill("soon")
    page.locator("#clock-advance").click()
    expect(page.locator("#toast")).to_have_text("seconds: must be a number >= 0 or null")
    assert mock.clock.now() < before + 30

    page.locator("#clock-seconds").fill("30")
    page.locator("#clock-advance").click()
    expect(page.locator("#toast")).to_have_text("Mock clock advanced by 30 s")
    assert mock.clock.now() >= before + 30
    # the page shows the clock the mock answered with
    assert float(page.locator("#clock").get_attribute("data-now") or 0) >= before + 30
    assert client.status(task).state is State.SUCCEEDED


def test_the_speed_form_sets_the_mock_clocks_scale_and_shows_the_apis_refusal(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, _ = make_mock(time_scale=FROZEN)
    page = open_page(mock.inspector_url)
    speed = page.locator("#clock-speed")
    expect(speed).to_have_value("0.000001")  # the scale the mock runs at

    speed.fill("fast")
    page.locator("#clock-set-speed").click()
    expect(page.locator("#toast")).to_contain_text("scale: must be")
    assert mock.clock.scale == FROZEN

    speed.fill("60")
    page.locator("#clock-set-speed").click()
    expect(page.locator("#toast")).to_have_text("Mock clock runs at ×60")
    assert mock.clock.scale == 60
    expect(page.locator("#clock-scale")).to_have_text("×60")


def test_a_rule_added_through_the_form_applies_and_bad_input_shows_the_apis_message(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock()
    client = client_of(mock)
    page = open_page(f"{mock.inspector_url}#rules")
    form = page.locator("#rule-form")

    form.locator("select[name=outcome_kind]").select_option("fail")
    form.locator("input[name=prompt_regex]").fill("[")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_contain_text(
        "prompt_regex: is not a valid regular expression"
    )
    expect(form.locator("input[name=prompt_regex]")).to_have_class(re.compile("invalid"))
    assert len(mock.rules()) == 1  # only the built-in [mock:fail] rule

    form.locator("input[name=prompt_regex]").fill("")
    form.locator("input[name=times]").fill("0")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_have_text("times: must be an integer >= 1")

    form.locator("select[name=outcome_kind]").select_option("moderation")
    form.locator("input[name=prompt_contains]").fill("flag me")
    form.locator("input[name=times]").fill("1")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_be_hidden()
    added = page.locator("#rules-rows tr[data-rule='1']")
    expect(added).to_contain_text("prompt contains “flag me”")
    expect(added).to_contain_text("outcome moderation")

    with pytest.raises(TaskFailedError) as flagged:
        client.wait(client.submit(T2I, prompt="please flag me"))
    assert flagged.value.fail_code == "422"  # the market's moderation shape (kie-api.md §2.2)
    expect(added).to_contain_text("1 (0 left)")


def test_a_fault_added_through_the_form_answers_and_is_named_in_the_journal(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    page = open_page(f"{mock.inspector_url}#rules")
    form = page.locator("#fault-form")

    form.locator("select[name=kind]").select_option("http")
    form.locator("input[name=status]").fill("418")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_have_text("status: must be one of 500, 502, 503, 504")
    assert mock.faults.rules() == []

    form.locator("input[name=status]").fill("503")
    form.locator("input[name=path]").fill("/api/v1/jobs/createTask")
    form.locator("input[name=times]").fill("1")
    form.locator("button[type=submit]").click()
    expect(page.locator("#faults-rows tr[data-fault='fault-1']")).to_contain_text("HTTP 503")

    assert kie.post("/api/v1/jobs/createTask", {"model": T2I, "input": {}}).status == 503
    expect(page.locator("#faults-rows tr[data-fault='fault-1']")).to_contain_text("1 / 1")
    page.locator("nav a[data-view='requests']").click()
    faulted = rows(page)
    expect(faulted).to_have_count(1)
    expect(faulted).to_contain_text("fault-1")
    expect(faulted).to_contain_text("HTTP 503")
    faulted.click()
    expect(page.locator("#request-detail")).to_contain_text("503 Service Temporarily Unavailable")


def test_reset_forgets_tasks_rules_and_the_journal(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock()
    client = client_of(mock)
    mock.add_rule(Rule(lifecycle=Lifecycle(polls=3)))
    client.submit(T2I, prompt="to be forgotten")
    page = open_page(mock.inspector_url)
    expect(rows(page)).to_have_count(1)

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#reset").click()
    expect(page.locator("#toast")).to_have_text("Mock reset")
    expect(page.locator("#requests-rows")).to_contain_text("No requests yet")
    assert mock.tasks() == []
    assert [rule.builtin for rule in mock.rules()] == [True]
    page.locator("nav a[data-view='tasks']").click()
    expect(page.locator("#tasks-rows")).to_contain_text("No tasks yet")


def test_accounts_show_credits_and_rate_windows_and_never_a_key(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(
        accounts={"sk-alice": AccountSettings(credits=50)},
        documented_limits=True,
        time_scale=FROZEN,  # the 10 s window holds the creates however slow the machine
    )
    client = client_of(mock, api_key="sk-alice")
    for prompt in ("one", "two"):
        client.submit(T2I, prompt=prompt)  # 4 credits each (mock figures)
    page = open_page(f"{mock.inspector_url}#accounts")
    alice = page.locator(f"#accounts-rows tr[data-account='{account_id('sk-alice')}']")
    expect(alice.locator(".credits")).to_have_text("42")
    expect(alice).to_contain_text("2 in the last 10 s · limit 20")

    form = page.locator("#account-form")
    form.locator("input[name=api_key]").fill("sk-bob")
    form.locator("input[name=credits]").fill("-1")
    form.locator("button[type=submit]").click()
    expect(form.locator(".form-error")).to_contain_text("credits: must be a number >= 0")
    form.locator("input[name=credits]").fill("7")
    form.locator("button[type=submit]").click()
    bob = page.locator(f"#accounts-rows tr[data-account='{account_id('sk-bob')}']")
    expect(bob.locator(".credits")).to_have_text("7")
    expect(form.locator("input[name=api_key]")).to_have_value("")  # typed, sent, forgotten

    page.locator("button", has_text="All off").click()
    expect(page.locator("#limits-summary")).to_contain_text("off new tasks per 10 s")
    assert mock.limits.settings.creates_per_10s is None
    content = page.content()
    assert "sk-alice" not in content
    assert "sk-bob" not in content


@pytest.mark.parametrize("credits", ["999.9996", "0.0004", "1234567.25"])
def test_accounts_show_the_credits_the_mock_holds_unrounded(
    credits: str, make_mock: MakeMock, open_page: OpenPage
) -> None:
    """The page rounded to 3 places (999.9996 read 1000, 0.0004 read 0); the mock keeps 6."""
    mock, _ = make_mock(accounts={"sk-carol": AccountSettings(credits=float(credits))})
    page = open_page(f"{mock.inspector_url}#accounts")
    carol = page.locator(f"#accounts-rows tr[data-account='{account_id('sk-carol')}']")
    expect(carol.locator(".credits")).to_have_text(credits)


def test_two_tabs_stay_in_step(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock(rules=MANUAL.rules)
    client = client_of(mock)
    first = open_page(mock.inspector_url)
    second = open_page(f"{mock.inspector_url}#tasks")

    task = client.submit(T2I, prompt="seen twice")
    expect(rows(first, "create")).to_have_count(1)
    row = second.locator(f"#tasks-rows tr[data-task='{task.id}']")
    expect(row).to_have_attribute("data-state", "waiting")

    first.goto(f"{mock.inspector_url}#tasks/{task.id}")
    first.locator("#task-fail").click()
    expect(row).to_have_attribute("data-state", "fail")  # the other tab, without a reload
    with pytest.raises(TaskFailedError):
        client.wait(task)
    first.goto(f"{mock.inspector_url}#requests")
    expect(rows(first)).to_have_count(2)  # the create and the client's poll
    # the page itself never shows up in the journal: only the client's two requests
    assert [record.account_id for record in mock.requests()] == [account_id(KEY)] * 2


def test_thousands_of_entries_are_paged_and_new_ones_do_not_redraw_the_page(
    make_mock: MakeMock, open_page: OpenPage, client_of: ClientOf
) -> None:
    mock, _ = make_mock()
    for n in range(3000):
        mock.journal.add(_record(n))
    page = open_page(mock.inspector_url)
    table = rows(page)
    expect(table).to_have_count(100)
    expect(page.locator("#requests-summary")).to_contain_text("holds 3000 requests")
    expect(table.first).to_have_attribute("data-seq", "2999")

    page.locator("#requests-older").click()
    expect(table.first).to_have_attribute("data-seq", "2899")
    page.locator("#requests-newer").click()
    expect(table.first).to_have_attribute("data-seq", "2999")
    page.evaluate("document.querySelector(\"tr[data-seq='2999']\").kept = true")

    client_of(mock).credits()  # one real request
    expect(table.first).to_have_attribute("data-seq", "3000")
    expect(table).to_have_count(100)
    # the row that was there is the same element: only the new one was drawn
    assert page.evaluate("document.querySelector(\"tr[data-seq='2999']\").kept") is True


def test_callbacks_are_paged_and_the_task_list_says_which_were_not_delivered(
    make_mock: MakeMock, open_page: OpenPage
) -> None:
    mock, kie = make_mock()
    nowhere = "https://your-domain.com/cb"  # recorded, never sent: not loopback
    made = []
    for n in range(101):
        body = {"model": T2I, "input": {"prompt": f"p{n}"}, "callBackUrl": nowhere}
        made.append(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])
        kie.record(made[-1])
    page = open_page(f"{mock.inspector_url}#callbacks")
    table = page.locator("#callbacks-rows tr[data-index]")
    expect(table).to_have_count(100)
    expect(page.locator("#callback-settings")).to_contain_text("101 callbacks; showing 2–101")
    expect(table.first).to_have_attribute("data-index", "100")
    expect(page.locator("#callbacks-newer")).to_be_disabled()
    page.locator("#callbacks-older").click()
    expect(table).to_have_count(1)
    expect(table.first).to_have_attribute("data-index", "0")
    expect(table.first).to_contain_text(made[0][:8])
    page.locator("#callbacks-newer").click()
    expect(table).to_have_count(100)

    page.locator("nav a[data-view='tasks']").click()
    newest = page.locator(f"#tasks-rows tr[data-task='{made[-1]}'] td.callback")
    expect(newest).to_have_text("not delivered")  # never sent: not "sent"


def test_without_chromium_the_browser_tests_fail_and_say_how_to_install_it(
    screenshot_tool: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screenshot_tool, "CHROMIUM", Path("/nonexistent/chromium"))
    with pytest.raises(RuntimeError, match=r"python3 tools/services\.py install"):
        screenshot_tool.launch(object())


def test_the_screenshot_tool_takes_the_readme_picture(
    browser: Browser, screenshot_tool: ModuleType, tmp_path: Path
) -> None:
    shot = screenshot_tool.take(tmp_path / "inspector.png", browser)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a page with content, not a blank one


def _record(n: int) -> RequestRecord:
    return RequestRecord(
        method="GET",
        path="/api/v1/jobs/recordInfo",
        query={"taskId": f"{n:032x}"},
        body=None,
        task_id=f"{n:032x}",
        authorization="Bearer ***",
        status=200,
        code=200,
        account_id=account_id(KEY),
    )
