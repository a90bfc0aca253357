"""What the inspector page reads besides the journal and the change token — tasks a page at a
time, the rate windows, what callback receivers answered — and how the page itself is served:
its files from the package, under a strict Content-Security-Policy, never journaled, and named
on the start-up line of `python -m kiekit_mock serve` (what `kie mock serve` runs)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import Lifecycle, MockConfig, MockServer, account_id
from kiekit_mock.state import _Task

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

T2I = "grok-imagine/text-to-image"


def control(kie: Kie, path: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    answer = kie.fetch(kie.base_url + path, method=method, data=data)
    assert answer.status in (200, 201), answer.body
    return answer.json()


def test_tasks_come_a_page_at_a_time_from_the_newest(kie: Kie) -> None:
    made = [kie.create(T2I, prompt=f"p{n}") for n in range(5)]
    newest = control(kie, "/_mock/tasks?limit=2")
    assert newest["total"] == 5
    assert [task["task_id"] for task in newest["tasks"]] == made[3:]
    page = control(kie, "/_mock/tasks?limit=2&offset=2")
    assert [task["task_id"] for task in page["tasks"]] == made[1:3]
    assert [t["task_id"] for t in control(kie, "/_mock/tasks?limit=2&offset=4")["tasks"]] == [
        made[0]
    ]
    assert control(kie, "/_mock/tasks?offset=9")["tasks"] == []
    assert len(control(kie, "/_mock/tasks")["tasks"]) == 5
    refused = kie.fetch(kie.base_url + "/_mock/tasks?limit=0")
    assert (refused.status, refused.json()["field"]) == (400, "limit")


def test_a_page_of_tasks_snapshots_its_own_tasks_not_the_store(
    kie: Kie, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inspector reloads its Tasks page at every change: a snapshot of every task held,
    under the store's lock, made each page cost the whole store (half a second at 30,000)."""
    made = [kie.create(T2I, prompt=f"p{n}") for n in range(60)]
    for task_id in made[::2]:
        kie.record(task_id)  # ended at its first poll: success
    built = []
    snapshot = _Task.snapshot

    def counted(task: _Task) -> Any:
        built.append(task.task_id)
        return snapshot(task)

    monkeypatch.setattr(_Task, "snapshot", counted)
    newest = control(kie, "/_mock/tasks?limit=5")
    assert newest["total"] == 60
    assert [task["task_id"] for task in newest["tasks"]] == made[-5:]
    assert len(built) == 5
    built.clear()
    succeeded = control(kie, "/_mock/tasks?state=success&limit=3&offset=2")
    assert succeeded["total"] == 30
    assert [task["task_id"] for task in succeeded["tasks"]] == made[::2][-5:-2]
    assert len(built) == 3
    built.clear()
    assert control(kie, "/_mock/tasks?state=fail&limit=5") == {"total": 0, "tasks": []}
    assert built == []


PAGES = ["", "limit=2", "limit=3&offset=1", "offset=4", "limit=50&offset=0"]
FILTERS = ["", "state=success", "state=fail", "state=waiting", "family=flux-kontext"]


def test_task_pages_and_totals_follow_every_change_to_the_tasks(make_mock: MakeMock) -> None:
    """`total` is counted as tasks are made, move on and are forgotten, not by a look at every
    task: it must agree, with every filter, with the tasks the store holds."""
    mock, kie = make_mock(task_limit=12)
    other = kie.as_key("other-key")
    for n in range(6):
        kie.create(T2I, prompt=f"a{n}")
        other.flux(prompt=f"b{n}")
    failing = other.create(T2I, prompt="failing")
    mock.set_outcome(failing, "fail")
    mock.complete(failing)
    for task in mock.tasks()[:9]:
        mock.complete(task.task_id)
    stepped = other.create(T2I, prompt="stepped")
    mock.set_lifecycle(stepped, Lifecycle(manual=True))
    mock.advance(stepped)  # waiting → queuing
    for n in range(4):  # past task_limit: the oldest finished go
        other.create(T2I, prompt=f"c{n}")
    mock.reset(api_key="test-key")
    kie.create(T2I, prompt="after the reset")
    assert mock._runtime.store.forgotten > 0
    states = {task.state for task in mock.tasks()}
    assert {"waiting", "queuing", "success", "fail"} <= states
    accounts = ["", f"account_id={account_id('test-key')}", "api_key=other-key"]
    for filters in (f"{f}&{a}".strip("&") for f in FILTERS for a in accounts):
        held = [t.task_id for t in mock.tasks() if _fits(t, filters)]
        for paging in PAGES:
            page = control(kie, f"/_mock/tasks?{filters}&{paging}")
            query = dict(part.split("=") for part in paging.split("&") if part)
            end = len(held) - int(query.get("offset", 0))
            start = max(0, end - int(query.get("limit", len(held))))
            assert page["total"] == len(held), (filters, paging)
            assert [t["task_id"] for t in page["tasks"]] == held[start : max(0, end)]


def _fits(task: Any, filters: str) -> bool:
    wanted = dict(part.split("=") for part in filters.split("&") if part)
    if "api_key" in wanted:
        wanted["account_id"] = account_id(wanted.pop("api_key"))
    held = {"state": task.state, "family": task.family, "account_id": task.account_id}
    return all(wanted.get(name, value) == value for name, value in held.items())


@pytest.mark.parametrize("field", ["state", "family"])
def test_a_misspelt_task_filter_is_refused_not_an_empty_list(kie: Kie, field: str) -> None:
    kie.create(T2I, prompt="a")
    refused = kie.fetch(kie.base_url + f"/_mock/tasks?{field}=sucess")
    assert (refused.status, refused.json()["field"]) == (400, field)
    assert "sucess" in refused.json()["error"]
    known = {"state": "waiting", "family": "market"}[field]
    assert control(kie, f"/_mock/tasks?{field}={known}")["total"] == 1


def test_rate_windows_show_what_they_hold_and_the_limit_in_force(make_mock: MakeMock) -> None:
    mock, kie = make_mock(documented_limits=True, time_scale=1e-6)  # windows move on advance only
    first = kie.create(T2I, prompt="a")
    kie.create(T2I, prompt="b")
    kie.record(first)
    windows = control(kie, "/_mock/limits/windows")["windows"]
    mine = account_id("test-key")
    assert {(w["limit"], w["account_id"], w["used"], w["allowed"]) for w in windows} == {
        ("creates", mine, 2, 20),
        ("record-info", mine, 1, 10),
    }
    control(kie, "/_mock/accounts", "POST", {"api_key": "test-key", "max_creates_per_10s": 3})
    (creates,) = (
        w for w in control(kie, "/_mock/limits/windows")["windows"] if w["limit"] == "creates"
    )
    assert (creates["allowed"], creates["seconds"]) == (3, 10.0)
    mock.clock.advance(10)
    assert control(kie, "/_mock/limits/windows")["windows"] == []


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status, body = (500, b"not today") if "refuse" in self.path else (200, b"thanks")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_callback_records_keep_what_the_receiver_answered(mock: MockServer, kie: Kie) -> None:
    with receiver() as url:
        for path in ("/ok", "/refuse"):
            body = {"model": T2I, "input": {"prompt": "p"}, "callBackUrl": url + path}
            kie.record(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])
        thanked, refused = sorted(mock.callbacks(), key=lambda r: r.url)
    assert (thanked.delivered, thanked.status, thanked.answer) == (True, 200, "thanks")
    assert (refused.delivered, refused.status, refused.answer) == (False, 500, "not today")
    listed = control(kie, "/_mock/callbacks")
    assert {record["answer"] for record in listed} == {"thanks", "not today"}


def test_each_task_says_what_became_of_its_callback(mock: MockServer, kie: Kie) -> None:
    """The Tasks list's callback column reads it: sent only when the receiver said 2xx."""
    ids = {}
    with receiver() as url:
        for name, callback in [
            ("thanked", url + "/ok"),
            ("refused", url + "/refuse"),
            ("never sent", "https://your-domain.com/cb"),  # not loopback: recorded only
        ]:
            body = {"model": T2I, "input": {"prompt": "p"}, "callBackUrl": callback}
            ids[name] = kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"]
        pending = kie.create(T2I, prompt="no callback yet")
        for task_id in ids.values():
            kie.record(task_id)
        mock.callbacks()  # deliveries in flight have ended
    listed = {task["task_id"]: task for task in control(kie, "/_mock/tasks")["tasks"]}
    said = {name: listed[task_id]["callback"] for name, task_id in ids.items()}
    assert said["thanked"] == {"delivered": True, "reason": None, "status": 200, "records": 1}
    assert (said["refused"]["delivered"], said["refused"]["status"]) == (False, 500)
    assert said["refused"]["reason"] == "receiver answered HTTP 500"
    assert (said["never sent"]["delivered"], said["never sent"]["status"]) == (False, None)
    assert said["never sent"]["reason"].startswith("not loopback")
    assert listed[pending]["callback"] is None
    one = control(kie, f"/_mock/tasks/{ids['refused']}")["task"]
    assert one["callback"] == said["refused"]


def test_callbacks_come_a_page_at_a_time_from_the_newest(kie: Kie) -> None:
    made = []
    for n in range(5):
        body = {"model": T2I, "input": {"prompt": f"p{n}"}, "callBackUrl": "https://x.example/cb"}
        made.append(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])
        kie.record(made[-1])
    answer = kie.fetch(kie.base_url + "/_mock/callbacks?limit=2&wait=0")
    assert answer.status == 200
    assert [record["task_id"] for record in answer.json()] == made[3:]  # in the order sent
    page = kie.fetch(kie.base_url + "/_mock/callbacks?limit=2&offset=2&task_id=")
    assert [record["task_id"] for record in page.json()] == made[1:3]
    assert [r["task_id"] for r in control(kie, "/_mock/callbacks?offset=4")] == made[:1]
    assert len(control(kie, "/_mock/callbacks")) == 5  # no paging asked: every record
    assert control(kie, f"/_mock/callbacks?task_id={made[0]}&limit=1")[0]["task_id"] == made[0]
    for bad in ("limit=0", "offset=-1", "limit=x", "page=2"):
        refused = kie.fetch(kie.base_url + f"/_mock/callbacks?{bad}")
        assert refused.status == 400, bad


def owe_callback(kie: Kie, prompt: str) -> str:
    """A finished task whose callback is recorded, never sent (not loopback: callbacks.py)."""
    body = {"model": T2I, "input": {"prompt": prompt}, "callBackUrl": "https://x.example/cb"}
    task_id = str(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])
    kie.record(task_id)
    return task_id


def test_a_page_of_callbacks_does_not_copy_every_record(
    make_mock: MakeMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inspector reloads its Callbacks page at every change: it copied every record kept
    (100,000 by default) and filtered the copy, under the dispatcher's lock, for each page."""
    mock, kie = make_mock()
    made = [owe_callback(kie, f"p{n}") for n in range(6)]
    owe_callback(kie.as_key("other-key"), "theirs")

    def everyone(_: object) -> None:
        raise AssertionError("a page of callbacks copied every record")

    monkeypatch.setattr(type(mock._runtime.callbacks), "records", everyone)
    answer = kie.fetch(kie.base_url + "/_mock/callbacks?limit=2&offset=1&api_key=test-key&wait=0")
    assert [record["task_id"] for record in answer.json()] == made[3:5]
    assert answer.headers["x-total-count"] == "6"
    one = kie.fetch(kie.base_url + f"/_mock/callbacks?task_id={made[0]}&wait=0")
    assert (len(one.json()), one.headers["x-total-count"]) == (1, "1")
    assert kie.fetch(kie.base_url + "/_mock/callbacks?wait=0").headers["x-total-count"] == "7"


def test_callback_pages_and_totals_follow_every_record_kept_and_let_go(
    make_mock: MakeMock,
) -> None:
    mock, kie = make_mock(task_limit=8, callback_limit=14, callback_copies=2)
    other = kie.as_key("other-key")
    made = [owe_callback(caller, f"p{n}") for n in range(6) for caller in (kie, other)]
    mock.reset(api_key="other-key")  # a per-account reset forgets its records
    made += [owe_callback(kie, f"q{n}") for n in range(3)]
    dispatcher = mock._runtime.callbacks
    assert dispatcher.dropped > 0
    assert mock._runtime.store.forgotten > 0
    mine = account_id("test-key")
    for filters in ["", "api_key=test-key", "api_key=other-key", f"account_id={mine}"] + [
        f"task_id={task_id}" for task_id in made[::3]
    ]:
        wanted = dict(part.split("=") for part in filters.split("&") if part)
        owner = account_id(wanted["api_key"]) if "api_key" in wanted else wanted.get("account_id")
        held = [
            record.task_id
            for record in mock.callbacks(wait=False)
            if owner in (None, record.account_id)
            and wanted.get("task_id", record.task_id) == record.task_id
        ]
        for paging in ["", "limit=3", "limit=2&offset=3", "offset=5"]:
            query = dict(part.split("=") for part in paging.split("&") if part)
            end = len(held) - int(query.get("offset", 0))
            start = max(0, end - int(query.get("limit", len(held))))
            answer = kie.fetch(kie.base_url + f"/_mock/callbacks?wait=0&{filters}&{paging}")
            assert answer.headers["x-total-count"] == str(len(held)), (filters, paging)
            assert [r["task_id"] for r in answer.json()] == held[start : max(0, end)]


def test_the_page_and_its_files_are_served_from_the_package(mock: MockServer, kie: Kie) -> None:
    page = kie.fetch(mock.inspector_url)
    assert page.status == 200
    assert page.content_type == "text/html; charset=utf-8"
    scripts = re.findall(r'src="(/_mock/ui/[^"]+)"', page.body.decode())
    assert "/_mock/ui/app.js" in scripts
    for path in ["/_mock/ui/app.js", "/_mock/ui/style.css", "/_mock/ui/icon.svg"]:
        asset = kie.fetch(kie.base_url + path)
        assert asset.status == 200, path
        assert asset.body
    assert kie.fetch(kie.base_url + "/_mock/ui/app.js").content_type.startswith("text/javascript")
    for missing in ("nope.js", "..%2Fcontrol.py", "__init__.py", "index.html"):
        assert kie.fetch(f"{kie.base_url}/_mock/ui/{missing}").status == 404, missing
    assert mock.requests() == []  # the page is the tester's, not the client's: not journaled


def test_the_page_may_load_nothing_but_the_mock(kie: Kie, mock: MockServer) -> None:
    policy = _headers(mock.inspector_url)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for kind in ("script-src", "style-src", "connect-src"):
        assert directives[kind] == "'self'"
    # the files themselves name no other host
    for name in ("index.html", "app.js", "live.js", "api.js", "style.css"):
        text = kie.fetch(f"{kie.base_url}/_mock/ui/{name}".replace("/index.html", "")).body
        assert re.search(rb"https?://", text) is None, name


def _headers(url: str) -> dict[str, str]:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return dict(response.headers)


def test_the_start_up_line_links_the_inspector() -> None:
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    command = [sys.executable, "-m", "kiekit_mock", "serve", "--port", "0", "--upload-port", "0"]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"inspector: (http://127\.0\.0\.1:\d+/_mock/ui)$", line.strip())
        assert found, line
        assert re.search(r"KIE API mock listening on (http://127\.0\.0\.1:\d+)", line)
        assert _headers(found.group(1))["Content-Type"].startswith("text/html")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_mock_server_names_its_inspector() -> None:
    with MockServer(MockConfig()) as mock:
        assert mock.inspector_url == f"{mock.base_url}/_mock/ui"
