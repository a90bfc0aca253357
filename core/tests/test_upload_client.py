"""Client.upload / AsyncClient.upload: the three methods of KIE's upload host (kie-api.md §4).

Scenarios run with both clients (the ``api`` fixture); the envelope and input checks also run
with no sockets (MockTransport), where a request that should never be sent fails the test.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from kiekit import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    FileReadError,
    ProtocolError,
    ServerError,
    UploadedFile,
    ValidationError,
)
from kiekit.retry import RetryPolicy
from kiekit.transport import HttpRequest, HttpResponse, MockTransport
from kiekit_mock import account_id

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16
UPLOAD_HOST = "https://kieai.redpandaai.co"
NO_WAIT = RetryPolicy(attempts=3, base=0.0)  # retries, without sleeping through backoff


def on_mock(mock: Any) -> dict[str, Any]:
    return {"base_url": mock.base_url, "upload_base_url": mock.upload_base_url, "journal": None}


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "holiday photo.png"
    path.write_bytes(PNG)
    return path


def served(url: str) -> bytes:
    import urllib.request

    assert url.startswith("http://127.0.0.1:"), url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        body: bytes = response.read()
        return body


# -- against the mock, both clients ---------------------------------------------------------


def test_a_local_file_is_streamed_and_comes_back_at_its_url(
    api: Any, kit: SimpleNamespace, mock_server: Any, photo: Path
) -> None:
    async def scenario() -> UploadedFile:
        async with api.client(**on_mock(mock_server)) as client:
            result: UploadedFile = await client.upload(photo, upload_path="trips/2026")
            return result

    uploaded = api.run(scenario)

    # a unique name that keeps the file's own stem and extension (KIE's CDN caches by name)
    assert re.fullmatch(r"holiday_photo-[0-9a-f]{12}\.png", uploaded.file_name)
    assert uploaded.file_path == f"kieai/{account_id(kit.CANARY)}/trips/2026/{uploaded.file_name}"
    assert (uploaded.size, uploaded.mime_type) == (len(PNG), "image/png")
    assert uploaded.uploaded_at is not None
    assert uploaded.uploaded_at.tzinfo is not None
    assert served(uploaded.download_url) == PNG
    (record,) = [r for r in mock_server.requests() if r.path == "/api/file-stream-upload"]
    assert record.code == 200


def test_bytes_go_as_base64_and_urls_are_fetched_by_kie(
    api: Any, mock_server: Any, file_server: Any
) -> None:
    async def scenario() -> tuple[UploadedFile, UploadedFile]:
        async with api.client(**on_mock(mock_server)) as client:
            from_bytes = await client.upload(PNG)
            from_url = await client.upload(file_server.base_url + "/file.png", upload_path="web")
            return from_bytes, from_url

    from_bytes, from_url = api.run(scenario)

    assert re.fullmatch(r"upload-[0-9a-f]{12}\.png", from_bytes.file_name)  # told by its bytes
    assert from_bytes.mime_type == "image/png"
    assert served(from_bytes.download_url) == PNG
    assert re.fullmatch(r"file-[0-9a-f]{12}\.png", from_url.file_name)
    assert served(from_url.download_url) == file_server.body
    paths = [r.path for r in mock_server.requests() if r.path.startswith("/api/file-")]
    assert paths == ["/api/file-base64-upload", "/api/file-url-upload"]


def test_each_upload_request_is_logged_at_debug_as_every_api_call_is(
    api: Any, mock_server: Any, photo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """README: -vv "adds each request kiekit sends and how it ended"; uploads were missing."""

    async def scenario() -> None:
        async with api.client(**on_mock(mock_server)) as client:
            await client.upload(PNG)
            await client.upload(photo)

    with caplog.at_level("DEBUG", logger="kiekit"):
        api.run(scenario)
    said = [r.getMessage() for r in caplog.records if r.name == "kiekit.http"]
    for path in ("/api/file-base64-upload", "/api/file-stream-upload"):
        assert f"POST {path}" in said
        assert any(m.startswith(f"POST {path}: HTTP 200, answered in ") for m in said), said


def test_large_bytes_are_streamed_as_a_file_and_small_ones_go_as_base64(
    api: Any, mock_server: Any
) -> None:
    """KIE's base64 page: "Large files (>10MB) should use the File Stream Upload API"; base64
    would also cost about four times the data in memory."""
    from kiekit._engine.account import BASE64_MAX_BYTES

    large = PNG + bytes(BASE64_MAX_BYTES + 1 - len(PNG))
    largest_base64 = PNG + bytes(BASE64_MAX_BYTES - len(PNG))

    async def scenario() -> tuple[UploadedFile, UploadedFile, UploadedFile]:
        async with api.client(**on_mock(mock_server)) as client:
            streamed = await client.upload(large)
            named = await client.upload(bytearray(large), file_name="scan.tiff")
            small = await client.upload(largest_base64)
            return streamed, named, small

    streamed, named, small = api.run(scenario)

    assert re.fullmatch(r"upload-[0-9a-f]{12}\.png", streamed.file_name)  # told by its bytes
    assert (streamed.size, streamed.mime_type) == (len(large), "image/png")
    assert served(streamed.download_url) == large
    assert (named.file_name, named.mime_type) == ("scan.tiff", "image/tiff")
    assert small.size == BASE64_MAX_BYTES
    paths = [r.path for r in mock_server.requests() if r.path.startswith("/api/file-")]
    assert paths == ["/api/file-stream-upload"] * 2 + ["/api/file-base64-upload"]


@pytest.mark.parametrize("spoil", ["truncate", "delete", "grow", "rewrite"])
def test_a_file_spoiled_during_its_upload_is_a_file_read_error_and_not_sent_again(
    api: Any,
    mock_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spoil: str,
) -> None:
    """The file is cut short (or deleted) after its size was taken and sent as the body's
    Content-Length, before the transport reads it: aiohttp wraps what the body raised in a
    ClientConnectionError, and the client must still say it is the file, not the network.
    Sending it again would not help, so it is sent once, though retries are allowed (the
    file is read twice: first for its name, kiekit._engine.account.content_name). A file
    that grew (an export still being written) was sent cut to its first size, and one
    written over in place as a mix of two versions, with no word: each is refused too."""
    from kiekit._transports import base

    path = tmp_path / "scan.png"
    path.write_bytes(PNG * 64)
    read_file = base._file_chunks

    reads: list[Path] = []

    def spoiled(source: Path, size: int, mtime_ns: int | None) -> Any:
        reads.append(source)
        if len(reads) == 1:  # the read that names the upload after its bytes: whole
            return read_file(source, size, mtime_ns)
        if spoil == "truncate":
            os.truncate(source, 1000)
        elif spoil == "delete":
            source.unlink()
        elif spoil == "grow":
            with source.open("ab") as more:
                more.write(b"appended")
        else:  # the same size, other bytes, a later modification time
            source.write_bytes(bytes(reversed(PNG * 64)))
            assert mtime_ns is not None
            os.utime(source, ns=(mtime_ns + 10**9, mtime_ns + 10**9))
        return read_file(source, size, mtime_ns)

    monkeypatch.setattr(base, "_file_chunks", spoiled)

    async def scenario() -> None:
        async with api.client(**on_mock(mock_server), retry=NO_WAIT) as client:
            await client.upload(path)

    with pytest.raises(FileReadError) as caught:
        api.run(scenario)

    error = caught.value
    assert error.path == str(path)
    assert error.retryable is False
    if spoil == "truncate":
        assert str(error) == (
            f"{path} shrank while it was being uploaded: 1000 of its {len(PNG) * 64} bytes "
            "were there"
        )
        assert error.errno is None
    elif spoil == "grow":
        assert str(error) == (
            f"{path} grew while it was being uploaded: {len(PNG) * 64 + 8} bytes now, "
            f"{len(PNG) * 64} when its upload began (is it still being written?)"
        )
    elif spoil == "rewrite":
        assert str(error).startswith(f"{path} was written to while it was being uploaded")
    else:
        assert str(error) == f"cannot read {path}: No such file or directory"
        assert error.errno == errno.ENOENT
    # The head went before the file was read, so the host saw one body cut short (and its
    # handler must end before the mock is stopped, or its connection is left open)
    assert len(journaled(mock_server, "/api/file-stream-upload")) == 1  # never a second


def test_a_file_cut_short_while_it_is_read_for_its_name_is_refused_and_nothing_is_sent(
    api: Any, mock_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiekit._transports import base

    path = tmp_path / "scan.png"
    path.write_bytes(PNG * 64)
    read_file = base._file_chunks

    def cut(source: Path, size: int, mtime_ns: int | None) -> Any:
        os.truncate(source, 1000)
        return read_file(source, size, mtime_ns)

    monkeypatch.setattr(base, "_file_chunks", cut)

    async def scenario() -> None:
        async with api.client(**on_mock(mock_server), retry=NO_WAIT) as client:
            await client.upload(path)

    with pytest.raises(FileReadError, match=r"scan\.png shrank") as caught:
        api.run(scenario)
    assert caught.value.path == str(path)
    assert not [r for r in mock_server.requests() if r.path == "/api/file-stream-upload"]


def journaled(mock: Any, path: str) -> list[Any]:
    """The mock's records of ``path``, once it has one: a record is written when its handler
    has ended, which may come a moment after the client gave up on a body it cut short."""
    import time

    deadline = time.monotonic() + 10.0
    while not (records := [r for r in mock.requests() if r.path == path]):
        assert time.monotonic() < deadline, f"the mock never recorded {path}"
        time.sleep(0.005)
    return records


def test_a_chosen_name_is_kept_and_a_made_name_follows_the_bytes(
    api: Any, mock_server: Any, photo: Path, tmp_path: Path
) -> None:
    """Without a chosen name, an upload is named after its bytes (never another file's name,
    which KIE's CDN would serve stale, §4), so the same file uploaded again has the same URL:
    a run made again with its idempotency key sends the same input (an outside tester's
    finding). A URL's bytes are unknown: its upload gets a random name."""
    (tmp_path / "edited").mkdir()
    edited = tmp_path / "edited" / photo.name
    edited.write_bytes(photo.read_bytes() + b"edited")

    async def scenario() -> list[Any]:
        async with api.client(**on_mock(mock_server)) as client:
            named = await client.upload(photo, file_name="cover.png")
            twice = [await client.upload(photo) for _ in range(2)]
            other = await client.upload(edited)
            given = [await client.upload(PNG) for _ in range(2)]
            again = [await client.upload(twice[0].download_url) for _ in range(2)]
            return [named, *twice, other, *given, *again]

    named, first, second, other, *uploads = api.run(scenario)
    given, given_again, again, again_later = uploads
    assert named.file_name == "cover.png"
    assert first.download_url == second.download_url
    assert re.fullmatch(r"holiday_photo-[0-9a-f]{12}\.png", first.file_name)
    assert other.file_name != first.file_name
    assert given.download_url == given_again.download_url
    assert re.fullmatch(r"holiday_photo-[0-9a-f]{12}\.png", again.file_name)  # one suffix
    assert again.file_name != again_later.file_name


def test_a_key_the_upload_host_refuses_is_an_authentication_error(
    api: Any, mock_server_factory: Any, photo: Path
) -> None:
    mock = mock_server_factory(api_keys=frozenset({"sk-the-right-one-fake"}))

    async def scenario() -> None:
        async with api.client(**on_mock(mock)) as client:
            await client.upload(photo)

    with pytest.raises(AuthenticationError) as caught:
        api.run(scenario)
    assert caught.value.code == 401


# -- input checked before any request ---------------------------------------------------------


def never_sent(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"nothing should have been sent, got {request.method} {request.url}")


@pytest.mark.parametrize(
    ("source", "options", "field", "needle"),
    [
        ("missing.png", {}, "source", "no such file"),
        (".", {}, "source", "is a folder, not a file"),
        ("a" * 300 + ".png", {}, "source", ": File name too long"),  # was a bare OSError
        ("", {}, "source", "is empty"),  # was "is a folder, not a file: ." (Path("") is ".")
        (b"", {}, "source", "empty"),
        (12345, {}, "source", "file path, an http(s) URL or bytes"),
        (PNG, {"upload_path": ""}, "upload_path", "non-empty"),
        (PNG, {"upload_path": "/images"}, "upload_path", "'/'"),
        (PNG, {"upload_path": "images/"}, "upload_path", "'/'"),
        (PNG, {"upload_path": "a//b"}, "upload_path", "clean"),
        (PNG, {"file_name": "a/b.png"}, "file_name", "not a path"),
        (PNG, {"file_name": " "}, "file_name", "non-empty"),
    ],
)
def test_bad_input_is_named_before_anything_is_sent(
    api: Any, tmp_path: Path, source: Any, options: dict[str, Any], field: str, needle: str
) -> None:
    if source == "missing.png":
        source = tmp_path / "missing.png"
    if source == ".":
        source = tmp_path

    async def scenario() -> None:
        async with api.client(transport=MockTransport(never_sent), journal=None) as client:
            await client.upload(source, **options)

    with pytest.raises(ValidationError) as caught:
        api.run(scenario)
    assert caught.value.field == field
    assert needle in str(caught.value)


def test_an_empty_file_is_refused(api: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.touch()

    async def scenario() -> None:
        async with api.client(transport=MockTransport(never_sent), journal=None) as client:
            await client.upload(empty)

    with pytest.raises(ValidationError, match="source: is empty"):
        api.run(scenario)


def test_the_upload_base_url_must_be_http() -> None:
    from kiekit import Client

    with pytest.raises(ConfigurationError, match="upload_base_url"):
        Client("sk-fake", upload_base_url="kieai.redpandaai.co", journal=None)


# -- the upload host's envelope, with no sockets ------------------------------------------------


def host_answer(payload: Any, status: int = 200) -> MockTransport:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return MockTransport(lambda request: HttpResponse(status, body, "Bad Gateway"))


def failure(code: int, msg: str) -> dict[str, Any]:
    return {"success": False, "code": code, "msg": msg, "data": None}


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        (failure(400, "uploadPath is required"), BadRequestError, 400),
        (failure(401, "Unauthorized"), AuthenticationError, 401),
        (failure(405, "Method not allowed"), ApiError, 405),
        (failure(500, "Server error"), ServerError, 500),
    ],
)
def test_the_hosts_error_codes_are_typed_errors(
    api: Any, answer: dict[str, Any], error: type[ApiError], code: int
) -> None:
    async def scenario() -> None:
        transport = host_answer(answer)
        async with api.client(transport=transport, journal=None, retry=NO_WAIT) as client:
            try:
                await client.upload(PNG)
            finally:
                sent.extend(transport.requests)

    sent: list[HttpRequest] = []
    with pytest.raises(error) as caught:
        api.run(scenario)
    assert caught.value.code == code
    assert caught.value.kie_message == answer["msg"]
    assert len(sent) == (NO_WAIT.attempts if caught.value.retryable else 1)


@pytest.mark.parametrize(
    "answer",
    [
        {"success": False, "code": 200, "msg": "File uploaded successfully", "data": None},
        {"success": True, "code": 200, "msg": "ok", "data": {"fileName": "a.png"}},
        {"success": True, "code": 200, "msg": "ok", "data": "a.png"},
        b"<html>502 Bad Gateway</html>",
    ],
)
def test_answers_that_do_not_read_are_protocol_errors_once_the_retries_are_spent(
    api: Any, answer: Any
) -> None:
    """An upload is free and keeps its name across tries, so an answer that does not read (the
    file may be stored, its URL unknown) is sent again, as a reset is."""
    transport = host_answer(answer)

    async def scenario() -> None:
        async with api.client(transport=transport, journal=None, retry=NO_WAIT) as client:
            await client.upload(PNG)

    with pytest.raises(ProtocolError):
        api.run(scenario)
    assert len(transport.requests) == NO_WAIT.attempts


def test_a_real_http_5xx_from_a_proxy_is_a_server_error(api: Any) -> None:
    async def scenario() -> None:
        transport = host_answer(b"", status=502)
        async with api.client(transport=transport, journal=None, retry=NO_WAIT) as client:
            await client.upload(PNG)

    with pytest.raises(ServerError):
        api.run(scenario)


def test_the_multipart_body_goes_to_the_upload_host_with_the_key(
    api: Any, kit: SimpleNamespace, photo: Path
) -> None:
    seen: list[HttpRequest] = []

    def host(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        data = {
            "fileName": "x.png",
            "filePath": "kieai/1/kiekit/x.png",
            "downloadUrl": "https://tempfile.redpandaai.co/kieai/1/kiekit/x.png",
            "fileSize": len(PNG),
            "mimeType": "image/png",
            "uploadedAt": 1776323952044,
        }
        body = {"success": True, "code": 200, "msg": "File uploaded successfully", "data": data}
        return HttpResponse(200, json.dumps(body).encode())

    async def scenario() -> UploadedFile:
        async with api.client(transport=MockTransport(host), journal=None) as client:
            result: UploadedFile = await client.upload(photo, upload_path="p")
            return result

    uploaded = api.run(scenario)

    (request,) = seen
    assert request.url == UPLOAD_HOST + "/api/file-stream-upload"
    assert request.headers["Authorization"] == f"Bearer {kit.CANARY}"
    assert kit.CANARY not in repr(request)
    boundary = request.headers["Content-Type"].partition("boundary=")[2]
    assert boundary
    assert request.body is not None
    assert int(request.headers["Content-Length"]) == len(request.body)
    assert request.body.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert b'name="uploadPath"\r\n\r\np\r\n' in request.body
    assert hashlib.sha256(PNG).hexdigest() in {
        hashlib.sha256(part.partition(b"\r\n\r\n")[2][:-2]).hexdigest()
        for part in request.body.split(f"--{boundary}".encode())
    }
    assert uploaded.uploaded_at is not None
    assert uploaded.uploaded_at.year == 2026
    assert kit.CANARY not in repr(uploaded)


def test_the_contract_kits_clients_upload_to_the_mocks_upload_host(
    kie_client: Any, kie_async_client: Any, kie_mock: Any
) -> None:
    import asyncio

    first = kie_client.upload(PNG)

    async def scenario() -> UploadedFile:
        async with kie_async_client() as kie:
            uploaded: UploadedFile = await kie.upload(PNG)
            return uploaded

    second = asyncio.run(scenario())
    assert {first.download_url, second.download_url} <= {
        f"{kie_mock.upload_base_url}/{stored.file_path}" for stored in kie_mock.uploads()
    }


@pytest.mark.parametrize("kind", ["empty", "malformed"])
def test_a_lost_upload_answer_is_sent_again_and_the_file_keeps_its_name(
    api: Any, mock_server: Any, photo: Path, kind: Literal["empty", "malformed"]
) -> None:
    """The host stored the file and its answer was lost (an empty or garbled HTTP 200): the
    second try returns its URL, and the host holds one file, not an orphan and a copy."""
    from kiekit_mock import FaultRule

    mock_server.faults.add(FaultRule(kind, path="/api/file-stream-upload", when="after", times=1))

    async def scenario() -> UploadedFile:
        async with api.client(**on_mock(mock_server), retry=NO_WAIT) as client:
            result: UploadedFile = await client.upload(photo)
            return result

    uploaded = api.run(scenario)
    assert [f.file_name for f in mock_server.uploads()] == [uploaded.file_name]
    assert served(uploaded.download_url) == PNG


def test_any_failed_upload_of_a_local_file_names_it(
    api: Any, mock_server_factory: Any, photo: Path
) -> None:
    """A refusal (a file over the host's limit) or an answer lost on every try carries the
    local file as ``path`` and says it: of several uploads, the user learns which failed."""
    from kiekit_mock import FaultRule

    mock = mock_server_factory(upload_file_limit=len(PNG) - 1)

    async def upload() -> None:
        async with api.client(**on_mock(mock), retry=NO_WAIT) as client:
            await client.upload(photo)

    with pytest.raises(BadRequestError) as refused:
        api.run(upload)
    assert refused.value.path == str(photo)
    assert str(refused.value) == f"{photo}: KIE error 400: File size exceeds the limit"

    mock.faults.add(FaultRule("empty", path="/api/file-stream-upload", times=NO_WAIT.attempts))
    with pytest.raises(ProtocolError) as lost:
        api.run(upload)
    assert lost.value.path == str(photo)
    assert str(lost.value).startswith(f"{photo}: ")


def test_a_failure_a_retry_can_cure_is_retried_and_the_file_keeps_its_name(
    api: Any, photo: Path
) -> None:
    answers = [
        HttpResponse(200, json.dumps(failure(500, "Server error")).encode()),
        HttpResponse(503, b"", "Service Unavailable"),
    ]

    def host(request: HttpRequest) -> HttpResponse:
        if answers:
            return answers.pop(0)
        name = re.search(rb'filename="([^"]+)"', request.body or b"")
        assert name is not None
        data = {
            "fileName": name.group(1).decode(),
            "filePath": "kieai/1/kiekit/" + name.group(1).decode(),
            "downloadUrl": "https://tempfile.redpandaai.co/kieai/1/kiekit/x.png",
        }
        body = {"success": True, "code": 200, "msg": "File uploaded successfully", "data": data}
        return HttpResponse(200, json.dumps(body).encode())

    transport = MockTransport(host)

    async def scenario() -> UploadedFile:
        async with api.client(transport=transport, journal=None, retry=NO_WAIT) as client:
            result: UploadedFile = await client.upload(photo)
            return result

    uploaded = api.run(scenario)
    assert len(transport.requests) == 3
    names = {
        found.group(1)
        for r in transport.requests
        if (found := re.search(rb'filename="([^"]+)"', r.body or b""))
    }
    assert names == {uploaded.file_name.encode()}  # one name for every try: no duplicates
