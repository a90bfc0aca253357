"""The API key never leaks: a canary key is driven through every path a user can see.

Success and every failure (401, HTTP 5xx, resets, timeouts, validation, outcome unknown, a
failed download, download-url, a server echoing the key, JSON-escaped too), with DEBUG logging
captured, then every surface is searched: reprs and str of clients, requests, tasks, results
and errors, exception chains and formatted tracebacks, the local variables of every frame of
kiekit's and the libraries' under an error (as Sentry records them), pickled errors, observer
events, the log records, and the task journal's stored rows (its SQLite file, byte for byte).
"""

from __future__ import annotations

import http.server
import json
import logging
import pickle
import threading
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    Asset,
    ConfigurationError,
    KieError,
    MediaKind,
    PollPolicy,
    Results,
    RetryPolicy,
    Task,
    TransportError,
)
from kiekit.transport import HttpRequest, HttpResponse, MockTransport

GROK = "grok-imagine/text-to-image"
TASK_ID = "5f488be792eafad4b066e21e5bc472c7"
FILE = "https://tempfile.aiquickdraw.com/r/a.png"
FAST = PollPolicy(initial=0.001, growth=0.001, maximum=0.002, timeout=0.1)
QUICK = RetryPolicy(attempts=2, base=0.001, cap=0.002)


def envelope(data: Any, code: int = 200, msg: str = "success") -> HttpResponse:
    return HttpResponse(200, json.dumps({"code": code, "msg": msg, "data": data}).encode(), "OK")


SUCCESS = envelope(
    {
        "taskId": TASK_ID,
        "state": "success",
        "param": "",
        "resultJson": json.dumps({"resultUrls": [FILE]}),
        "createTime": 1776323915587,
    }
)

# Each story: how KIE answers a create, a status poll, a file and download-url.
STORIES: dict[str, dict[str, Any]] = {
    "success": {},
    "401": {"create": envelope(None, 401, "You do not have access permissions")},
    "http-503": {"status": HttpResponse(503, b"<html>Service Unavailable</html>", "Busy")},
    "reset-on-status": {"status": TransportError("connection reset by peer")},
    "timeout-on-status": {"status": TransportError("read timed out")},
    "outcome-unknown": {"create": TransportError("connection reset by peer")},
    "junk-create": {"create": HttpResponse(200, b"<html>captive portal</html>", "OK")},
    "expired-link": {
        "file": HttpResponse(403, b"<Error><Code>AccessDenied</Code></Error>", "Forbidden"),
        "download-url": envelope(None, 422, "url is wrong"),
    },
    "error-page": {"file": HttpResponse(200, b"<html>oops</html>", "OK")},
    "status-401": {"status": envelope(None, 401, "You do not have access permissions")},
    # a gateway or proxy that echoes the credential it refused ({KEY}: the canary, sent back)
    "echoed-401": {"create": envelope(None, 401, "Invalid API key Bearer {KEY}")},
    "echoed-fail": {
        "status": envelope(
            {
                "taskId": TASK_ID,
                "state": "fail",
                "failCode": "500",
                "param": "",
                "failMsg": "upstream rejected key {KEY}",
                "createTime": 1776323915587,
            }
        )
    },
    "echoed-reason": {"status": HttpResponse(503, b"bad key {KEY}", "Refused {KEY}")},
    # the echo JSON-escaped ({JSON-KEY}: sk\u002d…), whole only once the answer is parsed
    "json-escaped-401": {"create": envelope(None, 401, "bad key {JSON-KEY}")},
    "json-escaped-fail": {
        "status": envelope(
            {
                "taskId": TASK_ID,
                "state": "fail",
                "failCode": "500",
                "param": "",
                "failMsg": "upstream rejected key {JSON-KEY}",
                "createTime": 1776323915587,
            }
        )
    },
}


def kie(story: dict[str, Any], canary: str = "") -> MockTransport:
    def handle(request: HttpRequest) -> HttpResponse:
        if request.url.endswith("/jobs/createTask"):
            found = story.get("create", envelope({"taskId": TASK_ID}))
        elif "/jobs/recordInfo" in request.url:
            found = story.get("status", SUCCESS)
        elif request.url.endswith("/common/download-url"):
            found = story.get("download-url", envelope(FILE))
        else:
            found = story.get(
                "file",
                HttpResponse(
                    200, b"\x89PNG\r\n\x1a\n" + bytes(64) + b"\x00\x00\x00\x00IEND\xaeB`\x82", "OK"
                ),
            )
        if isinstance(found, BaseException):
            raise found
        escaped = "".join(f"\\u{ord(char):04x}" if char == "-" else char for char in canary)
        return HttpResponse(  # the key echoed where the story puts {KEY}, escaped {JSON-KEY}
            found.status,
            found.body.replace(b"{KEY}", canary.encode()).replace(b"{JSON-KEY}", escaped.encode()),
            found.reason.replace("{KEY}", canary),
            found.headers,
        )

    return MockTransport(handle)


def surfaces_of(error: BaseException) -> list[str | bytes]:
    """Everything a user could see of an error: text, repr, fields, chain, traceback, pickle."""
    seen: list[str | bytes] = []
    current: BaseException | None = error
    while current is not None:
        seen += [str(current), repr(current), repr(vars(current)), repr(current.args)]
        current = current.__cause__ or current.__context__
    seen.append("".join(traceback.format_exception(error)))
    seen += frame_locals(error)
    if isinstance(error, KieError):
        seen.append(pickle.dumps(error))
    return seen


def frame_locals(error: BaseException) -> list[str]:
    """Each local variable (its repr, as Sentry, ``rich``'s ``show_locals`` and ``pytest -l``
    record it) of every frame under ``error`` and the exceptions chained to it — kiekit's,
    its plugins', the libraries' — but for the tests' own frames (their ``kit`` is theirs)."""
    seen: list[str] = []
    pending: list[BaseException | None] = [error]
    done: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in done:
            continue
        done.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if "/tests/" in frame.f_code.co_filename:
                continue
            where = f"{frame.f_code.co_filename}:{frame.f_code.co_name}"
            seen += [f"{where} {name} = {value!r}" for name, value in frame.f_locals.items()]
        pending += [current.__cause__, current.__context__]
    return seen


@pytest.mark.parametrize("story", list(STORIES))
def test_the_canary_key_never_shows(
    api: Any,
    kit: SimpleNamespace,
    story: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kiekit.journal import Journal, SqliteStore

    caplog.set_level(logging.DEBUG)
    transport = kie(STORIES[story], kit.CANARY)
    journal_file = tmp_path / "journal.sqlite3"
    seen: list[str | bytes] = []
    events: list[object] = []

    async def scenario() -> None:
        async with api.client(
            transport=transport,
            poll=FAST,
            retry=QUICK,
            journal=Journal(SqliteStore(journal_file)),
            observer=events.append,
        ) as client:
            seen.extend([repr(client), str(client), repr(client.client), repr(vars(client.client))])
            task = await client.submit(GROK, prompt="a lighthouse")
            results = await client.wait(task)
            seen.extend([repr(task), repr(results), str(results)])
            await client.download(results, tmp_path / "out")
            seen.append(await client.download_url(FILE, task_id=task.id))

    try:
        api.run(scenario)
    except KieError as error:
        seen += surfaces_of(error)
    else:
        assert story == "success"

    assert transport.requests  # the story really went over the (in-memory) wire
    keyed = [r for r in transport.requests if "Authorization" in r.headers]
    assert keyed  # and the key really was in play ...
    assert all(kit.CANARY in r.headers["Authorization"] for r in keyed)
    seen += [repr(request) for request in transport.requests]  # ... but never shows
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(record.args) for record in caplog.records]
    seen.append(caplog.text)
    seen += [repr(event) for event in events]
    if journal_file.exists():
        seen.append(journal_file.read_bytes())
        for sibling in tmp_path.glob("journal.sqlite3*"):
            seen.append(sibling.read_bytes())
    for text in seen:
        if isinstance(text, bytes):
            assert kit.CANARY.encode() not in text, text[:300]
        else:
            assert kit.CANARY not in text, text[:300]


def test_validation_errors_and_the_client_carry_no_key(api: Any, kit: SimpleNamespace) -> None:
    async def scenario() -> None:
        async with api.client(transport=kie({}), journal=None) as client:
            await client.submit(GROK, prompt="")

    with pytest.raises(KieError) as info:
        api.run(scenario)

    for text in surfaces_of(info.value):
        assert (kit.CANARY.encode() if isinstance(text, bytes) else kit.CANARY) not in text


def test_a_real_socket_session_logs_no_key(
    api: Any,
    kit: SimpleNamespace,
    mock_server: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """urllib3 and aiohttp log at DEBUG too: their records must not carry the key either."""
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with api.client(base_url=mock_server.base_url, poll=FAST, journal=None) as client:
            task = await client.submit(GROK, prompt="a lighthouse")
            await client.download(await client.wait(task), tmp_path)
            await client.status(Task("no-such-task", GROK))

    try:
        api.run(scenario)
    except KieError as error:
        for text in surfaces_of(error):
            assert (kit.CANARY.encode() if isinstance(text, bytes) else kit.CANARY) not in text

    assert caplog.records
    assert kit.CANARY not in caplog.text
    assert all(kit.CANARY not in repr(record.args) for record in caplog.records)


def test_download_errors_name_the_url_but_not_the_key(
    api: Any, kit: SimpleNamespace, tmp_path: Path
) -> None:
    results = Results(TASK_ID, (Asset(FILE, MediaKind.IMAGE, "image/png"),))
    transport = kie({"file": TransportError("reset"), "download-url": envelope(None, 500)})

    async def scenario() -> None:
        async with api.client(transport=transport, retry=QUICK, journal=None) as client:
            await client.download(results, tmp_path / "never-written")

    with pytest.raises(KieError) as info:
        api.run(scenario)

    assert FILE in str(info.value.url)  # type: ignore[attr-defined]
    for text in surfaces_of(info.value):
        assert (kit.CANARY.encode() if isinstance(text, bytes) else kit.CANARY) not in text


@pytest.mark.parametrize("broken", ["\r\nX-Injected: 1", "\n-rest", "\x00tail", "\x7f"])
@pytest.mark.parametrize("client_name", ["Client", "AsyncClient"])
def test_a_key_with_control_characters_is_refused_without_echoing_it(
    broken: str, client_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kiekit

    key = "sk-secret-canary-0123456789" + broken
    with pytest.raises(ConfigurationError) as info:
        getattr(kiekit, client_name)(key, journal=None)
    message = str(info.value)
    assert "control character" in message
    assert "sk-secret" not in message
    assert "canary" not in repr(info.value)
    if "\x00" in key:
        return  # an environment variable cannot hold NUL
    monkeypatch.setenv("KIE_API_KEY", key)  # the same from the environment
    with pytest.raises(ConfigurationError, match="control character"):
        getattr(kiekit, client_name)(journal=None)


@pytest.mark.parametrize("pasted", ["\u200b", "\u00a0", "\u00e9", "\ufeff"])
@pytest.mark.parametrize("client_name", ["Client", "AsyncClient"])
def test_a_key_with_a_non_ascii_character_is_refused_without_echoing_it(
    pasted: str, client_name: str
) -> None:
    """A zero-width or no-break space copied from a web page: refused in one line, before
    anything is sent, instead of a traceback from the header's Latin-1 encoding."""
    import kiekit

    key = "sk-secret-canary-0123" + pasted + "456789"
    with pytest.raises(ConfigurationError) as info:
        getattr(kiekit, client_name)(key, journal=None)
    message = str(info.value)
    assert "non-ASCII character" in message
    assert "position 22" in message
    assert "sk-secret" not in message
    assert "canary" not in repr(info.value)


def test_a_trailing_line_break_is_only_whitespace() -> None:
    from kiekit import Client

    with Client("sk-copied-with-a-newline\n", journal=None) as client:
        assert repr(client)  # accepted: strip() removes it


# -- the frames under an error hold no key (an outside tester's review, "secrev" 1, 4, 6) -------


def echoing(status: int, body: bytes) -> type[http.server.BaseHTTPRequestHandler]:
    """A server's handler that answers ``status`` with ``body``, its ``{KEY}`` the credential
    the request carried (a gateway echoing what it refused)."""

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            token = self.headers.get("Authorization", "").partition(" ")[2]
            answer = body.replace(b"{KEY}", token.encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    return Echo


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"upstream error for Bearer {KEY}"),
        (200, b"<html>captive portal for {KEY}</html>"),
        (200, b'{"code": 401, "msg": "bad key {KEY}", "data": null}'),
    ],
    ids=["http-500", "not-json", "kie-401"],
)
def test_no_frame_under_an_error_holds_the_key_a_server_echoed(
    api: Any, kit: SimpleNamespace, status: int, body: bytes
) -> None:
    """Over a real socket (urllib3's and aiohttp's transports): the raw answer, before the key
    was masked out of it, stays in no frame a reporter records (Sentry, ``pytest -l``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), echoing(status, body))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    async def scenario() -> None:
        async with api.client(base_url=base, retry=RetryPolicy.never(), journal=None) as client:
            await client.credits()

    try:
        with pytest.raises(KieError) as caught:
            api.run(scenario)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    kept = frame_locals(caught.value)
    assert kept  # the frames are there, their variables looked at
    assert not [line for line in kept if kit.CANARY in line]
    shown = "".join(traceback.format_exception(caught.value))
    assert "engine.py" in shown  # file and line stay
    assert kit.CANARY not in shown


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    "answer",
    [
        HttpResponse(500, b"upstream error for Bearer {KEY}", "Internal Server Error"),
        HttpResponse(200, b'{"code": 401, "msg": "bad key {KEY}", "data": null}', "OK"),
        HttpResponse(
            200,
            b'data: {"code": 500, "msg": "bad key Bearer {KEY}"}\n\n',
            "OK",
            {"Content-Type": "text/event-stream"},
        ),
    ],
    ids=["http-500", "kie-401", "error-event"],
)
def test_a_chat_error_leaves_no_echoed_key_in_its_frames(
    api: Any, kit: SimpleNamespace, stream: bool, answer: HttpResponse
) -> None:
    """A chat call (kiekit.chat: its own flows and stream driver), whole or streamed. The
    error event's key spans two of MockTransport's 64-byte chunks: masked all the same."""

    def handle(request: HttpRequest) -> HttpResponse:
        body = answer.body.replace(b"{KEY}", kit.CANARY.encode())
        return HttpResponse(answer.status, body, answer.reason, answer.headers)

    async def scenario() -> None:
        async with api.client(transport=MockTransport(handle), journal=None) as session:
            client = session.client
            if not stream:
                await session.chat("gpt-5-2", "hi")
            elif api.is_async:
                async with client.chat_stream("gpt-5-2", "hi") as chat:
                    _ = [delta async for delta in chat]
            else:
                with client.chat_stream("gpt-5-2", "hi") as chat:
                    _ = list(chat)

    with pytest.raises(KieError) as caught:
        api.run(scenario)
    assert not [line for line in frame_locals(caught.value) if kit.CANARY in line]
    assert kit.CANARY not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(
    "options",
    [
        {"api_key": "sk-secret-canary-0123\u200b456789"},
        {"api_key": "sk-secret-canary-0123\r\n456789"},
        {"timeout": -1},
        {"base_url": "https://user:pw-canary-42@api.kie.ai"},
        {"proxy": "socks5://user:pw-canary-42@127.0.0.1:1080"},
        {"rate_limits": "not a redis URL"},
    ],
    ids=["zero-width-space", "line-break", "timeout", "base-url-password", "socks", "limits"],
)
@pytest.mark.parametrize("client_name", ["Client", "AsyncClient"])
def test_a_constructor_error_leaves_no_key_or_password_in_its_frames(
    client_name: str, options: dict[str, Any]
) -> None:
    """The frames of a refused client (its ``__init__``, the helpers it called) hold neither
    the key nor a URL's password, and the half-built client in them has a repr."""
    import kiekit

    options = {"api_key": "sk-secret-canary-0123456789", **options}
    with pytest.raises(ConfigurationError) as caught:
        getattr(kiekit, client_name)(journal=None, **options)
    kept = frame_locals(caught.value)  # every repr made: a half-built client's too
    assert any(f"self = {client_name}(" in line for line in kept)
    for secret in ("sk-secret-canary", "pw-canary-42"):
        assert not [line for line in kept if secret in line]
        assert secret not in "".join(traceback.format_exception(caught.value))


def test_a_half_built_clients_repr_says_so() -> None:
    from kiekit import AsyncClient, Client

    assert repr(Client.__new__(Client)) == "Client(not built)"
    assert repr(AsyncClient.__new__(AsyncClient)) == "AsyncClient(not built)"
