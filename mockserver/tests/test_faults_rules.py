"""Fault injection (faults.py, faults_http.py): HTTP- and KIE-level faults, triggers, matching,
"before"/"after" a create, the journal, and the /_mock/faults control routes."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from kiekit_mock import MockServer, account_id, create_app, faults_http, runtime_of
from kiekit_mock.faults import KIE_MESSAGES, FaultRule

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Kie, MakeMock

T2I = "grok-imagine/text-to-image"
CREATE = "/api/v1/jobs/createTask"
CREATE_BODY = {"model": T2I, "input": {"prompt": "a fox"}}


def raw(
    mock: MockServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str = "test-key",
    timeout: float = 5,
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection, with http.client's own view of what came back."""
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def control(mock: MockServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, payload = raw(mock, method, path, body)
    return status, json.loads(payload)


def test_reset_before_a_create_creates_nothing(mock: MockServer) -> None:
    rule_id = mock.faults.add(FaultRule("reset", method="POST", path=CREATE))
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        raw(mock, "POST", CREATE, CREATE_BODY)
    assert mock.tasks() == []
    (record,) = mock.requests()
    assert (record.fault, record.status, record.task_id, record.code) == (rule_id, 0, None, None)


def test_reset_after_a_create_loses_the_answer_but_not_the_task(mock: MockServer) -> None:
    """The "outcome unknown" case: the task exists and is charged, the client never heard."""
    rule_id = mock.faults.add(FaultRule("reset", path=CREATE, when="after", times=1))
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        raw(mock, "POST", CREATE, CREATE_BODY)
    (task,) = mock.tasks()
    assert task.credits_charged > 0
    (record,) = mock.requests()
    assert (record.fault, record.status, record.task_id) == (rule_id, 0, task.task_id)
    # one-shot: the next create is answered normally
    status, _, body = raw(mock, "POST", CREATE, CREATE_BODY)
    assert (status, json.loads(body)["code"]) == (200, 200)
    assert mock.requests()[-1].fault is None


def test_empty_body(mock: MockServer) -> None:
    mock.faults.add(FaultRule("empty", path="/api/v1/chat/credit"))
    status, headers, body = raw(mock, "GET", "/api/v1/chat/credit")
    assert (status, body) == (200, b"")
    assert headers["Content-Type"].startswith("application/json")


def test_malformed_after_cuts_the_real_answer(kie: Kie, mock: MockServer) -> None:
    task_id = kie.create(T2I, prompt="p")
    mock.faults.add(FaultRule("malformed", path="/api/v1/jobs/recordInfo", when="after"))
    status, _, body = raw(mock, "GET", f"/api/v1/jobs/recordInfo?taskId={task_id}")
    assert status == 200
    assert body.startswith(b'{"code":200,"msg":"success","data":{"taskId":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert mock.tasks()[0].state == "success"  # the poll itself happened


def test_truncated_answer_closes_before_its_content_length(mock: MockServer) -> None:
    mock.faults.add(FaultRule("truncated", path=CREATE, when="after"))
    with pytest.raises(http.client.IncompleteRead) as caught:
        raw(mock, "POST", CREATE, CREATE_BODY)
    assert caught.value.partial.startswith(b'{"code":200')
    assert len(mock.tasks()) == 1  # created, answer cut


def test_a_truncated_answer_for_a_client_already_gone_logs_no_traceback(
    mock: MockServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A soak's client timed out while an "after" fault's request ran: writing the cut answer
    to its closed connection logged aiohttp's full traceback for a fault working as meant."""
    prepare = faults_http.prepare_streamed

    async def client_left_first(request: web.Request, response: web.StreamResponse) -> None:
        assert request.transport is not None
        request.transport.close()  # as the client's hang-up, seen while the create ran
        await prepare(request, response)

    monkeypatch.setattr(faults_http, "prepare_streamed", client_left_first)
    mock.faults.add(FaultRule("truncated", path=CREATE, when="after"))
    with caplog.at_level(logging.DEBUG, logger="kiekit_mock"):
        with pytest.raises(http.client.RemoteDisconnected):
            raw(mock, "POST", CREATE, CREATE_BODY)
        assert raw(mock, "GET", "/_mock/clock")[0] == 200  # the loop has moved on since
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("left before its truncated answer" in r.getMessage() for r in caplog.records)
    assert len(mock.tasks()) == 1  # the create ran, as an "after" fault's does


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_result_file_download_can_be_cut_short(kie: Kie, mock: MockServer, when: str) -> None:
    """The file's own bytes and type, cut, as a CDN's would be, "before" too: it sent half of
    a made-up KIE envelope as application/json, a wrong-type answer to a client instead of an
    interrupted download."""
    task_id = kie.create(T2I, prompt="p")
    url = json.loads(kie.record(task_id)["resultJson"])["resultUrls"][0]
    path = urllib.parse.urlsplit(url).path
    rule = FaultRule("truncated", method="GET", path="/files/*", when=when, times=1)  # type: ignore[arg-type]
    mock.faults.add(rule)
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "image/jpeg"
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
    finally:
        conn.close()
    assert caught.value.partial.startswith(b"\xff\xd8")  # half a JPEG
    assert kie.fetch(url).status == 200  # one-shot: the next download is whole


def test_a_malformed_result_file_is_the_files_first_half_with_its_type(
    kie: Kie, mock: MockServer
) -> None:
    task_id = kie.create(T2I, prompt="p")
    url = json.loads(kie.record(task_id)["resultJson"])["resultUrls"][0]
    whole = kie.fetch(url).body
    mock.faults.add(FaultRule("malformed", method="GET", path="/files/*", times=1))

    cut = kie.fetch(url)

    assert (cut.status, cut.content_type) == (200, "image/jpeg")
    assert cut.body == whole[: len(whole) // 2]


def test_a_stored_upload_is_cut_as_its_own_bytes_and_an_envelope_route_as_before(
    kie: Kie, mock: MockServer, kie_at: Callable[..., Kie]
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    body = {"base64Data": base64.b64encode(png).decode(), "uploadPath": "cut"}
    uploaded = kie_at(mock.upload_base_url).post("/api/file-base64-upload", body)
    url = uploaded.json()["data"]["downloadUrl"]
    mock.faults.add(FaultRule("malformed", method="GET", path="/kieai/*", times=1))
    mock.faults.add(FaultRule("malformed", path="/api/v1/chat/credit", times=1))

    cut = kie.fetch(url)
    envelope = kie.get("/api/v1/chat/credit")

    assert (cut.content_type, cut.body) == ("image/png", png[: len(png) // 2])
    assert envelope.content_type == "application/json"  # half of a made-up envelope, as before
    assert envelope.body.startswith(b'{"code":200,"msg":"success"')


def test_slow_answer_trips_a_client_timeout_and_does_not_hold_up_stop(
    make_mock: MakeMock,
) -> None:
    mock, _ = make_mock()
    mock.faults.add(FaultRule("slow", path=CREATE, delay=30))
    with pytest.raises(TimeoutError):
        raw(mock, "POST", CREATE, CREATE_BODY, timeout=0.3)
    started = time.monotonic()
    mock.stop()  # wakes the sleeping fault instead of waiting 30 s for it
    assert time.monotonic() - started < 25  # woken, not the fault's 30 s (a hang guard)


def test_slow_in_mock_seconds_follows_the_time_scale(make_mock: MakeMock) -> None:
    mock, _ = make_mock(time_scale=100)
    mock.faults.add(FaultRule("slow", path=CREATE, delay=30, delay_clock="mock"))  # 0.3 s wall
    started = time.monotonic()
    status, _, body = raw(mock, "POST", CREATE, CREATE_BODY)
    assert time.monotonic() - started >= 0.25
    assert (status, json.loads(body)["code"]) == (200, 200)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_proxy_5xx_is_a_real_http_status_with_an_html_page(mock: MockServer, status: int) -> None:
    mock.faults.add(FaultRule("http", status=status, retry_after=7))
    got, headers, body = raw(mock, "POST", CREATE, CREATE_BODY)
    assert got == status
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Retry-After"] == "7"
    assert f"<title>{status} ".encode() in body
    assert b"nginx" in body
    assert mock.tasks() == []


@pytest.mark.parametrize("code", [402, 429, 433, 455, 500, 505])
def test_kie_codes_come_at_http_200_in_kies_envelope(kie: Kie, mock: MockServer, code: int) -> None:
    before = kie.ok(kie.get("/api/v1/chat/credit"))
    mock.faults.add(FaultRule("kie", path=CREATE, code=code))
    answer = kie.post(CREATE, CREATE_BODY)
    assert answer.status == 200
    assert answer.json() == {"code": code, "msg": KIE_MESSAGES[code], "data": None}
    assert mock.tasks() == []
    assert kie.ok(kie.get("/api/v1/chat/credit")) == before  # "before": nothing charged
    assert mock.requests()[-2].code == code


def test_kie_fault_after_a_create_keeps_the_task(kie: Kie, mock: MockServer) -> None:
    mock.faults.add(FaultRule("kie", path=CREATE, code=500, msg="internal error", when="after"))
    assert kie.post(CREATE, CREATE_BODY).json() == {
        "code": 500,
        "msg": "internal error",
        "data": None,
    }
    (task,) = mock.tasks()
    assert mock.requests()[-1].task_id == task.task_id


def _codes(kie: Kie, n: int) -> list[int]:
    return [kie.post(CREATE, CREATE_BODY).json()["code"] for _ in range(n)]


def test_first_n(kie: Kie, mock: MockServer) -> None:
    mock.faults.add(FaultRule("kie", path=CREATE, code=455, times=2))
    assert _codes(kie, 4) == [455, 455, 200, 200]
    (status,) = mock.faults.rules()
    assert (status.matched, status.fired, status.exhausted) == (2, 2, True)


def test_every_nth(kie: Kie, mock: MockServer) -> None:
    mock.faults.add(FaultRule("kie", path=CREATE, code=429, every=3))
    assert _codes(kie, 7) == [200, 200, 429, 200, 200, 429, 200]


def test_probability_is_reproducible_with_a_seed(make_mock: MakeMock) -> None:
    patterns = []
    for _ in range(2):
        mock, kie = make_mock()
        mock.faults.add(FaultRule("kie", path=CREATE, code=500, probability=0.5, seed=7))
        patterns.append(_codes(kie, 12))
    assert patterns[0] == patterns[1]
    assert {200, 500} == set(patterns[0])


def test_rules_match_method_path_glob_and_account(kie: Kie, mock: MockServer) -> None:
    task_id = kie.create(T2I, prompt="p")
    mine = account_id("test-key")
    mock.faults.add(FaultRule("kie", method="get", path="/api/v1/jobs/*", code=455, account=mine))
    poll = f"/api/v1/jobs/recordInfo?taskId={task_id}"
    assert kie.get(poll).json()["code"] == 455
    assert kie.post(CREATE, CREATE_BODY).json()["code"] == 200  # POST: not matched
    other = kie.as_key("other-key")
    assert other.get(poll).json()["code"] == 404  # another account: no fault, KIE's own answer


def test_first_matching_rule_answers(kie: Kie, mock: MockServer) -> None:
    first = mock.faults.add(FaultRule("kie", path=CREATE, code=433, times=1))
    mock.faults.add(FaultRule("kie", path="*", code=505))
    assert _codes(kie, 2) == [433, 505]
    assert mock.requests()[0].fault == first
    mock.faults.clear()
    assert _codes(kie, 1) == [200]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"kind": "explode"}, "kind"),
        ({}, "kind"),
        ({"kind": "kie", "code": 200}, "code"),
        ({"kind": "kie", "code": 499}, "msg"),
        ({"kind": "http", "status": 404}, "status"),
        ({"kind": "slow"}, "delay"),
        ({"kind": "reset", "times": 0}, "times"),
        ({"kind": "reset", "probability": 1.5}, "probability"),
        ({"kind": "reset", "when": "during"}, "when"),
        ({"kind": "reset", "path": "api/*"}, "path"),
        ({"kind": "reset", "tims": 1}, "tims"),
        ({"kind": "reset", "api_key": ""}, "api_key"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    mock: MockServer, bad: dict[str, Any], field: str
) -> None:
    status, body = control(mock, "POST", "/_mock/faults", bad)
    assert status == 400
    assert body["field"] == field
    assert body["error"]
    assert mock.faults.rules() == []


def test_control_routes(kie: Kie, mock: MockServer) -> None:
    status, added = control(
        mock,
        "POST",
        "/_mock/faults",
        {"kind": "kie", "code": 402, "path": CREATE, "api_key": "test-key", "times": 1},
    )
    assert status == 201
    assert added["id"] == "fault-1"
    assert added["account"] == account_id("test-key")  # the key itself is never kept
    assert "test-key" not in json.dumps(added)
    control(mock, "POST", "/_mock/faults", {"kind": "reset", "path": "*"})  # matches everything…
    status, listed = control(mock, "GET", "/_mock/faults")  # …but never the control routes
    assert status == 200
    assert [rule["id"] for rule in listed] == ["fault-1", "fault-2"]
    assert control(mock, "DELETE", "/_mock/faults/fault-2") == (200, {"removed": "fault-2"})
    assert control(mock, "DELETE", "/_mock/faults/fault-9")[0] == 404
    assert kie.post(CREATE, CREATE_BODY).json()["code"] == 402
    (rule,) = control(mock, "GET", "/_mock/faults")[1]
    assert (rule["fired"], rule["exhausted"]) == (1, True)
    assert control(mock, "DELETE", "/_mock/faults") == (200, {"cleared": True})
    assert mock.faults.rules() == []


def _read_to_the_end(sock: socket.socket) -> None:
    while sock.recv(1024):
        pass


def test_control_reset_rule_over_http_is_seen_by_a_socket(mock: MockServer) -> None:
    control(mock, "POST", "/_mock/faults", {"kind": "reset", "path": CREATE, "when": "after"})
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as sock:
        body = json.dumps(CREATE_BODY).encode()
        sock.sendall(
            b"POST " + CREATE.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        with pytest.raises(ConnectionResetError):  # a RST: an orderly close would end the loop
            _read_to_the_end(sock)
    assert len(mock.tasks()) == 1


def test_the_command_line_mock_takes_faults_and_limits_over_http(
    kie_at: Callable[..., Kie],
) -> None:
    """What a client in another language does: start the CLI mock, steer it over /_mock/."""
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env.pop("KIE_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "kiekit_mock", "--port", "0", "--documented-limits"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        base = None
        for _ in range(5):  # other hosts (uploads) may announce themselves first
            found = re.search(
                r"KIE API mock listening on (http://127\.0\.0\.1:\d+)", process.stdout.readline()
            )
            if found:
                base = found.group(1)
                break
        assert base is not None
        kie = kie_at(base)
        limits = kie.fetch(base + "/_mock/limits").json()
        assert limits["creates_per_10s"] == 20
        rule = {"kind": "kie", "code": 455, "path": CREATE, "times": 1}
        added = kie.fetch(base + "/_mock/faults", method="POST", data=json.dumps(rule).encode())
        assert added.status == 201
        assert kie.post(CREATE, CREATE_BODY).json()["code"] == 455
        assert kie.post(CREATE, CREATE_BODY).json()["code"] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)  # reaps it and closes its stdout


def test_reset_goes_back_to_the_configured_faults_limits_and_callbacks(
    make_mock: MakeMock,
) -> None:
    mock, kie = make_mock(max_creates_per_10s=2, callback_copies=2)
    mock.faults.add(FaultRule("kie", code=455, path=CREATE))
    mock.limits.set(creates_per_10s=1)
    mock.configure_callbacks(copies=5)
    assert kie.post(CREATE, CREATE_BODY).json()["code"] == 455
    assert control(mock, "POST", "/_mock/reset") == (200, {"reset": True})
    assert mock.faults.rules() == []
    assert mock.configure_callbacks().copies == 2
    assert [kie.post(CREATE, CREATE_BODY).json()["code"] for _ in range(3)] == [200, 200, 429]


def test_in_process_app_through_runtime_of() -> None:
    """create_app + runtime_of, under aiohttp's own test server and client."""

    async def scenario() -> None:
        app = create_app()
        runtime_of(app).faults.add(FaultRule("reset", path=CREATE, when="after", times=1))
        async with (
            TestServer(app, host="127.0.0.1") as server,
            aiohttp.ClientSession(headers={"Authorization": "Bearer k"}) as session,
        ):
            url = str(server.make_url(CREATE))
            with pytest.raises(aiohttp.ClientConnectionError):
                async with session.post(url, json=CREATE_BODY) as response:
                    await response.read()
            async with session.post(url, json=CREATE_BODY) as response:
                assert (await response.json())["code"] == 200
        records = runtime_of(app).journal.records()
        assert [r.fault for r in records] == ["fault-1", None]
        assert len(runtime_of(app).store.snapshots()) == 2  # the lost answer's task exists

    asyncio.run(scenario())
