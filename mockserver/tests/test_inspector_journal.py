"""What the inspector page needs of the journal and the files it links to (an outside tester's
findings, /_mock/ui): the mock's instance named, so a restarted mock is not mixed with the old
one; large request bodies kept as bounded previews, lists without bodies and one record in full;
counts that hold after a per-account reset; upload-host requests journaled like the API's; the
families the mock serves; a timed lifecycle that says when; what a replayed task's client saw;
and every served file unable to run script on the mock's origin."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockServer, account_id
from kiekit_mock.families import task_families
from kiekit_mock.requestlog import BODY_LIMIT, PREVIEW_CHARACTERS, preview_json

if TYPE_CHECKING:
    from conftest import Answer, Kie, MakeMock

T2I = "grok-imagine/text-to-image"
BASE64 = "/api/file-base64-upload"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)">'
    b'<rect width="10" height="10"/></svg>'
)


def control(kie: Kie, path: str, method: str = "GET", body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    return kie.fetch(kie.base_url + path, method=method, data=data)


def journal(kie: Kie, query: str = "") -> dict[str, Any]:
    answer = control(kie, "/_mock/journal" + query)
    assert answer.status == 200, answer.body
    page: dict[str, Any] = answer.json()
    return page


def big_upload(host: Kie, size: int) -> dict[str, Any]:
    data = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(size)).decode()
    answer = host.post(BASE64, {"base64Data": data, "uploadPath": "big", "fileName": "big.png"})
    payload: dict[str, Any] = answer.json()
    assert payload["code"] == 200, payload
    return payload


def test_the_journal_and_the_change_token_name_the_mock_so_a_restart_is_told_apart(
    make_mock: MakeMock, kie_at: Callable[..., Kie]
) -> None:
    """A new mock on the same port starts its seqs at 0 again: a watcher that kept the old
    one's records must be able to tell (the inspector mixed the two journals)."""
    first, kie = make_mock()
    kie.create(T2I, prompt="one")
    instance = journal(kie)["instance"]
    assert control(kie, "/_mock/changes").json()["instance"] == instance
    first.stop()
    first.start()  # the same mock, restarted: the same journal, the same instance
    again = kie_at(first.base_url)
    assert journal(again)["instance"] == instance
    assert journal(again)["held"] == 1

    _, other = make_mock()
    other.create(T2I, prompt="two")
    fresh = journal(other)
    assert fresh["instance"] != instance
    assert control(other, "/_mock/changes").json()["instance"] == fresh["instance"]
    assert [r["seq"] for r in fresh["requests"]] == [0]  # the seqs began again


def test_a_large_json_body_is_kept_as_a_bounded_preview_with_its_size(
    mock: MockServer, kie_at: Callable[..., Kie]
) -> None:
    host = kie_at(mock.upload_base_url)
    big_upload(host, 3 * 1024 * 1024)
    small = {"base64Data": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(), "uploadPath": "s"}
    host.post(BASE64, small)
    kie = kie_at(mock.base_url)

    listed = journal(kie, "?path=" + BASE64)
    large, kept = listed["requests"]
    assert large["body_truncated"] is True
    assert large["body_size"] > 4 * 1024 * 1024
    assert len(json.dumps(large)) < 2 * PREVIEW_CHARACTERS  # not megabytes on a list reload
    body = large["body"]
    assert (body["uploadPath"], body["fileName"]) == ("big", "big.png")  # the fields around it
    assert body["base64Data"].startswith("data:image/png;base64,… [truncated: ")  # elided
    assert "characters, sha256 " in body["base64Data"]
    # a small body is kept as it came
    assert (kept["body"], kept["body_truncated"]) == (small, False)
    assert kept["body_size"] == len(json.dumps(small))
    assert mock.journal.get(large["seq"]) == mock.journal.query(path=BASE64)[0]


def test_a_preview_cuts_long_strings_and_long_lists_and_tells_bodies_apart() -> None:
    one = {"prompt": "x" * 10_000, "images": ["y"] * 50_000}
    shown = preview_json(one)
    assert len(json.dumps(shown)) < 2 * PREVIEW_CHARACTERS
    assert shown["prompt"].startswith("x" * 512 + "… [truncated: 10,000 characters")
    assert shown["images"][-1].startswith("… truncated: ")
    assert "more items not kept" in shown["images"][-1]
    # equal bodies get equal previews, and bodies that differ past the cut differ (the check
    # for duplicate creates compares the bodies it keeps)
    assert preview_json(one) == shown
    assert preview_json({"prompt": "x" * 9_999 + "z", "images": []})["prompt"] != shown["prompt"]
    assert preview_json({"a": "short"}) == {"a": "short"}


def test_a_large_api_request_body_is_a_preview_too(mock: MockServer, kie: Kie) -> None:
    image = "data:image/png;base64," + "A" * (2 * BODY_LIMIT)
    kie.post("/api/v1/jobs/createTask", {"model": T2I, "input": {"prompt": "p", "image": image}})
    (record,) = mock.journal.query(path="/api/v1/jobs/createTask")
    assert record.body_truncated
    assert record.body is not None
    assert record.body["input"]["image"].startswith("data:image/png;base64,… [truncated")
    assert record.body["model"] == T2I


def test_the_task_list_shows_a_large_request_body_as_a_preview_and_one_task_whole(
    kie: Kie,
) -> None:
    """GET /_mock/tasks sent each task's whole body back at every listing (the inspector
    refreshes it): a 20 MB inline image is bounded there as in the journal; the one-task view
    keeps it whole, for a test that checks what its client sent."""
    image = "data:image/png;base64," + "A" * (4 * BODY_LIMIT)
    body = {"model": T2I, "input": {"prompt": "p", "image": image}}
    assert kie.post("/api/v1/jobs/createTask", body).json()["code"] == 200
    kie.create(T2I, prompt="small")
    listing = control(kie, "/_mock/tasks")
    assert len(listing.body) < BODY_LIMIT  # not the image again in every listing
    large, small = listing.json()["tasks"]
    assert large["request_body_truncated"] is True
    assert large["request_body"]["model"] == T2I
    assert large["request_body"]["input"]["image"].startswith("data:image/png;base64,… [trunc")
    assert small["request_body_truncated"] is False
    assert small["request_body"] == {"model": T2I, "input": {"prompt": "small"}}
    whole = control(kie, f"/_mock/tasks/{large['task_id']}").json()["task"]
    assert (whole["request_body"], whole["request_body_truncated"]) == (body, False)


def test_a_list_can_leave_the_bodies_out_and_one_record_is_read_in_full(kie: Kie) -> None:
    kie.create(T2I, prompt="a lighthouse")
    brief = journal(kie, "?bodies=0")
    (record,) = brief["requests"]
    assert "body" not in record
    assert "json" not in record["answer"]
    assert record["kind"] == "create"
    full = control(kie, f"/_mock/journal/{record['seq']}").json()
    assert full["request"]["body"]["input"]["prompt"] == "a lighthouse"
    assert full["request"]["answer"]["json"]["code"] == 200
    assert full["instance"] == brief["instance"]
    for missing in ("99", "abc", "1" * 40):
        answer = control(kie, f"/_mock/journal/{missing}")
        assert (answer.status, answer.json()["field"]) == (404, "seq")
    refused = control(kie, "/_mock/journal?bodies=no")
    assert (refused.status, refused.json()["field"]) == (400, "bodies")


def test_counts_say_what_the_journal_holds_after_a_per_account_reset(kie: Kie) -> None:
    for key in ("job-A-key", "job-B-key"):
        control(kie, "/_mock/accounts", "POST", {"api_key": key, "credits": 100})
    a, b = kie.as_key("job-A-key"), kie.as_key("job-B-key")
    for caller in (a, b, a, b):
        caller.create(T2I, prompt="p")
    before = journal(kie)
    assert (before["held"], before["forgotten"], before["matched"]) == (4, 0, None)

    control(kie, "/_mock/reset", "POST", {"api_key": "job-A-key"})
    after = journal(kie)
    assert (after["held"], after["forgotten"]) == (2, 2)  # gaps, not requests, between bounds
    assert (after["first_seq"], after["last_seq"]) == (0, 3)
    mine = f"?account_id={account_id('job-B-key')}&count=1"
    assert journal(kie, mine)["matched"] == 2
    b.create(T2I, prompt="q")
    assert journal(kie, mine + "&after=3")["matched"] == 1  # what came since, counted
    assert journal(kie, "?kind=create&count=1&limit=1")["matched"] == 3


def test_upload_host_requests_are_journaled_at_once_with_their_answer_and_account(
    mock: MockServer, kie: Kie, kie_at: Callable[..., Kie]
) -> None:
    token = control(kie, "/_mock/changes").json()
    host = kie_at(mock.upload_base_url)
    host.post(BASE64, {"base64Data": base64.b64encode(b"hello").decode(), "uploadPath": "u"})
    # watchers (the inspector) are told at once, not at the end of their long-poll
    moved = control(kie, f"/_mock/changes?since={token['token']}&wait=0").json()
    assert moved["topics"]["journal"] != token["topics"]["journal"]

    mine = account_id("test-key")
    (record,) = journal(kie, f"?path={BASE64}&account_id={mine}")["requests"]
    assert record["answer"]["json"]["success"] is True
    assert record["answer"]["json"]["data"]["filePath"].startswith(f"kieai/{mine}/")
    assert record["account_id"] == mine
    control(kie, "/_mock/reset", "POST", {"api_key": "test-key"})
    assert journal(kie, f"?path={BASE64}")["requests"] == []  # the account's reset forgets it


def test_the_families_the_mock_serves_are_listed(kie: Kie) -> None:
    answer = control(kie, "/_mock/families").json()
    assert answer == {"families": list(task_families())}
    assert {"market", "luma", "midjourney"} <= set(answer["families"])


def test_a_timed_lifecycle_without_polls_or_seconds_is_refused_not_taken_for_immediate(
    kie: Kie,
) -> None:
    rule = {"outcome": {"kind": "fail"}, "lifecycle": {"mode": "timed"}}
    refused = control(kie, "/_mock/rules", "POST", rule)
    assert refused.status == 400
    assert refused.json()["field"] == "lifecycle.polls"
    assert "needs polls or seconds" in refused.json()["error"]
    timed = {"mode": "timed", "seconds": 5}
    added = control(kie, "/_mock/rules", "POST", rule | {"lifecycle": timed}).json()["rule"]
    assert added["lifecycle"] == {"mode": "seconds", "polls": 0, "seconds": 5}


def test_a_replayed_task_says_what_its_client_was_answered(
    mock: MockServer, kie: Kie, recorded_task: Callable[..., dict[str, Any]]
) -> None:
    task_id = "f" * 32
    url = "https://tempfile.aiquickdraw.com/r/result.png"
    loaded = control(
        kie, "/_mock/scenarios", "POST", recorded_task(task_id, url, "image/png", b"x")
    )
    assert loaded.status == 200, loaded.body
    assert kie.create(T2I, prompt="replayed") == task_id
    polled = [kie.record(task_id)["state"] for _ in range(3)]
    assert polled == ["generating", "success", "success"]

    task = control(kie, f"/_mock/tasks/{task_id}").json()["task"]
    assert task["replay"] == {
        "state": "success",
        "recorded_answers": 2,
        "polls_answered": 3,
        "then": "recording",
        "handed_over": False,
        "result_urls": [mock.base_url + "/_mock/har-files/0.png"],  # the client's links
    }
    assert task["polls"] == 0  # the emulation's twin was never polled: not what the client saw
    other = kie.create("grok-imagine/text-to-video", prompt="not replayed")
    assert control(kie, f"/_mock/tasks/{other}").json()["task"]["replay"] is None


@pytest.mark.parametrize("where", ["har", "result", "upload"])
def test_a_served_file_cannot_run_script_on_the_mocks_origin(
    mock: MockServer,
    kie: Kie,
    kie_at: Callable[..., Kie],
    where: str,
    recorded_task: Callable[..., dict[str, Any]],
) -> None:
    """A HAR's result recorded as an SVG with an onload script ran on the inspector's origin,
    where it could read the journal and steer the mock: every file is served sandboxed."""
    if where == "har":
        url = "https://tempfile.aiquickdraw.com/r/result.svg"
        control(kie, "/_mock/scenarios", "POST", recorded_task("e" * 32, url, "image/svg+xml", SVG))
        served = kie.fetch(mock.base_url + "/_mock/har-files/0.svg")
        assert served.body == SVG  # the recorded bytes, as recorded…
    elif where == "result":
        task = kie.create(T2I, prompt="p")
        link = json.loads(kie.record(task)["resultJson"])["resultUrls"][0]
        served = kie.fetch(link)
    else:
        host = kie_at(mock.upload_base_url)
        data = base64.b64encode(SVG).decode()
        sent = host.post(BASE64, {"base64Data": data, "uploadPath": "x", "fileName": "a.svg"})
        served = kie.fetch(sent.json()["data"]["downloadUrl"])
    assert served.status == 200
    headers = served.headers
    # …but in a sandbox: an opaque origin, no script; and never sniffed as something else
    assert headers["content-security-policy"].startswith("sandbox;")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
