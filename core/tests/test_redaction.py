"""What a server sends back is shown safely: an echoed key is hidden in any letter case or
percent-encoded, an echoed Basic credential too (and ordinary words are left alone); KIE's
words are shown with their control characters escaped, kept raw on the error; the library
frames chained to a transport error keep no local variable holding the key; a download
error's URL carries no signed query."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import Asset, KieError, MediaKind, Results, RetryPolicy
from kiekit._redact import Hidden, printable
from kiekit.errors import ApiError, DownloadError, TaskFailedError, TransportError
from kiekit.transport import HttpRequest, HttpResponse, MockTransport

GROK = "grok-imagine/text-to-image"
NEVER = RetryPolicy.never()


def refusing(msg: str) -> MockTransport:
    def handle(request: HttpRequest) -> HttpResponse:
        body = {"code": 401, "msg": msg, "data": None}
        return HttpResponse(200, json.dumps(body).encode(), "OK")

    return MockTransport(handle)


def percent_encoded(text: str) -> str:
    return "".join(f"%{byte:02x}" for byte in text.encode())


@pytest.mark.parametrize(
    "echo",
    [
        lambda key: f"api key {key.upper()} unknown",
        lambda key: f"key={key.replace('-', '%2D')} refused",
        lambda key: f"key={percent_encoded(key)} refused",
        lambda key: "proxy-authorization: Basic " + base64.b64encode(b"user:pw-7f3e").decode(),
    ],
    ids=["upper-case", "dashes-encoded", "all-encoded", "basic-credential"],
)
def test_an_echoed_key_in_another_form_or_a_basic_credential_is_hidden(
    api: Any, kit: SimpleNamespace, echo: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    msg = echo(kit.CANARY)
    forms = [kit.CANARY.upper(), kit.CANARY[7:].upper(), percent_encoded(kit.CANARY)[9:]]
    forms.append(base64.b64encode(b"user:pw-7f3e").decode())

    async def scenario() -> None:
        async with api.client(transport=refusing(msg), retry=NEVER, journal=None) as client:
            await client.credits()

    with pytest.raises(ApiError) as caught:
        api.run(scenario)
    seen = [str(caught.value), repr(vars(caught.value)), caplog.text]
    seen.append("".join(traceback.format_exception(caught.value)))
    for text in seen:
        for form in forms:
            assert form.lower() not in text.lower(), text
    assert "***" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "Basic authentication failed",
        'Proxy-Authenticate: Basic realm="corp"',
        "Basic dGVzdA==",  # "test": no user:password in it
        "sk-canary is the word, 7f3e9b21 too",
        "invalid prompt: 100% sure",
    ],
)
def test_ordinary_words_are_not_taken_for_a_secret(kit: SimpleNamespace, text: str) -> None:
    hidden = Hidden(kit.CANARY)
    assert hidden.text(text) == text
    assert hidden.bytes(text.encode()) == text.encode()


def test_kie_words_are_shown_escaped_and_kept_raw_on_the_error(
    api: Any, kit: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kiekit")
    forged = "boom\n2026-12-07 18:00:00,000 kiekit INFO task 0 succeeded\x1b]0;pwned\x07\u202e"
    status = {
        "taskId": kit.TASK_ID,
        "state": "fail",
        "failCode": "500",
        "failMsg": forged,
        "param": "",
        "createTime": 1776323915587,
    }

    def handle(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/jobs/createTask"):
            data: Any = {"taskId": kit.TASK_ID}
        else:
            data = status
        body = {"code": 200, "msg": "success", "data": data}
        return HttpResponse(200, json.dumps(body).encode(), "OK")

    async def scenario() -> None:
        async with api.client(transport=MockTransport(handle), journal=None) as client:
            await client.wait(await client.submit(GROK, prompt="a lighthouse"))

    with pytest.raises(TaskFailedError) as caught:
        api.run(scenario)
    error = caught.value
    assert error.fail_message == forged  # raw, for programs
    for text in (str(error), caplog.text):
        assert "\n2026" not in text
        assert "\x1b" not in text
        assert "\x07" not in text
        assert "\u202e" not in text
    assert "boom\\n2026-12-07" in str(error)
    assert "\\x1b]0;pwned\\x07\\u202e" in str(error)
    failed = [r.getMessage() for r in caplog.records if "failed:" in r.getMessage()]
    assert failed
    assert all("\n" not in line for line in failed)


def test_a_kie_message_with_a_newline_is_one_line_of_error_text() -> None:
    error = ApiError(500, "bad\r\nX-Forged: 1")
    assert str(error) == "KIE error 500: bad\\r\\nX-Forged: 1"
    assert error.kie_message == "bad\r\nX-Forged: 1"
    assert printable("plain words, accents é and 漢字") == "plain words, accents é and 漢字"


def test_kie_tasks_shows_a_rows_message_without_its_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from kiekit.cli import main
    from kiekit.journal import Entry, EntryState, SqliteStore

    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path))
    now = time.time()
    error = {"type": "TaskFailedError", "code": 500, "message": "boom\x1b]0;pwned\x07\nforged"}
    store = SqliteStore(tmp_path / "journal.sqlite3")
    store.insert(
        Entry(
            key="k1",
            model=GROK,
            request=None,
            state=EntryState.FAILED,
            created_at=now,
            updated_at=now,
            task_id="t\x1b[2J1",
            error=error,
        )
    )
    store.close()

    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "boom\\x1b]0;pwned\\x07\\nforged" in out
    assert "t\\x1b[2J1" in out


def test_a_download_error_keeps_no_signed_query(api: Any, tmp_path: Path) -> None:
    signed = "https://tempfile.aiquickdraw.com/r/a.png?X-Amz-Signature=sig-canary-42&token=t"
    results = Results("t1", (Asset(signed, MediaKind.IMAGE, "image/png"),))

    def handle(request: HttpRequest) -> HttpResponse:
        if "/common/download-url" in request.url:
            return HttpResponse(200, b'{"code": 500, "msg": "busy", "data": null}', "OK")
        return HttpResponse(403, b"denied", "Forbidden")

    async def scenario() -> None:
        transport = MockTransport(handle)
        async with api.client(transport=transport, retry=NEVER, journal=None) as client:
            await client.download(results, tmp_path / "out")

    with pytest.raises(DownloadError) as caught:
        api.run(scenario)
    error = caught.value
    assert error.url == "https://tempfile.aiquickdraw.com/r/a.png"
    assert "sig-canary" not in repr(vars(error))
    assert "sig-canary" not in "".join(traceback.format_exception(error))


@pytest.mark.parametrize("fault", ["reset", "slow"])
def test_the_library_frames_under_a_transport_error_hold_no_key(
    api: Any, kit: SimpleNamespace, mock_server: Any, fault: str
) -> None:
    """urllib3's, http.client's and aiohttp's frames hold the request's headers (and its
    bytes): with locals captured, as Sentry does, the key must not be among them."""
    from kiekit_mock import FaultRule

    mock_server.faults.add(FaultRule(fault, path="/api/v1/chat/credit", delay=30))  # type: ignore[arg-type]

    async def scenario() -> None:
        options = {"timeout": 0.5} if fault == "slow" else {}
        async with api.client(
            base_url=mock_server.base_url, retry=NEVER, journal=None, **options
        ) as client:
            await client.credits()

    with pytest.raises(KieError) as caught:
        api.run(scenario)
    assert isinstance(caught.value, TransportError)
    assert caught.value.__cause__ is not None  # the library's exception is still chained
    text = "".join(
        traceback.TracebackException.from_exception(caught.value, capture_locals=True).format()
    )
    library = [line for line in text.splitlines() if not line.strip().startswith("kit = ")]
    assert not [line for line in library if kit.CANARY in line]
    assert "Traceback" in text
    assert ", line " in text
