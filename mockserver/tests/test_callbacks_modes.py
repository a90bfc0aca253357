"""Callbacks as KIE sends them (callbacks.py, kie-api.md §6): signed on the mock clock,
duplicated, tampered, failing receivers recorded, loopback-only unless the operator allows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from kiekit_mock import MockConfig, MockServer
from kiekit_mock.callbacks import CallbackDispatcher, CallbackSettings, loopback_refusal

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

T2I = "grok-imagine/text-to-image"
KEY = "whsec-test"
Delivery = tuple[dict[str, str], dict[str, Any]]


@contextmanager
def receiver(status: int = 200) -> Iterator[tuple[str, list[Delivery]]]:
    """A callback receiver on 127.0.0.1 in its own thread, answering ``status``."""
    got: list[Delivery] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), json.loads(body)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/kie", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def verifies(headers: dict[str, str], task_id: str, key: str = KEY) -> bool:
    """A receiver's check, as §6.3 describes it."""
    stamp = headers["X-Webhook-Timestamp"]
    mac = hmac.new(key.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), headers["X-Webhook-Signature"])


def finish_with_callback(kie: Kie, url: str) -> str:
    body = {"model": T2I, "callBackUrl": url, "input": {"prompt": "p"}}
    task_id = str(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])
    kie.record(task_id)  # final at the first poll: the callback is owed
    return task_id


def test_signature_timestamps_are_mock_time(make_mock: MakeMock) -> None:
    mock, kie = make_mock(webhook_hmac_key=KEY)
    mock.clock.advance(3 * 24 * 3600)  # three days ahead of the wall clock
    with receiver() as (url, got):
        task_id = finish_with_callback(kie, url)
        mock.callbacks()
    ((headers, payload),) = got
    assert payload["data"]["taskId"] == task_id
    assert verifies(headers, task_id)
    # now, not stale (3600 s)
    assert abs(int(headers["X-Webhook-Timestamp"]) - mock.clock.now()) < 60


def test_duplicate_delivery_sends_each_callback_n_times(make_mock: MakeMock) -> None:
    mock, kie = make_mock(callback_copies=3, webhook_hmac_key=KEY)
    with receiver() as (url, got):
        task_id = finish_with_callback(kie, url)
        records = mock.callbacks()
    assert [r.copy for r in records] == [1, 2, 3]
    assert all(r.delivered and r.task_id == task_id for r in records)
    assert len(got) == 3
    assert got[0][1] == got[1][1] == got[2][1]  # the very same payload
    assert all(verifies(headers, task_id) for headers, _ in got)


@pytest.mark.parametrize("tamper", ["signature", "stale"])
def test_tampered_callbacks_fail_a_verifying_receiver(make_mock: MakeMock, tamper: str) -> None:
    mock, kie = make_mock(webhook_hmac_key=KEY, callback_tamper=tamper)
    with receiver() as (url, got):
        task_id = finish_with_callback(kie, url)
        (record,) = mock.callbacks()
    ((headers, _),) = got
    age = mock.clock.now() - int(headers["X-Webhook-Timestamp"])
    if tamper == "signature":
        assert not verifies(headers, task_id)
        assert age < 5
    else:  # correctly signed, but an hour old: a replay a receiver must refuse
        assert verifies(headers, task_id)
        assert age >= 3600
    assert record.tampered == tamper


def test_failing_receivers_are_recorded_for_every_copy(make_mock: MakeMock) -> None:
    mock, kie = make_mock(callback_copies=2)
    with receiver(status=503) as (url, got):
        finish_with_callback(kie, url)
        records = mock.callbacks()
    assert len(got) == 2
    assert [(r.delivered, r.status, r.reason) for r in records] == [
        (False, 503, "receiver answered HTTP 503")
    ] * 2


def test_configure_at_runtime_from_python(kie: Kie, mock: MockServer) -> None:
    settings = mock.configure_callbacks(hmac_key=KEY, copies=2)
    assert (settings.copies, settings.tamper) == (2, None)
    assert KEY not in repr(settings)
    with receiver() as (url, got):
        task_id = finish_with_callback(kie, url)
        mock.callbacks()
    assert len(got) == 2
    assert all(verifies(headers, task_id) for headers, _ in got)
    with pytest.raises(ValueError, match="copies"):
        mock.configure_callbacks(copies=0)
    with pytest.raises(ValueError, match="tamper needs signing"):
        mock.configure_callbacks(hmac_key=None, tamper="stale")


def test_config_refuses_tamper_without_a_key() -> None:
    with pytest.raises(ValueError, match="webhook_hmac_key"):
        MockConfig(callback_tamper="stale")
    with pytest.raises(ValueError, match="callback_copies"):
        MockConfig(callback_copies=0)
    with pytest.raises(TypeError, match="allowed_callback_hosts"):
        MockConfig(allowed_callback_hosts="hooks.example.com")  # type: ignore[arg-type]


def test_only_loopback_unless_the_operator_allows_a_host() -> None:
    url = "https://hooks.example.com/kie"
    assert loopback_refusal(url) is not None
    assert loopback_refusal(url, frozenset({"hooks.example.com"})) is None
    assert loopback_refusal("https://other.example.com/kie", {"hooks.example.com"}) is not None
    config = MockConfig(allowed_callback_hosts=frozenset({"Hooks.Example.com"}))
    assert config.allowed_callback_hosts == frozenset({"hooks.example.com"})


def test_a_host_not_allowed_is_recorded_never_called(make_mock: MakeMock) -> None:
    mock, kie = make_mock(allowed_callback_hosts=frozenset({"hooks.example.com"}))
    finish_with_callback(kie, "https://elsewhere.example.com/kie")
    (record,) = mock.callbacks()
    assert record.delivered is False
    assert record.reason is not None
    assert record.reason.startswith("not loopback")


def test_dispatcher_settings_are_values() -> None:
    dispatcher = CallbackDispatcher(timeout=1, hmac_key=None)
    assert dispatcher.settings == CallbackSettings()
    assert dispatcher.configure(CallbackSettings(hmac_key="k", tamper="signature")).tamper == (
        "signature"
    )


def _control(kie: Kie, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    answer = kie.fetch(
        kie.base_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    return answer.status, answer.json()


def test_control_routes(kie: Kie, mock: MockServer) -> None:
    status, settings = _control(kie, "GET", "/_mock/callbacks/settings")
    assert (status, settings["signing"], settings["copies"], settings["allowed_hosts"]) == (
        200,
        False,
        1,
        [],
    )
    status, settings = _control(
        kie, "PUT", "/_mock/callbacks/settings", {"hmac_key": KEY, "copies": 2, "tamper": "stale"}
    )
    assert status == 200
    assert (settings["signing"], settings["copies"], settings["tamper"]) == (True, 2, "stale")
    assert KEY not in json.dumps(settings)
    with receiver() as (url, got):
        task_id = finish_with_callback(kie, url)
        status, records = _control(kie, "GET", f"/_mock/callbacks?task_id={task_id}")
    assert status == 200
    assert [(r["copy"], r["delivered"], r["tampered"]) for r in records] == [
        (1, True, "stale"),
        (2, True, "stale"),
    ]
    assert len(got) == 2
    assert _control(kie, "GET", "/_mock/callbacks?task_id=nope") == (200, [])
    assert _control(kie, "DELETE", "/_mock/callbacks") == (200, {"cleared": True})
    assert mock.callbacks() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"copies": 0}, "copies"),
        ({"copies": 11}, "copies"),
        ({"tamper": "maybe"}, "tamper"),
        ({"hmac_key": ""}, "hmac_key"),
        ({"stale_seconds": -5}, "stale_seconds"),
        ({"allowed_hosts": ["hooks.example.com"]}, "allowed_hosts"),
        ({"copy": 2}, "copy"),
    ],
)
def test_bad_settings_name_the_field(kie: Kie, body: dict[str, Any], field: str) -> None:
    status, answer = _control(kie, "PUT", "/_mock/callbacks/settings", body)
    assert status == 400
    assert answer["field"] == field


def test_tampering_while_unsigned_is_a_conflict_with_the_present_settings(kie: Kie) -> None:
    """Well-formed, but the mock has no key to sign with yet: 409 (the OpenAPI document says
    so), and the same body works once a key is set."""
    status, answer = _control(kie, "PUT", "/_mock/callbacks/settings", {"tamper": "stale"})
    assert (status, answer["field"]) == (409, "tamper")
    assert "hmac_key" in answer["error"]
    status, _ = _control(kie, "PUT", "/_mock/callbacks/settings", {"hmac_key": "k"})
    assert status == 200
    status, answer = _control(kie, "PUT", "/_mock/callbacks/settings", {"tamper": "stale"})
    assert (status, answer["tamper"]) == (200, "stale")


def test_null_settings_are_left_as_they_are(kie: Kie) -> None:
    """null is "left out" (the document's convention for optional members)."""
    _control(kie, "PUT", "/_mock/callbacks/settings", {"copies": 3})
    status, answer = _control(
        kie, "PUT", "/_mock/callbacks/settings", {"copies": None, "stale_seconds": None}
    )
    assert (status, answer["copies"]) == (200, 3)
