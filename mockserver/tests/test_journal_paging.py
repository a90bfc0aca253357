"""The journal as a watcher reads it: seqs never reused, pages `after`/`before` a seq, the answer
each request got as it was sent, and the rules a created task got."""

from __future__ import annotations

import json
import urllib.error
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import FaultRule, Journal, RequestRecord
from kiekit_mock.requestlog import Noted

if TYPE_CHECKING:
    from kiekit_mock import MockServer

    from conftest import Kie

T2I = "grok-imagine/text-to-image"


def journal(kie: Kie, query: str = "") -> dict[str, Any]:
    answer = kie.fetch(f"{kie.base_url}/_mock/journal?{query}")
    assert answer.status == 200, answer.body
    return dict(answer.json())


def seqs(page: dict[str, Any]) -> list[int]:
    return [record["seq"] for record in page["requests"]]


def test_pages_are_read_from_the_newest_end(kie: Kie) -> None:
    for n in range(5):
        kie.get(f"/api/v1/jobs/recordInfo?taskId=t{n}")
    newest = journal(kie, "limit=2")
    assert (seqs(newest), newest["more"]) == ([3, 4], True)
    assert (newest["first_seq"], newest["last_seq"], newest["count"]) == (0, 4, 2)
    older = journal(kie, "limit=2&before=3")
    assert (seqs(older), older["more"]) == ([1, 2], True)
    oldest = journal(kie, "limit=2&before=1")
    assert (seqs(oldest), oldest["more"]) == ([0], False)
    assert seqs(journal(kie, "after=2")) == [3, 4]
    assert seqs(journal(kie, "after=4")) == []
    assert seqs(journal(kie, "after=0&before=3&task_id=t2")) == [2]


def test_seqs_go_on_after_the_journal_is_cleared(kie: Kie) -> None:
    kie.get("/api/v1/jobs/recordInfo?taskId=a")
    kie.get("/api/v1/jobs/recordInfo?taskId=b")
    cleared = kie.fetch(kie.base_url + "/_mock/journal", method="DELETE").json()
    assert (cleared["count"], cleared["first_seq"], cleared["last_seq"]) == (0, 2, 1)
    kie.get("/api/v1/jobs/recordInfo?taskId=c")
    after = journal(kie, "after=1")
    assert seqs(after) == [2]  # a watcher that saw #1 gets what is new, nothing twice
    assert (after["first_seq"], after["last_seq"]) == (2, 2)


def test_paging_values_are_checked(kie: Kie) -> None:
    for query, field in (("limit=0", "limit"), ("after=-2", "after"), ("before=x", "before")):
        answer = kie.fetch(f"{kie.base_url}/_mock/journal?{query}")
        assert answer.status == 400
        assert answer.json()["field"] == field


def test_a_page_of_a_long_journal_reads_only_what_it_needs() -> None:
    j = Journal()
    for n in range(10_000):
        j.add(RequestRecord("GET", "/p", {}, None, f"t{n % 7}", None, 200, 200))
    page = j.page(limit=3, before=9_000)
    assert [r.seq for r in page.records] == [8_997, 8_998, 8_999]
    assert page.more
    assert [r.seq for r in j.page(task_id="t3", limit=2).records] == [9_992, 9_999]
    assert j.query(task_id="t3", since=None)[0].seq == 3


def test_each_record_keeps_the_answer_as_sent(kie: Kie) -> None:
    sent = kie.post("/api/v1/jobs/createTask", {"model": T2I, "input": {"prompt": "p"}})
    (record,) = journal(kie)["requests"]
    answer = record["answer"]
    assert answer["json"] == json.loads(sent.body)
    assert answer["size"] == len(sent.body)
    assert answer["content_type"] == sent.content_type
    assert (answer["streamed"], answer["cut"]) == (False, False)


def test_faulted_and_binary_answers_are_recorded_as_they_went_out(
    mock: MockServer, kie: Kie
) -> None:
    task_id = kie.create(T2I, prompt="p")
    url = kie.record(task_id)["resultJson"]
    mock.faults.add(FaultRule("http", status=503, path="/api/v1/chat/credit", times=1))
    mock.faults.add(FaultRule("malformed", path="/api/v1/chat/credit", times=1))
    mock.faults.add(FaultRule("reset", path="/api/v1/chat/credit", times=1))
    assert kie.get("/api/v1/chat/credit").status == 503
    half = kie.get("/api/v1/chat/credit").body
    with pytest.raises((urllib.error.URLError, ConnectionError)):  # reset: no answer at all
        kie.get("/api/v1/chat/credit")
    kie.fetch(json.loads(url)["resultUrls"][0])
    page = journal(kie, "path=/api/v1/chat/credit")["requests"]
    proxy, malformed, reset = (record["answer"] for record in page)
    assert proxy["content_type"].startswith("text/html")
    assert "503 Service Temporarily Unavailable" in proxy["text"]
    assert proxy["headers"]["Server"] == "nginx"
    assert malformed["text"] == half.decode()
    assert "json" not in malformed
    assert (page[2]["status"], reset) == (0, None)
    (image,) = journal(kie, "path=/files/*")["requests"]
    assert image["answer"]["content_type"] == "image/jpeg"
    assert image["answer"]["size"] > 0
    assert "text" not in image["answer"]
    assert "json" not in image["answer"]


def test_a_streamed_answer_is_marked_streamed(kie: Kie) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    assert b"[DONE]" in kie.post("/gpt-5-2/v1/chat/completions", body).body
    (record,) = journal(kie)["requests"]
    assert record["answer"]["streamed"] is True
    assert record["answer"]["size"] is None


def test_a_create_names_the_rules_its_task_got(kie: Kie) -> None:
    rule = {"prompt_contains": "slow", "lifecycle": {"polls": 3}}
    rule_id = kie.fetch(
        kie.base_url + "/_mock/rules", method="POST", data=json.dumps(rule).encode()
    ).json()["rule"]["id"]
    slow = kie.create(T2I, prompt="slow [mock:fail]")
    plain = kie.create(T2I, prompt="plain")
    creates = journal(kie, "kind=create")["requests"]
    assert [record["rules"] for record in creates] == [[rule_id, 0], []]  # 0: [mock:fail]
    task = kie.fetch(f"{kie.base_url}/_mock/tasks/{slow}").json()["task"]
    assert task["rules"] == [rule_id, 0]
    assert kie.fetch(f"{kie.base_url}/_mock/tasks/{plain}").json()["task"]["rules"] == []


def test_records_added_later_are_found_by_every_index_among_eager_ones_and_drops() -> None:
    # polls are indexed when the journal is next read, creates at once: the seqs of each index
    # must still ascend, across drops (limit) and clear()
    j = Journal(limit=50)
    for n in range(180):
        if n == 120:
            j.clear()
        task, account = f"t{n % 5}", f"acct_{n % 3}"
        if n % 11 == 0:  # a create, recorded at once
            body = {"n": n}
            j.add(RequestRecord("POST", "/c", {}, body, task, None, 200, 200, account_id=account))
            continue

        query = {"taskId": task}
        noted: Noted = (
            "GET",
            "/p",
            query,
            b"",
            task,
            None,
            200,
            200,
            None,
            None,
            account,
            None,
            (),
        )
        j.add_later(noted, path="/p", task_id=task, account_id=account, kind="poll")
        if n % 17 == 0:  # read now and then, between additions
            j.query(task_id="t1")
    every = j.records()
    assert [r.seq for r in every] == list(range(132, 180))  # 51 records: down to 45, again
    for task in ("t0", "t3"):
        assert j.query(task_id=task) == [r for r in every if r.task_id == task]
    assert j.query(account_id="acct_2") == [r for r in every if r.account_id == "acct_2"]
    assert j.query(path="/c") == [r for r in every if r.path == "/c"]
    assert j.polls("t4") == [r for r in every if r.task_id == "t4" and r.kind == "poll"]
