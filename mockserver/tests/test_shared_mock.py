"""One mock shared by parallel jobs, each with its own API key: a job resets and lists only its
own account (POST /_mock/reset {"api_key"}, ?api_key= filters, MockServer.reset(api_key=…)),
and another job's tasks, account, callbacks, journal, rules and faults are left alone."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from kiekit_mock import AccountSettings, MockServer, Outcome, Rule, account_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Answer, Kie, MakeMock

T2I = "grok-imagine/text-to-image"
CREDIT = "/api/v1/chat/credit"
ELSEWHERE = "https://example.com/hook"  # not loopback: recorded, never sent
A, B = account_id("job-a"), account_id("job-b")


def ctl(kie: Kie, method: str, path: str, body: Any = None) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return kie.fetch(kie.base_url + path, method=method, data=data, headers=headers)


def create(job: Kie, callback: str = ELSEWHERE) -> str:
    body = {"model": T2I, "callBackUrl": callback, "input": {"prompt": "p"}}
    task_id = str(job.ok(job.post("/api/v1/jobs/createTask", body))["taskId"])
    assert job.record(task_id)["state"] == "success"  # its callback is owed now
    return task_id


def two_jobs(make_mock: MakeMock) -> tuple[MockServer, Kie, Kie, Kie]:
    """A closed mock (one admin key) where two jobs open their own accounts, as in CI."""
    mock, admin = make_mock(api_keys=frozenset({"ci-admin"}))
    for key in ("job-a", "job-b"):
        assert ctl(admin, "POST", "/_mock/accounts", {"api_key": key, "credits": 100}).status == 201
    return mock, admin, admin.as_key("job-a"), admin.as_key("job-b")


def test_a_reset_for_one_key_forgets_only_that_accounts_state(make_mock: MakeMock) -> None:
    mock, admin, job_a, job_b = two_jobs(make_mock)
    for key in ("job-a", "job-b"):
        rule = {"api_key": key, "outcome": "fail", "model": "nothing-*"}
        assert ctl(admin, "POST", "/_mock/rules", rule).status == 201
        fault = {"kind": "kie", "path": "/nothing", "api_key": key}
        assert ctl(admin, "POST", "/_mock/faults", fault).status == 201
    task_a, task_b = create(job_a), create(job_b)
    mock.clock.advance(60)
    now = ctl(admin, "GET", "/_mock/clock").json()["now"]

    answer = ctl(admin, "POST", "/_mock/reset", {"api_key": "job-a"})

    assert answer.status == 200
    forgotten = {"tasks": 1, "callbacks": 1, "requests": 2, "rules": 1, "faults": 1, "uploads": 0}
    assert answer.json() == {"reset": True, "account": {"account_id": A} | forgotten}
    # job B goes on as if nothing happened
    assert job_b.record(task_b)["state"] == "success"
    assert [t.task_id for t in mock.tasks()] == [task_b]
    assert [r.task_id for r in mock.callbacks()] == [task_b]
    assert {r.account_id for r in mock.journal.records()} == {B}
    assert [view.rule.account_id for view in mock.rules() if not view.builtin] == [B]
    assert [f.rule.account for f in mock.faults.rules()] == [B]
    assert ctl(admin, "GET", "/_mock/clock").json()["now"] >= now  # never back
    # job A's task is gone and the account it opened is closed, as after a full reset
    assert job_b.get(f"/api/v1/jobs/recordInfo?taskId={task_a}").json()["code"] == 404
    assert job_a.get(CREDIT).json()["code"] == 401


def test_a_configured_account_comes_back_with_its_settings_and_rules(make_mock: MakeMock) -> None:
    start = (Rule(outcome=Outcome("fail"), account_id=A), Rule(outcome=Outcome("moderation")))
    accounts = {"job-a": AccountSettings(credits=50), "job-b": AccountSettings(credits=50)}
    mock, kie = make_mock(accounts=accounts, rules=start)
    job_a = kie.as_key("job-a")
    assert job_a.record(job_a.create(T2I, prompt="p"))["state"] == "fail"
    added = mock.add_rule(Rule(outcome=Outcome("success"), account_id=A))
    mock.put_account("job-a", AccountSettings(credits=1))

    mock.reset(api_key="job-a")

    views = [view for view in mock.rules() if not view.builtin]
    # the rule A started with is back in its place, unused; the one added for A is gone
    assert [(v.rule, v.applied) for v in views] == [(start[0], 0), (start[1], 0)]
    assert added.rule_id not in {v.rule_id for v in views}
    assert float(job_a.ok(job_a.get(CREDIT))) == 50.0
    assert mock.tasks(api_key="job-a") == []


def test_callbacks_and_tasks_are_listed_per_account(make_mock: MakeMock) -> None:
    mock, admin, job_a, job_b = two_jobs(make_mock)
    task_a, task_b = create(job_a), create(job_b)
    listed = ctl(admin, "GET", "/_mock/callbacks?api_key=job-a")
    assert (listed.status, [r["task_id"] for r in listed.json()]) == (200, [task_a])
    assert listed.json()[0]["account_id"] == A
    by_id = ctl(admin, "GET", f"/_mock/callbacks?account_id={B}").json()
    assert [r["task_id"] for r in by_id] == [task_b]
    tasks = ctl(admin, "GET", "/_mock/tasks?api_key=job-b").json()["tasks"]
    assert [t["task_id"] for t in tasks] == [task_b]
    assert [r.task_id for r in mock.callbacks(api_key="job-b")] == [task_b]
    assert [r.task_id for r in mock.callbacks(account_id=A)] == [task_a]
    assert [r.task_id for r in mock.callbacks(task_id=task_b)] == [task_b]
    assert [t.task_id for t in mock.tasks(api_key="job-a")] == [task_a]


def test_the_journal_keeps_its_seqs_and_checks_after_one_account_is_forgotten(
    make_mock: MakeMock,
) -> None:
    mock, _, job_a, job_b = two_jobs(make_mock)
    create(job_a)
    task_b = create(job_b)
    create(job_a)
    last = mock.journal.page(limit=1).last_seq
    mock.reset(account_id=A)
    assert [r.account_id for r in mock.journal.records()] == [B, B]
    assert len(mock.journal) == 2
    assert mock.journal.query(account_id=A) == []
    mock.journal.assert_created_once(task_b)
    assert [r.seq for r in mock.journal.page(limit=5).records] == [2, 3]
    create(job_b)
    newest = mock.journal.page(limit=2).records  # its create and its poll
    assert [r.seq for r in newest] == [last + 1, last + 2]  # seqs are never reused


class _HeldReceiver(BaseHTTPRequestHandler):
    arrived: threading.Event
    release: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.arrived.set()
        self.release.wait(10)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def held_receiver() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A loopback receiver that answers only once `release` is set."""
    arrived, release = threading.Event(), threading.Event()
    handler = type("Held", (_HeldReceiver,), {"arrived": arrived, "release": release})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrived, release
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_delivery_in_flight_settles_after_another_account_is_reset(
    make_mock: MakeMock,
) -> None:
    mock, _, job_a, job_b = two_jobs(make_mock)
    with held_receiver() as (url, arrived, release):
        create(job_a)  # its record comes first: forgetting it moves B's
        task_b = create(job_b, callback=url)
        assert arrived.wait(10)
        mock.reset(api_key="job-a")
        release.set()
        (record,) = mock.callbacks(api_key="job-b")  # waits for the delivery
    assert (record.task_id, record.delivered, record.status) == (task_b, True, 200)


def test_a_callback_listing_waits_only_for_the_deliveries_it_selects(
    make_mock: MakeMock,
) -> None:
    """Job A's receiver hangs; job B lists its own callbacks at once, by key or by task, over
    HTTP and in Python (it used to wait for every job's deliveries in flight)."""
    mock, admin, job_a, job_b = two_jobs(make_mock)
    with held_receiver() as (hung, arrived, release_a), held_receiver() as (url, _, release_b):
        release_b.set()  # B's receiver answers at once
        create(job_a, callback=hung)
        assert arrived.wait(10)
        task_b = create(job_b, callback=url)

        by_key = ctl(admin, "GET", "/_mock/callbacks?api_key=job-b").json()
        by_task = ctl(admin, "GET", f"/_mock/callbacks?task_id={task_b}").json()
        in_python = mock.callbacks(api_key="job-b") + mock.callbacks(task_id=task_b)

        (held,) = mock.callbacks(wait=False, api_key="job-a")
        assert (held.reason, release_a.is_set()) == ("pending", False)  # A still hangs
    for record in (*by_key, *by_task):
        assert (record["task_id"], record["delivered"], record["status"]) == (task_b, True, 200)
    assert [(r.task_id, r.delivered) for r in in_python] == [(task_b, True)] * 2


def test_a_callback_listing_waits_at_most_its_timeout(make_mock: MakeMock) -> None:
    mock, kie = make_mock()
    with held_receiver() as (hung, arrived, release):
        create(kie, callback=hung)
        assert arrived.wait(10)
        listed = ctl(kie, "GET", "/_mock/callbacks?timeout=0.01")
        (in_python,) = mock.callbacks(timeout=0)
        assert not release.is_set()
    assert (listed.status, [r["reason"] for r in listed.json()]) == (200, ["pending"])
    assert in_python.reason == "pending"


@pytest.mark.parametrize("value", ["-1", "601", "soon", "nan"])
def test_a_bad_callback_wait_timeout_is_refused(kie: Kie, value: str) -> None:
    answer = ctl(kie, "GET", f"/_mock/callbacks?timeout={value}")
    assert (answer.status, answer.json()["field"]) == (400, "timeout")


def test_python_refuses_a_bad_callback_wait_timeout(mock: MockServer) -> None:
    with pytest.raises(ValueError, match="timeout"):
        mock.callbacks(timeout=-1)
    with pytest.raises(TypeError, match="timeout"):
        mock.callbacks(timeout="5")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"api_key": "job-a", "account_id": A}, "api_key"),
        ({"api_key": ""}, "api_key"),
        ({"account": A}, "account"),
        ([], "body"),
    ],
)
def test_a_bad_reset_body_is_refused_naming_the_field(kie: Kie, body: Any, field: str) -> None:
    kie.create(T2I, prompt="p")
    answer = ctl(kie, "POST", "/_mock/reset", body)
    assert (answer.status, answer.json()["field"]) == (400, field)
    assert len(ctl(kie, "GET", "/_mock/tasks").json()["tasks"]) == 1  # nothing was reset


def test_an_account_unknown_yet_resets_to_nothing(kie: Kie) -> None:
    answer = ctl(kie, "POST", "/_mock/reset", {"api_key": "job-not-started"})
    nothing = dict.fromkeys(("tasks", "callbacks", "requests", "rules", "faults", "uploads"), 0)
    assert answer.json()["account"] == {"account_id": account_id("job-not-started")} | nothing


def test_python_names_an_account_by_key_or_id_not_both(mock: MockServer) -> None:
    with pytest.raises(ValueError, match="not both"):
        mock.reset(api_key="job-a", account_id=A)
    with pytest.raises(ValueError, match="not both"):
        mock.callbacks(api_key="job-a", account_id=A)
    with pytest.raises(ValueError, match="api_key"):
        mock.tasks(api_key="")


def result_url(job: Kie, task_id: str) -> str:
    return str(json.loads(job.record(task_id)["resultJson"])["resultUrls"][0])


def test_a_fault_scoped_to_an_account_hits_its_result_downloads_only(
    make_mock: MakeMock,
) -> None:
    # result links carry no key (public CDN links, kie-api.md §2.2): the mock knows the account
    # from the task the file belongs to, so a shared mock's download-failure test tests something
    _, admin, job_a, job_b = two_jobs(make_mock)
    fault = {"kind": "http", "status": 503, "path": "/files/*", "api_key": "job-a"}
    assert ctl(admin, "POST", "/_mock/faults", fault).status == 201
    url_a, url_b = result_url(job_a, create(job_a)), result_url(job_b, create(job_b))

    assert job_a.fetch(url_a).status == 503
    assert job_b.fetch(url_b).status == 200  # another job's download is left alone

    (mine,) = ctl(admin, "GET", "/_mock/journal?api_key=job-a&path=/files/*").json()["requests"]
    assert (mine["path"], mine["status"], mine["fault"]) == (urlsplit(url_a).path, 503, "fault-1")
    (theirs,) = ctl(admin, "GET", "/_mock/journal?api_key=job-b&path=/files/*").json()["requests"]
    assert (theirs["path"], theirs["status"], theirs["fault"]) == (urlsplit(url_b).path, 200, None)
    # a per-account reset forgets its download with its create and polls
    forgotten = ctl(admin, "POST", "/_mock/reset", {"api_key": "job-a"}).json()["account"]
    assert forgotten["requests"] == 4


def test_a_fault_scoped_to_an_account_hits_downloads_of_its_uploads(
    make_mock: MakeMock, kie_at: Callable[..., Kie]
) -> None:
    mock, admin = make_mock()  # open: any key uploads
    host = kie_at(mock.upload_base_url, "job-a")
    body = {"base64Data": base64.b64encode(b"plain words").decode(), "uploadPath": "kiekit"}
    body["fileName"] = "note.txt"
    stored = host.ok(host.post("/api/file-base64-upload", body))
    fault = {"kind": "kie", "code": 455, "path": "/kieai/*", "api_key": "job-a"}
    assert ctl(admin, "POST", "/_mock/faults", fault).status == 201

    assert host.fetch(stored["downloadUrl"]).json()["code"] == 455

    (record,) = ctl(admin, "GET", "/_mock/journal?api_key=job-a&path=/kieai/*").json()["requests"]
    assert (record["fault"], record["account_id"]) == ("fault-1", A)


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "reset", "path": "/_mock/*"},  # control routes are never faulted
        {"kind": "reset", "path": "/openapi.json", "api_key": "job-a"},  # keyless, no account
    ],
)
def test_a_fault_rule_that_could_never_match_is_refused(kie: Kie, rule: dict[str, Any]) -> None:
    answer = ctl(kie, "POST", "/_mock/faults", rule)

    assert answer.status == 400
    assert answer.json()["field"] == "path"
    assert ctl(kie, "GET", "/_mock/faults").json() == []
