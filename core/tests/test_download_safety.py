"""Safe downloads: atomic, size- and type-checked, expired links renewed once, nothing dropped.

In memory (MockTransport) for the stories, through both clients; the real transports for the
checks that depend on how bytes arrive (a short body, an error page served with status 200).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    Asset,
    DownloadError,
    MediaKind,
    ProtocolError,
    Results,
    RetryPolicy,
    TransportError,
    UnprocessableError,
    ValidationError,
)
from kiekit._engine import Fetch
from kiekit.transport import (
    HttpRequest,
    HttpResponse,
)

TASK_ID = "5f488be792eafad4b066e21e5bc472c7"
CDN = "https://tempfile.aiquickdraw.com/r"
FRESH = "https://tempfile.aiquickdraw.com/p/fresh.mp4?X-Amz-Signature=abc"
DOWNLOAD_URL = "https://api.kie.ai/api/v1/common/download-url"
# boxes whose sizes add up to the file's, with a moov: whole (kiekit._engine.file_ends)
MP4 = (
    b"\x00\x00\x00\x18ftypmp42"
    + bytes(12)
    + b"\x00\x00\x00\x08moov"
    + b"\x00\x00\x00\xb8mdat"
    + bytes(176)
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100) + b"\x00\x00\x00\x00IEND\xaeB`\x82"  # ends whole
EXPIRED_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)
QUICK = RetryPolicy(attempts=3, base=0.001, cap=0.002)


def ok(body: bytes, content_type: str = "application/octet-stream", **headers: str) -> HttpResponse:
    found = {"content-type": content_type, "content-length": str(len(body))}
    found.update({k.replace("_", "-"): v for k, v in headers.items()})
    return HttpResponse(200, body, "OK", found)


def envelope(data: Any, code: int = 200, msg: str = "success") -> HttpResponse:
    return HttpResponse(200, json.dumps({"code": code, "msg": msg, "data": data}).encode(), "OK")


EXPIRED = HttpResponse(403, EXPIRED_XML, "Forbidden", {"content-type": "application/xml"})


@dataclass
class Cdn:
    """Files by URL (answers in order, the last repeating) and KIE's download-url route."""

    files: dict[str, list[Any]] = field(default_factory=dict)
    fresh: list[Any] = field(default_factory=lambda: [envelope(FRESH)])
    seen: list[HttpRequest] = field(default_factory=list)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.seen.append(request)
        if request.url == DOWNLOAD_URL:
            answers = self.fresh
        else:
            answers = self.files.get(request.url, [HttpResponse(404, b"", "Not Found")])
        count = sum(1 for r in self.seen if r.url == request.url)
        found = answers[min(count, len(answers)) - 1]
        if isinstance(found, BaseException):
            raise found
        return found

    def asked(self, url: str) -> list[HttpRequest]:
        return [r for r in self.seen if r.url == url]


def video(url: str) -> Asset:
    return Asset(url=url, kind=MediaKind.VIDEO, media_type="video/mp4")


def results(*assets: Asset) -> Results:
    return Results(TASK_ID, assets)


def download(api: Any, cdn: Cdn, found: Results, out_dir: Path, retry: RetryPolicy = QUICK) -> Any:
    from kiekit.transport import MockTransport

    async def scenario() -> list[Path]:
        async with api.client(transport=MockTransport(cdn), retry=retry) as client:
            return await client.download(found, out_dir)

    return api.run(scenario)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- expired links ------------------------------------------------------------------------------


def test_an_expired_link_is_renewed_once_through_download_url(
    api: Any, tmp_path: Path, kit: SimpleNamespace
) -> None:
    url = f"{CDN}/a.mp4"
    cdn = Cdn(files={url: [EXPIRED], FRESH: [ok(MP4, "video/mp4")]})

    (path,) = download(api, cdn, results(video(url)), tmp_path)

    assert path.read_bytes() == MP4
    (renewal,) = cdn.asked(DOWNLOAD_URL)
    assert renewal.method == "POST"
    assert json.loads(renewal.body or b"") == {"url": url}
    assert renewal.headers["Authorization"] == f"Bearer {kit.CANARY}"  # an API call: keyed
    assert "Authorization" not in cdn.asked(FRESH)[0].headers  # a file link: never keyed
    assert files_in(tmp_path) == [path.name]


@pytest.mark.parametrize("status", [403, 404, 410])
def test_each_expired_answer_is_renewed(api: Any, tmp_path: Path, status: int) -> None:
    url = f"{CDN}/a.mp4"
    cdn = Cdn(files={url: [HttpResponse(status, b"", "")], FRESH: [ok(MP4)]})

    (path,) = download(api, cdn, results(video(url)), tmp_path)

    assert path.read_bytes() == MP4


def test_a_link_kie_will_not_renew_is_a_download_error_naming_task_and_url(
    api: Any, tmp_path: Path
) -> None:
    good, bad = f"{CDN}/good.mp4", f"{CDN}/bad.mp4"
    cdn = Cdn(
        files={good: [ok(MP4)], bad: [EXPIRED]},
        fresh=[envelope(None, code=422, msg="url is wrong")],
    )

    with pytest.raises(DownloadError) as info:
        download(api, cdn, results(video(good), video(bad)), tmp_path)

    assert info.value.url == bad
    assert info.value.task_id == TASK_ID
    assert info.value.http_status == 403
    assert isinstance(info.value.__cause__, UnprocessableError)
    assert "url is wrong" in str(info.value)
    assert str(info.value).endswith(f"; url {bad}")  # the README: naming the task and URL
    assert files_in(tmp_path) == [f"{TASK_ID}-0.mp4"]  # the good one stays; no partial file


def test_a_renewed_link_that_fails_too_is_not_renewed_again(api: Any, tmp_path: Path) -> None:
    url = f"{CDN}/a.mp4"
    cdn = Cdn(files={url: [EXPIRED], FRESH: [EXPIRED]})

    with pytest.raises(DownloadError) as info:
        download(api, cdn, results(video(url)), tmp_path)

    assert info.value.url == url
    assert len(cdn.asked(DOWNLOAD_URL)) == 1
    assert files_in(tmp_path) == []


# -- error pages and short files ----------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        ok(b"<!DOCTYPE html><html><body>502</body></html>", "text/html; charset=utf-8"),
        ok(EXPIRED_XML, "application/xml"),
        ok(b"<html><body>Access denied</body></html>"),  # served as octet-stream
        ok(b'{"code":404,"msg":"not found"}', "application/json"),
        ok(b"\n\n  <?xml version='1.0'?><Error/>", ""),
        ok(b"404: Not Found", "text/plain"),
    ],
    ids=["html", "xml", "sniffed-html", "json", "sniffed-xml", "text"],
)
def test_an_error_page_is_not_saved_as_a_video(api: Any, tmp_path: Path, page: Any) -> None:
    url = f"{CDN}/a.mp4"
    cdn = Cdn(files={url: [page]})

    with pytest.raises(DownloadError) as info:
        download(api, cdn, results(video(url)), tmp_path)

    assert info.value.url == url
    assert info.value.task_id == TASK_ID
    assert "instead of the video file" in str(info.value)
    assert len(cdn.asked(url)) == 1  # not curable by asking again
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("asset", "body", "content_type"),
    [
        (
            Asset(f"{CDN}/v.svg", MediaKind.IMAGE, "image/svg+xml"),
            b"<?xml?><svg/>",
            "image/svg+xml",
        ),
        (
            Asset(f"{CDN}/lyrics.json", MediaKind.TEXT, "application/json"),
            b"{}",
            "application/json",
        ),
        (Asset(f"{CDN}/a.png", MediaKind.IMAGE, "image/png"), PNG, "image/png"),
    ],
    ids=["svg", "text", "png"],
)
def test_files_that_look_like_themselves_are_kept(
    api: Any, tmp_path: Path, asset: Asset, body: bytes, content_type: str
) -> None:
    cdn = Cdn(files={asset.url: [ok(body, content_type)]})

    (path,) = download(api, cdn, results(asset), tmp_path)

    assert path.read_bytes() == body


def test_a_video_mislabelled_as_text_by_its_host_is_still_kept(api: Any, tmp_path: Path) -> None:
    """Only pages are refused: binary bytes under a text type are a misconfigured CDN."""
    url = f"{CDN}/a.mp4"
    cdn = Cdn(files={url: [ok(MP4, "text/plain")]})

    (path,) = download(api, cdn, results(video(url)), tmp_path)

    assert path.read_bytes() == MP4


def test_a_file_shorter_than_promised_is_refetched_then_refused(api: Any, tmp_path: Path) -> None:
    url = f"{CDN}/a.mp4"
    short = HttpResponse(200, MP4[:50], "OK", {"content-length": str(len(MP4))})
    cdn = Cdn(files={url: [short]})

    with pytest.raises(DownloadError) as info:
        download(api, cdn, results(video(url)), tmp_path)

    assert f"after 50 of {len(MP4)} bytes" in str(info.value)
    assert len(cdn.asked(url)) == 3  # curable: tried as often as the policy allows
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    "trouble",
    [
        TransportError("connection reset"),
        HttpResponse(503, b"", "Service Unavailable"),
        HttpResponse(429, b"", "Too Many Requests"),
        HttpResponse(200, MP4[:10], "OK", {"content-length": "999"}),
    ],
    ids=["reset", "503", "429", "short"],
)
def test_curable_download_failures_are_retried(api: Any, tmp_path: Path, trouble: Any) -> None:
    url = f"{CDN}/a.mp4"
    cdn = Cdn(files={url: [trouble, ok(MP4)]})

    (path,) = download(api, cdn, results(video(url)), tmp_path)

    assert path.read_bytes() == MP4
    assert len(cdn.asked(url)) == 2


def test_an_existing_file_is_replaced_only_by_a_complete_one(api: Any, tmp_path: Path) -> None:
    url = f"{CDN}/a.mp4"
    keep = tmp_path / f"{TASK_ID}-0.mp4"
    keep.write_bytes(b"the earlier, complete download")
    cdn = Cdn(files={url: [ok(b"<html>oops</html>", "text/html")]})

    with pytest.raises(DownloadError):
        download(api, cdn, results(video(url)), tmp_path)

    assert keep.read_bytes() == b"the earlier, complete download"
    assert files_in(tmp_path) == [keep.name]


# -- download-url itself ------------------------------------------------------------------------


def test_download_url_returns_a_fresh_link(api: Any) -> None:
    from kiekit.transport import MockTransport

    cdn = Cdn()

    async def scenario() -> str:
        async with api.client(transport=MockTransport(cdn)) as client:
            return await client.download_url(f"{CDN}/a.mp4", task_id=TASK_ID)

    assert api.run(scenario) == FRESH
    assert json.loads(cdn.seen[0].body or b"") == {"url": f"{CDN}/a.mp4"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (envelope(None, code=422, msg="url is wrong"), UnprocessableError),
        (envelope({"weird": True}), ProtocolError),
        (envelope("ftp://x/a"), ProtocolError),
        (envelope(42), ProtocolError),
    ],
    ids=["422", "object", "not-http", "number"],
)
def test_download_url_failures_are_typed(api: Any, answer: Any, error: type[Exception]) -> None:
    from kiekit.transport import MockTransport

    cdn = Cdn(fresh=[answer])

    async def scenario() -> None:
        async with api.client(transport=MockTransport(cdn)) as client:
            await client.download_url("https://example.com/not-kie.png", task_id=TASK_ID)

    with pytest.raises(error) as info:
        api.run(scenario)

    assert info.value.task_id == TASK_ID  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "not a url", None])
def test_download_url_refuses_a_non_http_url_before_sending(api: Any, url: Any) -> None:
    from kiekit.transport import MockTransport

    cdn = Cdn()

    async def scenario() -> None:
        async with api.client(transport=MockTransport(cdn)) as client:
            await client.download_url(url)

    with pytest.raises(ValidationError) as info:
        api.run(scenario)

    assert info.value.field == "url"
    assert cdn.seen == []


# -- the real transports ------------------------------------------------------------------------


@pytest.fixture
def liar() -> Iterator[str]:
    """A file host that misbehaves: ``/page.mp4`` is an HTML page at 200, ``/short.mp4``
    promises more bytes than it sends, ``/empty.*`` is a 200 with no body, ``/ok.mp4`` is
    fine."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/page"):
                page = b"<!DOCTYPE html><html>Bad gateway</html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            elif self.path.startswith("/empty"):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path.startswith("/short"):
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(MP4) * 4))
                self.end_headers()
                self.wfile.write(MP4)
                self.close_connection = True
            else:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(MP4)))
                self.end_headers()
                self.wfile.write(MP4)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_real_transport_refuses_an_html_page_for_a_video(
    fetch: Callable[[Fetch], Path], liar: str, tmp_path: Path
) -> None:
    job = Fetch(f"{liar}/page.mp4", tmp_path / "a.mp4", TASK_ID, MediaKind.VIDEO, "video/mp4")

    with pytest.raises(DownloadError) as info:
        fetch(job)

    assert info.value.http_status == 200
    assert files_in(tmp_path) == []


def test_a_real_transport_refuses_a_short_file(
    fetch: Callable[[Fetch], Path], liar: str, tmp_path: Path
) -> None:
    job = Fetch(f"{liar}/short.mp4", tmp_path / "a.mp4", TASK_ID, MediaKind.VIDEO)

    with pytest.raises(DownloadError) as info:
        fetch(job)

    assert info.value.http_status is None  # a network fault: worth another try
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("kind", [MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO])
def test_a_real_transport_refuses_an_empty_answer_for_a_media_file(
    fetch: Callable[[Fetch], Path], liar: str, tmp_path: Path, kind: MediaKind
) -> None:
    """Saved, a 0-byte file would pass for the result, and `kie resume` would never fetch it
    again: no image, video or audio file is empty."""
    job = Fetch(f"{liar}/empty.bin", tmp_path / "a.bin", TASK_ID, kind)

    with pytest.raises(DownloadError, match="empty body") as info:
        fetch(job)

    assert info.value.http_status == 200
    assert info.value.url == job.url
    assert files_in(tmp_path) == []


def test_an_empty_text_file_is_a_file(
    fetch: Callable[[Fetch], Path], liar: str, tmp_path: Path
) -> None:
    job = Fetch(f"{liar}/empty.txt", tmp_path / "lyrics.txt", TASK_ID, MediaKind.TEXT)

    assert fetch(job).read_bytes() == b""


def test_a_real_transport_writes_a_good_file_atomically(
    fetch: Callable[[Fetch], Path], liar: str, tmp_path: Path
) -> None:
    job = Fetch(f"{liar}/ok.mp4", tmp_path / "a.mp4", TASK_ID, MediaKind.VIDEO)

    assert fetch(job).read_bytes() == MP4
    assert files_in(tmp_path) == ["a.mp4"]


def test_a_file_hosts_retry_after_is_waited_out(tmp_path: Path) -> None:
    """A CDN's 429 (or 503) with Retry-After: the next try comes when it asked, not sooner."""
    from kiekit._engine import Engine
    from kiekit.polling import PollPolicy
    from kiekit.registry import Registry
    from kiekit.transport import MockTransport, drive

    url = f"{CDN}/a.mp4"
    busy = HttpResponse(429, b"", "Too Many Requests", {"retry-after": "7"})
    cdn = Cdn(files={url: [busy, ok(MP4, "video/mp4")]})
    engine = Engine(
        api_key="sk-fake",
        base_url="https://api.kie.ai",
        registry=Registry(discover=False),
        poll=PollPolicy(),
        user_agent="kiekit-tests",
        retry=RetryPolicy(attempts=3, base=0.001, cap=0.002),
    )
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    flow = engine.download(results(video(url)), tmp_path)
    (path,) = drive(flow, MockTransport(cdn), sleep=sleep, clock=lambda: now[0])
    assert path.read_bytes() == MP4
    assert slept == [7.0]


def test_an_empty_answer_from_the_mock_is_asked_for_again_and_the_file_written(
    api: Any, mock_server: Any, tmp_path: Path
) -> None:
    """End to end: the mock's host answers one download with an empty 200; the client asks
    again (a passing fault) and writes the real image."""
    from kiekit_mock.faults import FaultRule

    mock_server.faults.add(FaultRule(kind="empty", path="/files/*", times=1))

    async def scenario() -> list[Path]:
        async with api.client(base_url=mock_server.base_url, journal=None) as kie:
            task = await kie.submit("grok-imagine/text-to-image", prompt="x", aspect_ratio="1:1")
            return await kie.download(await kie.wait(task), tmp_path)

    paths = api.run(scenario)
    assert paths
    assert all(path.stat().st_size > 0 for path in paths)
    fetched = [r for r in mock_server.requests() if r.path.startswith("/files/")]
    assert len(fetched) == len(paths) + 1  # the empty answer, asked for again
