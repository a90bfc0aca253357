"""The request journal: mock-clock times, accounts, indexed queries and the checks tests run on
a client's traffic, from Python (MockServer.journal) and over HTTP (/_mock/journal)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import Journal, MockServer, RequestRecord, account_id
from kiekit_mock.faults import FaultRule

if TYPE_CHECKING:
    from conftest import Answer, Kie

T2I = "grok-imagine/text-to-image"
CREATE = "/api/v1/jobs/createTask"


def ctl(kie: Kie, method: str, path: str, body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return kie.fetch(kie.base_url + path, method=method, data=data, headers=headers)


def test_records_carry_mock_time_and_account_never_the_key(mock: MockServer, kie: Kie) -> None:
    secret = "sk-journal-secret"
    kie = kie.as_key(secret)
    task_id = kie.create(T2I, prompt="p")
    mock.clock.advance(30)
    kie.record(task_id)
    create, poll = mock.journal.records()
    assert (create.kind, poll.kind) == ("create", "poll")
    assert (create.seq, poll.seq) == (0, 1)
    assert create.at is not None
    assert poll.at is not None
    assert 30 <= poll.at - create.at < 40
    assert create.account_id == poll.account_id == account_id(secret)
    over_http = ctl(kie, "GET", "/_mock/journal").json()
    assert over_http["count"] == 2  # control requests are not journaled
    assert secret not in json.dumps(over_http)
    assert over_http["requests"][1]["authorization"] == "Bearer ***"


def test_queries_by_task_path_method_account_and_kind(mock: MockServer, kie: Kie) -> None:
    mine = kie.create(T2I, prompt="p")
    theirs = kie.as_key("other").flux(prompt="q")
    kie.record(mine)
    kie.record(mine)
    kie.as_key("other").flux_record(theirs)
    journal = mock.journal
    assert [r.kind for r in journal.query(task_id=mine)] == ["create", "poll", "poll"]
    assert journal.polls(mine) == journal.query(task_id=mine, method="get")
    assert [r.task_id for r in journal.creates()] == [mine, theirs]
    assert journal.query(path="/api/v1/flux/*", account_id=account_id("other"), kind="poll") == [
        journal.polls(theirs)[0]
    ]
    base = "/_mock/journal"
    by_path = ctl(kie, "GET", f"{base}?path={CREATE}").json()
    assert [r["task_id"] for r in by_path["requests"]] == [mine]
    by_key = ctl(kie, "GET", f"{base}?api_key=other&kind=create").json()["requests"]
    assert [(r["path"], r["kind"]) for r in by_key] == [("/api/v1/flux/kontext/generate", "create")]
    last = ctl(kie, "GET", f"{base}?task_id={mine}&limit=1").json()["requests"]
    assert [r["seq"] for r in last] == [journal.polls(mine)[-1].seq]
    assert ctl(kie, "GET", f"{base}?kind=odd").json()["field"] == "kind"
    assert ctl(kie, "GET", f"{base}?since=soon").json()["field"] == "since"


def test_created_once(mock: MockServer, kie: Kie) -> None:
    task_id = kie.create(T2I, prompt="p")
    mock.journal.assert_created_once(task_id)
    with pytest.raises(AssertionError, match="created by 0 requests"):
        mock.journal.assert_created_once("f" * 32)
    ok = ctl(kie, "GET", f"/_mock/journal/check?check=created_once&task_id={task_id}").json()
    assert (ok["passed"], ok["offending"]) == (True, [])
    missing = ctl(kie, "GET", "/_mock/journal/check?check=created_once").json()
    assert missing["field"] == "task_id"
    for name in ("seconds", "window"):  # a bad number is refused even where it does not apply
        bad = ctl(kie, "GET", f"/_mock/journal/check?check=created_once&task_id=x&{name}=-1")
        assert (bad.status, bad.json()["field"]) == (400, name)


def test_duplicate_creates_are_caught_within_the_window(mock: MockServer, kie: Kie) -> None:
    body = {"model": T2I, "input": {"prompt": "same"}}
    kie.post(CREATE, body)
    mock.clock.advance(120)
    kie.post(CREATE, body)  # two minutes later: a deliberate second picture
    mock.journal.assert_no_duplicate_creates(window=60)
    kie.post(CREATE, body)  # at once: a resubmit that pays twice
    kie.post(CREATE, {"model": T2I, "input": {"prompt": "other"}})
    with pytest.raises(AssertionError) as caught:
        mock.journal.assert_no_duplicate_creates(window=60)
    message = str(caught.value)
    assert "#1 " in message
    assert "#2 " in message
    assert "#0 " not in message
    assert '"prompt": "same"' in message  # the offending bodies are shown
    check = ctl(kie, "GET", "/_mock/journal/check?check=no_duplicate_creates&window=60").json()
    assert check["passed"] is False
    assert [r["seq"] for r in check["offending"]] == [1, 2]
    wide = ctl(kie, "GET", "/_mock/journal/check?check=no_duplicate_creates&window=500").json()
    assert [r["seq"] for r in wide["offending"]] == [0, 1, 2]


def test_polls_faster_than_allowed(mock: MockServer, kie: Kie) -> None:
    slow = kie.create(T2I, prompt="p")
    fast = kie.flux(prompt="q")
    for _ in range(3):
        kie.record(slow)
        kie.flux_record(fast)
        mock.clock.advance(3)
    kie.flux_record(fast)
    kie.flux_record(fast)  # no time passed since the previous poll of `fast`
    mock.journal.assert_no_poll_faster_than(2, task_id=slow)
    with pytest.raises(AssertionError, match=r"closer than 2 s") as caught:
        mock.journal.assert_no_poll_faster_than(2)
    assert fast in str(caught.value)
    assert f"task={slow}" not in str(caught.value)
    path = "/_mock/journal/check?check=no_poll_faster_than&seconds=2"
    assert ctl(kie, "GET", f"{path}&task_id={slow}").json()["passed"] is True
    failed = ctl(kie, "GET", path).json()
    assert failed["passed"] is False
    assert {r["task_id"] for r in failed["offending"]} == {fast}
    assert len(failed["offending"]) == 2
    bad = ctl(kie, "GET", "/_mock/journal/check?check=no_poll_faster_than").json()
    assert bad["field"] == "seconds"


def test_checks_judge_one_account_when_asked(mock: MockServer, kie: Kie) -> None:
    """Parallel jobs on one mock, each on its own key: job A resubmits and polls too fast,
    careful job B's checks pass when scoped to B (over HTTP by key or id, and in Python)."""
    careless, careful = kie.as_key("job-a"), kie.as_key("job-b")
    body = {"model": T2I, "input": {"prompt": "same"}}
    careless.post(CREATE, body)
    task_a = str(careless.ok(careless.post(CREATE, body))["taskId"])  # a resubmit
    careless.record(task_a)
    careless.record(task_a)  # no time passed since the previous poll
    task_b = str(careful.ok(careful.post(CREATE, body))["taskId"])  # the same body, its own key
    careful.record(task_b)
    mock.clock.advance(3)
    careful.record(task_b)
    b, a = account_id("job-b"), account_id("job-a")
    check = "/_mock/journal/check?check="
    for scope in ("api_key=job-b", f"account_id={b}"):
        for name in ("no_duplicate_creates", "no_poll_faster_than&seconds=2"):
            answer = ctl(kie, "GET", f"{check}{name}&{scope}")
            assert (answer.status, answer.json()["passed"]) == (200, True), (name, scope)
        once = ctl(kie, "GET", f"{check}created_once&task_id={task_b}&{scope}").json()
        assert once["passed"] is True
    for name in ("no_duplicate_creates", "no_poll_faster_than&seconds=2"):
        for scope in ("", f"&account_id={a}"):
            failed = ctl(kie, "GET", f"{check}{name}{scope}").json()
            assert failed["passed"] is False
            assert {r["account_id"] for r in failed["offending"]} == {a}
    mock.journal.assert_no_duplicate_creates(account_id=b)
    mock.journal.assert_no_poll_faster_than(2, account_id=b)
    mock.journal.assert_created_once(task_b, account_id=b)
    with pytest.raises(AssertionError, match="created by 0 requests"):
        mock.journal.assert_created_once(task_b, account_id=a)
    with pytest.raises(AssertionError, match="identical creates"):
        mock.journal.assert_no_duplicate_creates(account_id=a)


def test_a_check_scoped_by_an_empty_key_is_refused(kie: Kie) -> None:
    answer = ctl(kie, "GET", "/_mock/journal/check?check=no_duplicate_creates&api_key=")
    assert (answer.status, answer.json()["field"]) == (400, "api_key")


def test_journal_cleared_over_http(mock: MockServer, kie: Kie) -> None:
    kie.create(T2I, prompt="p")
    assert ctl(kie, "DELETE", "/_mock/journal").status == 200
    assert mock.journal.records() == []
    assert mock.journal.creates() == []


def test_indexed_queries_stay_exact_over_many_tasks() -> None:
    """Thousands of tasks with three polls each: per-task queries answer from their index."""
    journal = Journal(clock=lambda: 0.0)
    for n in range(2_000):
        task_id = f"{n:032x}"
        journal.add(_record("POST", CREATE, {}, task_id, at=float(n)))
        for poll in range(3):
            query = {"taskId": task_id}
            journal.add(_record("GET", "/api/v1/jobs/recordInfo", query, task_id, n + poll))
    assert len(journal) == 8_000
    some = f"{1234:032x}"
    assert [r.seq for r in journal.polls(some)] == [1234 * 4 + 1, 1234 * 4 + 2, 1234 * 4 + 3]
    journal.assert_created_once(some)
    journal.assert_no_duplicate_creates()  # every body names its own task
    journal.assert_no_poll_faster_than(1.0)


def _record(
    method: str, path: str, query: dict[str, str], task_id: str, at: float
) -> RequestRecord:
    body = None if method == "GET" else {"n": task_id}
    return RequestRecord(method, path, query, body, task_id, "Bearer ***", 200, 200, at=at)


def test_a_create_whose_answer_was_lost_still_counts(mock: MockServer, kie: Kie) -> None:
    """A fault after the handler ran: the client saw no task id, yet a task was made and paid;
    its blind retry is exactly the duplicate the detector is for."""
    mock.faults.add(FaultRule("http", path=CREATE, when="after", times=1, status=502))
    body = {"model": T2I, "input": {"prompt": "retried"}}
    assert kie.post(CREATE, body).status == 502
    retried = kie.ok(kie.post(CREATE, body))["taskId"]
    lost, again = mock.journal.creates()
    assert (lost.kind, lost.status, lost.fault is not None) == ("create", 502, True)
    assert lost.task_id != retried == again.task_id
    mock.journal.assert_created_once(retried)
    with pytest.raises(AssertionError, match="identical creates"):
        mock.journal.assert_no_duplicate_creates()
